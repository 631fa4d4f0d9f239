//! Measures making a routed endpoint's host objects (veth pair, gateway address, host route)
//! through the dataplane, and removing them, against the same work done by running `ip` and
//! `sysctl` the way a shell-script plugin would, inside a throwaway network namespace.
//! Needs root: `cargo run --release -p wharf --example routed_endpoint_bench [ENDPOINTS]`.

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wharf::dataplane::linux::{LinuxConfig, LinuxDataplane};
use wharf::dataplane::{Dataplane, HostAddress, HostEnd, HostObject, HostRoute, VethSpec};
use wharf_netlink::netns::run_in_new_netns;
use wharf_netlink::{Netlink, VethPair};

fn main() {
    let endpoints: u32 = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("ENDPOINTS is a number"))
        .unwrap_or(200);
    run_in_new_netns(|| {
        let floor = measure_bare_veth(endpoints);
        let wharf = measure_wharf(endpoints);
        let shell = measure_commands(endpoints);
        report("bare veth (netlink)", &floor);
        report("wharf (netlink)", &wharf);
        report("ip + sysctl commands", &shell);
        println!(
            "ratio (commands / wharf): setup {:.1}x, delete {:.1}x",
            mean(&shell.setup) / mean(&wharf.setup),
            mean(&shell.delete) / mean(&wharf.delete)
        );
    })
    .expect("run in a new network namespace");
}

struct Timings {
    setup: Vec<Duration>,
    delete: Vec<Duration>,
}

struct Endpoint {
    host: String,
    container: String,
    mac: [u8; 6],
    address: Ipv4Addr,
}

fn endpoint(i: u32) -> Endpoint {
    Endpoint {
        host: format!("wh{i:010x}"),
        container: format!("wc{i:010x}"),
        mac: [0x02, 0x57, 0, 0, (i >> 8) as u8, i as u8],
        address: Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 47, 0, 0)) + i),
    }
}

fn measure_wharf(endpoints: u32) -> Timings {
    let linux = LinuxDataplane::new(LinuxConfig::default()).expect("open dataplane");
    let dataplane = Dataplane::from_one(Arc::new(linux));
    let mut timings = Timings {
        setup: Vec::new(),
        delete: Vec::new(),
    };
    let objects = |i: u32| {
        let e = endpoint(i);
        vec![
            HostObject::Veth(VethSpec {
                host_ifname: e.host.clone(),
                container_ifname: e.container,
                container_mac: e.mac,
                mtu: 1500,
                alias: format!("wharf:{i:010x}"),
                ipv6: false,
                host_end: HostEnd::Router,
            }),
            HostObject::Address(HostAddress {
                address: Ipv4Addr::new(10, 46, 0, 1).into(),
                device: e.host.clone(),
            }),
            HostObject::Route(HostRoute {
                destination: format!("{}/32", e.address).parse().expect("prefix"),
                device: e.host,
                source: None,
            }),
        ]
    };
    for i in 0..endpoints {
        let planned = objects(i);
        let started = Instant::now();
        dataplane.make(&planned).expect("setup");
        timings.setup.push(started.elapsed());
    }
    for i in 0..endpoints {
        let planned = objects(i);
        let started = Instant::now();
        dataplane.remove(&planned, &|_| false).expect("delete");
        timings.delete.push(started.elapsed());
    }
    timings
}

/// The floor: only the veth pair, created in one request with no alias, addresses or routes.
fn measure_bare_veth(endpoints: u32) -> Timings {
    let mut netlink = Netlink::open().expect("open netlink");
    let mut timings = Timings {
        setup: Vec::new(),
        delete: Vec::new(),
    };
    for i in 0..endpoints {
        let e = endpoint(i);
        let veth = VethPair {
            name: e.host,
            peer_name: e.container,
            mtu: 1500,
            alias: None,
            peer_mac: Some(e.mac),
            up: true,
        };
        let started = Instant::now();
        netlink.create_veth(&veth).expect("create veth");
        timings.setup.push(started.elapsed());
    }
    for i in 0..endpoints {
        let started = Instant::now();
        netlink.delete_link(&endpoint(i).host).expect("delete");
        timings.delete.push(started.elapsed());
    }
    timings
}

/// The same objects, one process per step: 5 processes per endpoint (`ip link set` takes
/// alias and up together, one `sysctl` sets both keys).
fn measure_commands(endpoints: u32) -> Timings {
    let mut timings = Timings {
        setup: Vec::new(),
        delete: Vec::new(),
    };
    for i in 0..endpoints {
        let e = endpoint(i);
        let mac = e.mac.map(|b| format!("{b:02x}")).join(":");
        let (h, c) = (e.host.as_str(), e.container.as_str());
        let started = Instant::now();
        run(&format!(
            "ip link add {h} mtu 1500 type veth peer name {c} address {mac} mtu 1500"
        ));
        run(&format!("ip link set dev {h} alias wharf:{i:010x} up"));
        run(&format!(
            "sysctl -q -w net.ipv4.conf.{h}.proxy_arp=1 net.ipv4.neigh.{h}.proxy_delay=0"
        ));
        run(&format!("ip addr add 10.46.0.1/32 dev {h}"));
        run(&format!(
            "ip route add {}/32 dev {h} scope link proto 87",
            e.address
        ));
        timings.setup.push(started.elapsed());
    }
    for i in 0..endpoints {
        let started = Instant::now();
        run(&format!("ip link del {}", endpoint(i).host));
        timings.delete.push(started.elapsed());
    }
    timings
}

fn run(command: &str) {
    let mut words = command.split_whitespace();
    let program = words.next().expect("a command");
    let status = Command::new(program).args(words).status().expect("spawn");
    assert!(status.success(), "{command} failed");
}

fn mean(samples: &[Duration]) -> f64 {
    samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len().max(1) as f64
}

fn report(label: &str, timings: &Timings) {
    for (what, samples) in [("setup", &timings.setup), ("delete", &timings.delete)] {
        let mut sorted = samples.clone();
        sorted.sort();
        let at = |q: f64| {
            sorted
                .get(((sorted.len() as f64 - 1.0) * q) as usize)
                .copied()
        };
        println!(
            "{label:22} {what:6}: n={} mean {:.3} ms, median {:.3} ms, p95 {:.3} ms, max {:.3} ms",
            sorted.len(),
            mean(samples) * 1e3,
            at(0.5).unwrap_or_default().as_secs_f64() * 1e3,
            at(0.95).unwrap_or_default().as_secs_f64() * 1e3,
            at(1.0).unwrap_or_default().as_secs_f64() * 1e3,
        );
    }
}
