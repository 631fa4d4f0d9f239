//! Recording fakes of the dataplane's capabilities for the engine's unit tests (no root): one
//! per trait, all keeping one in-memory picture of the host and one log of requests in the
//! order they came, so a test sees what was asked of whom and when. Failures can be injected
//! per operation name.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use ipnet::IpNet;

use super::{BridgeSpec, OwnedBridge, OwnedPort, PortKind, PortSpec, Switches};
use super::{
    Dataplane, DataplaneError, Firewall, HostAddress, HostRoute, LinkInfo, Links, Neighbours,
    OwnedLink, ParentKind, ParentSpec, ProxyNeighbour, Result, Routes, Sandbox, SandboxAddresses,
    SubLinkSpec, VethSpec, LINK_ALIAS_PREFIX, PARENT_ALIAS,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    CreateVeth(String),
    CreateSubLink(String),
    CreateParent(String),
    DeleteLink(String),
    AddAddresses(Vec<HostAddress>),
    EnsureRoutes(Vec<HostRoute>),
    RemoveRoutes(Vec<HostRoute>),
    RemoveProxies(Vec<ProxyNeighbour>),
    ConfigureSandbox(Vec<IpNet>),
    EnsureForwarding(bool),
    ReleaseForwarding,
    SyncFences,
    SyncNat,
    EnsureBridge(String),
    DeleteBridge(String),
    AddPort(String),
    DeletePort(String),
}

#[derive(Debug, Default)]
struct Host {
    /// Links made through the fakes (or added as someone else's): name -> alias.
    links: BTreeMap<String, String>,
    /// The host's own interfaces and the parents made: name -> MTU.
    mtus: BTreeMap<String, u32>,
    addresses: BTreeSet<HostAddress>,
    routes: BTreeSet<HostRoute>,
    proxies: BTreeSet<ProxyNeighbour>,
    used_prefixes: Vec<IpNet>,
    default_device: Option<String>,
    calls: Vec<Call>,
    fail: BTreeSet<&'static str>,
    crash_before_alias: bool,
    /// wharf's nftables table, as last synced.
    fences: super::fence::Fences,
    /// wharf's NAT table, as last synced.
    nat: super::nat::Nat,
    /// Learned routes: prefix -> next hops.
    learned: BTreeMap<IpNet, Vec<std::net::IpAddr>>,
    /// Open vSwitch bridges made through the fake, by name.
    bridges: BTreeMap<String, OwnedBridge>,
}

/// The host as the fakes see it.
#[derive(Debug, Default)]
pub struct FakeKernel {
    host: Mutex<Host>,
}

/// A recording dataplane: its fakes, and the kernel picture they share.
pub fn recording() -> (Dataplane, Arc<FakeKernel>) {
    let kernel = Arc::new(FakeKernel::default());
    let dataplane = Dataplane {
        links: Arc::new(FakeLinks(kernel.clone())),
        routes: Arc::new(FakeRoutes(kernel.clone())),
        neighbours: Arc::new(FakeNeighbours(kernel.clone())),
        firewall: Arc::new(FakeFirewall(kernel.clone())),
        sandbox: Arc::new(FakeSandbox(kernel.clone())),
        learned: Arc::new(FakeSandbox(kernel.clone())),
        switches: Arc::new(FakeSwitches(kernel.clone())),
    };
    (dataplane, kernel)
}

