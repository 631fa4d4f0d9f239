//! Waits until a network namespace's main table holds N routes of one protocol and prints
//! the wall-clock time (ms since the epoch) it saw the last one arrive. For benchmarks that
//! time route installation: listing 100k routes with `ip` takes a good part of a second, so
//! polling with it blurs the figure; this follows the kernel's notifications instead, and
//! counts with a dump only if notifications were lost.
//!
//! Usage: `route_watch /run/netns/NAME PROTOCOL N [TIMEOUT_S]`; prints `ready` once
//! subscribed, then the times the first and the last route came (ms since the epoch, one
//! line). Exits 1 if N routes were not there within the timeout.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wharf_netlink::{Family, MonitorEvent, Netlink, NetlinkMonitor, RouteFilter};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: route_watch /run/netns/NAME PROTOCOL N [TIMEOUT_S]");
        std::process::exit(2);
    }
    let netns = PathBuf::from(&args[1]);
    let protocol: u8 = args[2].parse().expect("PROTOCOL is a number 0-255");
    let wanted: usize = args[3].parse().expect("N is a number");
    let timeout = Duration::from_secs(args.get(4).map_or(120, |t| t.parse().expect("seconds")));
    let mut monitor = NetlinkMonitor::open_in_netns(&netns).expect("subscribe");
    let mut netlink = Netlink::open_in_netns(&netns).expect("open netlink");
    let mut seen: HashSet<(IpAddr, u8)> = count_by_dump(&mut netlink, protocol);
    println!("ready");
    let deadline = Instant::now() + timeout;
    let mut first = None;
    let mut lost = false;
    while seen.len() < wanted {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            eprintln!("route_watch: {} of {wanted} routes", seen.len());
            std::process::exit(1);
        }
        match monitor.next_event(left.min(Duration::from_millis(100))) {
            Ok(Some(MonitorEvent::RouteAdded(r))) if r.protocol == protocol => {
                first.get_or_insert_with(epoch_ms);
                seen.insert((r.destination, r.prefix_len));
            }
            Ok(Some(MonitorEvent::RouteRemoved(r))) if r.protocol == protocol => {
                seen.remove(&(r.destination, r.prefix_len));
            }
            Ok(Some(MonitorEvent::Overrun)) => {
                lost = true;
                seen = count_by_dump(&mut netlink, protocol);
            }
            // Notifications lost again after that dump would never come: count again
            // whenever the kernel has been quiet for a moment.
            Ok(None) if lost => seen = count_by_dump(&mut netlink, protocol),
            Ok(_) => {}
            Err(error) => eprintln!("route_watch: {error}"),
        }
    }
    let last = epoch_ms();
    println!("{} {last}", first.unwrap_or(last));
}

fn epoch_ms() -> u128 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    now.as_millis()
}

fn count_by_dump(netlink: &mut Netlink, protocol: u8) -> HashSet<(IpAddr, u8)> {
    let mut out = HashSet::new();
    for family in [Family::V4, Family::V6] {
        let filter = RouteFilter {
            family,
            table: Some(254),
            protocol: Some(protocol),
        };
        for route in netlink.routes_matching(filter).unwrap_or_default() {
            out.insert((route.destination, route.prefix_len));
        }
    }
    out
}
