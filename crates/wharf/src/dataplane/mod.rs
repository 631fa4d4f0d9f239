//! The dataplane: the only code that changes the host (links, addresses, routes, neighbours,
//! sysctls, firewall rules, a sandbox's addresses, Open vSwitch bridges and ports). The engine and the modes decide *what*
//! should exist and describe it with the plain types of [`spec`]; each capability is a narrow
//! trait ([`Links`], [`Routes`], [`Neighbours`], [`Firewall`], [`Sandbox`], [`Switches`]) with the real
//! implementation in [`linux`] and a recording fake for the engine's unit tests.

mod apply;
#[cfg(test)]
pub mod fake;
pub mod fence;
pub mod linux;
pub mod nat;
pub mod spec;
pub mod switches;

use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

pub use spec::*;
pub use switches::*;

/// Every link wharf creates carries an alias starting with this prefix, so reconciliation
/// finds exactly wharf's links: `wharf:<endpoint ID>` on an endpoint's link,
/// [`PARENT_ALIAS`] on a parent wharf created, [`SHIM_ALIAS_PREFIX`]`<network ID>` on a shim.
pub const LINK_ALIAS_PREFIX: &str = "wharf:";
/// Alias of the 802.1Q sub-interfaces and dummy links wharf creates as parents.
pub const PARENT_ALIAS: &str = "wharf:parent";
/// Alias prefix of a network's host shim, followed by the network ID.
pub const SHIM_ALIAS_PREFIX: &str = "wharf:shim:";
/// Host ends of routed endpoints are named `wh` + 10 hex digits of the endpoint ID (the
/// firewall's accept rules match `wh+`).
pub const HOST_LINK_PREFIX: &str = "wh";
/// Open vSwitch nat networks' gateway ports are `wg` + digits of the network ID (the
/// firewall's accept rules match `wg+`).
pub const GATEWAY_PORT_PREFIX: &str = "wg";
/// Container ends are created as `wc` + the same digits; Docker renames them `ethN`.
pub const CONTAINER_LINK_PREFIX: &str = "wc";
/// Route protocol number marking wharf's routes (`ip route ... proto 87`; 87 is ASCII 'W').
/// Not assigned in the kernel's rtnetlink.h nor in iproute2's rt_protos.
pub const DEFAULT_ROUTE_PROTOCOL: u8 = 87;
/// Route protocol number marking routes learned from routing peers (BGP): 88, next to 87 and
/// likewise unassigned, distinct from FRR's (186) and BIRD's (12).
pub const DEFAULT_LEARNED_PROTOCOL: u8 = 88;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataplaneError {
    /// A kernel request failed; `what` names the object (`create veth pair wh01ab.. /
    /// wc01ab..`). `errno` is the kernel's, when it answered one.
    #[error("{what}: {message}")]
    Kernel {
        what: String,
        errno: Option<i32>,
        message: String,
    },
    #[error("{what}: timed out after {after:?}")]
    Timeout { what: String, after: Duration },
    /// Several steps of a teardown failed; it carried on past each.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Several(Vec<DataplaneError>),
}

impl DataplaneError {
    pub fn errno(&self) -> Option<i32> {
        match self {
            DataplaneError::Kernel { errno, .. } => *errno,
            _ => None,
        }
    }

    /// A failure that carries no errno (a program's output, a file's I/O error).
    pub fn other(what: impl Into<String>, message: impl Into<String>) -> DataplaneError {
        DataplaneError::Kernel {
            what: what.into(),
            errno: None,
            message: message.into(),
        }
    }

    /// The object is there already (EEXIST).
    pub fn is_exists(&self) -> bool {
        self.errno() == Some(libc::EEXIST)
    }

    /// One error for a list of them: None when the list is empty.
    pub fn combine(mut errors: Vec<DataplaneError>) -> Option<DataplaneError> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(DataplaneError::Several(errors)),
        }
    }
}

pub type Result<T, E = DataplaneError> = std::result::Result<T, E>;