impl FakeKernel {
    fn host(&self) -> MutexGuard<'_, Host> {
        // A test that panicked while holding the lock has already failed; keep its data.
        self.host.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Logs the call, then fails it if `operation` was made to fail.
    fn record(&self, call: Call, operation: &'static str) -> Result<MutexGuard<'_, Host>> {
        let mut host = self.host();
        host.calls.push(call);
        if host.fail.contains(operation) {
            return Err(DataplaneError::other(operation, "injected failure"));
        }
        Ok(host)
    }

    /// The fences the table holds.
    pub fn fences(&self) -> super::fence::Fences {
        self.host().fences.clone()
    }

    /// What the NAT table holds.
    pub fn nat(&self) -> super::nat::Nat {
        self.host().nat.clone()
    }

    /// The next veth is made without its alias, then the process "dies" (panics) before the
    /// second request that would mark it: the kernel's window between the two.
    pub fn crash_before_alias(&self) {
        self.host().crash_before_alias = true;
    }

    /// Makes every later call of the named operation (e.g. "create_veth") fail.
    pub fn fail_on(&self, operation: &'static str) {
        self.host().fail.insert(operation);
    }

    pub fn heal(&self) {
        self.host().fail.clear();
    }

    pub fn calls(&self) -> Vec<Call> {
        self.host().calls.clone()
    }

    pub fn clear_calls(&self) {
        self.host().calls.clear();
    }

    /// Links with their alias.
    pub fn links(&self) -> BTreeMap<String, String> {
        self.host().links.clone()
    }

    pub fn routes(&self) -> BTreeSet<HostRoute> {
        self.host().routes.clone()
    }

    pub fn addresses(&self) -> BTreeSet<HostAddress> {
        self.host().addresses.clone()
    }

    pub fn proxies(&self) -> BTreeSet<ProxyNeighbour> {
        self.host().proxies.clone()
    }

    /// Simulates a link that appeared (or was left behind) outside wharf's control.
    pub fn add_link(&self, name: &str, alias: &str) {
        self.host().links.insert(name.into(), alias.into());
    }

    /// Simulates someone deleting a link behind wharf's back (a reboot, say).
    pub fn drop_link(&self, name: &str) {
        let mut host = self.host();
        forget_link(&mut host, name);
    }

    /// Simulates someone deleting a route behind wharf's back.
    pub fn drop_route(&self, route: &HostRoute) {
        self.host().routes.remove(route);
    }

    /// Simulates a proxy NDP entry an earlier version left.
    pub fn add_proxy(&self, entry: ProxyNeighbour) {
        self.host().proxies.insert(entry);
    }

    /// Simulates a host interface (a parent for macvlan/ipvlan links).
    pub fn add_parent(&self, name: &str, mtu: u32) {
        self.host().mtus.insert(name.into(), mtu);
    }

    pub fn set_default_route_device(&self, name: &str) {
        self.host().default_device = Some(name.into());
    }

    pub fn add_used_prefix(&self, prefix: IpNet) {
        self.host().used_prefixes.push(prefix);
    }

    /// The Open vSwitch bridges the fake holds.
    pub fn bridges(&self) -> BTreeMap<String, OwnedBridge> {
        self.host().bridges.clone()
    }

    /// Simulates an Open vSwitch database wiped behind wharf's back (its links go too).
    pub fn drop_bridges(&self) {
        let mut host = self.host();
        let bridges = std::mem::take(&mut host.bridges);
        for (name, bridge) in bridges {
            forget_link(&mut host, &name);
            for port in bridge.ports {
                if matches!(port.kind, PortKind::Internal { .. }) {
                    forget_link(&mut host, &port.name);
                }
            }
        }
    }

    /// Simulates a bridge someone (an earlier wharf) left with wharf's mark.
    pub fn add_bridge(&self, bridge: OwnedBridge) {
        self.host().bridges.insert(bridge.name.clone(), bridge);
    }
}

fn forget_link(host: &mut Host, name: &str) {
    host.links.remove(name);
    host.mtus.remove(name);
    host.addresses.retain(|a| a.device != name);
    host.routes.retain(|r| r.device != name);
    host.proxies.retain(|p| p.device != name);
}

fn exists(what: String) -> DataplaneError {
    DataplaneError::Kernel {
        what,
        errno: Some(libc::EEXIST),
        message: "File exists".into(),
    }
}

fn no_device(what: String) -> DataplaneError {
    DataplaneError::Kernel {
        what,
        errno: Some(libc::ENODEV),
        message: "No such device".into(),
    }
}

pub struct FakeLinks(Arc<FakeKernel>);
pub struct FakeRoutes(Arc<FakeKernel>);
pub struct FakeNeighbours(Arc<FakeKernel>);
pub struct FakeFirewall(Arc<FakeKernel>);
pub struct FakeSandbox(Arc<FakeKernel>);
pub struct FakeSwitches(Arc<FakeKernel>);

impl Links for FakeLinks {
    fn create_veth(&self, spec: &VethSpec) -> Result<()> {
        let mut host = self
            .0
            .record(Call::CreateVeth(spec.host_ifname.clone()), "create_veth")?;
        if host.links.contains_key(&spec.host_ifname) {
            return Err(exists(format!("create veth pair {}", spec.host_ifname)));
        }
        if std::mem::take(&mut host.crash_before_alias) {
            host.links.insert(spec.host_ifname.clone(), String::new());
            drop(host);
            panic!("crashed between making {} and marking it", spec.host_ifname);
        }
        host.links
            .insert(spec.host_ifname.clone(), spec.alias.clone());
        Ok(())
    }

