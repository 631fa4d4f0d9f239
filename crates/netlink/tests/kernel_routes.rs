//! Multipath routes, metrics, nexthop objects, tables above 255 and the errno helpers,
//! against the real kernel, each test in a throwaway network namespace.
//! Needs root: `cargo test -p wharf-netlink --release -- --include-ignored`.

mod common;

use common::{in_new_netns, ip, ip_command, uplink};
use wharf_netlink::{
    Family, GroupMember, MultipathHop, Nexthop, NexthopTarget, Route, RouteFilter, VethPair,
};

const WHARF: u8 = 87;

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn multipath_routes_are_added_listed_replaced_and_deleted() {
    in_new_netns(|nl| {
        let a = uplink(nl, "wha", "10.46.1.2", 24);
        let b = uplink(nl, "whb", "10.46.2.2", 24);
        nl.add_address(a, ip("fd4e:a::2"), 64, nodad()).unwrap();
        nl.add_address(b, ip("fd4e:b::2"), 64, nodad()).unwrap();
        let v4 = Route::multipath(
            ip("198.18.5.0"),
            24,
            vec![
                MultipathHop {
                    weight: 2,
                    ..MultipathHop::via(ip("10.46.1.1"), Some(a))
                },
                MultipathHop::via(ip("10.46.2.1"), Some(b)),
            ],
            WHARF,
        );
        let v6 = Route::multipath(
            ip("fd4e:5::"),
            64,
            vec![
                MultipathHop::via(ip("fd4e:a::1"), Some(a)),
                MultipathHop {
                    weight: 3,
                    ..MultipathHop::via(ip("fd4e:b::1"), Some(b))
                },
            ],
            WHARF,
        );
        nl.add_route(&v4).unwrap();
        nl.add_route(&v6).unwrap();

        let listed = ours(nl, Family::V4);
        assert_eq!(listed, std::slice::from_ref(&v4));
        let text = ip_command(&["route", "show", "198.18.5.0/24"]);
        assert!(text.contains("via 10.46.1.1 dev wha weight 2"), "{text}");
        // IPv6 routes always carry a metric (1024 unless asked otherwise).
        let listed = ours(nl, Family::V6);
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(
            listed[0],
            Route {
                metric: Some(1024),
                ..v6.clone()
            }
        );

        // Replacing swaps the whole set of next hops.
        let replaced = Route {
            next_hops: vec![
                MultipathHop::via(ip("10.46.1.1"), Some(a)),
                MultipathHop::via(ip("10.46.2.1"), Some(b)),
                MultipathHop::device(b),
            ],
            ..v4.clone()
        };
        nl.add_route(&replaced).unwrap();
        assert_eq!(ours(nl, Family::V4), std::slice::from_ref(&replaced));

        nl.delete_route(&replaced).unwrap();
        nl.delete_route(&v6).unwrap();
        assert!(ours(nl, Family::V4).is_empty());
        assert!(ours(nl, Family::V6).is_empty());
        nl.delete_route(&replaced).expect("already gone is success");
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn metrics_tell_routes_apart() {
    in_new_netns(|nl| {
        let a = uplink(nl, "wha", "10.46.1.2", 24);
        let route = |destination: &str, prefix_len, metric| Route {
            metric: Some(metric),
            ..Route::connected(ip(destination), prefix_len, a, WHARF)
        };
        for metric in [10, 20] {
            nl.add_route(&route("fd4e:6::", 64, metric)).unwrap();
            nl.add_route(&route("198.18.6.0", 24, metric)).unwrap();
        }
        let mut v6: Vec<_> = ours(nl, Family::V6).iter().map(|r| r.metric).collect();
        v6.sort();
        assert_eq!(v6, [Some(10), Some(20)]);
        let mut v4: Vec<_> = ours(nl, Family::V4).iter().map(|r| r.metric).collect();
        v4.sort();
        assert_eq!(v4, [Some(10), Some(20)]);

        // A delete naming a metric takes only that route.
        nl.delete_route(&route("fd4e:6::", 64, 10)).unwrap();
        nl.delete_route(&route("198.18.6.0", 24, 20)).unwrap();
        // IPv6 has no route scopes: the kernel lists every route as "universe".
        let v6_left = Route {
            scope: 0,
            ..route("fd4e:6::", 64, 20)
        };
        assert_eq!(ours(nl, Family::V6), [v6_left]);
        assert_eq!(ours(nl, Family::V4), [route("198.18.6.0", 24, 10)]);
        let text = ip_command(&["-6", "route", "show", "fd4e:6::/64"]);
        assert!(
            text.contains("metric 20") && !text.contains("metric 10"),
            "{text}"
        );
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn nexthop_objects_groups_and_routes_through_them() {
    in_new_netns(|nl| {
        let a = uplink(nl, "wha", "10.46.1.2", 24);
        let b = uplink(nl, "whb", "10.46.2.2", 24);
        let single = |id, gateway: &str, oif| Nexthop {
            id,
            protocol: WHARF,
            target: NexthopTarget::Gateway {
                gateway: ip(gateway),
                oif,
            },
        };
        let group = Nexthop {
            id: 3,
            protocol: WHARF,
            target: NexthopTarget::Group(vec![
                GroupMember { id: 1, weight: 2 },
                GroupMember { id: 2, weight: 1 },
            ]),
        };
        for _ in 0..2 {
            nl.add_nexthop(&single(1, "10.46.1.1", a)).unwrap();
            nl.add_nexthop(&single(2, "10.46.2.1", b)).unwrap();
            nl.add_nexthop(&group).unwrap();
        }
        let mut listed = nl.nexthops().unwrap();
        listed.sort_by_key(|n| n.id);
        assert_eq!(
            listed,
            [
                single(1, "10.46.1.1", a),
                single(2, "10.46.2.1", b),
                group.clone()
            ]
        );
        let text = ip_command(&["nexthop", "show", "id", "3"]);
        assert!(text.contains("group 1,2/2"), "{text}");

        let through_group = Route::with_nexthop(ip("198.18.7.0"), 24, 3, WHARF);
        let through_one = Route::with_nexthop(ip("198.18.8.0"), 24, 2, WHARF);
        nl.add_route(&through_group).unwrap();
        nl.add_route(&through_one).unwrap();
        let mut listed = ours(nl, Family::V4);
        listed.sort_by_key(|r| r.destination);
        assert_eq!(listed, [through_group.clone(), through_one.clone()]);
        let text = ip_command(&["route", "show", "198.18.7.0/24"]);
        assert!(text.contains("nhid 3"), "{text}");

        // Re-pointing the object moves its routes; deleting it takes them away.
        nl.add_nexthop(&single(2, "10.46.1.1", a)).unwrap();
        let text = ip_command(&["route", "show", "198.18.8.0/24"]);
        assert!(text.contains("via 10.46.1.1 dev wha"), "{text}");
        nl.delete_nexthop(3).unwrap();
        nl.delete_nexthop(3).expect("already gone is success");
        assert_eq!(ours(nl, Family::V4), [through_one]);
        let listed: Vec<u32> = nl.nexthops().unwrap().iter().map(|n| n.id).collect();
        assert_eq!(listed, [1, 2]);
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn a_lookup_names_the_device_toward_a_next_hop_and_exclusive_creation_keeps_others_objects() {
    in_new_netns(|nl| {
        let a = uplink(nl, "wha", "10.46.1.2", 24);
        let b = uplink(nl, "whb", "10.46.2.2", 24);
        nl.add_address(b, ip("fd4e:b::2"), 64, nodad()).unwrap();
        let found = nl.route_to(ip("10.46.1.9")).unwrap();
        assert_eq!((found.oif, found.gateway), (Some(a), None));
        let found = nl.route_to(ip("fd4e:b::9")).unwrap();
        assert_eq!((found.oif, found.gateway), (Some(b), None));
        // Beyond a gateway, the lookup names the gateway too.
        nl.add_route(&Route::via(ip("198.18.9.0"), 24, ip("10.46.2.1"), None))
            .unwrap();
        let found = nl.route_to(ip("198.18.9.5")).unwrap();
        assert_eq!((found.oif, found.gateway), (Some(b), Some(ip("10.46.2.1"))));
        let unreachable = nl.route_to(ip("198.18.10.1")).unwrap_err();
        assert_eq!(
            unreachable.errno(),
            Some(libc::ENETUNREACH),
            "{unreachable}"
        );

        let other = Nexthop {
            id: 7,
            protocol: 186,
            target: NexthopTarget::Gateway {
                gateway: ip("10.46.1.1"),
                oif: a,
            },
        };
        nl.create_nexthop(&other).unwrap();
        let mine = Nexthop {
            protocol: WHARF,
            target: NexthopTarget::Gateway {
                gateway: ip("10.46.2.1"),
                oif: b,
            },
            ..other.clone()
        };
        let taken = nl.create_nexthop(&mine).unwrap_err();
        assert!(taken.is_exists(), "{taken}");
        assert_eq!(nl.nexthops().unwrap(), [other]);
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn routes_in_table_1000_and_dumps_by_table_and_protocol() {
    in_new_netns(|nl| {
        let a = uplink(nl, "wha", "10.46.1.2", 24);
        let in_1000 = Route {
            table: 1000,
            ..Route::connected(ip("198.18.9.0"), 24, a, WHARF)
        };
        let in_main = Route::connected(ip("198.18.10.0"), 24, a, WHARF);
        let static_in_1000 = Route {
            table: 1000,
            ..Route::via(ip("198.18.11.0"), 24, ip("10.46.1.1"), Some(a))
        };
        for route in [&in_1000, &in_main, &static_in_1000] {
            nl.add_route(route).unwrap();
        }
        let text = ip_command(&["route", "show", "table", "1000"]);
        assert!(text.contains("198.18.9.0/24 dev wha proto 87"), "{text}");

        let wharf_anywhere = nl
            .routes_matching(RouteFilter {
                protocol: Some(WHARF),
                ..RouteFilter::all(Family::V4)
            })
            .unwrap();
        assert_eq!(wharf_anywhere.len(), 2, "{wharf_anywhere:?}");
        assert!(wharf_anywhere.contains(&in_1000) && wharf_anywhere.contains(&in_main));

        let table_1000 = nl
            .routes_matching(RouteFilter {
                table: Some(1000),
                ..RouteFilter::all(Family::V4)
            })
            .unwrap();
        assert_eq!(table_1000.len(), 2, "{table_1000:?}");
        assert!(table_1000.contains(&in_1000) && table_1000.contains(&static_in_1000));

        let main = nl.routes(Family::V4).unwrap();
        assert!(main.contains(&in_main) && !main.contains(&in_1000));

        nl.delete_route(&in_1000).unwrap();
        let text = ip_command(&["route", "show", "table", "1000"]);
        assert!(!text.contains("198.18.9.0"), "{text}");
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn errno_helpers_on_real_refusals() {
    in_new_netns(|nl| {
        let a = uplink(nl, "wha", "10.46.1.2", 24);
        let route = Route::connected(ip("198.18.12.0"), 24, a, WHARF);
        nl.create_route(&route).unwrap();
        let error = nl.create_route(&route).unwrap_err();
        assert!(error.is_exists() && !error.is_not_found(), "{error}");

        let again = VethPair {
            name: "wha".into(),
            peer_name: "whz".into(),
            mtu: 1500,
            alias: None,
            peer_mac: None,
            up: false,
        };
        let error = nl.create_veth(&again).unwrap_err();
        assert!(error.is_exists(), "{error}");

        let error = nl.set_link_up(9999).unwrap_err();
        assert!(error.is_not_found() && !error.is_exists(), "{error}");
        let missing_device = Nexthop {
            id: 5,
            protocol: WHARF,
            target: NexthopTarget::Device {
                family: Family::V4,
                oif: 9999,
            },
        };
        // The kernel says EINVAL here, and why in its extended-ACK text, which is kept.
        let error = nl.add_nexthop(&missing_device).unwrap_err();
        assert_eq!(error.errno(), Some(libc::EINVAL), "{error}");
        assert!(
            error.to_string().contains("Invalid device index"),
            "{error}"
        );
        let through_nothing = Route::with_nexthop(ip("198.18.13.0"), 24, 77, WHARF);
        let error = nl.add_route(&through_nothing).unwrap_err();
        assert!(
            error.to_string().contains("Nexthop id does not exist"),
            "{error}"
        );
    });
}

fn nodad() -> wharf_netlink::AddressOptions {
    wharf_netlink::AddressOptions {
        nodad: true,
        no_prefix_route: false,
    }
}

/// Routes of protocol 87 in the main table.
fn ours(nl: &mut wharf_netlink::Netlink, family: Family) -> Vec<Route> {
    nl.routes(family)
        .unwrap()
        .into_iter()
        .filter(|r| r.protocol == WHARF)
        .collect()
}
