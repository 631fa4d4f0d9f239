//! Installs N /32 routes with `add_routes_batch` inside a throwaway network namespace, three
//! times: each route naming its device; all of them sharing one nexthop object; and shared
//! again while a listener is subscribed to route notifications, as a routing daemon or
//! `ip monitor` would be (the kernel then delivers one per route, which bench/bgp-install's
//! watcher makes every receiver pay). Prints how long installing, dumping and deleting
//! (`delete_routes_batch`) took each time. Needs root:
//! `cargo run --release -p wharf-netlink --example route_batch_bench [ROUTES]` (default 100000).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wharf_netlink::netns::run_in_new_netns;
use wharf_netlink::{
    Family, Netlink, NetlinkMonitor, Nexthop, NexthopTarget, Route, RouteFilter, VethPair,
};

const WHARF: u8 = 87;

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
        // A nexthop object wants its device to have carrier: the peer must be up too.
        let peer = netlink.link_by_name("wcbench").expect("find peer");
        let peer = peer.expect("peer exists").index;
        netlink.set_link_up(peer).expect("peer up");
        let base = u32::from(Ipv4Addr::new(10, 64, 0, 0));
        let destination = |i: u32| IpAddr::V4(Ipv4Addr::from(base + i));

        let plain: Vec<Route> = (0..count)
            .map(|i| Route::connected(destination(i), 32, index, WHARF))
            .collect();
        run("plain /32 dev", &mut netlink, &plain);

        let shared = Nexthop {
            id: 1,
            protocol: WHARF,
            target: NexthopTarget::Device {
                family: Family::V4,
                oif: index,
            },
        };
        netlink.add_nexthop(&shared).expect("nexthop object");
        let through_nexthop: Vec<Route> = (0..count)
            .map(|i| Route::with_nexthop(destination(i), 32, shared.id, WHARF))
            .collect();
        run("/32 nhid 1 (shared)", &mut netlink, &through_nexthop);

        let listener = Listener::start();
        run("shared, a listener", &mut netlink, &through_nexthop);
        println!(
            "{:>20}  the listener read {} notifications",
            "",
            listener.stop()
        );
    })
    .expect("run in a new network namespace");
}

fn run(label: &str, netlink: &mut Netlink, routes: &[Route]) {
    let (report, installed) = timed(|| netlink.add_routes_batch(routes).expect("add batch"));
    let ours = RouteFilter {
        protocol: Some(WHARF),
        ..RouteFilter::all(Family::V4)
    };
    let (listed, dumped) = timed(|| netlink.routes_matching(ours).expect("dump").len());
    let (removed, deleted) = timed(|| netlink.delete_routes_batch(routes).expect("delete"));
    let left = netlink.routes_matching(ours).expect("dump").len();
    println!(
        "{label:>20}: add {} in {:.1} ms ({:.0}/s, {} refused); dump {listed} in {:.1} ms; \
         delete in {:.1} ms ({} refused, {left} left)",
        report.sent,
        ms(installed),
        routes.len() as f64 / installed.as_secs_f64(),
        report.failed,
        ms(dumped),
        ms(deleted),
        removed.failed,
    );
}

/// A thread draining route notifications, as a subscribed daemon would.
struct Listener {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<usize>,
}

impl Listener {
    fn start() -> Listener {
        let mut monitor = NetlinkMonitor::open().expect("subscribe to notifications");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut seen = 0;
            while !stopping.load(Ordering::Relaxed) {
                if let Ok(Some(_)) = monitor.next_event(Duration::from_millis(50)) {
                    seen += 1;
                }
            }
            seen
        });
        Listener { stop, thread }
    }

    fn stop(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or(0)
    }
}

fn timed<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let result = work();
    (result, started.elapsed())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
