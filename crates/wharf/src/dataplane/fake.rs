//! A dataplane that keeps an in-memory picture of the host and records every request, for
//! unit tests of the engine (no root). Failures can be injected per operation name.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use super::{
    Dataplane, DataplaneError, HostRoute, KernelSnapshot, OwnedLink, ParentKind, ParentLink,
    ParentSpec, ProxyNeighbour, RoutedEndpointSpec, SandboxAddresses, SubLinkSpec, PARENT_ALIAS,
};
use ipnet::IpNet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    SetupRoutedEndpoint(String),
    DeleteLink(String),
    EnsureRoutes(Vec<HostRoute>),
    RemoveRoutes(Vec<HostRoute>),
    EnsureProxyNeighbours(Vec<ProxyNeighbour>),
    RemoveProxyNeighbours(Vec<ProxyNeighbour>),
    ConfigureSandbox(Vec<IpNet>),
    Snapshot,
    EnsureForwarding(bool),
    ReleaseForwarding,
    CreateSubLink(String),
    CreateParent(String),
}

#[derive(Debug, Default)]
struct FakeHost {
    /// link name -> alias
    links: BTreeMap<String, String>,
    routes: BTreeSet<HostRoute>,
    proxies: BTreeSet<ProxyNeighbour>,
    used_prefixes: Vec<IpNet>,
    /// Interfaces that can be parents: name -> MTU.
    parents: BTreeMap<String, u32>,
    default_device: Option<String>,
    calls: Vec<Call>,
    fail: BTreeSet<&'static str>,
}

#[derive(Debug, Default)]
pub struct RecordingDataplane {
    host: Mutex<FakeHost>,
}

impl RecordingDataplane {
    pub fn new() -> Self {
        Self::default()
    }

    fn host(&self) -> std::sync::MutexGuard<'_, FakeHost> {
        // A test that panicked while holding the lock has already failed; keep its data.
        self.host.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes every later call of the named operation (e.g. "setup_routed_endpoint") fail.
    pub fn fail_on(&self, operation: &'static str) {
        self.host().fail.insert(operation);
    }

    pub fn heal(&self) {
        self.host().fail.clear();
    }

    pub fn calls(&self) -> Vec<Call> {
        self.host().calls.clone()
    }

    pub fn links(&self) -> BTreeMap<String, String> {
        self.host().links.clone()
    }

    pub fn routes(&self) -> BTreeSet<HostRoute> {
        self.host().routes.clone()
    }

    pub fn proxies(&self) -> BTreeSet<ProxyNeighbour> {
        self.host().proxies.clone()
    }

    /// Simulates a link that appeared (or was left behind) outside wharf's control.
    pub fn add_link(&self, name: &str, alias: &str) {
        self.host().links.insert(name.into(), alias.into());
    }

    /// Simulates someone deleting a route behind wharf's back.
    pub fn drop_route(&self, route: &HostRoute) {
        self.host().routes.remove(route);
    }

    /// Simulates a host interface (a parent for macvlan links).
    pub fn add_parent(&self, name: &str, mtu: u32) {
        self.host().parents.insert(name.into(), mtu);
    }

    pub fn set_default_route_device(&self, name: &str) {
        self.host().default_device = Some(name.into());
    }

    pub fn add_used_prefix(&self, prefix: IpNet) {
        self.host().used_prefixes.push(prefix);
    }

    fn check(host: &FakeHost, operation: &'static str) -> Result<(), DataplaneError> {
        if host.fail.contains(operation) {
            return Err(DataplaneError::Kernel {
                what: operation.into(),
                message: "injected failure".into(),
            });
        }
        Ok(())
    }
}

impl Dataplane for RecordingDataplane {
    fn setup_routed_endpoint(&self, spec: &RoutedEndpointSpec) -> Result<(), DataplaneError> {
        let mut host = self.host();
        host.calls
            .push(Call::SetupRoutedEndpoint(spec.host_ifname.clone()));
        Self::check(&host, "setup_routed_endpoint")?;
        if host.links.contains_key(&spec.host_ifname) {
            return Err(DataplaneError::Kernel {
                what: format!("create veth pair {}", spec.host_ifname),
                message: "File exists".into(),
            });
        }
        host.links
            .insert(spec.host_ifname.clone(), spec.alias.clone());
        host.routes.extend(spec.routes.iter().cloned());
        host.proxies.extend(spec.proxy_neighbours.iter().cloned());
        Ok(())
    }

    fn delete_link(&self, name: &str) -> Result<(), DataplaneError> {
        let mut host = self.host();
        host.calls.push(Call::DeleteLink(name.into()));
        Self::check(&host, "delete_link")?;
        host.links.remove(name);
        host.parents.remove(name);
        host.routes.retain(|r| r.device != name);
        host.proxies.retain(|p| p.device != name);
        Ok(())
    }

