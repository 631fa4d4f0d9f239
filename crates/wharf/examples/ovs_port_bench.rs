//! Measures adding and removing Open vSwitch ports at scale: wharf's `add_port` and
//! `delete_port` (OVSDB over one kept connection) against `ovs-vsctl --no-wait add-port` and
//! `del-port`, one process per port as a script would run them, on the same private
//! ovsdb-server in a throwaway network namespace. For each, the cost per port of the first
//! WINDOW ports and of WINDOW ports when about N are already on the bridge.
//!
//! No ovs-vswitchd runs while ports are measured: this measures the database work wharf and
//! ovs-vsctl do, not the switch's. ovs-vswitchd runs only while the two bridges are made,
//! because wharf's `ensure_bridge` waits for it to make the bridge's link (a tap, with the
//! userspace datapath); it is then stopped.
//!
//! Needs root and Open vSwitch's userspace tools:
//! `cargo run --release -p wharf --example ovs_port_bench [N [WINDOW]]` (default 10000, 100),
//! or `bench/ovs-ports [N [WINDOW]]`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wharf::dataplane::linux::{LinuxConfig, LinuxDataplane};
use wharf::dataplane::{BridgeSpec, Datapath, PortKind, PortSpec, PortVlan, Switches};
use wharf_netlink::netns::run_in_new_netns;
use wharf_ovsdb::{Client, Condition, Datum, Endpoint, Mutation, Mutator, Operation};

const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";
/// wharf's bridge; its ports are the veths' `wa<i>` ends.
const WHARF_BRIDGE: &str = "wbr";
/// ovs-vsctl's bridge; its ports are the veths' other ends, `wb<i>`.
const VSCTL_BRIDGE: &str = "vbr";
const TAG: u16 = 10;
/// ovs-vsctl commands per process when filling or emptying a bridge between the windows.
const BULK: usize = 500;

fn main() {
    let mut args = std::env::args().skip(1);
    let ports: usize = args
        .next()
        .map(|n| n.parse().expect("N is a number"))
        .unwrap_or(10_000);
    let window: usize = args
        .next()
        .map(|n| n.parse().expect("WINDOW is a number"))
        .unwrap_or(100);
    assert!(ports >= 2 * window, "N must be at least twice WINDOW");
    run_in_new_netns(|| bench(ports, window)).expect("run in a new network namespace");
}

