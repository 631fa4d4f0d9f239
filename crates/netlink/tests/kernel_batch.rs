//! Batches with the newer route features (nexthop id, table, metric, multipath) and batch
//! deletes, against the real kernel in throwaway network namespaces.
//! Needs root: `cargo test -p wharf-netlink --release -- --include-ignored`.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::{in_new_netns, ip, uplink};
use wharf_netlink::{Family, MultipathHop, Nexthop, NexthopTarget, Route, RouteFilter};

const WHARF: u8 = 87;

fn nth_address(base: [u8; 4], n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(u32::from(Ipv4Addr::from(base)) + n))
}

fn wharf_routes_in(table: u32) -> RouteFilter {
    RouteFilter {
        table: Some(table),
        protocol: Some(WHARF),
        ..RouteFilter::all(Family::V4)
    }
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn ten_thousand_routes_sharing_a_nexthop_are_added_and_deleted_in_batches() {
    in_new_netns(|nl| {
        let a = uplink(nl, "wha", "10.46.1.2", 24);
        let shared = Nexthop {
            id: 1,
            protocol: WHARF,
            target: NexthopTarget::Gateway {
                gateway: ip("10.46.1.1"),
                oif: a,
            },
        };
        nl.add_nexthop(&shared).unwrap();
        let routes: Vec<Route> = (0..10_000)
            .map(|i| Route {
                table: 1000,
                metric: Some(5),
                ..Route::with_nexthop(nth_address([198, 18, 0, 0], i), 32, 1, WHARF)
            })
            .collect();
        let report = nl.add_routes_batch(&routes).unwrap();
        assert_eq!((report.sent, report.failed), (10_000, 0), "{report:?}");
        let mut listed = nl.routes_matching(wharf_routes_in(1000)).unwrap();
        listed.sort_by_key(|r| r.destination);
        assert_eq!(listed, routes);

        let report = nl.delete_routes_batch(&routes).unwrap();
        assert_eq!((report.sent, report.failed), (10_000, 0), "{report:?}");
        assert!(nl
            .routes_matching(wharf_routes_in(1000))
            .unwrap()
            .is_empty());
        // Deleting what is already gone is not a failure, as with delete_route.
        let report = nl.delete_routes_batch(&routes).unwrap();
        assert_eq!((report.sent, report.failed), (10_000, 0), "{report:?}");
        assert_eq!(nl.nexthops().unwrap(), [shared]);
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn batches_carry_multipath_routes_and_report_refused_deletes() {
    in_new_netns(|nl| {
        let a = uplink(nl, "wha", "10.46.1.2", 24);
        let b = uplink(nl, "whb", "10.46.2.2", 24);
        let routes: Vec<Route> = (0..600)
            .map(|i| {
                Route::multipath(
                    nth_address([198, 19, 0, 0], i),
                    32,
                    vec![
                        MultipathHop {
                            weight: 3,
                            ..MultipathHop::via(ip("10.46.1.1"), Some(a))
                        },
                        MultipathHop::via(ip("10.46.2.1"), Some(b)),
                    ],
                    WHARF,
                )
            })
            .collect();
        let report = nl.add_routes_batch(&routes).unwrap();
        assert_eq!((report.sent, report.failed), (600, 0), "{report:?}");
        let mut listed = nl.routes_matching(wharf_routes_in(254)).unwrap();
        listed.sort_by_key(|r| r.destination);
        assert_eq!(listed, routes);

        // Host bits beyond the prefix length: the kernel refuses that delete (EINVAL), and
        // the batch says which one; the others go.
        let mut deletes = routes.clone();
        deletes[250].prefix_len = 16;
        let report = nl.delete_routes_batch(&deletes).unwrap();
        assert_eq!((report.sent, report.failed), (600, 1), "{report:?}");
        let failure = report.first_failure.expect("the refused delete");
        assert_eq!((failure.index, failure.errno), (250, libc::EINVAL));
        let left = nl.routes_matching(wharf_routes_in(254)).unwrap();
        assert_eq!(left, [routes[250].clone()]);
    });
}
