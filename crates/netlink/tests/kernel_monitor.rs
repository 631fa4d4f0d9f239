//! Notifications from the real kernel, in throwaway network namespaces.
//! Needs root: `cargo test -p wharf-netlink --release -- --include-ignored`.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use common::{in_new_netns, ip};
use wharf_netlink::{
    Family, MonitorEvent, NetlinkMonitor, Nexthop, NexthopTarget, Route, VethPair,
};

/// Every event until none has come for `quiet`.
fn drain(monitor: &mut NetlinkMonitor, quiet: Duration) -> Vec<MonitorEvent> {
    let mut events = Vec::new();
    while let Some(event) = monitor.next_event(quiet).expect("monitor") {
        events.push(event);
    }
    events
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn link_route_and_nexthop_changes_are_announced() {
    in_new_netns(|nl| {
        let mut monitor = NetlinkMonitor::open().unwrap();
        let index = nl
            .create_veth(&VethPair {
                name: "whmon".into(),
                peer_name: "wcmon".into(),
                mtu: 1500,
                alias: Some("wharf:mon".into()),
                peer_mac: None,
                up: true,
            })
            .unwrap();
        let peer = nl.link_by_name("wcmon").unwrap().unwrap().index;
        nl.set_link_up(peer).unwrap();
        let events = drain(&mut monitor, Duration::from_millis(200));
        let added: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                MonitorEvent::LinkAdded(link) => Some(link.name.as_str()),
                _ => None,
            })
            .collect();
        assert!(
            added.contains(&"whmon") && added.contains(&"wcmon"),
            "{events:#?}"
        );
        let aliased = events.iter().any(|e| {
            matches!(e, MonitorEvent::LinkChanged(link)
                if link.index == index && link.alias.as_deref() == Some("wharf:mon") && link.up)
        });
        assert!(aliased, "{events:#?}");
        let peer_up = events
            .iter()
            .any(|e| matches!(e, MonitorEvent::LinkChanged(link) if link.index == peer && link.up));
        assert!(peer_up, "{events:#?}");

        let route = Route::connected(ip("198.18.20.0"), 24, index, 87);
        let v6_route = Route {
            metric: Some(1024),
            scope: 0,
            ..Route::connected(ip("fd4e:20::"), 64, index, 87)
        };
        nl.add_route(&route).unwrap();
        nl.add_route(&v6_route).unwrap();
        nl.delete_route(&route).unwrap();
        let nexthop = Nexthop {
            id: 4,
            protocol: 87,
            target: NexthopTarget::Device {
                family: Family::V4,
                oif: index,
            },
        };
        nl.add_nexthop(&nexthop).unwrap();
        nl.delete_nexthop(4).unwrap();
        let events = drain(&mut monitor, Duration::from_millis(200));
        let routes: Vec<&MonitorEvent> = events
            .iter()
            .filter(|e| {
                matches!(e, MonitorEvent::RouteAdded(r) | MonitorEvent::RouteRemoved(r)
                    if r.protocol == 87)
            })
            .collect();
        assert_eq!(
            routes,
            [
                &MonitorEvent::RouteAdded(route.clone()),
                &MonitorEvent::RouteAdded(v6_route.clone()),
                &MonitorEvent::RouteRemoved(route.clone()),
            ],
            "{events:#?}"
        );
        let nexthops: Vec<&MonitorEvent> = events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    MonitorEvent::NexthopAdded(_) | MonitorEvent::NexthopRemoved(_)
                )
            })
            .collect();
        assert_eq!(
            nexthops,
            [
                &MonitorEvent::NexthopAdded(nexthop.clone()),
                &MonitorEvent::NexthopRemoved(nexthop.clone()),
            ]
        );

        nl.delete_link("whmon").unwrap();
        let events = drain(&mut monitor, Duration::from_millis(200));
        let removed: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                MonitorEvent::LinkRemoved(link) => Some(link.name.as_str()),
                _ => None,
            })
            .collect();
        assert!(
            removed.contains(&"whmon") && removed.contains(&"wcmon"),
            "{events:#?}"
        );
        // The device's routes went with it: announced too.
        assert!(
            events.iter().any(
                |e| matches!(e, MonitorEvent::RouteRemoved(r) if r.destination == ip("fd4e:20::"))
            ),
            "{events:#?}"
        );
        assert_eq!(monitor.next_event(Duration::from_millis(50)).unwrap(), None);
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn notifications_dropped_by_the_kernel_are_reported_as_overrun() {
    in_new_netns(|nl| {
        let mut monitor = NetlinkMonitor::open().unwrap();
        let lo = nl.link_by_name("lo").unwrap().unwrap().index;
        // Each notification costs the receive buffer far more than its bytes: 50,000 routes
        // announced to a socket nobody reads overflow its 4 MiB.
        let routes: Vec<Route> = (0..50_000u32)
            .map(|i| {
                let address = Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 64, 0)) + i);
                Route::connected(IpAddr::V4(address), 32, lo, 87)
            })
            .collect();
        let report = nl.add_routes_batch(&routes).unwrap();
        assert_eq!(report.failed, 0);
        let started = Instant::now();
        let mut seen = 0;
        let overrun = loop {
            match monitor.next_event(Duration::from_millis(200)).unwrap() {
                Some(MonitorEvent::Overrun) => break true,
                Some(_) => seen += 1,
                None => break false,
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "endless stream"
            );
        };
        assert!(overrun, "no overrun after {seen} events");
        assert!(seen < routes.len(), "{seen} events");
        // The monitor goes on working after an overrun: once what is queued is read, new
        // changes are announced again.
        drain(&mut monitor, Duration::from_millis(200));
        nl.add_route(&Route::connected(ip("198.18.30.1"), 32, lo, 87))
            .unwrap();
        let after = drain(&mut monitor, Duration::from_millis(200));
        assert!(
            after.iter().any(
                |e| matches!(e, MonitorEvent::RouteAdded(r) if r.destination == ip("198.18.30.1"))
            ),
            "{} events after the overrun",
            after.len()
        );
    });
}