    fn create_sub_link(&self, spec: &SubLinkSpec) -> Result<()> {
        let mut host = self
            .0
            .record(Call::CreateSubLink(spec.name.clone()), "create_sub_link")?;
        let what = format!("create {} link {}", spec.kind.describe(), spec.name);
        if !host.mtus.contains_key(&spec.parent) {
            return Err(no_device(what));
        }
        if host.links.contains_key(&spec.name) {
            return Err(exists(what));
        }
        host.links.insert(spec.name.clone(), spec.alias.clone());
        Ok(())
    }

    fn create_parent(&self, spec: &ParentSpec) -> Result<()> {
        let mut host = self
            .0
            .record(Call::CreateParent(spec.name.clone()), "create_parent")?;
        let what = format!("create parent {}", spec.name);
        let mtu = match &spec.kind {
            ParentKind::Vlan { base, .. } => host.mtus.get(base).copied(),
            ParentKind::Dummy => Some(spec.mtu),
        };
        let Some(mtu) = mtu else {
            return Err(no_device(what));
        };
        if host.links.contains_key(&spec.name) || host.mtus.contains_key(&spec.name) {
            return Err(exists(what));
        }
        host.mtus.insert(spec.name.clone(), mtu);
        host.links.insert(spec.name.clone(), PARENT_ALIAS.into());
        Ok(())
    }

    fn delete_link(&self, name: &str) -> Result<()> {
        let mut host = self
            .0
            .record(Call::DeleteLink(name.into()), "delete_link")?;
        forget_link(&mut host, name);
        Ok(())
    }

    fn link(&self, name: &str) -> Result<Option<LinkInfo>> {
        let host = self.0.host();
        if host.fail.contains("link") {
            return Err(DataplaneError::other("link", "injected failure"));
        }
        if !host.links.contains_key(name) && !host.mtus.contains_key(name) {
            return Ok(None);
        }
        Ok(Some(LinkInfo {
            name: name.into(),
            mtu: host.mtus.get(name).copied().unwrap_or(1500),
            mac: Some([0x02, 0, 0, 0, 0, 0x01]),
            owned_parent: host.links.get(name).map(String::as_str) == Some(PARENT_ALIAS),
            alias: host.links.get(name).filter(|a| !a.is_empty()).cloned(),
        }))
    }

    fn owned_links(&self) -> Result<Vec<OwnedLink>> {
        Ok(self
            .0
            .host()
            .links
            .iter()
            .filter(|(_, alias)| alias.starts_with(LINK_ALIAS_PREFIX))
            .map(|(name, alias)| OwnedLink {
                name: name.clone(),
                alias: alias.clone(),
            })
            .collect())
    }

    fn names(&self) -> Result<Vec<String>> {
        let host = self.0.host();
        let mut names: BTreeSet<String> = host.links.keys().cloned().collect();
        names.extend(host.mtus.keys().cloned());
        Ok(names.into_iter().collect())
    }
}

impl Routes for FakeRoutes {
    fn add_addresses(&self, addresses: &[HostAddress]) -> Result<()> {
        let mut host = self
            .0
            .record(Call::AddAddresses(addresses.to_vec()), "add_addresses")?;
        let known = |name: &str| host.links.contains_key(name) || host.mtus.contains_key(name);
        if let Some(orphan) = addresses.iter().find(|a| !known(&a.device)) {
            return Err(no_device(format!("add address dev {}", orphan.device)));
        }
        host.addresses.extend(addresses.iter().cloned());
        Ok(())
    }

