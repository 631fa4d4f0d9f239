//! Installs N /32 routes with `add_routes_batch` inside a throwaway network namespace and
//! prints how long it took. Needs root:
//! `cargo run --release -p wharf-netlink --example route_batch_bench [ROUTES]` (default 100000).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use wharf_netlink::netns::run_in_new_netns;
use wharf_netlink::{Family, Netlink, Route, VethPair};

fn main() {
    let count: u32 = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("ROUTES is a number"))
        .unwrap_or(100_000);
    run_in_new_netns(|| {
        let mut netlink = Netlink::open().expect("open netlink");
        let veth = VethPair {
            name: "whbench".into(),
            peer_name: "wcbench".into(),
            mtu: 1500,
            alias: None,
            peer_mac: None,
            up: true,
        };
        let index = netlink.create_veth(&veth).expect("create veth");
        let base = u32::from(Ipv4Addr::new(10, 64, 0, 0));
        let routes: Vec<Route> = (0..count)
            .map(|i| Route::connected(IpAddr::V4(Ipv4Addr::from(base + i)), 32, index, 87))
            .collect();
        let started = Instant::now();
        let report = netlink.add_routes_batch(&routes).expect("batch");
        let installed = started.elapsed();
        let started = Instant::now();
        let listed = netlink.routes(Family::V4).expect("dump").len();
        let dumped = started.elapsed();
        println!(
            "add_routes_batch: {} routes in {:.1} ms ({:.0}/s), {} refused; dump of {listed} routes {:.1} ms",
            report.sent,
            installed.as_secs_f64() * 1e3,
            f64::from(count) / installed.as_secs_f64(),
            report.failed,
            dumped.as_secs_f64() * 1e3,
        );
    })
    .expect("run in a new network namespace");
}
