//! Host addresses and routes: wharf's (marked with its protocol number), and reading which
//! prefixes the host already uses.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;
use wharf_netlink::{
    AddressOptions, Family, Link, Netlink, NexthopTarget, Route, RouteFilter, Rule,
};

use super::devices::{DeviceIndexes, MadeLinks};
use super::kernel_error;
use crate::dataplane::{DataplaneError, ForeignRoute, HostAddress, HostRoute, Result};

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

/// Where wharf's routes go and how they are marked: `proto <protocol> table <table>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Marking {
    pub protocol: u8,
    pub table: u32,
}

/// Priority of the rule that makes the kernel consult a `--route-table` other than main:
/// ahead of main (32766) and of the guard rules tests put at 31000, behind low-numbered
/// rules an operator sets up first (a VRF's l3mdev rule sits at 1000).
pub const ROUTE_TABLE_RULE_PRIORITY: u32 = 30087;

/// `destination dev <index> scope link proto <protocol> table <table>`, metric 0 (FRR's zebra
/// reads a metric's top byte as the route's distance; 0 keeps it below 2^24). The destination
/// is passed as given (host bits and all): the kernel, not wharf, decides what is valid.
fn kernel_route(route: &HostRoute, index: u32, marking: Marking) -> Route {
    Route {
        source: route.source,
        table: marking.table,
        ..Route::connected(
            route.destination.addr(),
            route.destination.prefix_len(),
            index,
            marking.protocol,
        )
    }
}

pub(super) fn ensure(
    netlink: &mut Netlink,
    made: &MadeLinks,
    marking: Marking,
    routes: &[HostRoute],
) -> Result<()> {
    let mut devices = DeviceIndexes::new(made);
    if routes.len() >= BATCH_FROM {
        let mut resolved = Vec::with_capacity(routes.len());
        for route in routes {
            let what = || format!("add route {} dev {}", route.destination, route.device);
            let index = devices.require(netlink, &route.device, what)?;
            resolved.push(kernel_route(route, index, marking));
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
            netlink.add_route(&kernel_route(route, index, marking))
        })?;
    }
    Ok(())
}

pub(super) fn remove(
    netlink: &mut Netlink,
    made: &MadeLinks,
    marking: Marking,
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
            .delete_route(&kernel_route(route, index, marking))
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

/// wharf's routes in its table, whatever their protocol's routes elsewhere.
pub(super) fn owned(netlink: &mut Netlink, marking: Marking) -> Result<Vec<HostRoute>> {
    let links = netlink.links().map_err(kernel_error("list links"))?;
    let routes = marked(netlink, marking.protocol, Some(marking.table))?;
    Ok(sort_routes(&links, &routes, marking.protocol).0)
}

/// Routes of `protocol`, in `table` or in every table.
fn marked(netlink: &mut Netlink, protocol: u8, table: Option<u32>) -> Result<Vec<Route>> {
    let mut routes = Vec::new();
    for family in [Family::V4, Family::V6] {
        let filter = RouteFilter {
            table,
            protocol: Some(protocol),
            ..RouteFilter::all(family)
        };
        routes.extend(
            netlink
                .routes_matching(filter)
                .map_err(kernel_error(format!("list routes of protocol {protocol}")))?,
        );
    }
    Ok(routes)
}

/// Moves wharf to its table: its routes left in other tables (a run with another
/// `--route-table`) go, and the rule that makes the kernel consult a table other than main
/// is there, marked with wharf's protocol, with no other rule of wharf's beside it. Answers
/// how many routes and rules it changed.
pub(super) fn settle_table(netlink: &mut Netlink, marking: Marking) -> Result<usize> {
    let mut changed = 0;
    for route in marked(netlink, marking.protocol, None)? {
        if route.table != marking.table {
            netlink.delete_route(&route).map_err(kernel_error(format!(
                "delete route {}/{} table {} (wharf's routes are now in table {})",
                route.destination, route.prefix_len, route.table, marking.table
            )))?;
            changed += 1;
        }
    }
    for family in [Family::V4, Family::V6] {
        let wanted = (marking.table != wharf_netlink::consts::RT_TABLE_MAIN).then(|| {
            Rule::lookup(
                family,
                ROUTE_TABLE_RULE_PRIORITY,
                marking.table,
                marking.protocol,
            )
        });
        let rules = match netlink.rules(family) {
            Ok(rules) => rules,
            // A host with IPv6 turned off has no IPv6 rules to keep.
            Err(e) if family == Family::V6 && e.errno() == Some(libc::EAFNOSUPPORT) => continue,
            Err(e) => return Err(kernel_error("list routing rules")(e)),
        };
        let mut present = false;
        for rule in rules
            .iter()
            .filter(|r| r.protocol == Some(marking.protocol))
        {
            if Some(rule) == wanted.as_ref() {
                present = true;
                continue;
            }
            netlink.delete_rule(rule).map_err(kernel_error(format!(
                "delete wharf's rule to table {}",
                rule.table
            )))?;
            changed += 1;
        }
        if let (Some(rule), false) = (wanted, present) {
            netlink.add_rule(&rule).map_err(kernel_error(format!(
                "add rule pref {ROUTE_TABLE_RULE_PRIORITY} lookup {} proto {}",
                marking.table, marking.protocol
            )))?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// Main-table routes of other protocols than wharf's and the kernel's own (connected) ones
/// into `within`: how the host reaches addresses of wharf's networks elsewhere.
pub(super) fn foreign_routes(
    netlink: &mut Netlink,
    protocol: u8,
    within: &[IpNet],
) -> Result<Vec<ForeignRoute>> {
    if within.is_empty() {
        return Ok(Vec::new());
    }
    let (links, routes) = dump(netlink)?;
    let names: HashMap<u32, &str> = links.iter().map(|l| (l.index, l.name.as_str())).collect();
    let foreign: Vec<(&Route, IpNet)> = routes
        .iter()
        .filter(|r| r.protocol != protocol && r.protocol != wharf_netlink::consts::RTPROT_KERNEL)
        .filter_map(|r| {
            let destination = IpNet::new(r.destination, r.prefix_len).ok()?.trunc();
            within
                .iter()
                .any(|w| w.contains(&destination))
                .then_some((r, destination))
        })
        .collect();
    // FRR's zebra installs routes through nexthop objects: their gateway is the object's.
    let objects: HashMap<u32, (Option<IpAddr>, u32)> =
        if foreign.iter().any(|(r, _)| r.nexthop_id.is_some()) {
            netlink
                .nexthops()
                .map_err(kernel_error("list nexthop objects"))?
                .into_iter()
                .filter_map(|n| match n.target {
                    NexthopTarget::Gateway { gateway, oif } => Some((n.id, (Some(gateway), oif))),
                    NexthopTarget::Device { oif, .. } => Some((n.id, (None, oif))),
                    _ => None,
                })
                .collect()
        } else {
            HashMap::new()
        };
    let mut found: Vec<ForeignRoute> = foreign
        .into_iter()
        .map(|(r, destination)| {
            let object = r.nexthop_id.and_then(|id| objects.get(&id));
            let via = r
                .gateway
                .or_else(|| r.next_hops.first().and_then(|h| h.gateway))
                .or_else(|| object.and_then(|o| o.0));
            let oif = r
                .oif
                .or_else(|| r.next_hops.first().and_then(|h| h.oif))
                .or_else(|| object.map(|o| o.1));
            ForeignRoute {
                destination,
                via,
                device: oif.and_then(|i| names.get(&i)).map(|n| (*n).to_owned()),
                protocol: r.protocol,
            }
        })
        .collect();
    found.sort();
    Ok(found)
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
