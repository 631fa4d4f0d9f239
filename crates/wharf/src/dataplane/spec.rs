//! Plain descriptions of what the dataplane makes: the vocabulary the modes plan in and the
//! engine applies, undoes and reconciles.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// One object wharf makes in the host namespace, as a plan lists it. Applying a plan makes
/// each in turn; undoing it removes the made ones, last first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostObject {
    /// A routed endpoint's veth pair.
    Veth(VethSpec),
    /// A macvlan or ipvlan link: an endpoint's (Docker moves it into the sandbox) or a
    /// network's host shim.
    SubLink(SubLinkSpec),
    /// A parent wharf makes (802.1Q sub-interface, dummy). Several networks may name the same
    /// one: it goes with the last of them, and only while it carries wharf's mark.
    Parent(ParentSpec),
    Address(HostAddress),
    Route(HostRoute),
    /// An Open vSwitch bridge. Like a parent, several networks may name one: it goes with
    /// the last of them.
    Bridge(super::BridgeSpec),
    /// A port of a wharf-owned bridge: an endpoint's veth host end, an uplink, a VXLAN
    /// tunnel, a network's gateway port. Ports several networks name (an uplink, a tunnel)
    /// go with the last of them.
    SwitchPort(super::PortSpec),
}

impl HostObject {
    /// The link the object is, or lives on.
    pub fn link(&self) -> &str {
        match self {
            HostObject::Veth(spec) => &spec.host_ifname,
            HostObject::SubLink(spec) => &spec.name,
            HostObject::Parent(spec) => &spec.name,
            HostObject::Address(address) => &address.device,
            HostObject::Route(route) => &route.device,
            HostObject::Bridge(spec) => &spec.name,
            HostObject::SwitchPort(spec) => &spec.name,
        }
    }

    /// Whether several networks may name the object, which then stays until the last of
    /// them goes (parents, bridges, uplinks and tunnels; never a network's gateway port).
    pub fn shareable(&self) -> bool {
        match self {
            HostObject::Parent(_) | HostObject::Bridge(_) => true,
            HostObject::SwitchPort(spec) => !matches!(spec.kind, super::PortKind::Internal { .. }),
            _ => false,
        }
    }

    /// `veth wh01..`, `route 10.46.1.7/32 dev wh01..`: for logs and messages.
    pub fn describe(&self) -> String {
        match self {
            HostObject::Veth(spec) => {
                format!("veth {} / {}", spec.host_ifname, spec.container_ifname)
            }
            HostObject::SubLink(spec) => format!("{} link {}", spec.kind.describe(), spec.name),
            HostObject::Parent(spec) => format!("parent {}", spec.name),
            HostObject::Address(a) => format!("address {} dev {}", a.address, a.device),
            HostObject::Route(r) => format!("route {} dev {}", r.destination, r.device),
            HostObject::Bridge(spec) => {
                format!("ovs bridge {} ({})", spec.name, spec.datapath.ovs_name())
            }
            HostObject::SwitchPort(spec) => format!("ovs port {} of {}", spec.name, spec.bridge),
        }
    }
}

/// A routed endpoint's veth pair: the host end stays (up, with proxy ARP answering at once),
/// the container end is handed to Docker, which moves it into the sandbox and renames it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VethSpec {
    pub host_ifname: String,
    pub container_ifname: String,
    /// MAC of the container end, so it can be found again inside the sandbox.
    pub container_mac: [u8; 6],
    pub mtu: u32,
    /// Link alias of the host end: `wharf:` + endpoint ID.
    pub alias: String,
    /// Tune the host end for IPv6 too (no DAD on its addresses).
    pub ipv6: bool,
    /// What the host end is: a router's interface or a switch's port.
    pub host_end: HostEnd,
}

/// The role of a veth pair's host end, which decides how it is tuned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostEnd {
    /// The host routes for the container through it (routed networks): proxy ARP.
    Router,
    /// It is a port of an Open vSwitch bridge: the host's own stack must stay silent on
    /// it (no ARP answers, no IPv6), or the container could learn the host end's MAC
    /// for the gateway and bypass the switch.
    SwitchPort {
        /// The switch forwards frames as bytes (the userspace datapath): the container's end
        /// must compute its checksums itself rather than leave them to offload.
        software_checksums: bool,
    },
}

/// Docker's `macvlan_mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MacvlanMode {
    Bridge,
    Private,
    Vepa,
    Passthru,
}

impl MacvlanMode {
    pub fn name(self) -> &'static str {
        match self {
            MacvlanMode::Bridge => "bridge",
            MacvlanMode::Private => "private",
            MacvlanMode::Vepa => "vepa",
            MacvlanMode::Passthru => "passthru",
        }
    }
}

/// Docker's `ipvlan_mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpvlanMode {
    L2,
    L3,
    L3s,
}

impl IpvlanMode {
    pub fn name(self) -> &'static str {
        match self {
            IpvlanMode::L2 => "l2",
            IpvlanMode::L3 => "l3",
            IpvlanMode::L3s => "l3s",
        }
    }

    /// L3 and L3S route rather than switch: the container has no gateway, only a default
    /// route bound to its interface.
    pub fn routes(self) -> bool {
        self != IpvlanMode::L2
    }
}

