//! The dataplane: the only code that changes the host (links, addresses, routes, sysctls,
//! firewall rules). The engine decides *what* should exist and hands plain descriptions of it
//! to a [`Dataplane`]; the real one is [`linux::LinuxDataplane`], and engine tests use the
//! recording [`fake::RecordingDataplane`], so every decision is tested without root.

pub mod fake;
pub mod linux;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use crate::engine::state::SubLinkKind;

/// Every link wharf creates carries an alias starting with this prefix, so reconciliation
/// finds exactly wharf's links: `wharf:<endpoint ID>` on an endpoint's link,
/// [`PARENT_ALIAS`] on a parent wharf created, [`SHIM_ALIAS_PREFIX`]`<network ID>` on a shim.
pub const LINK_ALIAS_PREFIX: &str = "wharf:";
/// Alias of the 802.1Q sub-interfaces and dummy links wharf creates as parents.
pub const PARENT_ALIAS: &str = "wharf:parent";
/// Alias prefix of a network's host shim, followed by the network ID.
pub const SHIM_ALIAS_PREFIX: &str = "wharf:shim:";
/// Host ends of routed endpoints are named `wh` + 10 hex digits of the endpoint ID.
pub const HOST_LINK_PREFIX: &str = "wh";
/// Container ends are created as `wc` + the same digits; Docker renames them `ethN`.
pub const CONTAINER_LINK_PREFIX: &str = "wc";
/// Route protocol number marking wharf's routes (`ip route ... proto 87`; 87 is ASCII 'W').
/// Not assigned in the kernel's rtnetlink.h nor in iproute2's rt_protos.
pub const DEFAULT_ROUTE_PROTOCOL: u8 = 87;

/// A /32 or /128 (or wider) route in the main table whose next hop is a directly connected link.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostRoute {
    pub destination: IpNet,
    pub device: String,
    /// The host's source address for traffic it sends along the route (`src`), for routes
    /// through a shim, whose address the containers can reach back.
    pub source: Option<IpAddr>,
}

/// "Answer neighbour solicitations for `address` on `device`" (an IPv6 proxy NDP entry).
/// IPv4 needs none: the host end has proxy ARP enabled for the whole link.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProxyNeighbour {
    pub address: IpAddr,
    pub device: String,
}

/// Everything the host needs for one routed endpoint, created in as few kernel requests as
/// possible and undone entirely if any step fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutedEndpointSpec {
    /// Host end of the veth pair (stays in the host namespace).
    pub host_ifname: String,
    /// Container end, handed to Docker, which moves it into the sandbox and renames it.
    pub container_ifname: String,
    /// MAC of the container end, so it can be found again inside the sandbox.
    pub container_mac: [u8; 6],
    pub mtu: u32,
    /// Link alias of the host end: [`LINK_ALIAS_PREFIX`] + endpoint ID.
    pub alias: String,
    /// Gateway addresses the host end carries as /32 or /128 (IPv6 without DAD), so the
    /// container's next hop is a local address of the host.
    pub gateways: Vec<IpAddr>,
    /// Routes to every address of the container via the host end.
    pub routes: Vec<HostRoute>,
    /// Proxy NDP entries on this endpoint's host end (other containers' IPv6 addresses).
    pub proxy_neighbours: Vec<ProxyNeighbour>,
}

/// Addresses to add to the container end once Docker has moved it into the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxAddresses {
    /// The sandbox's network namespace (Docker's SandboxKey).
    pub netns_path: PathBuf,
    /// The container end's MAC: the interface's name changes on the way in, its MAC does not.
    pub mac: [u8; 6],
    /// An address the link must also carry to be the one: ipvlan links share their parent's
    /// MAC (two VLANs of one NIC give a container two links with one MAC), so for them the
    /// address Docker configures tells them apart.
    pub with_address: Option<IpAddr>,
    /// Addresses with their prefix length (/32 or /128 for extra addresses).
    pub addresses: Vec<IpNet>,
    /// How long to wait for the interface to appear in the namespace.
    pub timeout: Duration,
}

/// A link in the host namespace that carries wharf's alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedLink {
    pub name: String,
    pub alias: String,
}

/// What the host looks like, as far as the engine needs to know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelSnapshot {
    /// Links whose alias starts with [`LINK_ALIAS_PREFIX`].
    pub owned_links: Vec<OwnedLink>,
    /// Main-table routes with wharf's protocol number.
    pub owned_routes: Vec<HostRoute>,
    /// Destinations of every other route in the main table except default routes: prefixes the
    /// host already uses, which a default pool must not overlap.
    pub used_prefixes: Vec<IpNet>,
}

