//! Open vSwitch bridges and ports against a real ovsdb-server and ovs-vswitchd using the
//! userspace (`netdev`) datapath, so no openvswitch kernel module is needed. Each test has
//! its own database, sockets and logs in a private directory, and its own network
//! namespace in which ovs-vswitchd runs (its taps appear there) and the dataplane is made.
//! Needs root: `cargo test -- --include-ignored`.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wharf::dataplane::linux::{LinuxConfig, LinuxDataplane};
use wharf::dataplane::{
    BridgeSpec, Datapath, OwnedBridge, OwnedPort, PortKind, PortSpec, PortVlan, Switches,
};
use wharf_netlink::netns::run_in_new_netns;
use wharf_netlink::Netlink;

use support::*;

const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";
const BRIDGE: &str = "brwt";

fn missing(what: &str) -> ! {
    panic!("{what} not found: run scripts/install-deps (it installs Debian's openvswitch-switch)")
}

/// A private ovsdb-server and ovs-vswitchd; both killed and their directory removed on
/// drop, also when a test fails half-way. Started from the test's namespace thread, so
/// ovs-vswitchd (a child process) lives in that namespace.
struct Ovs {
    dir: PathBuf,
    server: Option<Child>,
    switchd: Option<Child>,
}

impl Ovs {
    fn start() -> Ovs {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        for program in ["/usr/sbin/ovs-vswitchd", "/usr/sbin/ovsdb-server", SCHEMA] {
            if !std::path::Path::new(program).exists() {
                missing(program);
            }
        }
        let dir = std::env::temp_dir().join(format!(
            "wharf-ovs-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the test's directory");
        let mut ovs = Ovs {
            dir,
            server: None,
            switchd: None,
        };
        let db = ovs.file("db");
        run("ovsdb-tool", &["create", &db, SCHEMA]);
        ovs.start_server();
        ovs.vsctl(&["init"]);
        ovs.start_switchd();
        ovs
    }

    fn file(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn endpoint(&self) -> String {
        format!("unix:{}", self.file("db.sock"))
    }

    /// Keeps every file Open vSwitch would put under /var/run, /var/log or /etc in the
    /// test's directory (the lab VM's root is read-only).
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        for variable in ["OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR", "OVS_SYSCONFDIR"] {
            command.env(variable, &self.dir);
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    fn start_server(&mut self) {
        let child = self
            .command("ovsdb-server")
            .arg(self.file("db"))
            .arg(format!("--remote=punix:{}", self.file("db.sock")))
            .arg(format!("--pidfile={}", self.file("ovsdb-server.pid")))
            .arg(format!("--unixctl={}", self.file("ovsdb-server.ctl")))
            .arg(format!("--log-file={}", self.file("ovsdb-server.log")))
            .arg("--no-chdir")
            .spawn()
            .unwrap_or_else(|e| panic!("start ovsdb-server: {e}"));
        self.server = Some(child);
        self.wait_for("ovsdb-server to listen", |ovs| {
            ovs.command("ovs-vsctl")
                .args([&format!("--db={}", ovs.endpoint()), "--no-wait", "show"])
                .status()
                .is_ok_and(|s| s.success())
        });
    }

    fn start_switchd(&mut self) {
        let child = self
            .command("ovs-vswitchd")
            .arg(self.endpoint())
            .arg(format!("--pidfile={}", self.file("ovs-vswitchd.pid")))
            .arg(format!("--unixctl={}", self.file("ovs-vswitchd.ctl")))
            .arg(format!("--log-file={}", self.file("ovs-vswitchd.log")))
            .arg("--no-chdir")
            .spawn()
            .unwrap_or_else(|e| panic!("start ovs-vswitchd: {e}"));
        self.switchd = Some(child);
        // ovs-vswitchd writes the datapath types it supports once it has read the database.
        self.wait_for("ovs-vswitchd to start", |ovs| {
            ovs.vsctl(&["get", "Open_vSwitch", ".", "datapath_types"]) != "[]"
        });
    }

    fn wait_for(&mut self, what: &str, mut ready: impl FnMut(&Ovs) -> bool) {
        let started = Instant::now();
        while !ready(self) {
            let exited = [&mut self.server, &mut self.switchd]
                .into_iter()
                .flatten()
                .find_map(|child| child.try_wait().ok().flatten());
            if let Some(status) = exited {
                panic!(
                    "waiting for {what}: a daemon exited ({status}): {}",
                    self.logs()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "waiting for {what}: 20 s passed: {}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn logs(&self) -> String {
        ["ovsdb-server.log", "ovs-vswitchd.log"]
            .map(|log| std::fs::read_to_string(self.dir.join(log)).unwrap_or_default())
            .join("\n")
    }

    fn kill_switchd(&mut self) {
        if let Some(mut child) = self.switchd.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn kill_server(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs `ovs-vsctl --no-wait` on the test's database; panics if it fails.
    fn vsctl(&self, args: &[&str]) -> String {
        let out = self
            .command("ovs-vsctl")
            .arg(format!("--db={}", self.endpoint()))
            .arg("--no-wait")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap_or_else(|e| panic!("run ovs-vsctl: {e}"));
        assert!(
            out.status.success(),
            "ovs-vsctl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The names of every row of `table`, sorted.
    fn names(&self, table: &str) -> Vec<String> {
        let text = self.vsctl(&["--bare", "--columns=name", "list", table]);
        let mut names: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
        names.sort();
        names
    }

    fn dataplane(&self) -> LinuxDataplane {
        LinuxDataplane::new(LinuxConfig {
            ovsdb: self.endpoint(),
            ..LinuxConfig::default()
        })
        .expect("open dataplane")
    }
}

impl Drop for Ovs {
    fn drop(&mut self) {
        self.kill_switchd();
        self.kill_server();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `test` in a new network namespace with its own Open vSwitch and a dataplane there.
fn with_ovs(test: impl FnOnce(&mut Ovs, &LinuxDataplane) + Send) {
    run_in_new_netns(|| {
        bring_lo_up();
        let mut ovs = Ovs::start();
        let dataplane = ovs.dataplane();
        test(&mut ovs, &dataplane);
    })
    .expect("run in a new network namespace")
}

fn netdev_bridge(name: &str) -> BridgeSpec {
    BridgeSpec {
        name: name.into(),
        datapath: Datapath::Netdev,
        mtu: None,
    }
}

fn port(name: &str, tag: Option<u16>) -> PortSpec {
    PortSpec {
        bridge: BRIDGE.into(),
        name: name.into(),
        vlan: tag.map_or(PortVlan::Untagged, PortVlan::Access),
        kind: PortKind::System,
    }
}

fn link(name: &str) -> Option<wharf_netlink::Link> {
    let mut netlink = Netlink::open().expect("open netlink");
    netlink.link_by_name(name).expect("look a link up")
}

/// A veth pair whose host end `name` is up here and whose other end is `eth0` with
/// `address` in a namespace of its own.
fn endpoint_behind(name: &str, address: &str) -> NamedNetns {
    let peer = format!("{name}p");
    run(
        "ip",
        &["link", "add", name, "type", "veth", "peer", "name", &peer],
    );
    run("ip", &["link", "set", name, "up"]);
    let namespace = NamedNetns::new(name);
    run("ip", &["link", "set", &peer, "netns", &namespace.name]);
    namespace.run(&format!("ip link set {peer} name eth0"));
    namespace.run(&format!("ip addr add {address} dev eth0"));
    namespace.run("ip link set eth0 up");
    namespace
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn bridge_is_made_marked_and_up_and_ensuring_it_again_is_fine() {
    with_ovs(|ovs, dataplane| {
        assert!(dataplane
            .datapath_types()
            .unwrap()
            .contains(&"netdev".to_owned()));
        let spec = BridgeSpec {
            mtu: Some(1400),
            ..netdev_bridge(BRIDGE)
        };
        let started = Instant::now();
        dataplane.ensure_bridge(&spec).unwrap();
        eprintln!("bridge and its link up in {:?}", started.elapsed());

        let bridge_link = link(BRIDGE).expect("ovs-vswitchd made the bridge's link");
        assert!(bridge_link.up, "the bridge's link is up");
        assert_eq!(bridge_link.mtu, 1400);
        assert_eq!(bridge_link.kind.as_deref(), Some("tun"), "netdev: a tap");
        for table in ["Bridge", "Port", "Interface"] {
            let mark = ovs.vsctl(&["get", table, BRIDGE, "external_ids:wharf"]);
            assert_eq!(mark.trim_matches('"'), "owned", "{table} row marked");
        }
        let datapath = ovs.vsctl(&["get", "Bridge", BRIDGE, "datapath_type"]);
        assert_eq!(datapath.trim_matches('"'), "netdev");

        dataplane.ensure_bridge(&spec).unwrap();
        assert_eq!(ovs.names("Bridge"), [BRIDGE]);
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn ports_forward_between_namespaces_and_vlan_tags_keep_them_apart() {
    with_ovs(|_, dataplane| {
        dataplane.ensure_bridge(&netdev_bridge(BRIDGE)).unwrap();
        let a = endpoint_behind("ova", "10.46.1.1/24");
        let b = endpoint_behind("ovb", "10.46.1.2/24");
        let attach = |tag_a, tag_b| {
            for (name, tag) in [("ova", tag_a), ("ovb", tag_b)] {
                dataplane.delete_port(BRIDGE, name).unwrap();
                dataplane.add_port(&port(name, tag)).unwrap();
                dataplane.add_port(&port(name, tag)).unwrap();
            }
        };

        attach(None, None);
        assert!(a.pings("10.46.1.2"), "untagged ports forward");
        attach(Some(10), Some(20));
        assert!(
            !a.pings_once("10.46.1.2") && !b.pings_once("10.46.1.1"),
            "VLAN 10 and VLAN 20 are kept apart"
        );
        attach(Some(10), Some(10));
        assert!(a.pings("10.46.1.2"), "two ports in VLAN 10 forward");

        let changed = dataplane.add_port(&port("ova", Some(11))).unwrap_err();
        assert!(changed.to_string().contains("other settings"), "{changed}");
        for bad in [0, 4095] {
            let error = dataplane.add_port(&port("ovc", Some(bad))).unwrap_err();
            assert!(error.to_string().contains("must be 1 to 4094"), "{error}");
        }
        let no_link = dataplane.add_port(&port("ovnone", None)).unwrap_err();
        assert!(no_link.to_string().contains("no link"), "{no_link}");
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn vxlan_port_and_owned_objects_are_exactly_wharfs() {
    with_ovs(|ovs, dataplane| {
        dataplane.ensure_bridge(&netdev_bridge(BRIDGE)).unwrap();
        let vxlan = PortSpec {
            kind: PortKind::Vxlan {
                remote: ip("10.46.9.2"),
                key: 4242,
            },
            ..port("vxwt", None)
        };
        dataplane.add_port(&vxlan).unwrap();
        dataplane.add_port(&vxlan).unwrap();
        assert_eq!(ovs.vsctl(&["get", "Interface", "vxwt", "type"]), "vxlan");
        assert_eq!(
            ovs.vsctl(&["get", "Interface", "vxwt", "options"]),
            r#"{key="4242", remote_ip="10.46.9.2"}"#
        );
        run(
            "ip",
            &["link", "add", "ova", "type", "veth", "peer", "name", "ovap"],
        );
        dataplane.add_port(&port("ova", Some(10))).unwrap();
        // As OVS has them: an access port, and a tunnel of untagged frames only (VLAN 0).
        assert_eq!(ovs.vsctl(&["get", "Port", "ova", "tag"]).trim(), "10");
        assert_eq!(ovs.vsctl(&["get", "Port", "vxwt", "trunks"]).trim(), "[0]");

        // Someone else's bridge and port, and someone else's port on wharf's bridge.
        run(
            "ip",
            &["link", "add", "ovf", "type", "veth", "peer", "name", "ovfp"],
        );
        ovs.vsctl(&[
            "add-br",
            "brforeign",
            "--",
            "set",
            "Bridge",
            "brforeign",
            "datapath_type=netdev",
        ]);
        ovs.vsctl(&["add-port", "brforeign", "ovf"]);
        ovs.vsctl(&["add-port", BRIDGE, "ovfp"]);

        let owned = dataplane.owned_switch_objects().unwrap();
        assert_eq!(
            owned,
            [OwnedBridge {
                name: BRIDGE.into(),
                datapath: Datapath::Netdev,
                ports: vec![
                    OwnedPort {
                        name: "ova".into(),
                        vlan: PortVlan::Access(10),
                        kind: PortKind::System,
                    },
                    OwnedPort {
                        name: "vxwt".into(),
                        vlan: PortVlan::Untagged,
                        kind: vxlan.kind.clone(),
                    },
                ],
            }]
        );
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn deleting_ports_and_bridges_leaves_no_row_and_no_link() {
    with_ovs(|ovs, dataplane| {
        dataplane.ensure_bridge(&netdev_bridge(BRIDGE)).unwrap();
        run(
            "ip",
            &["link", "add", "ova", "type", "veth", "peer", "name", "ovap"],
        );
        dataplane.add_port(&port("ova", Some(10))).unwrap();
        assert_eq!(ovs.names("Port"), ["brwt", "ova"]);

        dataplane.delete_port(BRIDGE, "ova").unwrap();
        dataplane.delete_port(BRIDGE, "ova").unwrap();
        assert_eq!(ovs.names("Port"), [BRIDGE]);
        assert_eq!(ovs.names("Interface"), [BRIDGE]);
        assert!(link("ova").is_some(), "the veth is not OVS's to delete");

        assert!(link(BRIDGE).is_some());
        dataplane.delete_bridge(BRIDGE).unwrap();
        dataplane.delete_bridge(BRIDGE).unwrap();
        dataplane.delete_port(BRIDGE, "ova").unwrap();
        for table in ["Bridge", "Port", "Interface"] {
            assert!(ovs.names(table).is_empty(), "no {table} row left");
        }
        assert_eq!(ovs.vsctl(&["get", "Open_vSwitch", ".", "bridges"]), "[]");
        let started = Instant::now();
        while link(BRIDGE).is_some() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "ovs-vswitchd left the bridge's link"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "bridge's link gone {:?} after the delete",
            started.elapsed()
        );
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn a_bridge_or_port_wharf_did_not_make_is_refused_and_kept() {
    with_ovs(|ovs, dataplane| {
        ovs.vsctl(&[
            "add-br",
            BRIDGE,
            "--",
            "set",
            "Bridge",
            BRIDGE,
            "datapath_type=netdev",
        ]);
        let error = dataplane.ensure_bridge(&netdev_bridge(BRIDGE)).unwrap_err();
        assert!(
            error.to_string().contains("brwt exists and is not wharf's"),
            "{error}"
        );
        let error = dataplane.delete_bridge(BRIDGE).unwrap_err();
        assert!(
            error.to_string().contains("brwt exists and is not wharf's"),
            "{error}"
        );
        let error = dataplane.add_port(&PortSpec {
            kind: PortKind::Vxlan {
                remote: ip("10.46.9.2"),
                key: 1,
            },
            ..port("vxwt", None)
        });
        assert!(
            error.is_err(),
            "no port of wharf's on someone else's bridge"
        );

        dataplane.ensure_bridge(&netdev_bridge("brmine")).unwrap();
        run(
            "ip",
            &["link", "add", "ovf", "type", "veth", "peer", "name", "ovfp"],
        );
        ovs.vsctl(&["add-port", BRIDGE, "ovf"]);
        let error = dataplane.delete_port(BRIDGE, "ovf").unwrap_err();
        assert!(
            error.to_string().contains("ovf exists and is not wharf's"),
            "{error}"
        );
        let error = dataplane
            .add_port(&PortSpec {
                bridge: "brmine".into(),
                ..port("ovf", None)
            })
            .unwrap_err();
        assert!(
            error.to_string().contains("ovf exists and is not wharf's"),
            "{error}"
        );

        assert_eq!(ovs.names("Bridge"), ["brmine", BRIDGE]);
        assert_eq!(ovs.names("Port"), ["brmine", BRIDGE, "ovf"]);
        assert!(ovs.vsctl(&["get", "Bridge", BRIDGE, "external_ids"]) == "{}");
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn calls_go_on_after_ovsdb_server_restarts_and_say_what_to_check_while_it_is_down() {
    with_ovs(|ovs, dataplane| {
        dataplane.ensure_bridge(&netdev_bridge(BRIDGE)).unwrap();

        ovs.kill_server();
        ovs.start_server();
        dataplane.ensure_bridge(&netdev_bridge("brwt2")).unwrap();
        assert_eq!(ovs.names("Bridge"), [BRIDGE, "brwt2"]);

        ovs.kill_server();
        let error = dataplane.datapath_types().unwrap_err().to_string();
        assert!(
            error.contains(&ovs.endpoint()) && error.contains("ovsdb-server is running"),
            "{error}"
        );
        ovs.start_server();
        assert!(dataplane
            .datapath_types()
            .unwrap()
            .contains(&"netdev".to_owned()));
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn a_bridge_whose_link_never_comes_is_a_timeout_that_names_ovs_vswitchd() {
    with_ovs(|ovs, dataplane| {
        ovs.kill_switchd();
        let started = Instant::now();
        let error = dataplane.ensure_bridge(&netdev_bridge(BRIDGE)).unwrap_err();
        let waited = started.elapsed();
        assert!(
            error.to_string().contains("is ovs-vswitchd running"),
            "{error}"
        );
        assert!(
            (Duration::from_secs(10)..Duration::from_secs(15)).contains(&waited),
            "{waited:?}"
        );
        // The row is wharf's and stays: once ovs-vswitchd runs, ensuring it again finishes.
        assert_eq!(ovs.names("Bridge"), [BRIDGE]);
        ovs.start_switchd();
        dataplane.ensure_bridge(&netdev_bridge(BRIDGE)).unwrap();
        assert!(link(BRIDGE).is_some_and(|l| l.up));
    });
}
