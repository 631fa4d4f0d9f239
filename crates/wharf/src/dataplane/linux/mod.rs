//! The real dataplane: netlink for links, addresses, routes and neighbours, `/proc/sys` for
//! per-link settings, `iptables` for the one firewall rule pair Docker's DROP policy needs,
//! and OVSDB for Open vSwitch bridges and ports.
//!
//! Netlink sockets are bound to the network namespace of the thread that called
//! [`LinuxDataplane::new`]; sysctl writes and `iptables` act on the namespace of the thread
//! calling each method. In the daemon both are the host namespace; tests keep them equal by
//! calling from the thread that created the dataplane.

mod devices;
mod firewall;
mod hop_objects;
mod learned;
mod links;
mod neighbours;
mod nftables;
mod ovs;
mod readers;
mod remote_hosts;
mod routes;
mod sandbox;
mod sysctl;

use std::sync::{Condvar, Mutex};

use ipnet::IpNet;
use wharf_netlink::Netlink;

use super::{
    DataplaneError, Firewall, HostAddress, HostRoute, LinkInfo, Links, Neighbours, OwnedLink,
    ParentSpec, ProxyNeighbour, Result, Routes, Sandbox, SandboxAddresses, SubLinkSpec, VethSpec,
    DEFAULT_ROUTE_PROTOCOL,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinuxConfig {
    /// Protocol number on wharf's routes (`proto 87`), which is how they are found again.
    pub route_protocol: u8,
    /// Table of wharf's routes (`--route-table`; 254, main, by default). Another table is
    /// consulted through a rule of wharf's ([`ROUTE_TABLE_RULE_PRIORITY`]).
    pub route_table: u32,
    /// Netlink sockets kept open: this many kernel requests can be in flight at once, so
    /// one container's set-up does not wait for another's.
    pub sockets: usize,
    /// Protocol number on routes learned from routing peers (`proto 88`).
    pub learned_protocol: u8,
    /// Where ovsdb-server listens (`unix:PATH` or `tcp:IP:PORT`), for Open vSwitch
    /// networks. Connected on first use, so a host without Open vSwitch is no trouble.
    pub ovsdb: String,
}

pub use routes::ROUTE_TABLE_RULE_PRIORITY;

/// Where Debian's and most distributions' ovsdb-server listens.
pub const DEFAULT_OVSDB_ENDPOINT: &str = "unix:/var/run/openvswitch/db.sock";

impl Default for LinuxConfig {
    fn default() -> Self {
        LinuxConfig {
            route_protocol: DEFAULT_ROUTE_PROTOCOL,
            route_table: wharf_netlink::consts::RT_TABLE_MAIN,
            sockets: 4,
            learned_protocol: super::DEFAULT_LEARNED_PROTOCOL,
            ovsdb: DEFAULT_OVSDB_ENDPOINT.to_owned(),
        }
    }
}

#[derive(Debug)]
pub struct LinuxDataplane {
    config: LinuxConfig,
    /// Idle sockets; a caller takes one for the length of its call and gives it back.
    sockets: Mutex<Vec<Netlink>>,
    returned: Condvar,
    /// Serialises the check-then-insert of firewall rules, so two callers cannot both insert.
    firewall: Mutex<()>,
    /// Indexes of links made here, for the requests that follow them.
    made: devices::MadeLinks,
    /// wharf's nftables table, as last applied.
    fences: nftables::FenceTable,
    /// wharf's NAT table, as last applied.
    nat: nftables::NatTable,
    /// The nexthop objects learned routes share. Taken before a socket, never after.
    hop_objects: Mutex<hop_objects::HopObjects>,
    /// The connection to ovsdb-server, for Open vSwitch bridges and ports.
    ovs: ovs::Ovsdb,
}

impl LinuxDataplane {
    /// Opens the netlink sockets in the calling thread's network namespace.
    pub fn new(config: LinuxConfig) -> Result<Self> {
        let sockets = (0..config.sockets.max(1))
            .map(|_| Netlink::open().map_err(kernel_error("open rtnetlink socket")))
            .collect::<Result<Vec<_>>>()?;
        Ok(LinuxDataplane {
            sockets: Mutex::new(sockets),
            returned: Condvar::new(),
            firewall: Mutex::new(()),
            made: devices::MadeLinks::default(),
            fences: nftables::FenceTable::default(),
            nat: nftables::NatTable::default(),
            hop_objects: Mutex::new(hop_objects::HopObjects::new(config.learned_protocol)),
            ovs: ovs::Ovsdb::new(config.ovsdb.clone()),
            config,
        })
    }

    /// Runs `work` with a socket of the pool, waiting for one if all are in use.
    fn with_netlink<T>(&self, work: impl FnOnce(&mut Netlink) -> T) -> T {
        // A panic while a socket was out leaves at most unread replies on it, which the
        // sequence-number check skips: the pool stays usable.
        let mut idle = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        let mut netlink = loop {
            match idle.pop() {
                Some(netlink) => break netlink,
                None => idle = self.returned.wait(idle).unwrap_or_else(|e| e.into_inner()),
            }
        };
        drop(idle);
        let out = work(&mut netlink);
        self.sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(netlink);
        self.returned.notify_one();
        out
    }
}

impl Links for LinuxDataplane {
    fn create_veth(&self, spec: &VethSpec) -> Result<()> {
        self.with_netlink(|netlink| links::create_veth(netlink, &self.made, spec))
    }

    fn create_sub_link(&self, spec: &SubLinkSpec) -> Result<()> {
        self.with_netlink(|netlink| links::create_sub_link(netlink, &self.made, spec))
    }

    fn create_parent(&self, spec: &ParentSpec) -> Result<()> {
        self.with_netlink(|netlink| links::create_parent(netlink, &self.made, spec))
    }

    fn delete_link(&self, name: &str) -> Result<()> {
        self.made.forget(name);
        self.with_netlink(|netlink| netlink.delete_link(name))
            .map_err(kernel_error(format!("delete link {name}")))
    }

    fn link(&self, name: &str) -> Result<Option<LinkInfo>> {
        self.with_netlink(|netlink| links::info(netlink, name))
    }

    fn owned_links(&self) -> Result<Vec<OwnedLink>> {
        self.with_netlink(links::owned)
    }

    fn names(&self) -> Result<Vec<String>> {
        self.with_netlink(|netlink| netlink.links())
            .map(|links| links.into_iter().map(|l| l.name).collect())
            .map_err(kernel_error("list links"))
    }
}

impl Routes for LinuxDataplane {
    fn add_addresses(&self, addresses: &[HostAddress]) -> Result<()> {
        self.with_netlink(|netlink| routes::add_addresses(netlink, &self.made, addresses))
    }

    fn ensure_routes(&self, routes: &[HostRoute]) -> Result<()> {
        let marking = self.marking();
        self.with_netlink(|netlink| routes::ensure(netlink, &self.made, marking, routes))
    }

    fn remove_routes(&self, routes: &[HostRoute]) -> Result<()> {
        let marking = self.marking();
        self.with_netlink(|netlink| routes::remove(netlink, &self.made, marking, routes))
    }

    fn owned_routes(&self) -> Result<Vec<HostRoute>> {
        let marking = self.marking();
        self.with_netlink(|netlink| routes::owned(netlink, marking))
    }

    fn settle_route_table(&self) -> Result<usize> {
        let marking = self.marking();
        self.with_netlink(|netlink| routes::settle_table(netlink, marking))
    }

    fn route_table(&self) -> u32 {
        self.config.route_table
    }

    fn route_readers(&self) -> Result<Vec<super::RouteReader>> {
        readers::route_readers()
    }

    fn watch_remote_hosts(&self, sink: Box<dyn FnMut(super::RemoteHostChange) + Send>) {
        let own = vec![self.config.route_protocol, self.config.learned_protocol];
        let spawned = std::thread::Builder::new()
            .name("remote-hosts".into())
            .spawn(move || remote_hosts::watch(own, sink));
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot watch the routes to other hosts' containers");
        }
    }

    fn foreign_routes(&self, within: &[IpNet]) -> Result<Vec<super::ForeignRoute>> {
        let protocol = self.config.route_protocol;
        self.with_netlink(|netlink| routes::foreign_routes(netlink, protocol, within))
    }

    fn used_prefixes(&self) -> Result<Vec<IpNet>> {
        let protocol = self.config.route_protocol;
        self.with_netlink(|netlink| routes::used_prefixes(netlink, protocol))
    }

    fn default_route_device(&self) -> Result<Option<String>> {
        self.with_netlink(routes::default_route_device)
    }
}

