//! Learned routes against the real kernel: routes with the same next hops share one nexthop
//! object (ECMP ones a group), objects go with their last route, routes the kernel drops with
//! a downed device are noticed and come back, and a restarted dataplane adopts what an
//! earlier one left. Each test's "host" is a new network namespace. Needs root:
//! `cargo test -- --include-ignored`.

mod support;

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use wharf::dataplane::linux::{LinuxConfig, LinuxDataplane};
use wharf::dataplane::{LearnedChange, LearnedRoutes, DEFAULT_LEARNED_PROTOCOL};
use wharf_netlink::{Family, Netlink, NexthopTarget, RouteFilter};

use support::*;

const ROUTES: u32 = 300;

fn prefix(n: u32) -> IpNet {
    let [_, _, high, low] = n.to_be_bytes();
    IpNet::new(IpAddr::from([198, 18, high, low]), 32).unwrap()
}

fn change(prefix: IpNet, replaced: &[&str], next_hops: &[&str]) -> LearnedChange {
    LearnedChange {
        prefix,
        next_hops: next_hops.iter().map(|h| ip(h)).collect(),
        replaced: replaced.iter().map(|h| ip(h)).collect(),
    }
}

/// Two links toward peers: 10.46.1.1 behind `whpa`, 10.46.2.1 behind `whpb`.
fn links_toward_peers() {
    for (name, address) in [("whpa", "10.46.1.2/24"), ("whpb", "10.46.2.2/24")] {
        let peer = format!("{name}x");
        run(
            "ip",
            &["link", "add", name, "type", "veth", "peer", "name", &peer],
        );
        run("ip", &["address", "add", address, "dev", name]);
        run("ip", &["link", "set", name, "up"]);
        run("ip", &["link", "set", &peer, "up"]);
    }
}

/// Each learned route with the object it goes through.
type RoutesThrough = Vec<(IpNet, Option<u32>)>;

/// (objects of the learned protocol: singles, groups), and the object each route uses.
fn kernel_view() -> ((usize, usize), RoutesThrough) {
    let mut netlink = Netlink::open().unwrap();
    let objects = netlink.nexthops().unwrap();
    let ours = objects
        .iter()
        .filter(|o| o.protocol == DEFAULT_LEARNED_PROTOCOL);
    let groups = ours
        .clone()
        .filter(|o| matches!(o.target, NexthopTarget::Group(_)))
        .count();
    let counts = (ours.count() - groups, groups);
    let routes = netlink
        .routes_matching(RouteFilter {
            protocol: Some(DEFAULT_LEARNED_PROTOCOL),
            ..RouteFilter::all(Family::V4)
        })
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                IpNet::new(r.destination, r.prefix_len).unwrap(),
                r.nexthop_id,
            )
        })
        .collect();
    (counts, routes)
}

