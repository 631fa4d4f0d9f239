//! Reading what wharf owns on the host, and which prefixes the host already uses.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;
use wharf_netlink::{Family, Link, Netlink, Route};

use super::kernel_error;
use crate::dataplane::{DataplaneError, HostRoute, KernelSnapshot, OwnedLink, LINK_ALIAS_PREFIX};

pub(super) fn read(netlink: &mut Netlink, protocol: u8) -> Result<KernelSnapshot, DataplaneError> {
    let links = netlink.links().map_err(kernel_error("list links"))?;
    let mut routes = netlink
        .routes(Family::V4)
        .map_err(kernel_error("list IPv4 routes"))?;
    routes.extend(
        netlink
            .routes(Family::V6)
            .map_err(kernel_error("list IPv6 routes"))?,
    );
    Ok(build(&links, &routes, protocol))
}

/// Sorts main-table `routes` into wharf's (by protocol, with a resolvable device) and the
/// prefixes everything else uses, leaving out default routes and IPv6 link-local and
/// multicast prefixes, which every host has and no pool could collide with.
pub(super) fn build(links: &[Link], routes: &[Route], protocol: u8) -> KernelSnapshot {
    let names: HashMap<u32, &str> = links.iter().map(|l| (l.index, l.name.as_str())).collect();
    let owned_links = links
        .iter()
        .filter_map(|link| {
            let alias = link.alias.as_deref()?;
            alias.starts_with(LINK_ALIAS_PREFIX).then(|| OwnedLink {
                name: link.name.clone(),
                alias: alias.to_owned(),
            })
        })
        .collect();
    let mut snapshot = KernelSnapshot {
        owned_links,
        ..Default::default()
    };
    for route in routes {
        let Ok(destination) = IpNet::new(route.destination, route.prefix_len) else {
            continue; // the kernel never lists an impossible prefix length
        };
        if route.protocol == protocol {
            if let Some(device) = route.oif.and_then(|oif| names.get(&oif)) {
                snapshot.owned_routes.push(HostRoute {
                    destination,
                    device: (*device).to_owned(),
                    source: route.source,
                });
            }
        } else if route.prefix_len > 0 && !is_link_local_or_multicast(route.destination) {
            snapshot.used_prefixes.push(destination.trunc());
        }
    }
    snapshot.owned_routes.sort();
    snapshot.owned_routes.dedup();
    snapshot.used_prefixes.sort();
    snapshot.used_prefixes.dedup();
    snapshot
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
            route("203.0.113.0", 24, 2, 2),
            route("0.0.0.0", 0, 2, 4),
            route("198.51.100.9", 24, 2, 4), // host bits: reported as the network
            route("fe80::", 64, 7, 2),
            route("ff00::", 8, 2, 2),
            route("::", 0, 2, 4),
            route("fd4e:9::", 64, 2, 4),
        ];
        let snapshot = build(&links, &routes, 87);
        assert_eq!(
            snapshot.owned_links,
            [OwnedLink {
                name: "wh01".into(),
                alias: "wharf:01abc".into()
            }]
        );
        assert_eq!(
            snapshot.owned_routes,
            [HostRoute {
                destination: "10.46.1.7/32".parse().unwrap(),
                device: "wh01".into(),
                source: None,
            }]
        );
        let used: Vec<IpNet> = ["198.51.100.0/24", "203.0.113.0/24", "fd4e:9::/64"]
            .iter()
            .map(|p| p.parse().unwrap())
            .collect();
        assert_eq!(snapshot.used_prefixes, used);
    }
}