impl LinuxDataplane {
    fn marking(&self) -> routes::Marking {
        routes::Marking {
            protocol: self.config.route_protocol,
            table: self.config.route_table,
        }
    }
}

impl Neighbours for LinuxDataplane {
    fn proxy_entries(&self, links: &[String]) -> Result<Vec<ProxyNeighbour>> {
        self.with_netlink(|netlink| neighbours::proxy_entries(netlink, links))
    }

    fn remove_proxy_entries(&self, entries: &[ProxyNeighbour]) -> Result<()> {
        self.with_netlink(|netlink| neighbours::remove_proxy_entries(netlink, entries))
    }
}

impl Firewall for LinuxDataplane {
    fn ensure_forwarding(&self, ipv6: bool) -> Result<()> {
        sysctl::enable("net/ipv4/ip_forward")?;
        if ipv6 {
            sysctl::enable("net/ipv6/conf/all/forwarding")?;
        }
        let _guard = self.firewall.lock().unwrap_or_else(|e| e.into_inner());
        firewall::ensure_accept_rules(ipv6)
    }

    fn release_forwarding(&self) -> Result<()> {
        let _guard = self.firewall.lock().unwrap_or_else(|e| e.into_inner());
        firewall::remove_accept_rules()
    }

    fn sync_fences(&self, fences: &super::fence::Fences) -> Result<()> {
        self.fences.sync(fences)
    }