/// Links: veth pairs for routed endpoints, macvlan/ipvlan links, the parents wharf makes,
/// and looking links up.
pub trait Links: Send + Sync {
    /// Creates the veth pair with the host end up, named, aliased and tuned; on failure
    /// nothing is left. A link of that name already there is an error (EEXIST).
    fn create_veth(&self, spec: &VethSpec) -> Result<()>;
    /// Creates a macvlan or ipvlan link on its parent (aliased; up if `up`); on failure
    /// nothing is left.
    fn create_sub_link(&self, spec: &SubLinkSpec) -> Result<()>;
    /// Creates an 802.1Q sub-interface or a dummy, up, marked with [`PARENT_ALIAS`]; on
    /// failure nothing is left. A link of that name already there is an error.
    fn create_parent(&self, spec: &ParentSpec) -> Result<()>;
    /// Deletes a link (its peer, addresses and routes go with it). A missing link is success.
    fn delete_link(&self, name: &str) -> Result<()>;
    /// The interface `name` in the host namespace, if there is one.
    fn link(&self, name: &str) -> Result<Option<LinkInfo>>;
    /// Links whose alias starts with [`LINK_ALIAS_PREFIX`].
    fn owned_links(&self) -> Result<Vec<OwnedLink>>;
    /// The names of all links in the host namespace.
    fn names(&self) -> Result<Vec<String>>;
}

/// Addresses on host links, and routes.
pub trait Routes: Send + Sync {
    /// Adds host addresses (/32, /128 without DAD or prefix route); present ones are success.
    /// (They go with their link: nothing removes one while its link stays.)
    fn add_addresses(&self, addresses: &[HostAddress]) -> Result<()>;
    /// Adds or replaces routes (idempotent); many at once go in batches.
    fn ensure_routes(&self, routes: &[HostRoute]) -> Result<()>;
    /// Removes routes; routes already gone are success.
    fn remove_routes(&self, routes: &[HostRoute]) -> Result<()>;
    /// Routes with wharf's protocol number in wharf's table.
    fn owned_routes(&self) -> Result<Vec<HostRoute>>;
    /// Puts wharf's routing in its table (`--route-table`): wharf's routes in other tables
    /// go, and a table other than main gets the rule that has the kernel consult it. Answers
    /// how many routes and rules changed.
    fn settle_route_table(&self) -> Result<usize>;
    /// The table wharf's routes are in (254: main).
    fn route_table(&self) -> u32;
    /// Programs other than wharf listening to the kernel's route changes (routing daemons).
    fn route_readers(&self) -> Result<Vec<RouteReader>>;
    /// Follows, on a thread of its own, the host routes of others (not wharf's, not the
    /// kernel's) in the main table: addresses containers on other hosts use, as a routing
    /// daemon beside wharf learned them. `sink` gets the whole set first, then each change.
    fn watch_remote_hosts(&self, sink: Box<dyn FnMut(RemoteHostChange) + Send>);
    /// Main-table routes of others (not wharf's, not the kernel's connected ones) into
    /// `within`.
    fn foreign_routes(&self, within: &[IpNet]) -> Result<Vec<ForeignRoute>>;
    /// Destinations of every other main-table route except default, link-local and
    /// multicast ones: prefixes the host already uses, which a default pool must not overlap.
    fn used_prefixes(&self) -> Result<Vec<IpNet>>;
    /// The interface of the host's IPv4 default route (the first, if several).
    fn default_route_device(&self) -> Result<Option<String>>;
}

/// Neighbour entries: the proxy NDP entries earlier versions put on routed host ends, which
/// reconciliation takes away.
pub trait Neighbours: Send + Sync {
    /// Proxy NDP entries on the named links.
    fn proxy_entries(&self, links: &[String]) -> Result<Vec<ProxyNeighbour>>;
    /// Removes proxy NDP entries; entries already gone are success.
    fn remove_proxy_entries(&self, entries: &[ProxyNeighbour]) -> Result<()>;
}

/// Host-wide forwarding and the firewall rules Docker's `FORWARD DROP` policy makes necessary.
pub trait Firewall: Send + Sync {
    /// IPv4 (and, if asked, IPv6) forwarding, and an accept rule for forwarded traffic on
    /// wharf's links where a firewall policy would drop it. Idempotent.
    fn ensure_forwarding(&self, ipv6: bool) -> Result<()>;
    /// Removes the rules `ensure_forwarding` added. Forwarding sysctls stay on: other
    /// software may rely on them by then.
    fn release_forwarding(&self) -> Result<()>;
    /// Makes wharf's nftables table hold exactly `fences` (none: no table), in one
    /// transaction. The first call replaces whatever table is there.
    fn sync_fences(&self, fences: &fence::Fences) -> Result<()>;
    /// Makes wharf's NAT table hold exactly `nat` (nothing: no table), in one transaction. The first call replaces whatever table is there.
    fn sync_nat(&self, nat: &nat::Nat) -> Result<()>;
}

/// A route learned from a routing peer: its prefix and next hops (none: no route).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnedRoute {
    pub prefix: IpNet,
    pub next_hops: Vec<std::net::IpAddr>,
}

/// A change of a learned route: from the next hops it `replaced` (none: it had no route) to
/// `next_hops` (none: no route any more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnedChange {
    pub prefix: IpNet,
    pub next_hops: Vec<std::net::IpAddr>,
    pub replaced: Vec<std::net::IpAddr>,
}

