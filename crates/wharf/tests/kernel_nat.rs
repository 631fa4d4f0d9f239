//! wharf's NAT table (`inet wharf_nat`) against the real kernel, with real connections:
//! masquerade, published ports from another host, from the host itself (its own address and
//! 127.0.0.1) and from a container of the network (hairpin), and a table someone changed put
//! right. Each test's "host" is a new network namespace (its thread's) with a Linux bridge
//! standing for the network's Open vSwitch bridge; "containers" and "outside" (another host on
//! another link) are named namespaces deleted on drop, panics too.
//! Needs root, `ip` and `nft`: `cargo test -- --include-ignored`.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wharf::dataplane::linux::{LinuxConfig, LinuxDataplane};
use wharf::dataplane::nat::{Masquerade, Nat, Protocol, PublishedPort};
use wharf::dataplane::Dataplane;
use wharf_netlink::netns::run_in_netns;

use support::*;

const NET: &str = "aaaaaaaaaaaa0000000000000000000000000000000000000000000000000000";
const E1: &str = "e1e1e1e1e1e10000000000000000000000000000000000000000000000000000";
const E2: &str = "e2e2e2e2e2e20000000000000000000000000000000000000000000000000000";
const BRIDGE: &str = "whnatbr";

/// Where the answers to connections are waited for.
const ATTEMPT: Duration = Duration::from_secs(2);
/// How long a connection that should work is retried (fresh links resolve neighbours first).
const DEADLINE: Duration = Duration::from_secs(15);

