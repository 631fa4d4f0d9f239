//! Host addresses and routes: wharf's (marked with its protocol number), and reading which
//! prefixes the host already uses.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;
use wharf_netlink::{AddressOptions, Family, Link, Netlink, Route};

use super::devices::{DeviceIndexes, MadeLinks};
use super::kernel_error;
use crate::dataplane::{DataplaneError, HostAddress, HostRoute, Result};

/// More routes than this at once go through the batch path (one ACK for all).
const BATCH_FROM: usize = 16;

/// A host address: /32, or /128 without DAD (usable at once) and without the kernel's
/// prefix route (which would otherwise show up as a "used" /128).
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

pub(super) fn add_addresses(
    netlink: &mut Netlink,
    made: &MadeLinks,
    addresses: &[HostAddress],
) -> Result<()> {
    let mut devices = DeviceIndexes::new(made);
    for entry in addresses {
        let (prefix_len, options) = host_address(entry.address);
        let what = || {
            format!(
                "add address {}/{prefix_len} dev {}",
                entry.address, entry.device
            )
        };
        devices.on_device(netlink, &entry.device, what, |netlink, index| {
            netlink.add_address(index, entry.address, prefix_len, options)
        })?;
    }
    Ok(())
}

/// `destination dev <index> scope link proto <protocol>` in the main table. The destination
/// is passed as given (host bits and all): the kernel, not wharf, decides what is valid.
fn kernel_route(route: &HostRoute, index: u32, protocol: u8) -> Route {
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

pub(super) fn ensure(
    netlink: &mut Netlink,
    made: &MadeLinks,
    protocol: u8,
    routes: &[HostRoute],
) -> Result<()> {
    let mut devices = DeviceIndexes::new(made);
    if routes.len() >= BATCH_FROM {
        let mut resolved = Vec::with_capacity(routes.len());
        for route in routes {
            let what = || format!("add route {} dev {}", route.destination, route.device);
            let index = devices.require(netlink, &route.device, what)?;
            resolved.push(kernel_route(route, index, protocol));
        }
        let report = netlink
            .add_routes_batch(&resolved)
            .map_err(kernel_error(format!("add {} routes", resolved.len())))?;
        if let Some(failure) = &report.first_failure {
            let route = &routes[failure.index];
            return Err(DataplaneError::Kernel {
                what: format!(
                    "add route {} dev {} ({} of {} routes failed)",
                    route.destination,
                    route.device,
                    report.failed,
                    routes.len()
                ),
                errno: Some(failure.errno),
                message: failure.message.clone(),
            });
        }
        return Ok(());
    }
    for route in routes {
        let what = || format!("add route {} dev {}", route.destination, route.device);
        devices.on_device(netlink, &route.device, what, |netlink, index| {
            netlink.add_route(&kernel_route(route, index, protocol))
        })?;
    }
    Ok(())
}

pub(super) fn remove(
    netlink: &mut Netlink,
    made: &MadeLinks,
    protocol: u8,
    routes: &[HostRoute],
) -> Result<()> {
    let mut devices = DeviceIndexes::new(made);
    for route in routes {
        let what = || format!("delete route {} dev {}", route.destination, route.device);
        // Routes go with their device: a missing device means the route is gone too.
        let Some(index) = devices.lookup(netlink, &route.device, what)? else {
            continue;
        };
        netlink
            .delete_route(&kernel_route(route, index, protocol))
            .map_err(kernel_error(what()))?;
    }
    Ok(())
}

fn dump(netlink: &mut Netlink) -> Result<(Vec<Link>, Vec<Route>)> {
    let links = netlink.links().map_err(kernel_error("list links"))?;
    let mut routes = netlink
        .routes(Family::V4)
        .map_err(kernel_error("list IPv4 routes"))?;
    routes.extend(
        netlink
            .routes(Family::V6)
            .map_err(kernel_error("list IPv6 routes"))?,
    );
    Ok((links, routes))
}

pub(super) fn owned(netlink: &mut Netlink, protocol: u8) -> Result<Vec<HostRoute>> {
    let (links, routes) = dump(netlink)?;
    Ok(sort_routes(&links, &routes, protocol).0)
}

pub(super) fn used_prefixes(netlink: &mut Netlink, protocol: u8) -> Result<Vec<IpNet>> {
    let (links, routes) = dump(netlink)?;
    Ok(sort_routes(&links, &routes, protocol).1)
}

pub(super) fn default_route_device(netlink: &mut Netlink) -> Result<Option<String>> {
    let routes = netlink
        .routes(Family::V4)
        .map_err(kernel_error("list IPv4 routes"))?;
    let Some(index) = routes
        .iter()
        .filter(|r| r.prefix_len == 0)
        .find_map(|r| r.oif)
    else {
        return Ok(None);
    };
    let links = netlink.links().map_err(kernel_error("list links"))?;
    Ok(links.into_iter().find(|l| l.index == index).map(|l| l.name))
}

/// Sorts main-table `routes` into wharf's (by protocol, with a resolvable device) and the
/// prefixes everything else uses, leaving out default routes and IPv6 link-local and
/// multicast prefixes, which every host has and no pool could collide with.
fn sort_routes(links: &[Link], routes: &[Route], protocol: u8) -> (Vec<HostRoute>, Vec<IpNet>) {
    let names: HashMap<u32, &str> = links.iter().map(|l| (l.index, l.name.as_str())).collect();
    let mut owned = Vec::new();
    let mut used = Vec::new();
    for route in routes {
        let Ok(destination) = IpNet::new(route.destination, route.prefix_len) else {
            continue; // the kernel never lists an impossible prefix length
        };
        if route.protocol == protocol {
            if let Some(device) = route.oif.and_then(|oif| names.get(&oif)) {
                owned.push(HostRoute {
                    destination,
                    device: (*device).to_owned(),
                    source: route.source,
                });
            }
        } else if route.prefix_len > 0 && !is_link_local_or_multicast(route.destination) {
            used.push(destination.trunc());
        }
    }
    owned.sort();
    owned.dedup();
    used.sort();
    used.dedup();
    (owned, used)
}

fn is_link_local_or_multicast(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(_) => false,
        // fe80::/10 and ff00::/8.
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            first & 0xffc0 == 0xfe80 || first & 0xff00 == 0xff00
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(index: u32, name: &str, alias: Option<&str>) -> Link {
        Link {
            index,
            name: name.into(),
            alias: alias.map(Into::into),
            mac: None,
            mtu: 1500,
            up: true,
            kind: Some("veth".into()),
        }
    }

    fn route(destination: &str, prefix_len: u8, oif: u32, protocol: u8) -> Route {
        Route::connected(destination.parse().unwrap(), prefix_len, oif, protocol)
    }

    #[test]
    fn sorts_routes_into_owned_and_used() {
        let links = [
            link(1, "lo", None),
            link(2, "eth0", Some("uplink")),
            link(7, "wh01", Some("wharf:01abc")),
        ];
        let routes = [
            route("10.46.1.7", 32, 7, 87),
            route("10.46.1.8", 32, 99, 87), // device gone: neither owned nor used
            route("198.51.100.0", 24, 2, 2),
            route("0.0.0.0", 0, 2, 4),
            route("198.18.0.9", 24, 2, 4), // host bits: reported as the network
            route("fe80::", 64, 7, 2),
            route("ff00::", 8, 2, 2),
            route("::", 0, 2, 4),
            route("fd4e:9::", 64, 2, 4),
        ];
        let (owned, used) = sort_routes(&links, &routes, 87);
        assert_eq!(
            owned,
            [HostRoute {
                destination: "10.46.1.7/32".parse().unwrap(),
                device: "wh01".into(),
                source: None,
            }]
        );
        let expected: Vec<IpNet> = ["198.18.0.0/24", "198.51.100.0/24", "fd4e:9::/64"]
            .iter()
            .map(|p| p.parse().unwrap())
            .collect();
        assert_eq!(used, expected);
    }
}