/// Routes learned from routing peers (BGP), in the main table with a protocol number of their
/// own, never taken for wharf's container routes (reconciliation looks only at those).
pub trait LearnedRoutes: Send + Sync {
    /// Installs, replaces (several next hops: ECMP) or removes (no next hop) routes, in
    /// batches. Each change must say what it replaces as this dataplane last had it (after a
    /// restart, [`LearnedRoutes::learned_routes`] is what it had).
    fn apply_learned(&self, changes: &[LearnedChange]) -> Result<()>;
    /// The learned routes the kernel has (after a restart: the ones kept forwarding).
    fn learned_routes(&self) -> Result<Vec<LearnedRoute>>;
    /// Whether the kernel dropped learned routes behind wharf's back (it removes a route's
    /// next hop, with the routes through it, when their device goes down): then every route
    /// must be applied again, each replacing its own next hops.
    fn learned_routes_lost(&self) -> Result<bool>;
    /// The host's own addresses on links wharf did not make: no learned route may cover one.
    fn host_addresses(&self) -> Result<Vec<std::net::IpAddr>>;
    /// The other addresses of the link that has `local` (none if no link has it): where
    /// this host is reached in the other family by a peer it has a session with on `local`.
    fn addresses_beside(&self, local: std::net::IpAddr) -> Result<Vec<std::net::IpAddr>>;
}

/// Inside a container's network namespace.
pub trait Sandbox: Send + Sync {
    /// Waits until a link with `mac` exists in the namespace, then adds the addresses to it
    /// (addresses already present are success).
    fn configure_sandbox(&self, sandbox: &SandboxAddresses) -> Result<()>;
}

/// Open vSwitch bridges and ports, through ovsdb-server. Only rows marked with
/// [`OVS_OWNER_KEY`]`=`[`OVS_OWNER_VALUE`] are ever changed: a bridge or port of that name
/// without the mark is someone else's, and an error.
pub trait Switches: Send + Sync {
    /// Creates the bridge (with its internal port and interface, in one transaction) unless
    /// a wharf-owned one of that name is there, then waits until ovs-vswitchd has made its
    /// kernel link and sets it up.
    fn ensure_bridge(&self, spec: &BridgeSpec) -> Result<()>;
    /// Deletes a wharf-owned bridge with all its ports. A bridge already gone is success.
    fn delete_bridge(&self, name: &str) -> Result<()>;
    /// Adds a port to a bridge; an identical wharf-owned port already there is success.
    fn add_port(&self, spec: &PortSpec) -> Result<()>;
    /// Deletes a wharf-owned port of `bridge`. A port already gone is success.
    fn delete_port(&self, bridge: &str, name: &str) -> Result<()>;
    /// wharf-owned bridges and their wharf-owned ports, for reconciliation.
    fn owned_switch_objects(&self) -> Result<Vec<OwnedBridge>>;
    /// The datapath types ovs-vswitchd says it supports ("netdev", "system"); empty until
    /// ovs-vswitchd has run.
    fn datapath_types(&self) -> Result<Vec<String>>;
    /// Whether the kernel's Open vSwitch datapath (the openvswitch module) is there.
    fn kernel_datapath(&self) -> bool;
    /// Calls `reconnected` (from a thread of its own, for the life of the process) each time
    /// ovsdb-server answers again after it was gone: restarted, its database maybe wiped, so
    /// that wharf can put its bridges and ports back.
    fn watch_restarts(&self, reconnected: Box<dyn Fn() + Send>);
}

/// The dataplane's capabilities, as the engine holds them.
#[derive(Clone)]
pub struct Dataplane {
    pub links: Arc<dyn Links>,
    pub routes: Arc<dyn Routes>,
    pub neighbours: Arc<dyn Neighbours>,
    pub firewall: Arc<dyn Firewall>,
    pub sandbox: Arc<dyn Sandbox>,
    pub learned: Arc<dyn LearnedRoutes>,
    pub switches: Arc<dyn Switches>,
}

impl Dataplane {
    /// Every capability from one implementation (the Linux one, or a test's).
    pub fn from_one<T>(implementation: Arc<T>) -> Dataplane
    where
        T: Links + Routes + Neighbours + Firewall + Sandbox + LearnedRoutes + Switches + 'static,
    {
        Dataplane {
            links: implementation.clone(),
            routes: implementation.clone(),
            neighbours: implementation.clone(),
            firewall: implementation.clone(),
            sandbox: implementation.clone(),
            learned: implementation.clone(),
            switches: implementation,
        }
    }
}