/// Docker's `ipvlan_flag` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpvlanFlag {
    Bridge,
    Private,
    Vepa,
}

impl IpvlanFlag {
    pub fn name(self) -> &'static str {
        match self {
            IpvlanFlag::Bridge => "bridge",
            IpvlanFlag::Private => "private",
            IpvlanFlag::Vepa => "vepa",
        }
    }
}

/// What a link on a parent is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubLinkKind {
    Macvlan { mode: MacvlanMode },
    Ipvlan { mode: IpvlanMode, flag: IpvlanFlag },
}

impl SubLinkKind {
    /// `macvlan bridge`, `ipvlan l3 bridge`: for messages and `wharf status`.
    pub fn describe(self) -> String {
        match self {
            SubLinkKind::Macvlan { mode } => format!("macvlan {}", mode.name()),
            SubLinkKind::Ipvlan { mode, flag } => {
                format!("ipvlan {} {}", mode.name(), flag.name())
            }
        }
    }
}

/// A macvlan or ipvlan link on a parent: an endpoint's (created down, in the host namespace,
/// for Docker to move into the sandbox) or a network's shim (up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubLinkSpec {
    pub name: String,
    pub parent: String,
    pub kind: SubLinkKind,
    pub mtu: u32,
    /// None: the kernel's choice (ipvlan links always carry the parent's MAC).
    pub mac: Option<[u8; 6]>,
    pub alias: String,
    pub up: bool,
}

/// A parent wharf creates: up, with [`PARENT_ALIAS`](super::PARENT_ALIAS).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ParentSpec {
    pub name: String,
    pub kind: ParentKind,
    /// MTU of a dummy (a VLAN sub-interface takes its base's).
    pub mtu: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ParentKind {
    /// 802.1Q sub-interface `id` of `base`.
    Vlan {
        base: String,
        id: u16,
    },
    Dummy,
}

/// What the engine needs to know of an interface (a would-be parent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    pub name: String,
    pub mtu: u32,
    pub mac: Option<[u8; 6]>,
    /// It carries [`PARENT_ALIAS`](super::PARENT_ALIAS): wharf created it.
    pub owned_parent: bool,
    /// Its alias, if it has one.
    pub alias: Option<String>,
}

/// A link in the host namespace that carries wharf's alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedLink {
    pub name: String,
    pub alias: String,
}

/// A host address on a link: /32, or /128 without DAD (usable at once) and without the
/// kernel's prefix route.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostAddress {
    pub address: IpAddr,
    pub device: String,
}

/// A /32 or /128 (or wider) route in the main table whose next hop is a directly connected
/// link.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostRoute {
    pub destination: IpNet,
    pub device: String,
    /// The host's source address for traffic it sends along the route (`src`), for routes
    /// through a shim, whose address the containers can reach back.
    pub source: Option<IpAddr>,
}

/// "Answer neighbour solicitations for `address` on `device`" (an IPv6 proxy NDP entry).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProxyNeighbour {
    pub address: IpAddr,
    pub device: String,
}

/// Addresses to add to a container's link once Docker has moved it into the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxAddresses {
    /// The sandbox's network namespace (Docker's SandboxKey).
    pub netns_path: PathBuf,
    /// The link's MAC: its name changes on the way in, its MAC does not.
    pub mac: [u8; 6],
    /// An address the link must also carry to be the one: ipvlan links share their parent's
    /// MAC (two VLANs of one NIC give a container two links with one MAC), so for them the
    /// address Docker configures tells them apart.
    pub with_address: Option<IpAddr>,
    /// Addresses with their prefix length (/32 or /128 for extra addresses).
    pub addresses: Vec<IpNet>,
    /// How long to wait for the link to appear in the namespace.
    pub timeout: Duration,
}

/// A program that listens to the kernel's route changes (a netlink socket in the IPv4 or
/// IPv6 route group): a routing daemon that exports kernel routes sees wharf's as they come.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RouteReader {
    pub pid: u32,
    /// Its command name (`/proc/PID/comm`): zebra, bird, ...
    pub program: String,
}

/// A route of someone else's (a routing daemon's, a hand's) into address space wharf's
/// networks use: how this host reaches containers elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ForeignRoute {
    pub destination: ipnet::IpNet,
    pub via: Option<std::net::IpAddr>,
    pub device: Option<String>,
    pub protocol: u8,
}

/// The name iproute2 and the daemons give a route protocol number (`ip route ... proto N`).
pub fn route_protocol_name(protocol: u8) -> Option<&'static str> {
    Some(match protocol {
        2 => "kernel",
        3 => "boot",
        4 => "static",
        11 => "zebra",
        12 => "bird",
        42 => "babel",
        186 => "bgp",
        187 => "isis",
        188 => "ospf",
        189 => "rip",
        192 => "eigrp",
        _ => return None,
    })
}

/// A change to the addresses other hosts' containers use, as host routes of others (a
/// routing daemon's /32s and /128s) show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteHostChange {
    /// Every such address now (at the start, and after notifications were lost).
    All(Vec<std::net::IpAddr>),
    Added(std::net::IpAddr),
    Removed(std::net::IpAddr),
}
