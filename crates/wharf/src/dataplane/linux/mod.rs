//! The real dataplane: netlink for links, addresses, routes and neighbours, `/proc/sys` for
//! per-link settings, and `iptables` for the one firewall rule pair Docker's DROP policy needs.
//!
//! The netlink socket is bound to the network namespace of the thread that called
//! [`LinuxDataplane::new`]; sysctl writes and `iptables` act on the namespace of the thread
//! calling each method. In the daemon both are the host namespace; tests keep them equal by
//! calling from the thread that created the dataplane.

mod devices;
mod endpoint;
mod firewall;
mod links;
mod sandbox;
mod snapshot;
mod sysctl;

use std::sync::{Mutex, MutexGuard};

use wharf_netlink::Netlink;

use super::{
    Dataplane, DataplaneError, HostRoute, KernelSnapshot, ParentLink, ParentSpec, ProxyNeighbour,
    RoutedEndpointSpec, SandboxAddresses, SubLinkSpec, DEFAULT_ROUTE_PROTOCOL,
};
use devices::DeviceIndexes;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinuxConfig {
    /// Protocol number on wharf's routes (`proto 87`), which is how they are found again.
    pub route_protocol: u8,
}

impl Default for LinuxConfig {
    fn default() -> Self {
        LinuxConfig {
            route_protocol: DEFAULT_ROUTE_PROTOCOL,
        }
    }
}

#[derive(Debug)]
pub struct LinuxDataplane {
    config: LinuxConfig,
    /// One socket for every host-namespace request; requests are short, so callers take turns.
    netlink: Mutex<Netlink>,
    /// Serialises the check-then-insert of firewall rules, so two callers cannot both insert.
    firewall: Mutex<()>,
}

impl LinuxDataplane {
    /// Opens the netlink socket in the calling thread's network namespace.
    pub fn new(config: LinuxConfig) -> Result<Self, DataplaneError> {
        let netlink = Netlink::open().map_err(kernel_error("open rtnetlink socket"))?;
        Ok(LinuxDataplane {
            config,
            netlink: Mutex::new(netlink),
            firewall: Mutex::new(()),
        })
    }

    fn netlink(&self) -> MutexGuard<'_, Netlink> {
        // A panic while holding the socket leaves at most unread replies, which the
        // sequence-number check skips: the socket stays usable.
        self.netlink.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Dataplane for LinuxDataplane {
    fn setup_routed_endpoint(&self, spec: &RoutedEndpointSpec) -> Result<(), DataplaneError> {
        endpoint::setup(&mut self.netlink(), self.config.route_protocol, spec)
    }

    fn delete_link(&self, name: &str) -> Result<(), DataplaneError> {
        self.netlink()
            .delete_link(name)
            .map_err(kernel_error(format!("delete link {name}")))
    }

    fn ensure_routes(&self, routes: &[HostRoute]) -> Result<(), DataplaneError> {
        let mut netlink = self.netlink();
        let mut devices = DeviceIndexes::default();
        for route in routes {
            let what = || format!("add route {} dev {}", route.destination, route.device);
            let index = devices.require(&mut netlink, &route.device, what)?;
            let kernel_route = endpoint::host_route(route, index, self.config.route_protocol);
            netlink
                .add_route(&kernel_route)
                .map_err(kernel_error(what()))?;
        }
        Ok(())
    }

    fn remove_routes(&self, routes: &[HostRoute]) -> Result<(), DataplaneError> {
        let mut netlink = self.netlink();
        let mut devices = DeviceIndexes::default();
        for route in routes {
            let what = || format!("delete route {} dev {}", route.destination, route.device);
            // Routes go with their device: a missing device means the route is gone too.
            let Some(index) = devices.lookup(&mut netlink, &route.device, what)? else {
                continue;
            };
            let kernel_route = endpoint::host_route(route, index, self.config.route_protocol);
            netlink
                .delete_route(&kernel_route)
                .map_err(kernel_error(what()))?;
        }
        Ok(())
    }

    fn ensure_proxy_neighbours(&self, entries: &[ProxyNeighbour]) -> Result<(), DataplaneError> {
        let mut netlink = self.netlink();
        let mut devices = DeviceIndexes::default();
        for entry in entries {
            let what = || format!("add proxy neighbour {} dev {}", entry.address, entry.device);
            let index = devices.require(&mut netlink, &entry.device, what)?;
            netlink
                .add_proxy_neighbour(index, entry.address)
                .map_err(kernel_error(what()))?;
        }
        Ok(())
    }

    fn remove_proxy_neighbours(&self, entries: &[ProxyNeighbour]) -> Result<(), DataplaneError> {
        let mut netlink = self.netlink();
        let mut devices = DeviceIndexes::default();
        for entry in entries {
            let what = || {
                format!(
                    "delete proxy neighbour {} dev {}",
                    entry.address, entry.device
                )
            };
            let Some(index) = devices.lookup(&mut netlink, &entry.device, what)? else {
                continue;
            };
            netlink
                .delete_proxy_neighbour(index, entry.address)
                .map_err(kernel_error(what()))?;
        }
        Ok(())
    }

    fn configure_sandbox(&self, sandbox: &SandboxAddresses) -> Result<(), DataplaneError> {
        sandbox::configure(sandbox)
    }

    fn snapshot(&self) -> Result<KernelSnapshot, DataplaneError> {
        snapshot::read(&mut self.netlink(), self.config.route_protocol)
    }

    fn ensure_forwarding(&self, ipv6: bool) -> Result<(), DataplaneError> {
        sysctl::enable("net/ipv4/ip_forward")?;
        if ipv6 {
            sysctl::enable("net/ipv6/conf/all/forwarding")?;
        }
        let _guard = self.firewall.lock().unwrap_or_else(|e| e.into_inner());
        firewall::ensure_accept_rules(ipv6)
    }

    fn release_forwarding(&self) -> Result<(), DataplaneError> {
        let _guard = self.firewall.lock().unwrap_or_else(|e| e.into_inner());
        firewall::remove_accept_rules()
    }

    fn parent_link(&self, name: &str) -> Result<Option<ParentLink>, DataplaneError> {
        links::parent(&mut self.netlink(), name)
    }

    fn default_route_device(&self) -> Result<Option<String>, DataplaneError> {
        links::default_route_device(&mut self.netlink())
    }

    fn create_sub_link(&self, spec: &SubLinkSpec) -> Result<(), DataplaneError> {
        links::create_sub_link(&mut self.netlink(), spec)
    }

    fn create_parent(&self, spec: &ParentSpec) -> Result<(), DataplaneError> {
        links::create_parent(&mut self.netlink(), spec)
    }
}

/// Maps a netlink error to a dataplane error naming the object it concerned.
pub(crate) fn kernel_error(
    what: impl Into<String>,
) -> impl FnOnce(wharf_netlink::Error) -> DataplaneError {
    let what = what.into();
    move |error| DataplaneError::Kernel {
        what,
        message: error.to_string(),
    }
}
