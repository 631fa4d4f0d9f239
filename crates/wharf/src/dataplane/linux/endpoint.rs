//! Setting up a routed endpoint: the veth pair, then everything on its host end. This is the
//! hot path of `docker run`, so it is a handful of netlink requests on an open socket and a
//! few small `/proc/sys` writes, no processes.

use std::net::IpAddr;

use wharf_netlink::{AddressOptions, Netlink, Route, VethPair};

use super::devices::DeviceIndexes;
use super::{kernel_error, sysctl};
use crate::dataplane::{DataplaneError, HostRoute, RoutedEndpointSpec};

/// Creates the pair, configures the host end, and deletes the pair again if any step after
/// its creation fails (returning that step's error).
pub(super) fn setup(
    netlink: &mut Netlink,
    protocol: u8,
    spec: &RoutedEndpointSpec,
) -> Result<(), DataplaneError> {
    let veth = VethPair {
        name: spec.host_ifname.clone(),
        peer_name: spec.container_ifname.clone(),
        mtu: spec.mtu,
        alias: Some(spec.alias.clone()),
        peer_mac: Some(spec.container_mac),
        up: true,
    };
    // If this fails nothing was created, and a link already carrying the name is not ours to
    // delete.
    let host_index = netlink.create_veth(&veth).map_err(kernel_error(format!(
        "create veth pair {} / {}",
        spec.host_ifname, spec.container_ifname
    )))?;
    let configured = configure_host_end(netlink, protocol, spec, host_index);
    if configured.is_err() {
        // Deleting the link takes its addresses, routes and neighbour entries with it. If even
        // that fails, reconciliation finds the link by its alias later.
        let _ = netlink.delete_link(&spec.host_ifname);
    }
    configured
}

fn configure_host_end(
    netlink: &mut Netlink,
    protocol: u8,
    spec: &RoutedEndpointSpec,
    host_index: u32,
) -> Result<(), DataplaneError> {
    let host = &spec.host_ifname;
    // Answer ARP for every address the host can route elsewhere (the other containers, the
    // gateway), and at once: proxied replies are otherwise delayed by up to proxy_delay (0.8 s).
    sysctl::enable(&format!("net/ipv4/conf/{host}/proxy_arp"))?;
    sysctl::write(&format!("net/ipv4/neigh/{host}/proxy_delay"), "0")?;
    if involves_ipv6(spec) {
        sysctl::enable(&format!("net/ipv6/conf/{host}/proxy_ndp"))?;
        sysctl::write(&format!("net/ipv6/neigh/{host}/proxy_delay"), "0")?;
        // Without this the host end's link-local address stays tentative for a second or two
        // after the container end comes up, and the host sends no neighbour solicitations
        // for forwarded packets until it is valid: the container's first pings are lost.
        sysctl::write(&format!("net/ipv6/conf/{host}/accept_dad"), "0")?;
    }

    for &gateway in &spec.gateways {
        let (prefix_len, options) = host_address(gateway);
        netlink
            .add_address(host_index, gateway, prefix_len, options)
            .map_err(kernel_error(format!(
                "add address {gateway}/{prefix_len} dev {host}"
            )))?;
    }

    let mut devices = DeviceIndexes::default();
    devices.insert(host, host_index);
    for route in &spec.routes {
        let what = || format!("add route {} dev {}", route.destination, route.device);
        let index = devices.require(netlink, &route.device, what)?;
        netlink
            .add_route(&host_route(route, index, protocol))
            .map_err(kernel_error(what()))?;
    }
    for entry in &spec.proxy_neighbours {
        let what = || format!("add proxy neighbour {} dev {}", entry.address, entry.device);
        let index = devices.require(netlink, &entry.device, what)?;
        netlink
            .add_proxy_neighbour(index, entry.address)
            .map_err(kernel_error(what()))?;
    }
    Ok(())
}

/// A host address (a routed gateway on a host end, a shim's address): /32, or /128 without
/// DAD (usable at once) and without the kernel's prefix route (which would otherwise show up
/// as a "used" /128).
pub(super) fn host_address(address: IpAddr) -> (u8, AddressOptions) {
    match address {
        IpAddr::V4(_) => (32, AddressOptions::default()),
        IpAddr::V6(_) => (
            128,
            AddressOptions {
                nodad: true,
                no_prefix_route: true,
            },
        ),
    }
}

fn involves_ipv6(spec: &RoutedEndpointSpec) -> bool {
    spec.gateways.iter().any(IpAddr::is_ipv6)
        || spec.routes.iter().any(|r| r.destination.addr().is_ipv6())
        || spec.proxy_neighbours.iter().any(|p| p.address.is_ipv6())
}

/// `destination dev <index> scope link proto <protocol>` in the main table. The destination
/// is passed as given (host bits and all): the kernel, not wharf, decides what is valid.
pub(super) fn host_route(route: &HostRoute, index: u32, protocol: u8) -> Route {
    Route {
        source: route.source,
        ..Route::connected(
            route.destination.addr(),
            route.destination.prefix_len(),
            index,
            protocol,
        )
    }
}
