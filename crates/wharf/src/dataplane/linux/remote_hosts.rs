//! Host routes of others in the main table (a routing daemon's /32s and /128s, learned from
//! other hosts): addresses containers elsewhere use, which this host's IPAM must not hand
//! out. Watched on a thread of its own: the table once, then the kernel's notifications.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use wharf_netlink::consts::{RTN_UNICAST, RTPROT_KERNEL, RT_TABLE_MAIN};
use wharf_netlink::{Family, MonitorEvent, Netlink, NetlinkMonitor, Route};

use crate::dataplane::RemoteHostChange;

/// How long to wait before starting over after the kernel's socket failed.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Tells, for one route, the address it reaches another host's container at, if it does:
/// a unicast host route (not a blackhole, unreachable or local one) of the main table,
/// neither wharf's (`own`) nor the kernel's (connected prefixes).
pub(super) fn remote_host(route: &Route, own: &[u8]) -> Option<IpAddr> {
    let host_len = if route.destination.is_ipv4() { 32 } else { 128 };
    (route.table == RT_TABLE_MAIN
        && route.kind == RTN_UNICAST
        && route.prefix_len == host_len
        && route.protocol != RTPROT_KERNEL
        && !own.contains(&route.protocol))
    .then_some(route.destination)
}

/// The routes to each address, by (protocol, metric): an address stays remote while any
/// route of others reaches it (a daemon's and a hand's may both exist). Nearly every address
/// has one route: a small vector, not a tree, keeps 100,000 of them to a few megabytes.
#[derive(Debug, Default)]
pub(super) struct RemoteRoutes {
    routes: HashMap<IpAddr, Vec<(u8, u32)>>,
}

impl RemoteRoutes {
    /// The whole set anew, from a dump.
    pub(super) fn reset(&mut self, routes: &[Route], own: &[u8]) -> RemoteHostChange {
        self.routes.clear();
        for route in routes {
            if let Some(address) = remote_host(route, own) {
                add_key(self.routes.entry(address).or_default(), key(route));
            }
        }
        let mut all: Vec<IpAddr> = self.routes.keys().copied().collect();
        all.sort();
        RemoteHostChange::All(all)
    }

    /// A notification's effect, if it changes the set of addresses.
    pub(super) fn apply(&mut self, event: &MonitorEvent, own: &[u8]) -> Option<RemoteHostChange> {
        match event {
            MonitorEvent::RouteAdded(route) => {
                let address = remote_host(route, own)?;
                let keys = self.routes.entry(address).or_default();
                let new = keys.is_empty();
                add_key(keys, key(route));
                new.then_some(RemoteHostChange::Added(address))
            }
            MonitorEvent::RouteRemoved(route) => {
                let address = remote_host(route, own)?;
                let keys = self.routes.get_mut(&address)?;
                let gone = key(route);
                keys.retain(|k| *k != gone);
                if !keys.is_empty() {
                    return None;
                }
                self.routes.remove(&address);
                Some(RemoteHostChange::Removed(address))
            }
            _ => None,
        }
    }
}

fn key(route: &Route) -> (u8, u32) {
    (route.protocol, route.metric.unwrap_or(0))
}

/// A replaced route is announced as added again: its key is kept once.
fn add_key(keys: &mut Vec<(u8, u32)>, key: (u8, u32)) {
    if !keys.contains(&key) {
        keys.push(key);
    }
}

fn main_table(netlink: &mut Netlink) -> wharf_netlink::Result<Vec<Route>> {
    let mut routes = netlink.routes(Family::V4)?;
    routes.extend(netlink.routes(Family::V6)?);
    Ok(routes)
}

