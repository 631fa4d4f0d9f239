//! Routes learned from routing peers, in the main table with their own protocol number
//! (`proto 88` by default; wharf's container routes carry 87, FRR's 186, BIRD's 12): one
//! next hop makes a route via it, several one multipath route (ECMP), none removes it. The
//! kernel finds the outgoing interface from the next hop's own (connected) route.

use std::net::IpAddr;

use ipnet::IpNet;
use wharf_netlink::{Family, MultipathHop, Netlink, Route, RouteFilter};

use super::kernel_error;
use crate::dataplane::{LearnedRoute, Result};

fn route(learned: &LearnedRoute, protocol: u8) -> Route {
    let mut route = Route::connected(
        learned.prefix.network(),
        learned.prefix.prefix_len(),
        0,
        protocol,
    );
    route.oif = None;
    route.scope = wharf_netlink::consts::RT_SCOPE_UNIVERSE;
    match learned.next_hops.as_slice() {
        [] => {}
        [one] => route.gateway = Some(*one),
        many => {
            route.next_hops = many
                .iter()
                .map(|hop| MultipathHop::via(*hop, None))
                .collect();
        }
    }
    route
}

pub(super) fn apply(netlink: &mut Netlink, protocol: u8, routes: &[LearnedRoute]) -> Result<()> {
    let (gone, wanted): (Vec<&LearnedRoute>, Vec<&LearnedRoute>) =
        routes.iter().partition(|r| r.next_hops.is_empty());
    let install: Vec<Route> = wanted.iter().map(|r| route(r, protocol)).collect();
    let remove: Vec<Route> = gone.iter().map(|r| route(r, protocol)).collect();
    if !remove.is_empty() {
        let report = netlink
            .delete_routes_batch(&remove)
            .map_err(kernel_error("delete learned routes"))?;
        if let Some(failure) = &report.first_failure {
            tracing::warn!(count = report.failed, first = ?failure, "some learned routes could not be deleted");
        }
    }
    if !install.is_empty() {
        let report = netlink
            .add_routes_batch(&install)
            .map_err(kernel_error("install learned routes"))?;
        if let Some(failure) = &report.first_failure {
            tracing::warn!(count = report.failed, first = ?failure, "some learned routes could not be installed");
        }
    }
    Ok(())
}

pub(super) fn learned(netlink: &mut Netlink, protocol: u8) -> Result<Vec<LearnedRoute>> {
    let mut out = Vec::new();
    for family in [Family::V4, Family::V6] {
        let routes = netlink
            .routes_matching(RouteFilter {
                family,
                table: Some(wharf_netlink::consts::RT_TABLE_MAIN),
                protocol: Some(protocol),
            })
            .map_err(kernel_error("list learned routes"))?;
        for r in routes {
            let Ok(prefix) = IpNet::new(r.destination, r.prefix_len) else {
                continue;
            };
            let next_hops: Vec<IpAddr> = if r.next_hops.is_empty() {
                r.gateway.into_iter().collect()
            } else {
                r.next_hops.iter().filter_map(|h| h.gateway).collect()
            };
            out.push(LearnedRoute { prefix, next_hops });
        }
    }
    Ok(out)
}

/// Addresses on links wharf did not make (not `wh`/`wc`/`ws`/`wd` links): the host's own.
pub(super) fn host_addresses(netlink: &mut Netlink) -> Result<Vec<IpAddr>> {
    let links = netlink.links().map_err(kernel_error("list links"))?;
    let foreign: std::collections::HashSet<u32> = links
        .iter()
        .filter(|l| {
            !l.alias
                .as_deref()
                .is_some_and(|a| a.starts_with(crate::dataplane::LINK_ALIAS_PREFIX))
        })
        .map(|l| l.index)
        .collect();
    let addresses = netlink
        .addresses(None)
        .map_err(kernel_error("list addresses"))?;
    Ok(addresses
        .into_iter()
        .filter(|a| foreign.contains(&a.index))
        .map(|a| a.address)
        .filter(|a| !a.is_loopback())
        .collect())
}