    fn ensure_routes(&self, routes: &[HostRoute]) -> Result<()> {
        let mut host = self
            .0
            .record(Call::EnsureRoutes(routes.to_vec()), "ensure_routes")?;
        let known = |name: &str| host.links.contains_key(name) || host.mtus.contains_key(name);
        if let Some(orphan) = routes.iter().find(|r| !known(&r.device)) {
            return Err(no_device(format!("add route dev {}", orphan.device)));
        }
        host.routes.extend(routes.iter().cloned());
        Ok(())
    }

    fn remove_routes(&self, routes: &[HostRoute]) -> Result<()> {
        let mut host = self
            .0
            .record(Call::RemoveRoutes(routes.to_vec()), "remove_routes")?;
        for route in routes {
            host.routes.remove(route);
        }
        Ok(())
    }

    fn owned_routes(&self) -> Result<Vec<HostRoute>> {
        Ok(self.0.host().routes.iter().cloned().collect())
    }

    fn used_prefixes(&self) -> Result<Vec<IpNet>> {
        Ok(self.0.host().used_prefixes.clone())
    }

    fn settle_route_table(&self) -> Result<usize> {
        Ok(0)
    }

    fn route_table(&self) -> u32 {
        254
    }

    fn route_readers(&self) -> Result<Vec<super::RouteReader>> {
        Ok(Vec::new())
    }

    fn watch_remote_hosts(&self, _sink: Box<dyn FnMut(super::RemoteHostChange) + Send>) {}

    fn foreign_routes(&self, _within: &[IpNet]) -> Result<Vec<super::ForeignRoute>> {
        Ok(Vec::new())
    }

    fn default_route_device(&self) -> Result<Option<String>> {
        Ok(self.0.host().default_device.clone())
    }
}

impl Neighbours for FakeNeighbours {
    fn proxy_entries(&self, links: &[String]) -> Result<Vec<ProxyNeighbour>> {
        Ok(self
            .0
            .host()
            .proxies
            .iter()
            .filter(|p| links.contains(&p.device))
            .cloned()
            .collect())
    }

    fn remove_proxy_entries(&self, entries: &[ProxyNeighbour]) -> Result<()> {
        let mut host = self.0.record(
            Call::RemoveProxies(entries.to_vec()),
            "remove_proxy_entries",
        )?;
        for entry in entries {
            host.proxies.remove(entry);
        }
        Ok(())
    }
}

impl Firewall for FakeFirewall {
    fn ensure_forwarding(&self, ipv6: bool) -> Result<()> {
        self.0
            .record(Call::EnsureForwarding(ipv6), "ensure_forwarding")
            .map(drop)
    }

    fn release_forwarding(&self) -> Result<()> {
        self.0
            .record(Call::ReleaseForwarding, "release_forwarding")
            .map(drop)
    }

    fn sync_fences(&self, fences: &super::fence::Fences) -> Result<()> {
        self.0.record(Call::SyncFences, "sync_fences")?.fences = fences.clone();
        Ok(())
    }

    fn sync_nat(&self, nat: &super::nat::Nat) -> Result<()> {
        self.0.record(Call::SyncNat, "sync_nat")?.nat = nat.clone();
        Ok(())
    }
}

impl Sandbox for FakeSandbox {
    fn configure_sandbox(&self, sandbox: &SandboxAddresses) -> Result<()> {
        self.0
            .record(
                Call::ConfigureSandbox(sandbox.addresses.clone()),
                "configure_sandbox",
            )
            .map(drop)
    }
}

impl super::LearnedRoutes for FakeSandbox {
    fn apply_learned(&self, routes: &[super::LearnedChange]) -> Result<()> {
        let mut host = self.0.host();
        for route in routes {
            if route.next_hops.is_empty() {
                host.learned.remove(&route.prefix);
            } else {
                host.learned.insert(route.prefix, route.next_hops.clone());
            }
        }
        Ok(())
    }