fn dataplane() -> LinuxDataplane {
    LinuxDataplane::new(LinuxConfig::default()).unwrap()
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn routes_share_nexthop_objects_survive_a_downed_device_and_are_adopted_after_a_restart() {
    in_test_host(|_| {
        links_toward_peers();
        let learned = dataplane();
        assert!(learned.learned_routes().unwrap().is_empty());
        let mut changes: Vec<LearnedChange> = (0..ROUTES)
            .map(|n| change(prefix(n), &[], &["10.46.1.1"]))
            .collect();
        changes.push(change(prefix(ROUTES), &[], &["10.46.1.1", "10.46.2.1"]));
        learned.apply_learned(&changes).unwrap();

        let ((singles, groups), routes) = kernel_view();
        assert_eq!(
            (singles, groups),
            (2, 1),
            "one object per next hop, one group"
        );
        assert_eq!(routes.len(), ROUTES as usize + 1);
        let objects: BTreeSet<Option<u32>> = routes.iter().map(|(_, id)| *id).collect();
        assert_eq!(
            objects.len(),
            2,
            "every route through one of two objects: {objects:?}"
        );
        assert!(!objects.contains(&None));
        let text = output("ip", &["route", "get", "198.18.0.7"]);
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(text.contains("via 10.46.1.1 dev whpa"), "{text}");
        assert!(!learned.learned_routes_lost().unwrap());

        // The kernel removes a downed device's objects and the routes through them; the
        // dataplane notices, and the routes given again come back.
        run("ip", &["link", "set", "whpa", "down"]);
        let ((singles, groups), routes) = kernel_view();
        assert_eq!((singles, groups), (1, 1), "the group lost a member");
        assert_eq!(routes.len(), 1, "only the ECMP route is left");
        assert!(learned.learned_routes_lost().unwrap());
        run("ip", &["link", "set", "whpa", "up"]);
        let again: Vec<LearnedChange> = changes
            .iter()
            .map(|c| LearnedChange {
                replaced: c.next_hops.clone(),
                ..c.clone()
            })
            .collect();
        learned.apply_learned(&again).unwrap();
        let ((singles, groups), routes) = kernel_view();
        assert_eq!((singles, groups, routes.len()), (2, 1, ROUTES as usize + 1));
        // The group gets its member back at the next check.
        assert!(!learned.learned_routes_lost().unwrap());
        let text = output("ip", &["route", "show", "198.18.1.44"]);
        let nhid = String::from_utf8_lossy(&text.stdout)
            .split_whitespace()
            .nth(2)
            .unwrap()
            .to_string();
        let group = output("ip", &["nexthop", "show", "id", &nhid]);
        let group = String::from_utf8_lossy(&group.stdout).to_string();
        assert_eq!(group.matches('/').count(), 1, "two members: {group}");

        // A new dataplane (wharf restarted) finds the routes with their next hops, and
        // removing them all (as after a restart: replacing nothing it was told of) leaves
        // no object behind.
        drop(learned);
        let restarted = dataplane();
        let kept = restarted.learned_routes().unwrap();
        assert_eq!(kept.len(), ROUTES as usize + 1);
        let ecmp = kept.iter().find(|r| r.prefix == prefix(ROUTES)).unwrap();
        assert_eq!(ecmp.next_hops.len(), 2);
        let gone: Vec<LearnedChange> = kept.iter().map(|r| change(r.prefix, &[], &[])).collect();
        restarted.apply_learned(&gone).unwrap();
        assert_eq!(kernel_view(), ((0, 0), Vec::new()));
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn a_next_hop_beyond_a_router_still_gets_a_route_that_names_it() {
    in_test_host(|_| {
        links_toward_peers();
        // 10.46.9.1 is reached through 10.46.2.1: no object can be made for it (an object's
        // gateway must be directly connected), and the route names it instead, as before.
        run("ip", &["route", "add", "10.46.9.0/24", "via", "10.46.2.1"]);
        let learned = dataplane();
        learned
            .apply_learned(&[
                change(prefix(1), &[], &["10.46.2.1"]),
                change(prefix(2), &[], &["10.46.9.1"]),
            ])
            .unwrap();
        let ((singles, groups), routes) = kernel_view();
        assert_eq!((singles, groups), (1, 0));
        let by_prefix: std::collections::HashMap<IpNet, Option<u32>> = routes.into_iter().collect();
        assert!(by_prefix[&prefix(1)].is_some());
        // The kernel refuses a gateway that is not on a link, object or not: no route.
        assert_eq!(by_prefix.get(&prefix(2)), None);
        learned
            .apply_learned(&[
                change(prefix(1), &["10.46.2.1"], &[]),
                change(prefix(2), &["10.46.9.1"], &[]),
            ])
            .unwrap();
        assert_eq!(kernel_view(), ((0, 0), Vec::new()));
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn the_addresses_beside_a_sessions_own_are_those_of_its_link() {
    in_test_host(|_| {
        links_toward_peers();
        run(
            "ip",
            &["address", "add", "fd4e:a::2/64", "dev", "whpa", "nodad"],
        );
        let learned = dataplane();
        let beside = learned.addresses_beside(ip("10.46.1.2")).unwrap();
        assert!(beside.contains(&ip("fd4e:a::2")), "{beside:?}");
        assert!(
            beside.iter().any(|a| a.to_string().starts_with("fe80:")),
            "the link-local address too: {beside:?}"
        );
        assert!(
            !beside.contains(&ip("10.46.2.2")),
            "not another link's: {beside:?}"
        );
        assert!(
            !beside.contains(&ip("10.46.1.2")),
            "not its own: {beside:?}"
        );
        assert!(learned
            .addresses_beside(ip("10.99.0.1"))
            .unwrap()
            .is_empty());
    });
}