    fn ensure_routes(&self, routes: &[HostRoute]) -> Result<(), DataplaneError> {
        let mut host = self.host();
        host.calls.push(Call::EnsureRoutes(routes.to_vec()));
        Self::check(&host, "ensure_routes")?;
        host.routes.extend(routes.iter().cloned());
        Ok(())
    }

    fn remove_routes(&self, routes: &[HostRoute]) -> Result<(), DataplaneError> {
        let mut host = self.host();
        host.calls.push(Call::RemoveRoutes(routes.to_vec()));
        Self::check(&host, "remove_routes")?;
        for route in routes {
            host.routes.remove(route);
        }
        Ok(())
    }

    fn ensure_proxy_neighbours(&self, entries: &[ProxyNeighbour]) -> Result<(), DataplaneError> {
        let mut host = self.host();
        host.calls
            .push(Call::EnsureProxyNeighbours(entries.to_vec()));
        Self::check(&host, "ensure_proxy_neighbours")?;
        host.proxies.extend(entries.iter().cloned());
        Ok(())
    }

    fn remove_proxy_neighbours(&self, entries: &[ProxyNeighbour]) -> Result<(), DataplaneError> {
        let mut host = self.host();
        host.calls
            .push(Call::RemoveProxyNeighbours(entries.to_vec()));
        Self::check(&host, "remove_proxy_neighbours")?;
        for entry in entries {
            host.proxies.remove(entry);
        }
        Ok(())
    }

    fn configure_sandbox(&self, sandbox: &SandboxAddresses) -> Result<(), DataplaneError> {
        let mut host = self.host();
        host.calls
            .push(Call::ConfigureSandbox(sandbox.addresses.clone()));
        Self::check(&host, "configure_sandbox")
    }

    fn snapshot(&self) -> Result<KernelSnapshot, DataplaneError> {
        let mut host = self.host();
        host.calls.push(Call::Snapshot);
        Self::check(&host, "snapshot")?;
        Ok(KernelSnapshot {
            owned_links: host
                .links
                .iter()
                .filter(|(_, alias)| alias.starts_with(super::LINK_ALIAS_PREFIX))
                .map(|(name, alias)| OwnedLink {
                    name: name.clone(),
                    alias: alias.clone(),
                })
                .collect(),
            owned_routes: host.routes.iter().cloned().collect(),
            used_prefixes: host.used_prefixes.clone(),
        })
    }

    fn ensure_forwarding(&self, ipv6: bool) -> Result<(), DataplaneError> {
        let mut host = self.host();
        host.calls.push(Call::EnsureForwarding(ipv6));
        Self::check(&host, "ensure_forwarding")
    }

    fn release_forwarding(&self) -> Result<(), DataplaneError> {
        let mut host = self.host();
        host.calls.push(Call::ReleaseForwarding);
        Self::check(&host, "release_forwarding")
    }

    fn parent_link(&self, name: &str) -> Result<Option<ParentLink>, DataplaneError> {
        let host = self.host();
        Self::check(&host, "parent_link")?;
        Ok(host.parents.get(name).map(|&mtu| ParentLink {
            name: name.into(),
            mtu,
            mac: Some([0x02, 0, 0, 0, 0, 0x01]),
            owned: host.links.get(name).map(String::as_str) == Some(PARENT_ALIAS),
        }))
    }

    fn default_route_device(&self) -> Result<Option<String>, DataplaneError> {
        Ok(self.host().default_device.clone())
    }

    fn create_sub_link(&self, spec: &SubLinkSpec) -> Result<(), DataplaneError> {
        let mut host = self.host();
        host.calls.push(Call::CreateSubLink(spec.name.clone()));
        Self::check(&host, "create_sub_link")?;
        if !host.parents.contains_key(&spec.parent) || host.links.contains_key(&spec.name) {
            return Err(DataplaneError::Kernel {
                what: format!("create {} link {}", spec.kind.describe(), spec.name),
                message: "No such device or File exists".into(),
            });
        }
        host.links.insert(spec.name.clone(), spec.alias.clone());
        Ok(())
    }

    fn create_parent(&self, spec: &ParentSpec) -> Result<(), DataplaneError> {
        let mut host = self.host();
        host.calls.push(Call::CreateParent(spec.name.clone()));
        Self::check(&host, "create_parent")?;
        let mtu = match &spec.kind {
            ParentKind::Vlan { base, .. } => host.parents.get(base).copied(),
            ParentKind::Dummy => Some(spec.mtu),
        };
        let Some(mtu) = mtu.filter(|_| !host.parents.contains_key(&spec.name)) else {
            return Err(DataplaneError::Kernel {
                what: format!("create parent {}", spec.name),
                message: "No such device or File exists".into(),
            });
        };
        host.parents.insert(spec.name.clone(), mtu);
        host.links.insert(spec.name.clone(), PARENT_ALIAS.into());
        Ok(())
    }
}