/// A macvlan or ipvlan link on a parent: an endpoint's (created down, in the host namespace,
/// for Docker to move into the sandbox) or a network's shim (up, with host addresses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubLinkSpec {
    pub name: String,
    pub parent: String,
    pub kind: SubLinkKind,
    pub mtu: u32,
    /// None: the kernel's choice (ipvlan links always carry the parent's MAC).
    pub mac: Option<[u8; 6]>,
    pub alias: String,
    /// Host addresses (/32, /128 without DAD, no prefix route); setting any brings the link up.
    pub addresses: Vec<IpAddr>,
}

/// A parent wharf creates: up, with [`PARENT_ALIAS`].
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

/// What the engine needs to know of a would-be parent interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentLink {
    pub name: String,
    pub mtu: u32,
    pub mac: Option<[u8; 6]>,
    /// It carries [`PARENT_ALIAS`]: wharf created it.
    pub owned: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    /// A kernel request failed; `what` names the object (`create veth pair wh01ab.. / wc01ab..`).
    #[error("{what}: {message}")]
    Kernel { what: String, message: String },
    #[error("{what}: timed out after {after:?}")]
    Timeout { what: String, after: Duration },
}

/// The kernel boundary. All methods are blocking and idempotent where their doc says so;
/// callers run them off the async executor.
pub trait Dataplane: Send + Sync + 'static {
    /// Creates the veth pair (one create request; the kernel ignores an alias there, so it
    /// is set right after), then gateway addresses, proxy ARP and
    /// neighbour settings on the host end, host routes and proxy neighbours. On any failure
    /// it deletes the pair again and reports the first error.
    fn setup_routed_endpoint(&self, spec: &RoutedEndpointSpec) -> Result<(), DataplaneError>;

    /// Deletes a link (its peer, addresses and routes go with it). A missing link is success.
    fn delete_link(&self, name: &str) -> Result<(), DataplaneError>;

    /// Adds or replaces routes (idempotent).
    fn ensure_routes(&self, routes: &[HostRoute]) -> Result<(), DataplaneError>;

    /// Removes routes; routes already gone are success.
    fn remove_routes(&self, routes: &[HostRoute]) -> Result<(), DataplaneError>;

    /// Adds proxy NDP entries (idempotent).
    fn ensure_proxy_neighbours(&self, entries: &[ProxyNeighbour]) -> Result<(), DataplaneError>;

    /// Removes proxy NDP entries; entries already gone are success.
    fn remove_proxy_neighbours(&self, entries: &[ProxyNeighbour]) -> Result<(), DataplaneError>;

    /// Waits until a link with `mac` exists in the namespace, then adds the addresses to it
    /// (addresses already present are success).
    fn configure_sandbox(&self, sandbox: &SandboxAddresses) -> Result<(), DataplaneError>;

    /// Reads wharf's links and routes and the host's used prefixes.
    fn snapshot(&self) -> Result<KernelSnapshot, DataplaneError>;

    /// Host-wide settings a routed network needs: IPv4 (and, if asked, IPv6) forwarding, and
    /// an accept rule for forwarded traffic on wharf's links where a firewall policy (dockerd
    /// sets FORWARD to DROP) would drop it. Idempotent.
    fn ensure_forwarding(&self, ipv6: bool) -> Result<(), DataplaneError>;

    /// Removes the firewall accept rules `ensure_forwarding` added (when the last routed
    /// network goes). Forwarding sysctls stay on: other software may rely on them by then.
    fn release_forwarding(&self) -> Result<(), DataplaneError>;

    /// The interface `name` in the host namespace, if there is one.
    fn parent_link(&self, name: &str) -> Result<Option<ParentLink>, DataplaneError>;

    /// The interface of the host's IPv4 default route (the first, if several).
    fn default_route_device(&self) -> Result<Option<String>, DataplaneError>;

    /// Creates a macvlan or ipvlan link on its parent (alias set; up with its addresses if it
    /// has any, else down); on failure nothing is left.
    fn create_sub_link(&self, spec: &SubLinkSpec) -> Result<(), DataplaneError>;

    /// Creates an 802.1Q sub-interface or a dummy, up, marked with [`PARENT_ALIAS`]; on
    /// failure nothing is left. A link of that name already there is an error.
    fn create_parent(&self, spec: &ParentSpec) -> Result<(), DataplaneError>;
}