    fn learned_routes(&self) -> Result<Vec<super::LearnedRoute>> {
        Ok(self
            .0
            .host()
            .learned
            .iter()
            .map(|(prefix, next_hops)| super::LearnedRoute {
                prefix: *prefix,
                next_hops: next_hops.clone(),
            })
            .collect())
    }

    fn learned_routes_lost(&self) -> Result<bool> {
        Ok(false)
    }

    fn addresses_beside(&self, _local: std::net::IpAddr) -> Result<Vec<std::net::IpAddr>> {
        Ok(Vec::new())
    }

    fn host_addresses(&self) -> Result<Vec<std::net::IpAddr>> {
        Ok(Vec::new())
    }
}

/// Bridges and ports in memory, every one wharf's (the Linux tests cover foreign ones).
impl Switches for FakeSwitches {
    fn ensure_bridge(&self, spec: &BridgeSpec) -> Result<()> {
        let call = Call::EnsureBridge(spec.name.clone());
        let mut host = self.0.record(call, "ensure_bridge")?;
        host.bridges
            .entry(spec.name.clone())
            .or_insert_with(|| OwnedBridge {
                name: spec.name.clone(),
                datapath: spec.datapath,
                ports: Vec::new(),
            });
        // ovs-vswitchd makes the bridge's own link.
        host.mtus.entry(spec.name.clone()).or_insert(1500);
        Ok(())
    }

    fn delete_bridge(&self, name: &str) -> Result<()> {
        let call = Call::DeleteBridge(name.into());
        let mut host = self.0.record(call, "delete_bridge")?;
        if let Some(bridge) = host.bridges.remove(name) {
            forget_link(&mut host, name);
            for port in bridge.ports {
                if matches!(port.kind, PortKind::Internal { .. }) {
                    forget_link(&mut host, &port.name);
                }
            }
        }
        Ok(())
    }

    fn add_port(&self, spec: &PortSpec) -> Result<()> {
        spec.check()?;
        let mut host = self
            .0
            .record(Call::AddPort(spec.name.clone()), "add_port")?;
        let what = format!("add port {} to bridge {}", spec.name, spec.bridge);
        let bridge = host
            .bridges
            .get_mut(&spec.bridge)
            .ok_or_else(|| DataplaneError::other(what, "there is no such bridge"))?;
        let port = OwnedPort {
            name: spec.name.clone(),
            vlan: spec.vlan,
            kind: spec.kind.clone(),
        };
        // As ovsdb-server's: an identical port already there is left as it is.
        if !bridge.ports.contains(&port) {
            bridge.ports.retain(|p| p.name != spec.name);
            bridge.ports.push(port);
        }
        if let PortKind::Internal { mtu, .. } = spec.kind {
            host.mtus.insert(spec.name.clone(), mtu.unwrap_or(1500));
        }
        Ok(())
    }

    fn delete_port(&self, bridge: &str, name: &str) -> Result<()> {
        let mut host = self
            .0
            .record(Call::DeletePort(name.into()), "delete_port")?;
        let mut internal = false;
        if let Some(bridge) = host.bridges.get_mut(bridge) {
            internal = bridge
                .ports
                .iter()
                .any(|p| p.name == name && matches!(p.kind, PortKind::Internal { .. }));
            bridge.ports.retain(|p| p.name != name);
        }
        if internal {
            forget_link(&mut host, name);
        }
        Ok(())
    }

    fn owned_switch_objects(&self) -> Result<Vec<OwnedBridge>> {
        Ok(self.0.host().bridges.values().cloned().collect())
    }

    fn datapath_types(&self) -> Result<Vec<String>> {
        Ok(vec!["netdev".into(), "system".into()])
    }

    fn kernel_datapath(&self) -> bool {
        false
    }

    fn watch_restarts(&self, _reconnected: Box<dyn Fn() + Send>) {}
}
