//! Helpers for kernel tests: a throwaway "host" namespace per test (the calling thread's,
//! made with unshare), named "container" namespaces removed on drop, and `ip`/`ping` runs.
#![allow(dead_code)] // each test file uses a different subset

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use std::sync::Arc;

use imbl::OrdMap;
use ipnet::IpNet;
use wharf::dataplane::linux::{LinuxConfig, LinuxDataplane};
use wharf::dataplane::{Dataplane, HostObject};
use wharf::model::{Endpoint, Network, Subnet};
use wharf::modes::routed::Routed;
use wharf::modes::{JoinAnswer, NetworkMode};
use wharf_netlink::netns::run_in_new_netns;
use wharf_netlink::Netlink;

/// Runs `test` on a thread in a new network namespace (the test's "host"), with `lo` up and a
/// dataplane whose sockets live there.
pub fn in_test_host<T: Send>(test: impl FnOnce(&Dataplane) -> T + Send) -> T {
    run_in_new_netns(|| {
        bring_lo_up();
        let linux = LinuxDataplane::new(LinuxConfig::default()).expect("open dataplane");
        test(&Dataplane::from_one(Arc::new(linux)))
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
        self.adopt_as_docker(
            link,
            &[address],
            &JoinAnswer {
                interface: link.into(),
                gateway_v4: Some(ip(gateway)).filter(IpAddr::is_ipv4),
                gateway_v6: Some(ip(gateway)).filter(IpAddr::is_ipv6),
                ..Default::default()
            },
        );
    }

    /// Moves the Join answer's link here and configures it as Docker does with such an
    /// answer: renamed eth0, its addresses (IPv6 without DAD), up, the on-link routes, the
    /// next-hop routes, then default routes via the gateways.
    pub fn adopt_as_docker(&self, link: &str, addresses: &[&str], answer: &JoinAnswer) {
        run("ip", &["link", "set", link, "netns", &self.name]);
        self.run(&format!("ip link set {link} name eth0"));
        self.run("ip link set lo up");
        for address in addresses {
            let nodad = if address.contains(':') { " nodad" } else { "" };
            self.run(&format!("ip addr add {address} dev eth0{nodad}"));
        }
        self.run("ip link set eth0 up");
        for route in answer.routes.iter().filter(|r| r.next_hop.is_none()) {
            self.run(&format!("ip route add {} dev eth0", route.destination));
        }
        for route in answer.routes.iter().filter(|r| r.next_hop.is_some()) {
            let hop = route.next_hop.map(|h| h.to_string()).unwrap_or_default();
            self.run(&format!("ip route add {} via {hop}", route.destination));
        }
        if let Some(gateway) = answer.gateway_v4 {
            self.run(&format!("ip route add default via {gateway}"));
        }
        if let Some(gateway) = answer.gateway_v6 {
            self.run(&format!("ip -6 route add default via {gateway}"));
        }
    }

    /// Pings `address` from here until a reply comes or [`PING_DEADLINE`] passes (a fresh
    /// link may still be resolving its neighbour, slowly under the lab's emulated CPU).
    pub fn pings(&self, address: &str) -> bool {
        let mut args = vec!["netns", "exec", &self.name];
        args.extend(ping_args(address));
        until_deadline(|| output("ip", &args).status.success())
    }
}

impl NamedNetns {
    /// One ping from here, for checks that an address is NOT reachable.
    pub fn pings_once(&self, address: &str) -> bool {
        let mut args = vec!["netns", "exec", &self.name];
        args.extend(ping_args(address));
        output("ip", &args).status.success()
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

/// A routed network on `subnets` ("10.46.0.0/16 10.46.0.1": prefix and gateway), with no
/// endpoint.
pub fn routed_network(subnets: &[(&str, &str)]) -> Network {
    Network {
        id: "0123456789abcdef".into(),
        mode: "routed".into(),
        name: None,
        mtu: 1500,
        internal: false,
        ipv6: subnets.iter().any(|(p, _)| p.contains(':')),
        subnets: subnets
            .iter()
            .map(|(prefix, gateway)| Subnet {
                prefix: prefix.parse().expect("test prefix"),
                gateway: Some(ip(gateway)),
                pool_id: None,
            })
            .collect(),
        config: serde_json::Value::Null,
        endpoints: OrdMap::new(),
    }
}

/// A routed endpoint `wh00000000<tag>` / `wc00000000<tag>` with `addresses` (CIDR, as the
/// runtime gives them), as the routed mode names it.
pub fn routed_endpoint(tag: &str, addresses: &[&str]) -> Endpoint {
    let last = u8::from_str_radix(tag, 16).expect("tag is two hex digits");
    Endpoint {
        id: format!("00000000{tag}{}", "0".repeat(54)),
        host_ifname: format!("wh00000000{tag}"),
        container_ifname: format!("wc00000000{tag}"),
        mac: format!("02:57:00:00:00:{last:02x}"),
        primary: addresses
            .iter()
            .map(|a| a.parse::<IpNet>().expect("test address"))
            .collect(),
        extra: Vec::new(),
        sandbox: None,
    }
}

/// What the routed mode makes in the host for `endpoint`, and its Join answer.
pub fn routed_plan(network: &Network, endpoint: &Endpoint) -> (Vec<HostObject>, JoinAnswer) {
    let mode = Routed::new(1500);
    (
        mode.endpoint_objects(network, endpoint).expect("objects"),
        mode.join(network, endpoint).expect("join"),
    )
}

pub fn sysctl(path: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/{path}"))
        .unwrap_or_else(|e| panic!("read {path}: {e}"))
        .trim()
        .to_owned()
}