/// Runs until the process ends: subscribes, reads the table, then follows notifications,
/// handing each change of the set to `sink`. Starts over (subscription, table) when the
/// kernel reports lost notifications or the socket fails.
pub(super) fn watch(own: Vec<u8>, mut sink: Box<dyn FnMut(RemoteHostChange) + Send>) {
    let mut remote = RemoteRoutes::default();
    loop {
        // Subscribed before the dump: a change in between is seen twice, never missed.
        let started = NetlinkMonitor::open().and_then(|monitor| {
            let routes = main_table(&mut Netlink::open()?)?;
            Ok((monitor, routes))
        });
        let (mut monitor, routes) = match started {
            Ok(started) => started,
            Err(error) => {
                tracing::warn!(%error, "watching routes of other hosts' containers: retrying");
                std::thread::sleep(RETRY_AFTER);
                continue;
            }
        };
        sink(remote.reset(&routes, &own));
        loop {
            match monitor.next_event(Duration::from_secs(60)) {
                Ok(None) => {}
                Ok(Some(MonitorEvent::Overrun)) => break,
                Ok(Some(event)) => {
                    if let Some(change) = remote.apply(&event, &own) {
                        sink(change);
                    }
                }
                // One notification that does not decode; the next ones still do.
                Err(wharf_netlink::Error::Malformed(_)) => {}
                Err(error) => {
                    tracing::warn!(%error, "watching routes of other hosts' containers: starting over");
                    std::thread::sleep(RETRY_AFTER);
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(destination: &str, prefix_len: u8, protocol: u8, metric: Option<u32>) -> Route {
        Route {
            protocol,
            metric,
            ..Route::via(
                destination.parse().unwrap(),
                prefix_len,
                "198.51.100.12".parse().unwrap(),
                None,
            )
        }
    }

    #[test]
    fn addresses_stay_remote_while_any_route_of_others_reaches_them() {
        let own = [87, 88];
        let mut remote = RemoteRoutes::default();
        let table = [
            route("10.90.2.1", 32, 188, Some(20)),
            route("10.90.2.0", 24, 188, Some(20)), // not a host route
            route("10.90.1.1", 32, 87, None),      // wharf's own container
            route("10.90.1.2", 32, RTPROT_KERNEL, None),
            route("fd5e::7", 128, 186, Some(20)),
        ];
        assert_eq!(
            remote.reset(&table, &own),
            RemoteHostChange::All(vec![
                "10.90.2.1".parse().unwrap(),
                "fd5e::7".parse().unwrap()
            ])
        );
        let ip = |a: &str| a.parse::<IpAddr>().unwrap();
        let added = |r| MonitorEvent::RouteAdded(r);
        let removed = |r| MonitorEvent::RouteRemoved(r);
        // A second route to the same address (a hand's static one) changes nothing; the
        // address goes with the last of them.
        let by_hand = route("10.90.2.1", 32, 4, None);
        assert_eq!(remote.apply(&added(by_hand.clone()), &own), None);
        assert_eq!(
            remote.apply(&added(route("10.90.2.1", 32, 188, Some(20))), &own),
            None
        );
        assert_eq!(remote.apply(&removed(by_hand), &own), None);
        assert_eq!(
            remote.apply(&removed(route("10.90.2.1", 32, 188, Some(20))), &own),
            Some(RemoteHostChange::Removed(ip("10.90.2.1")))
        );
        assert_eq!(
            remote.apply(&removed(route("10.90.2.1", 32, 188, Some(20))), &own),
            None,
            "gone twice"
        );
        assert_eq!(
            remote.apply(&added(route("10.90.3.1", 32, 12, None)), &own),
            Some(RemoteHostChange::Added(ip("10.90.3.1")))
        );
        let mut blackhole = route("10.90.4.1", 32, 188, None);
        blackhole.kind = 6;
        assert_eq!(remote.apply(&added(blackhole), &own), None);
        assert_eq!(
            remote.apply(&added(route("10.90.1.9", 32, 87, None)), &own),
            None
        );
        let mut other_table = route("10.90.5.1", 32, 188, None);
        other_table.table = 100;
        assert_eq!(remote.apply(&added(other_table), &own), None);
    }
}