fn bench(ports: usize, window: usize) {
    println!(
        "Open vSwitch ports, N={ports}, windows of {window}, in a throwaway network namespace"
    );
    println!(
        "No ovs-vswitchd while ports are added and removed: this measures the database work \
         wharf and ovs-vsctl do (ovsdb-server's included), not the switch's."
    );
    let mut ovs = Ovs::start();
    let started = Instant::now();
    make_veths(ports);
    println!(
        "{ports} veth pairs made with `ip -batch` in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // ensure_bridge waits for ovs-vswitchd to make the bridge's tap: it runs only for this.
    ovs.start_switchd();
    let wharf = LinuxDataplane::new(LinuxConfig {
        ovsdb: ovs.endpoint(),
        ..LinuxConfig::default()
    })
    .expect("open the dataplane");
    wharf
        .ensure_bridge(&BridgeSpec {
            name: WHARF_BRIDGE.into(),
            datapath: Datapath::Netdev,
            mtu: None,
        })
        .expect("wharf's ensure_bridge");
    ovs.vsctl(&[
        "add-br",
        VSCTL_BRIDGE,
        "--",
        "set",
        "Bridge",
        VSCTL_BRIDGE,
        "datapath_type=netdev",
    ]);
    ovs.stop_switchd();
    println!(
        "bridges {WHARF_BRIDGE} (wharf) and {VSCTL_BRIDGE} (ovs-vsctl) made; ovs-vswitchd stopped"
    );

    let probe = Probe::connect(&ovs.endpoint());
    let mut growth = Vec::new();

    // wharf: every port added and removed through the dataplane, each timed.
    let spec = |i: usize| PortSpec {
        bridge: WHARF_BRIDGE.into(),
        name: format!("wa{i}"),
        vlan: PortVlan::Access(TAG),
        kind: PortKind::System,
    };
    let probe_start = probe.measure(window, "start (empty bridge)");
    let add_one = |i: usize| wharf.add_port(&spec(i)).expect("wharf add_port");
    let del_one = |i: usize| {
        wharf
            .delete_port(WHARF_BRIDGE, &format!("wa{i}"))
            .expect("wharf delete_port")
    };
    let db_before = ovs.db_size();
    let first_add = timed(&ovs, 0..window, add_one);
    growth.push(db_growth("wharf add_port, start", &ovs, db_before, window));
    let middle_add = timed(&ovs, window..ports - window, add_one);
    let db_before = ovs.db_size();
    let last_add = timed(&ovs, ports - window..ports, add_one);
    growth.push(db_growth("wharf add_port, at N", &ovs, db_before, window));
    let probe_end = probe.measure(window, "at N");
    let last_delete = timed(&ovs, (ports - window..ports).rev(), del_one);
    let middle_delete = timed(&ovs, (window..ports - window).rev(), del_one);
    let first_delete = timed(&ovs, (0..window).rev(), del_one);
    let all = |parts: [&Measured; 3]| -> Vec<Duration> {
        parts
            .iter()
            .flat_map(|m| m.samples.iter().copied())
            .collect()
    };
    print_curve(
        "wharf add_port",
        &all([&first_add, &middle_add, &last_add]),
        ports,
    );
    print_curve(
        "wharf delete_port (from N down)",
        &all([&last_delete, &middle_delete, &first_delete]),
        ports,
    );
    let wharf_add = Window {
        start: first_add,
        end: last_add,
    };
    let wharf_delete = Window {
        start: first_delete,
        end: last_delete,
    };

    // ovs-vsctl: the windows one process per port; the ports between them in bulk.
    let name = |i: usize| format!("wb{i}");
    let add_one = |i: usize| {
        let name = name(i);
        let tag = format!("tag={TAG}");
        ovs.vsctl(&["add-port", VSCTL_BRIDGE, &name, &tag]);
    };
    let del_one = |i: usize| {
        ovs.vsctl(&["del-port", VSCTL_BRIDGE, &name(i)]);
    };
    let first_add = timed(&ovs, 0..window, add_one);
    ovs.vsctl_bulk(window..ports - window, |i| {
        vec![
            "add-port".into(),
            VSCTL_BRIDGE.into(),
            name(i),
            format!("tag={TAG}"),
        ]
    });
    let last_add = timed(&ovs, ports - window..ports, add_one);
    let last_delete = timed(&ovs, (ports - window..ports).rev(), del_one);
    ovs.vsctl_bulk(window..ports - window, |i| {
        vec!["del-port".into(), VSCTL_BRIDGE.into(), name(i)]
    });
    let first_delete = timed(&ovs, (0..window).rev(), del_one);
    let vsctl_add = Window {
        start: first_add,
        end: last_add,
    };
    let vsctl_delete = Window {
        start: first_delete,
        end: last_delete,
    };

    println!();
    println!("ms/port, mean (median); start = the first {window} ports on an empty bridge, at N = {window} ports added or removed with {}..{ports} on the bridge", ports - window);
    println!(
        "| operation | start | at N | at N / start | wharf / ovs-vsctl at start | wharf / ovs-vsctl at N |"
    );
    println!("|---|---|---|---|---|---|");
    for (what, wharf, vsctl) in [
        ("add", &wharf_add, &vsctl_add),
        ("delete", &wharf_delete, &vsctl_delete),
    ] {
        println!(
            "| wharf {what} | {} | {} | {:.2} | {:.3} | {:.3} |",
            cell(&wharf.start.samples),
            cell(&wharf.end.samples),
            mean(&wharf.end.samples) / mean(&wharf.start.samples),
            mean(&wharf.start.samples) / mean(&vsctl.start.samples),
            mean(&wharf.end.samples) / mean(&vsctl.end.samples),
        );
        println!(
            "| ovs-vsctl {what} | {} | {} | {:.2} | | |",
            cell(&vsctl.start.samples),
            cell(&vsctl.end.samples),
            mean(&vsctl.end.samples) / mean(&vsctl.start.samples),
        );
    }
    println!();
    println!("CPU ms/port: ovsdb-server's, and the benchmark thread's (wharf's own code and its system calls; ovs-vsctl's processes not counted), start -> at N:");
    for (what, window) in [
        ("wharf add", &wharf_add),
        ("wharf delete", &wharf_delete),
        ("ovs-vsctl add", &vsctl_add),
        ("ovs-vsctl delete", &vsctl_delete),
    ] {
        println!(
            "  {what:16}: ovsdb-server {:.3} -> {:.3}, benchmark thread {:.3} -> {:.3}",
            window.start.server_ms(),
            window.end.server_ms(),
            window.start.own_ms(),
            window.end.own_ms(),
        );
    }
    println!();
    println!(
        "OVSDB calls as wharf's add_port makes them, {window} each, at start and at N (ms, mean):"
    );
    probe_start.print();
    probe_end.print();
    for line in growth {
        println!("{line}");
    }
    println!(
        "database file: {} bytes at the end",
        ovs.db_size().unwrap_or_default()
    );
}

/// A private ovsdb-server (and, while bridges are made, ovs-vswitchd) with its database,
/// sockets and logs in a directory of its own; all killed and removed on drop, also when
/// the benchmark panics half-way.
struct Ovs {
    dir: PathBuf,
    server: Option<Child>,
    switchd: Option<Child>,
}

impl Ovs {
    fn start() -> Ovs {
        for program in ["/usr/sbin/ovsdb-server", "/usr/sbin/ovs-vswitchd", SCHEMA] {
            assert!(
                Path::new(program).exists(),
                "{program} not found: run scripts/install-deps (openvswitch-switch)"
            );
        }
        let dir = std::env::temp_dir().join(format!("wharf-ovs-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the benchmark's directory");
        let mut ovs = Ovs {
            dir,
            server: None,
            switchd: None,
        };
        let status = Command::new("ovsdb-tool")
            .args(["create", &ovs.file("db"), SCHEMA])
            .status()
            .expect("run ovsdb-tool");
        assert!(status.success(), "ovsdb-tool create failed");
        let child = ovs
            .command("ovsdb-server")
            .arg(ovs.file("db"))
            .arg(format!("--remote=punix:{}", ovs.file("db.sock")))
            .arg(format!("--pidfile={}", ovs.file("ovsdb-server.pid")))
            .arg(format!("--unixctl={}", ovs.file("ovsdb-server.ctl")))
            .arg(format!("--log-file={}", ovs.file("ovsdb-server.log")))
            .arg("--no-chdir")
            .spawn()
            .expect("start ovsdb-server");
        ovs.server = Some(child);
        ovs.wait_for("ovsdb-server to listen", |ovs| {
            ovs.try_vsctl(&["show"]).is_ok()
        });
        ovs.vsctl(&["init"]);
        ovs
    }

    fn file(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn endpoint(&self) -> String {
        format!("unix:{}", self.file("db.sock"))
    }

    fn server_schedstat(&self) -> String {
        let pid = self.server.as_ref().map_or(0, Child::id);
        format!("/proc/{pid}/schedstat")
    }

    fn db_size(&self) -> Option<u64> {
        std::fs::metadata(self.dir.join("db")).ok().map(|m| m.len())
    }

    /// Keeps every file Open vSwitch would put under /var/run, /var/log or /etc here.
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

    fn start_switchd(&mut self) {
        let child = self
            .command("ovs-vswitchd")
            .arg(self.endpoint())
            .arg(format!("--pidfile={}", self.file("ovs-vswitchd.pid")))
            .arg(format!("--unixctl={}", self.file("ovs-vswitchd.ctl")))
            .arg(format!("--log-file={}", self.file("ovs-vswitchd.log")))
            .arg("--no-chdir")
            .spawn()
            .expect("start ovs-vswitchd");
        self.switchd = Some(child);
        self.wait_for("ovs-vswitchd to start", |ovs| {
            ovs.try_vsctl(&["get", "Open_vSwitch", ".", "datapath_types"])
                .is_ok_and(|types| types != "[]")
        });
    }

    fn stop_switchd(&mut self) {
        if let Some(mut child) = self.switchd.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn wait_for(&mut self, what: &str, ready: impl Fn(&Ovs) -> bool) {
        let started = Instant::now();
        while !ready(self) {
            for child in [&mut self.server, &mut self.switchd].into_iter().flatten() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("waiting for {what}: a daemon exited ({status})");
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "waiting for {what}: 20 s passed"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn try_vsctl(&self, args: &[&str]) -> Result<String, String> {
        let out = self
            .command("ovs-vsctl")
            .arg(format!("--db={}", self.endpoint()))
            .arg("--no-wait")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("run ovs-vsctl: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(format!(
                "ovs-vsctl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// One `ovs-vsctl --no-wait` process; panics if it fails.
    fn vsctl(&self, args: &[&str]) -> String {
        self.try_vsctl(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `command(i)` for every `i`, BULK commands (joined with `--`) per process.
    fn vsctl_bulk(&self, range: std::ops::Range<usize>, command: impl Fn(usize) -> Vec<String>) {
        let all: Vec<usize> = range.collect();
        for chunk in all.chunks(BULK) {
            let mut args = Vec::new();
            for &i in chunk {
                if !args.is_empty() {
                    args.push("--".to_owned());
                }
                args.extend(command(i));
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            self.vsctl(&args);
        }
    }
}

impl Drop for Ovs {
    fn drop(&mut self) {
        for child in [self.switchd.take(), self.server.take()]
            .into_iter()
            .flatten()
        {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `wa<i>` and `wb<i>` for every i, in one `ip -batch` (the links die with the namespace).
fn make_veths(ports: usize) {
    let mut ip = Command::new("ip")
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("run ip -batch");
    let mut stdin = ip.stdin.take().expect("ip's stdin");
    let mut script = String::new();
    for i in 0..ports {
        script.push_str(&format!("link add wa{i} type veth peer name wb{i}\n"));
    }
    stdin.write_all(script.as_bytes()).expect("write to ip");
    drop(stdin);
    assert!(
        ip.wait().expect("wait for ip").success(),
        "ip -batch failed"
    );
}

/// Nanoseconds a task has run on a CPU (the first field of its schedstat).
fn cpu_ns(schedstat: &str) -> u64 {
    std::fs::read_to_string(schedstat)
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or_default()
}

struct Measured {
    samples: Vec<Duration>,
    /// ovsdb-server's CPU time over the whole window.
    server_ns: u64,
    /// This thread's CPU time over the whole window.
    own_ns: u64,
}

impl Measured {
    fn server_ms(&self) -> f64 {
        self.server_ns as f64 / 1e6 / self.samples.len().max(1) as f64
    }

    fn own_ms(&self) -> f64 {
        self.own_ns as f64 / 1e6 / self.samples.len().max(1) as f64
    }
}

fn timed(ovs: &Ovs, range: impl Iterator<Item = usize>, mut work: impl FnMut(usize)) -> Measured {
    let server = ovs.server_schedstat();
    let own = "/proc/thread-self/schedstat";
    let (server_before, own_before) = (cpu_ns(&server), cpu_ns(own));
    let samples = range
        .map(|i| {
            let t = Instant::now();
            work(i);
            t.elapsed()
        })
        .collect();
    Measured {
        samples,
        server_ns: cpu_ns(&server).saturating_sub(server_before),
        own_ns: cpu_ns(own).saturating_sub(own_before),
    }
}

struct Window {
    start: Measured,
    end: Measured,
}

fn mean(samples: &[Duration]) -> f64 {
    samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len().max(1) as f64
}

fn median(samples: &[Duration]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted
        .get(sorted.len() / 2)
        .map_or(0.0, Duration::as_secs_f64)
}

fn cell(samples: &[Duration]) -> String {
    format!("{:.3} ({:.3})", mean(samples) * 1e3, median(samples) * 1e3)
}

/// The mean of each tenth of a run, in the order the operations ran.
fn print_curve(what: &str, samples: &[Duration], ports: usize) {
    let tenth = (ports / 10).max(1);
    let means: Vec<String> = samples
        .chunks(tenth)
        .map(|chunk| format!("{:.3}", mean(chunk) * 1e3))
        .collect();
    println!("{what}, ms/port by tenth of the run: {}", means.join(" "));
}

fn db_growth(what: &str, ovs: &Ovs, before: Option<u64>, window: usize) -> String {
    match (before, ovs.db_size()) {
        (Some(before), Some(after)) if after >= before => format!(
            "{what}: database file grew {} bytes/port",
            (after - before) / window as u64
        ),
        _ => format!("{what}: database file compacted meanwhile"),
    }
}

/// Times the OVSDB requests wharf's add_port and delete_port make, on a connection of its
/// own, to see which grows with the number of ports.
struct Probe {
    client: Client,
}

struct ProbeResult {
    label: &'static str,
    rows: Vec<(&'static str, f64)>,
}

impl ProbeResult {
    fn print(&self) {
        let cells: Vec<String> = self
            .rows
            .iter()
            .map(|(what, ms)| format!("{what} {ms:.3}"))
            .collect();
        println!("  {}: {}", self.label, cells.join(", "));
    }
}

impl Probe {
    fn connect(endpoint: &str) -> Probe {
        let endpoint = Endpoint::parse(endpoint).expect("the endpoint");
        Probe {
            client: Client::connect(&endpoint, Duration::from_secs(30)).expect("connect"),
        }
    }

    fn transact(&self, ops: &[Operation]) -> f64 {
        let t = Instant::now();
        self.client
            .transact("Open_vSwitch", ops)
            .expect("probe transact");
        t.elapsed().as_secs_f64()
    }

    fn measure(&self, n: usize, label: &'static str) -> ProbeResult {
        let select =
            |table: &str, conditions: Vec<Condition>, columns: &[&str]| Operation::Select {
                table: table.into(),
                conditions,
                columns: Some(columns.iter().map(|c| c.to_string()).collect()),
            };
        let by_name = |table: &str, name: &str| {
            select(
                table,
                vec![Condition::eq("name", name)],
                &["_uuid", "external_ids"],
            )
        };
        let cases: [(&'static str, Operation); 4] = [
            (
                "select Open_vSwitch root",
                select("Open_vSwitch", vec![], &["_uuid"]),
            ),
            ("select Bridge by name", by_name("Bridge", WHARF_BRIDGE)),
            ("select Port by (absent) name", by_name("Port", "absent0")),
            (
                "select Interface by (absent) name",
                by_name("Interface", "absent0"),
            ),
        ];
        let absent = Datum::uuid("00000000-0000-0000-0000-000000000000");
        let mutate = Operation::Mutate {
            table: "Bridge".into(),
            conditions: vec![Condition::eq("name", WHARF_BRIDGE)],
            mutations: vec![Mutation::new("ports", Mutator::Delete, absent)],
        };
        let root = self.client.transact(
            "Open_vSwitch",
            &[select("Open_vSwitch", vec![], &["_uuid"])],
        );
        let root_uuid = root
            .ok()
            .and_then(|r| {
                r.first()?
                    .rows()?
                    .first()?
                    .get("_uuid")?
                    .as_atom()?
                    .as_uuid()
                    .map(str::to_owned)
            })
            .expect("the root row's uuid");
        let cases = cases.into_iter().chain([
            ("mutate Bridge ports (delete an absent uuid)", mutate),
            (
                "select Open_vSwitch by _uuid",
                select(
                    "Open_vSwitch",
                    vec![Condition::eq("_uuid", Datum::uuid(&root_uuid))],
                    &["_uuid"],
                ),
            ),
        ]);
        let mut rows = Vec::new();
        for (what, op) in cases {
            let total: f64 = (0..n)
                .map(|_| self.transact(std::slice::from_ref(&op)))
                .sum();
            rows.push((what, total / n as f64 * 1e3));
        }
        // The commits themselves, on ports of the probe's own (no link needed without
        // ovs-vswitchd): add_port's insert transaction, then delete_port's mutate.
        let mut uuids = Vec::with_capacity(n);
        let mut add_total = 0.0;
        for i in 0..n {
            let name = format!("probe{}{i}", label.len());
            let mark = || Datum::map([("wharf", "owned")]);
            let ops = [
                Operation::Insert {
                    table: "Interface".into(),
                    row: wharf_ovsdb::Row::from([
                        ("name".to_owned(), Datum::from(name.as_str())),
                        ("external_ids".to_owned(), mark()),
                    ]),
                    uuid_name: Some("interface".into()),
                },
                Operation::Insert {
                    table: "Port".into(),
                    row: wharf_ovsdb::Row::from([
                        ("name".to_owned(), Datum::from(name.as_str())),
                        ("interfaces".to_owned(), Datum::named_uuid("interface")),
                        ("tag".to_owned(), Datum::set(Some(i64::from(TAG)))),
                        ("external_ids".to_owned(), mark()),
                    ]),
                    uuid_name: Some("port".into()),
                },
                Operation::Mutate {
                    table: "Bridge".into(),
                    conditions: vec![Condition::eq("name", WHARF_BRIDGE)],
                    mutations: vec![Mutation::new(
                        "ports",
                        Mutator::Insert,
                        Datum::named_uuid("port"),
                    )],
                },
            ];
            let t = Instant::now();
            let results = self
                .client
                .transact("Open_vSwitch", &ops)
                .expect("probe add");
            add_total += t.elapsed().as_secs_f64();
            uuids.push(results[1].uuid().expect("the port's uuid").to_owned());
        }
        rows.push((
            "commit insert Interface+Port, mutate Bridge ports",
            add_total / n as f64 * 1e3,
        ));
        let mut delete_total = 0.0;
        for uuid in uuids {
            let op = Operation::Mutate {
                table: "Bridge".into(),
                conditions: vec![Condition::eq("name", WHARF_BRIDGE)],
                mutations: vec![Mutation::new("ports", Mutator::Delete, Datum::uuid(&uuid))],
            };
            delete_total += self.transact(&[op]);
        }
        rows.push((
            "commit mutate Bridge ports delete (rows collected)",
            delete_total / n as f64 * 1e3,
        ));
        ProbeResult { label, rows }
    }
}
