//! What wharf remembers: pools and their allocations, networks and their endpoints. This is
//! the document the store writes atomically after every change that Docker must be able to
//! rely on, and that reconciliation compares with the kernel after a restart.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Bumped when the layout changes incompatibly; a newer file is refused, not misread.
pub const STATE_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub pools: BTreeMap<String, Pool>,
    pub networks: BTreeMap<String, Network>,
    /// Where the search for the next default pool starts, per family, so a pool Docker
    /// releases and re-requests is not handed back forever.
    #[serde(default)]
    pub next_default_v4: Option<IpNet>,
    #[serde(default)]
    pub next_default_v6: Option<IpNet>,
}

impl State {
    pub fn new() -> Self {
        State {
            version: STATE_VERSION,
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    pub id: String,
    pub address_space: String,
    pub subnet: IpNet,
    /// Docker's `--ip-range`: dynamic addresses come from here; static ones from the subnet.
    #[serde(default)]
    pub range: Option<IpNet>,
    /// Picked from the default pools rather than asked for by the user.
    pub from_defaults: bool,
    pub allocations: BTreeMap<IpAddr, Allocation>,
    /// The most recently handed-out dynamic address; the next search starts after it, so a
    /// released address is not reused at once (stale ARP/NDP entries elsewhere).
    pub last_allocated: Option<IpAddr>,
    /// The gateway to hand out when Docker asks for one without naming it (the daemon's
    /// `--gateway`, for its `--ipvlan-subnet` pool); None: the first address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_gateway: Option<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Allocation {
    /// The network's gateway, asked for by Docker.
    Gateway,
    /// An endpoint's primary address or an aux address, asked for by Docker.
    Docker,
    /// An extra address wharf took for an endpoint (`wharf.addresses`).
    Extra { endpoint: String },
    /// The address of a network's host shim (`host_shim=true`).
    Shim { network: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Routed,
    Macvlan,
    Ipvlan,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Routed => "routed",
            Mode::Macvlan => "macvlan",
            Mode::Ipvlan => "ipvlan",
        }
    }
}

/// Docker's `macvlan_mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// What each endpoint's link is, on the network's parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// How wharf came by a network's parent. Only a parent wharf created is ever deleted by
/// wharf, with the last network that uses it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParentOrigin {
    /// An interface that was on the host already.
    #[default]
    Host,
    /// An 802.1Q sub-interface wharf created on `base` (a parent named `base.id`).
    Vlan { base: String, id: u16 },
    /// A dummy link wharf created for a network with no parent (an internal network).
    Dummy,
}

/// The host's own interface on a macvlan/ipvlan network (`host_shim=true`): a sub-link of the
/// parent with addresses from the network's pools, through which the host reaches the
/// containers (a macvlan or ipvlan parent cannot reach its own sub-links).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shim {
    pub name: String,
    pub addresses: Vec<ExtraAddress>,
}

/// Where the endpoints of a macvlan or ipvlan network hang: the parent and the link kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "AttachmentRecord")]
pub struct Attachment {
    pub parent: String,
    pub kind: SubLinkKind,
    pub origin: ParentOrigin,
    pub shim: Option<Shim>,
}

impl Attachment {
    pub fn created_parent(&self) -> bool {
        self.origin != ParentOrigin::Host
    }
}

/// An attachment as stored: the current layout, or the first one (a macvlan network's
/// `{"parent", "mode"}`), read so that state written before ipvlan existed still loads.
#[derive(Deserialize)]
#[serde(untagged)]
enum AttachmentRecord {
    Current {
        parent: String,
        kind: SubLinkKind,
        #[serde(default)]
        origin: ParentOrigin,
        #[serde(default)]
        shim: Option<Shim>,
    },
    FirstMacvlan {
        parent: String,
        mode: MacvlanMode,
    },
}

impl From<AttachmentRecord> for Attachment {
    fn from(record: AttachmentRecord) -> Self {
        match record {
            AttachmentRecord::Current {
                parent,
                kind,
                origin,
                shim,
            } => Attachment {
                parent,
                kind,
                origin,
                shim,
            },
            AttachmentRecord::FirstMacvlan { parent, mode } => Attachment {
                parent,
                kind: SubLinkKind::Macvlan { mode },
                origin: ParentOrigin::Host,
                shim: None,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub id: String,
    pub mode: Mode,
    pub mtu: u32,
    pub internal: bool,
    pub ipv6: bool,
    pub subnets: Vec<Subnet>,
    pub endpoints: BTreeMap<String, Endpoint>,
    /// Set for macvlan and ipvlan networks (stored as `macvlan` by the first versions).
    #[serde(default, alias = "macvlan", skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
}

/// One of the network's address ranges, with the gateway Docker gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub prefix: IpNet,
    pub gateway: Option<IpAddr>,
    /// The wharf pool this range came from; None when another IPAM driver manages it.
    pub pool_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: String,
    /// The host end of a routed endpoint's veth pair; for a macvlan or ipvlan endpoint, its
    /// one link (the same as `container_ifname`).
    pub host_ifname: String,
    pub container_ifname: String,
    pub mac: String,
    /// Addresses Docker assigned, with the network's prefix length as Docker configures them.
    pub primary: Vec<IpNet>,
    /// Extra addresses wharf allocated and configures itself, with the pool they came from.
    pub extra: Vec<ExtraAddress>,
    /// The sandbox the endpoint joined, while it is joined.
    pub sandbox: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraAddress {
    pub address: IpAddr,
    pub pool_id: String,
}

impl Endpoint {
    /// Every address of the container: primary ones first, then extras.
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.primary
            .iter()
            .map(|net| net.addr())
            .chain(self.extra.iter().map(|extra| extra.address))
    }
}

/// Docker shows the first 12 characters of its IDs; so do wharf's messages.
pub fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_macvlan_layout_still_loads() {
        let old = r#"{"parent": "eth1", "mode": "vepa"}"#;
        let attachment: Attachment = serde_json::from_str(old).unwrap();
        assert_eq!(
            attachment.kind,
            SubLinkKind::Macvlan {
                mode: MacvlanMode::Vepa
            }
        );
        assert_eq!(attachment.origin, ParentOrigin::Host);
        let current = Attachment {
            parent: "eth1.30".into(),
            kind: SubLinkKind::Ipvlan {
                mode: IpvlanMode::L3,
                flag: IpvlanFlag::Private,
            },
            origin: ParentOrigin::Vlan {
                base: "eth1".into(),
                id: 30,
            },
            shim: None,
        };
        let text = serde_json::to_string(&current).unwrap();
        assert_eq!(serde_json::from_str::<Attachment>(&text).unwrap(), current);
    }
}