/// A server in a namespace that answers each TCP connection (or UDP datagram) with the
/// address it came from, until dropped.
struct Echo {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Echo {
    /// Listens on TCP and UDP `port` of every address (IPv4 and IPv6) in `netns`.
    fn start(netns: &NamedNetns, port: u16) -> Echo {
        let (tcp, udp) = run_in_netns(&netns.path(), || {
            (
                TcpListener::bind(("::", port)).expect("bind tcp"),
                UdpSocket::bind(("::", port)).expect("bind udp"),
            )
        })
        .expect("enter the namespace");
        tcp.set_nonblocking(true).unwrap();
        udp.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let tcp_stop = stop.clone();
        let tcp_thread = std::thread::spawn(move || {
            while !tcp_stop.load(Ordering::Relaxed) {
                match tcp.accept() {
                    Ok((mut stream, peer)) => {
                        let _ = stream.write_all(seen(peer).as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        let udp_stop = stop.clone();
        let udp_thread = std::thread::spawn(move || {
            let mut buffer = [0u8; 64];
            while !udp_stop.load(Ordering::Relaxed) {
                if let Ok((_, peer)) = udp.recv_from(&mut buffer) {
                    let _ = udp.send_to(seen(peer).as_bytes(), peer);
                }
            }
        });
        Echo {
            stop,
            threads: vec![tcp_thread, udp_thread],
        }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// The peer's address as a server sees it (IPv4 peers of an IPv6 socket as IPv4).
fn seen(peer: SocketAddr) -> String {
    peer.ip().to_canonical().to_string()
}

/// One TCP connection to `to` from `from` (None: the calling thread's namespace, the test's
/// host): what the server saw as the source, or None if no answer came.
fn tcp_once(from: Option<&NamedNetns>, to: &str) -> Option<String> {
    let to: SocketAddr = to.parse().expect("test address");
    let attempt = move || {
        let mut stream = TcpStream::connect_timeout(&to, ATTEMPT).ok()?;
        stream.set_read_timeout(Some(ATTEMPT)).ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        Some(answer).filter(|a| !a.is_empty())
    };
    match from {
        None => attempt(),
        Some(netns) => run_in_netns(&netns.path(), attempt).expect("enter the namespace"),
    }
}

fn udp_once(from: Option<&NamedNetns>, to: &str) -> Option<String> {
    let to: SocketAddr = to.parse().expect("test address");
    let attempt = move || {
        let any: SocketAddr = match to {
            SocketAddr::V4(_) => "0.0.0.0:0".parse().ok()?,
            SocketAddr::V6(_) => "[::]:0".parse().ok()?,
        };
        let socket = UdpSocket::bind(any).ok()?;
        socket.set_read_timeout(Some(ATTEMPT)).ok()?;
        socket.send_to(b"?", to).ok()?;
        let mut buffer = [0u8; 64];
        let (n, _) = socket.recv_from(&mut buffer).ok()?;
        Some(String::from_utf8_lossy(&buffer[..n]).into_owned())
    };
    match from {
        None => attempt(),
        Some(netns) => run_in_netns(&netns.path(), attempt).expect("enter the namespace"),
    }
}

/// Retries until an answer comes or [`DEADLINE`] passes.
fn until_answer(mut attempt: impl FnMut() -> Option<String>) -> Option<String> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(answer) = attempt() {
            return Some(answer);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn tcp(from: Option<&NamedNetns>, to: &str) -> Option<String> {
    until_answer(|| tcp_once(from, to))
}

fn udp(from: Option<&NamedNetns>, to: &str) -> Option<String> {
    until_answer(|| udp_once(from, to))
}

/// The test's world: in the host namespace a bridge (10.77.0.1/24, fd77::1/64) with two
/// containers behind it (.11, .12) and a link to "outside" (198.18.0.1/24 and fd78::1/64
/// here, .2 / ::2 there). Outside has no route to the containers' subnet: only masquerade
/// gets their connections answered.
struct World {
    c1: NamedNetns,
    c2: NamedNetns,
    outside: NamedNetns,
}

impl World {
    fn build(dataplane: &Dataplane) -> World {
        dataplane.firewall.ensure_forwarding(true).unwrap();
        // An Open vSwitch bridge does not pass its frames through the host's IP hooks; this
        // kernel's Linux bridge does (br_netfilter), DNATing a hairpin at the bridge and then
        // dropping it as a frame back out of the port it came in on. Off in this namespace
        // only, so the Linux bridge behaves as the bridge it stands for.
        for family in ["iptables", "ip6tables"] {
            let path = format!("/proc/sys/net/bridge/bridge-nf-call-{family}");
            if std::path::Path::new(&path).exists() {
                std::fs::write(&path, "0").expect("turn br_netfilter off");
            }
        }
        run("ip", &["link", "add", BRIDGE, "type", "bridge"]);
        run("ip", &["addr", "add", "10.77.0.1/24", "dev", BRIDGE]);
        run("ip", &["addr", "add", "fd77::1/64", "dev", BRIDGE, "nodad"]);
        run("ip", &["link", "set", BRIDGE, "up"]);
        let container = |tag: &str, v4: &str, v6: &str| {
            let netns = NamedNetns::new(tag);
            let host_end = format!("whn{tag}h");
            let inner = format!("whn{tag}c");
            run(
                "ip",
                &[
                    "link", "add", &host_end, "type", "veth", "peer", "name", &inner,
                ],
            );
            run("ip", &["link", "set", &host_end, "master", BRIDGE, "up"]);
            run("ip", &["link", "set", &inner, "netns", &netns.name]);
            netns.run("ip link set lo up");
            netns.run(&format!("ip addr add {v4}/24 dev {inner}"));
            netns.run(&format!("ip addr add {v6}/64 dev {inner} nodad"));
            netns.run(&format!("ip link set {inner} up"));
            netns.run("ip route add default via 10.77.0.1");
            netns.run("ip -6 route add default via fd77::1");
            netns
        };
        let c1 = container("c1", "10.77.0.11", "fd77::11");
        let c2 = container("c2", "10.77.0.12", "fd77::12");
        // c2 also routes 10.79.0.0/24 (its own address 10.79.0.1 stands for it): a
        // destination outside the subnet that the host reaches through the bridge.
        c2.run("ip addr add 10.79.0.1/32 dev lo");
        run("ip", &["route", "add", "10.79.0.0/24", "via", "10.77.0.12"]);
        // Without redirects c1 keeps sending through the host, whose rules are under test.
        for link in ["all", BRIDGE] {
            std::fs::write(
                format!("/proc/sys/net/ipv4/conf/{link}/send_redirects"),
                "0",
            )
            .expect("turn redirects off");
        }
        let outside = NamedNetns::new("out");
        run(
            "ip",
            &[
                "link", "add", "whnato", "type", "veth", "peer", "name", "whnati",
            ],
        );
        run("ip", &["link", "set", "whnati", "netns", &outside.name]);
        run("ip", &["addr", "add", "198.18.0.1/24", "dev", "whnato"]);
        run(
            "ip",
            &["addr", "add", "fd78::1/64", "dev", "whnato", "nodad"],
        );
        run("ip", &["link", "set", "whnato", "up"]);
        outside.run("ip link set lo up");
        outside.run("ip addr add 198.18.0.2/24 dev whnati");
        outside.run("ip addr add fd78::2/64 dev whnati nodad");
        outside.run("ip link set whnati up");
        World { c1, c2, outside }
    }
}

fn network() -> Masquerade {
    Masquerade {
        prefixes: vec![
            "10.77.0.1/24".parse().unwrap(),
            "fd77::1/64".parse().unwrap(),
        ],
        bridge: BRIDGE.into(),
    }
}

fn port(
    protocol: Protocol,
    host_ip: Option<&str>,
    host_port: u16,
    container: &str,
) -> PublishedPort {
    PublishedPort {
        protocol,
        host_ip: host_ip.map(ip),
        host_port,
        container_ip: ip(container),
        container_port: 80,
    }
}

fn tables() -> String {
    String::from_utf8_lossy(&output("nft", &["list", "tables"]).stdout).into_owned()
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn masquerade_and_published_ports_with_real_connections() {
    in_test_host(|dataplane| {
        let world = World::build(dataplane);
        let _servers = [
            Echo::start(&world.c1, 80),
            Echo::start(&world.c2, 80),
            Echo::start(&world.outside, 80),
            Echo::start(&world.outside, 8080),
        ];
        let (c1, c2, outside) = (&world.c1, &world.c2, &world.outside);
        assert_eq!(
            tcp_once(Some(c1), "198.18.0.2:80"),
            None,
            "without masquerade outside cannot answer the containers"
        );
        assert_eq!(tcp_once(Some(outside), "198.18.0.1:8080"), None);

        let mut nat = Nat {
            masquerade: BTreeMap::from([(NET.to_string(), network())]),
            published: BTreeMap::from([
                (
                    E1.to_string(),
                    vec![
                        port(Protocol::Tcp, None, 8080, "10.77.0.11"),
                        port(Protocol::Udp, None, 8080, "10.77.0.11"),
                        port(Protocol::Tcp, None, 8080, "fd77::11"),
                    ],
                ),
                (
                    E2.to_string(),
                    vec![port(Protocol::Tcp, Some("198.18.0.1"), 9090, "10.77.0.12")],
                ),
            ]),
        };
        dataplane.firewall.sync_nat(&nat).unwrap();
        assert_eq!(
            sysctl(&format!("net/ipv4/conf/{BRIDGE}/route_localnet")),
            "1"
        );

        // 1. Masquerade, both families; within the network, sources stay.
        assert_eq!(
            tcp(Some(c1), "198.18.0.2:80").as_deref(),
            Some("198.18.0.1"),
            "outside sees the host's address"
        );
        assert_eq!(
            tcp(Some(c1), "[fd78::2]:80").as_deref(),
            Some("fd78::1"),
            "IPv6 too"
        );
        assert_eq!(
            tcp(Some(c1), "10.77.0.12:80").as_deref(),
            Some("10.77.0.11"),
            "container to container is not masqueraded"
        );
        assert_eq!(
            tcp(Some(c1), "10.79.0.1:80").as_deref(),
            Some("10.77.0.11"),
            "traffic leaving through the network's own bridge is not masqueraded"
        );
        // Traffic passing through to another host's port 8080 is not DNATed.
        assert_eq!(
            tcp(Some(c1), "198.18.0.2:8080").as_deref(),
            Some("198.18.0.1"),
            "a port passing through reaches its own destination"
        );

        // 2a. From another host, TCP and UDP, IPv4 and IPv6: the client's address stays.
        assert_eq!(
            tcp(Some(outside), "198.18.0.1:8080").as_deref(),
            Some("198.18.0.2")
        );
        assert_eq!(
            udp(Some(outside), "198.18.0.1:8080").as_deref(),
            Some("198.18.0.2")
        );
        assert_eq!(
            tcp(Some(outside), "[fd78::1]:8080").as_deref(),
            Some("fd78::2")
        );
        // A port bound to one address: that address only.
        assert_eq!(
            tcp(Some(outside), "198.18.0.1:9090").as_deref(),
            Some("198.18.0.2")
        );
        assert_eq!(tcp_once(Some(c1), "10.77.0.1:9090"), None);
        // 2b. The host to its own non-loopback addresses.
        assert!(
            tcp(None, "198.18.0.1:8080").is_some(),
            "host -> own address"
        );
        assert!(
            tcp(None, "198.18.0.1:9090").is_some(),
            "host -> bound address"
        );
        assert!(
            tcp(None, "[fd78::1]:8080").is_some(),
            "host -> own IPv6 address"
        );
        // 2c. The host to 127.0.0.1: the container sees the bridge's address.
        assert_eq!(
            tcp(None, "127.0.0.1:8080").as_deref(),
            Some("10.77.0.1"),
            "host -> 127.0.0.1"
        );
        // 2d. Hairpin: a container to the host's address reaches another and itself.
        assert_eq!(
            tcp(Some(c2), "198.18.0.1:8080").as_deref(),
            Some("10.77.0.1"),
            "hairpin to another container"
        );
        assert_eq!(
            tcp(Some(c1), "198.18.0.1:8080").as_deref(),
            Some("10.77.0.1"),
            "hairpin to itself"
        );
        assert_eq!(
            tcp(Some(c2), "[fd78::1]:8080").as_deref(),
            Some("fd77::1"),
            "IPv6 hairpin"
        );

        // 3. E1's ports go: only its elements change, and its ports stop; E2's stays.
        nat.published.remove(E1);
        dataplane.firewall.sync_nat(&nat).unwrap();
        assert_eq!(tcp_once(Some(outside), "198.18.0.1:8080"), None);
        assert_eq!(udp_once(Some(outside), "198.18.0.1:8080"), None);
        assert_eq!(tcp_once(None, "127.0.0.1:8080"), None);
        assert_eq!(
            tcp(Some(outside), "198.18.0.1:9090").as_deref(),
            Some("198.18.0.2")
        );

        // 4. Nothing left: no table, no masquerade.
        dataplane.firewall.sync_nat(&Nat::default()).unwrap();
        assert!(!tables().contains("wharf_nat"), "{}", tables());
        assert_eq!(tcp_once(Some(c1), "198.18.0.2:80"), None);
        assert_eq!(tcp_once(Some(outside), "198.18.0.1:9090"), None);
        run("ip", &["link", "del", "whnato"]);
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn a_new_daemon_replaces_a_nat_table_someone_changed() {
    in_test_host(|dataplane| {
        let nat = Nat {
            masquerade: BTreeMap::from([(NET.to_string(), network())]),
            published: BTreeMap::from([(
                E1.to_string(),
                vec![port(Protocol::Sctp, None, 7, "10.77.0.11")],
            )]),
        };
        // The bridge does not exist: its route_localnet is left for a later sync.
        dataplane.firewall.sync_nat(&nat).unwrap();
        let listing =
            String::from_utf8_lossy(&output("nft", &["list", "table", "inet", "wharf_nat"]).stdout)
                .into_owned();
        assert!(
            listing.contains("changed only by wharf") && listing.contains("sctp . 7"),
            "{listing}"
        );
        run("nft", &["add", "chain", "inet", "wharf_nat", "stray"]);
        run(
            "nft",
            &[
                "add",
                "element",
                "inet",
                "wharf_nat",
                "net4",
                "{ 10.66.0.0/16 }",
            ],
        );
        let restarted = LinuxDataplane::new(LinuxConfig::default()).unwrap();
        let restarted = Dataplane::from_one(Arc::new(restarted));
        restarted.firewall.sync_nat(&nat).unwrap();
        let listing =
            String::from_utf8_lossy(&output("nft", &["list", "table", "inet", "wharf_nat"]).stdout)
                .into_owned();
        assert!(
            !listing.contains("stray") && !listing.contains("10.66"),
            "{listing}"
        );
        assert!(listing.contains("10.77.0.0/24 . \"whnatbr\""), "{listing}");
        // The same again: nothing to send; then nothing at all: no table.
        restarted.firewall.sync_nat(&nat).unwrap();
        restarted.firewall.sync_nat(&Nat::default()).unwrap();
        assert!(!tables().contains("wharf_nat"), "{}", tables());
    });
}
