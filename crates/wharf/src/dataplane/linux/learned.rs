//! Routes learned from routing peers, in the main table with their own protocol number
//! (`proto 88` by default; wharf's container routes carry 87, FRR's 186, BIRD's 12), through
//! nexthop objects shared by every route with the same next hops ([`HopObjects`]): one object
//! per next hop, a group of them for ECMP. Where the kernel cannot make an object the route
//! names its next hops itself. The kernel finds the outgoing interface from the next hop's
//! own (connected) route.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;
use wharf_netlink::{Family, MultipathHop, Netlink, Nexthop, Route, RouteFilter};

use super::hop_objects::{HopKernel, HopObjects};
use super::kernel_error;
use crate::dataplane::{LearnedChange, LearnedRoute, Result};

/// The kernel side of [`HopObjects`], over one netlink socket.
pub(super) struct NetlinkHops<'a>(pub &'a mut Netlink);

impl HopKernel for NetlinkHops<'_> {
    fn objects(&mut self) -> std::result::Result<Vec<Nexthop>, String> {
        self.0.nexthops().map_err(|e| e.to_string())
    }

    fn create(&mut self, nexthop: &Nexthop) -> std::result::Result<bool, String> {
        match self.0.create_nexthop(nexthop) {
            Ok(()) => Ok(true),
            Err(error) if error.is_exists() => Ok(false),
            Err(error) => Err(error.to_string()),
        }
    }

    fn replace(&mut self, nexthop: &Nexthop) -> std::result::Result<(), String> {
        self.0.add_nexthop(nexthop).map_err(|e| e.to_string())
    }

    fn delete(&mut self, id: u32) -> std::result::Result<(), String> {
        self.0.delete_nexthop(id).map_err(|e| e.to_string())
    }

    fn device_toward(&mut self, hop: IpAddr) -> std::result::Result<u32, String> {
        let route = self
            .0
            .route_to(hop)
            .map_err(|e| format!("no route to next hop {hop}: {e}"))?;
        match (route.oif, route.gateway) {
            (Some(oif), None) => Ok(oif),
            (_, Some(gateway)) => Err(format!(
                "next hop {hop} is not directly connected (reached via {gateway})"
            )),
            (None, None) => Err(format!("next hop {hop} has no device")),
        }
    }
}

/// A learned route's kernel form: through `object`, or naming its next hops.
fn route(prefix: IpNet, next_hops: &[IpAddr], object: Option<u32>, protocol: u8) -> Route {
    if let Some(id) = object {
        return Route::with_nexthop(prefix.network(), prefix.prefix_len(), id, protocol);
    }
    let mut route = Route::connected(prefix.network(), prefix.prefix_len(), 0, protocol);
    route.oif = None;
    route.scope = wharf_netlink::consts::RT_SCOPE_UNIVERSE;
    match next_hops {
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

/// The routes to install and to remove for `changes`, with the objects they use counted.
pub(super) fn plan(
    objects: &mut HopObjects,
    kernel: &mut dyn HopKernel,
    protocol: u8,
    changes: &[LearnedChange],
) -> (Vec<Route>, Vec<Route>) {
    let (mut install, mut remove) = (Vec::new(), Vec::new());
    for change in changes {
        if !objects.release_kept(&change.prefix) {
            objects.release(&change.replaced);
        }
        if change.next_hops.is_empty() {
            remove.push(route(change.prefix, &[], None, protocol));
        } else {
            let object = objects.acquire(kernel, &change.next_hops);
            install.push(route(change.prefix, &change.next_hops, object, protocol));
        }
    }
    (install, remove)
}

pub(super) fn apply(
    netlink: &mut Netlink,
    objects: &mut HopObjects,
    protocol: u8,
    changes: &[LearnedChange],
) -> Result<()> {
    if !objects.adopted() {
        learned(netlink, objects, protocol)?;
    }
    let (install, remove) = plan(objects, &mut NetlinkHops(netlink), protocol, changes);
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
    // Only once the routes have moved off them: deleting an object deletes its routes.
    objects.collect(&mut NetlinkHops(netlink));
    Ok(())
}

/// The learned routes in the kernel, their objects adopted by `objects` (first call only).
pub(super) fn learned(
    netlink: &mut Netlink,
    objects: &mut HopObjects,
    protocol: u8,
) -> Result<Vec<LearnedRoute>> {
    let mut routes = Vec::new();
    for family in [Family::V4, Family::V6] {
        routes.extend(
            netlink
                .routes_matching(RouteFilter {
                    family,
                    table: Some(wharf_netlink::consts::RT_TABLE_MAIN),
                    protocol: Some(protocol),
                })
                .map_err(kernel_error("list learned routes"))?,
        );
    }
    let through: Vec<(IpNet, u32)> = routes
        .iter()
        .filter_map(|r| Some((IpNet::new(r.destination, r.prefix_len).ok()?, r.nexthop_id?)))
        .collect();
    let hops_of: HashMap<u32, Vec<IpAddr>> = if objects.adopted() {
        objects.hops_by_object()
    } else {
        objects
            .adopt(&mut NetlinkHops(netlink), &through)
            .map_err(|message| crate::dataplane::DataplaneError::Kernel {
                what: "adopt nexthop objects".into(),
                errno: None,
                message,
            })?
    };
    let mut out = Vec::new();
    for r in routes {
        let Ok(prefix) = IpNet::new(r.destination, r.prefix_len) else {
            continue;
        };
        let next_hops: Vec<IpAddr> = match r.nexthop_id {
            Some(id) => hops_of.get(&id).cloned().unwrap_or_default(),
            None if r.next_hops.is_empty() => r.gateway.into_iter().collect(),
            None => r.next_hops.iter().filter_map(|h| h.gateway).collect(),
        };
        out.push(LearnedRoute { prefix, next_hops });
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

/// Whether the kernel removed objects of wharf's, and learned routes with them.
pub(super) fn lost(netlink: &mut Netlink, objects: &mut HopObjects) -> Result<bool> {
    objects
        .verify(&mut NetlinkHops(netlink))
        .map_err(|message| crate::dataplane::DataplaneError::Kernel {
            what: "list nexthop objects".into(),
            errno: None,
            message,
        })
}

/// The other addresses of the link that has `local`.
pub(super) fn addresses_beside(netlink: &mut Netlink, local: IpAddr) -> Result<Vec<IpAddr>> {
    let addresses = netlink
        .addresses(None)
        .map_err(kernel_error("list addresses"))?;
    let Some(index) = addresses
        .iter()
        .find(|a| a.address == local)
        .map(|a| a.index)
    else {
        return Ok(Vec::new());
    };
    Ok(addresses
        .into_iter()
        .filter(|a| a.index == index && a.address != local)
        .map(|a| a.address)
        .collect())
}