    fn sync_nat(&self, nat: &super::nat::Nat) -> Result<()> {
        self.nat.sync(nat)
    }
}

impl super::LearnedRoutes for LinuxDataplane {
    fn apply_learned(&self, changes: &[super::LearnedChange]) -> Result<()> {
        let protocol = self.config.learned_protocol;
        let mut objects = self.hop_objects.lock().unwrap_or_else(|e| e.into_inner());
        self.with_netlink(|netlink| learned::apply(netlink, &mut objects, protocol, changes))
    }

    fn learned_routes(&self) -> Result<Vec<super::LearnedRoute>> {
        let protocol = self.config.learned_protocol;
        let mut objects = self.hop_objects.lock().unwrap_or_else(|e| e.into_inner());
        self.with_netlink(|netlink| learned::learned(netlink, &mut objects, protocol))
    }

    fn learned_routes_lost(&self) -> Result<bool> {
        let mut objects = self.hop_objects.lock().unwrap_or_else(|e| e.into_inner());
        self.with_netlink(|netlink| learned::lost(netlink, &mut objects))
    }

    fn host_addresses(&self) -> Result<Vec<std::net::IpAddr>> {
        self.with_netlink(learned::host_addresses)
    }

    fn addresses_beside(&self, local: std::net::IpAddr) -> Result<Vec<std::net::IpAddr>> {
        self.with_netlink(|netlink| learned::addresses_beside(netlink, local))
    }
}

impl Sandbox for LinuxDataplane {
    fn configure_sandbox(&self, sandbox: &SandboxAddresses) -> Result<()> {
        sandbox::configure(sandbox)
    }
}

/// Maps a netlink error to a dataplane error naming the object it concerned, keeping the
/// kernel's errno.
pub(crate) fn kernel_error(
    what: impl Into<String>,
) -> impl FnOnce(wharf_netlink::Error) -> DataplaneError {
    let what = what.into();
    move |error| DataplaneError::Kernel {
        what,
        errno: error.errno(),
        message: error.to_string(),
    }
}
