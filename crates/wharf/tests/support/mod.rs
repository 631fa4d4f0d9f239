//! Helpers for kernel tests: a throwaway "host" namespace per test (the calling thread's,
//! made with unshare), named "container" namespaces removed on drop, and `ip`/`ping` runs.
#![allow(dead_code)] // each test file uses a different subset

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wharf::dataplane::linux::{LinuxConfig, LinuxDataplane};
use wharf::dataplane::{HostRoute, ProxyNeighbour, RoutedEndpointSpec};
use wharf_netlink::netns::run_in_new_netns;
use wharf_netlink::Netlink;

/// Runs `test` on a thread in a new network namespace (the test's "host"), with `lo` up and a
/// dataplane whose socket lives there.
pub fn in_test_host<T: Send>(test: impl FnOnce(&LinuxDataplane) -> T + Send) -> T {
    run_in_new_netns(|| {
        bring_lo_up();
        let dataplane = LinuxDataplane::new(LinuxConfig::default()).expect("open dataplane");
        test(&dataplane)
    })
    .expect("run in a new network namespace")
}

pub fn bring_lo_up() {
    let mut netlink = Netlink::open().expect("open netlink");
    let lo = netlink
        .link_by_name("lo")
        .expect("find lo")
        .expect("lo exists");
    netlink.set_link_up(lo.index).expect("lo up");
}

/// A namespace made with `ip netns add`, deleted (with everything in it) on drop, panics too.
pub struct NamedNetns {
    pub name: String,
}

impl NamedNetns {
    pub fn new(role: &str) -> NamedNetns {
        NamedNetns::create(NamedNetns::unique_name(role))
    }

    /// A name no namespace of this test run has, for a namespace made later.
    pub fn unique_name(role: &str) -> String {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        format!("wharf-test-{}-{role}-{n}", std::process::id())
    }

    pub fn create(name: String) -> NamedNetns {
        run("ip", &["netns", "add", &name]);
        NamedNetns { name }
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.name))
    }

    /// Runs a command inside the namespace; panics if it fails.
    pub fn run(&self, command: &str) {
        let mut args = vec!["netns", "exec", &self.name];
        args.extend(command.split_whitespace());
        run("ip", &args);
    }

    pub fn output(&self, command: &str) -> String {
        let mut args = vec!["netns", "exec", &self.name];
        args.extend(command.split_whitespace());
        let output = output("ip", &args);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Moves `link` here from the calling thread's namespace and configures it the way Docker
    /// does: renamed eth0, address, up, default route via the gateway.
    pub fn adopt_container_end(&self, link: &str, address: &str, gateway: &str) {
        run("ip", &["link", "set", link, "netns", &self.name]);
        self.run(&format!("ip link set {link} name eth0"));
        self.run("ip link set lo up");
        let nodad = if address.contains(':') { " nodad" } else { "" };
        self.run(&format!("ip addr add {address} dev eth0{nodad}"));
        self.run("ip link set eth0 up");
        self.run(&format!("ip route add default via {gateway}"));
    }

    /// Pings `address` from here until a reply comes or [`PING_DEADLINE`] passes (a fresh
    /// link may still be resolving its neighbour, slowly under the lab's emulated CPU).
    pub fn pings(&self, address: &str) -> bool {
        let mut args = vec!["netns", "exec", &self.name];
        args.extend(ping_args(address));
        until_deadline(|| output("ip", &args).status.success())
    }
}

impl Drop for NamedNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Pings from the calling thread's namespace (a child process inherits the thread's), until
/// a reply comes or [`PING_DEADLINE`] passes.
pub fn host_pings(address: &str) -> bool {
    until_deadline(|| output("ping", &ping_args(address)[1..]).status.success())
}

/// One ping from the calling thread's namespace, for checks that an address is NOT
/// reachable (waiting out a deadline would prove nothing more).
pub fn host_pings_once(address: &str) -> bool {
    output("ping", &ping_args(address)[1..]).status.success()
}

pub const PING_DEADLINE: Duration = Duration::from_secs(15);

fn until_deadline(mut attempt: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + PING_DEADLINE;
    loop {
        if attempt() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn ping_args(address: &str) -> Vec<&str> {
    vec!["ping", "-c1", "-W1", address]
}

pub fn run(program: &str, args: &[&str]) {
    let result = output(program, args);
    assert!(
        result.status.success(),
        "{program} {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&result.stderr)
    );
}

pub fn output(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

pub fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

/// A routed endpoint `wh00000000<tag>` / `wc00000000<tag>` with one gateway and a host route
/// to each container address.
pub fn endpoint(tag: &str, gateway: &str, addresses: &[&str]) -> RoutedEndpointSpec {
    let host = format!("wh00000000{tag}");
    let last = u8::from_str_radix(tag, 16).expect("tag is two hex digits");
    RoutedEndpointSpec {
        host_ifname: host.clone(),
        container_ifname: format!("wc00000000{tag}"),
        container_mac: [0x02, 0x57, 0, 0, 0, last],
        mtu: 1500,
        alias: format!("wharf:{tag}"),
        gateways: vec![ip(gateway)],
        routes: addresses
            .iter()
            .map(|a| HostRoute {
                destination: a.parse().expect("test prefix"),
                device: host.clone(),
                source: None,
            })
            .collect(),
        proxy_neighbours: Vec::new(),
    }
}

pub fn proxy(address: &str, device: &str) -> ProxyNeighbour {
    ProxyNeighbour {
        address: ip(address),
        device: device.into(),
    }
}

pub fn sysctl(path: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/{path}"))
        .unwrap_or_else(|e| panic!("read {path}: {e}"))
        .trim()
        .to_owned()
}
