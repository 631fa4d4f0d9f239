//! wharf-ovsdb against a real ovsdb-server (Debian's openvswitch-switch), each test
//! with its own server and database in its own temporary directory.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::thread;
use std::time::{Duration, Instant};

use wharf_ovsdb::{
    Atom, Client, Condition, Datum, Endpoint, Error, Function, MonitorRequest, Mutation, Mutator,
    Operation, OperationResult, Row, TableUpdates, Until,
};

const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";
const DB: &str = "Open_vSwitch";
const TIMEOUT: Duration = Duration::from_secs(10);

fn missing(what: &str) -> ! {
    panic!("{what} not found: run scripts/install-deps (it installs Debian's openvswitch-switch)")
}

/// One ovsdb-server and its directory; killed and removed on drop, also when a test
/// fails half-way.
struct Server {
    dir: PathBuf,
    child: Option<Child>,
    tcp_port: Option<u16>,
}

impl Server {
    fn start() -> Server {
        Server::start_with(false)
    }

    fn start_with(tcp: bool) -> Server {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        if !Path::new(SCHEMA).exists() {
            missing(SCHEMA);
        }
        let dir = std::env::temp_dir().join(format!(
            "wharf-ovsdb-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = Server {
            dir,
            child: None,
            tcp_port: None,
        };
        let status = match Command::new("ovsdb-tool")
            .arg("create")
            .arg(server.db())
            .arg(SCHEMA)
            .status()
        {
            Ok(status) => status,
            Err(e) if e.kind() == ErrorKind::NotFound => missing("ovsdb-tool"),
            Err(e) => panic!("ovsdb-tool: {e}"),
        };
        assert!(status.success(), "ovsdb-tool create: {status}");
        if tcp {
            // Port 0 makes the kernel pick a free port; freed again for the server.
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            server.tcp_port = Some(listener.local_addr().unwrap().port());
        }
        server.run();
        server
    }

    fn db(&self) -> PathBuf {
        self.dir.join("db")
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint::Unix(self.dir.join("db.sock"))
    }

    fn tcp_endpoint(&self) -> Endpoint {
        Endpoint::parse(&format!("tcp:127.0.0.1:{}", self.tcp_port.unwrap())).unwrap()
    }

    fn run(&mut self) {
        let dir = &self.dir;
        let mut command = Command::new("ovsdb-server");
        command
            .arg(self.db())
            .arg(format!("--remote=punix:{}", dir.join("db.sock").display()))
            .arg(format!("--pidfile={}", dir.join("pid").display()))
            .arg(format!("--unixctl={}", dir.join("ctl").display()))
            .arg(format!("--log-file={}", dir.join("log").display()))
            // Remotes configured in the database, for the inactivity probe test.
            .arg("--remote=db:Open_vSwitch,Open_vSwitch,manager_options")
            .arg("--no-chdir")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(port) = self.tcp_port {
            command.arg(format!("--remote=ptcp:{port}:127.0.0.1"));
        }
        self.child = Some(match command.spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == ErrorKind::NotFound => missing("ovsdb-server"),
            Err(e) => panic!("ovsdb-server: {e}"),
        });
        let started = Instant::now();
        loop {
            let ready = Client::connect(&self.endpoint(), TIMEOUT).is_ok()
                && self
                    .tcp_port
                    .is_none_or(|_| Client::connect(&self.tcp_endpoint(), TIMEOUT).is_ok());
            if ready {
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!("ovsdb-server exited ({status}): {}", self.log());
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "ovsdb-server not listening after 20 s: {}",
                self.log()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn client(&self) -> Client {
        Client::connect(&self.endpoint(), TIMEOUT).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn row(pairs: &[(&str, Datum)]) -> Row {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn test_ids() -> Datum {
    Datum::map([("wharf", "test")])
}

/// A fresh database has no root row; `ovs-vsctl init` would add it.
fn insert_root(client: &Client) -> String {
    let results = client
        .transact(
            DB,
            &[Operation::Insert {
                table: "Open_vSwitch".into(),
                row: Row::new(),
                uuid_name: None,
            }],
        )
        .unwrap();
    results[0].uuid().unwrap().to_string()
}

/// Inserts a bridge with one port and one interface, all named `name`, and adds it
/// to the root row. Returns the bridge's and the port's UUIDs.
fn add_bridge(client: &Client, name: &str) -> (String, String) {
    let ops = [
        Operation::Insert {
            table: "Interface".into(),
            row: row(&[
                ("name", name.into()),
                ("type", "internal".into()),
                ("external_ids", test_ids()),
            ]),
            uuid_name: Some("iface".into()),
        },
        Operation::Insert {
            table: "Port".into(),
            row: row(&[
                ("name", name.into()),
                ("interfaces", Datum::set([Atom::named_uuid("iface")])),
                ("external_ids", test_ids()),
            ]),
            uuid_name: Some("port".into()),
        },
        Operation::Insert {
            table: "Bridge".into(),
            row: row(&[
                ("name", name.into()),
                ("ports", Datum::set([Atom::named_uuid("port")])),
                ("external_ids", test_ids()),
            ]),
            uuid_name: Some("bridge".into()),
        },
        Operation::Mutate {
            table: "Open_vSwitch".into(),
            conditions: vec![],
            mutations: vec![Mutation::new(
                "bridges",
                Mutator::Insert,
                Datum::set([Atom::named_uuid("bridge")]),
            )],
        },
    ];
    let results = client.transact(DB, &ops).unwrap();
    assert_eq!(results.len(), 4);
    assert!(results[0].uuid().is_some());
    assert_eq!(results[3], OperationResult::Count(1));
    (
        results[2].uuid().unwrap().to_string(),
        results[1].uuid().unwrap().to_string(),
    )
}

fn select(client: &Client, table: &str, conditions: Vec<Condition>) -> Vec<Row> {
    let results = client
        .transact(
            DB,
            &[Operation::Select {
                table: table.into(),
                conditions,
                columns: None,
            }],
        )
        .unwrap();
    results[0].rows().unwrap().to_vec()
}

fn names(rows: &[Row]) -> Vec<String> {
    let mut names: Vec<String> = rows
        .iter()
        .map(|r| r["name"].as_atom().unwrap().as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn lists_databases_and_reads_the_schema() {
    let server = Server::start();
    let client = server.client();
    assert!(client.list_dbs().unwrap().contains(&DB.to_string()));

    let schema = client.get_schema(DB).unwrap();
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(SCHEMA).unwrap()).unwrap();
    assert_eq!(schema.name(), Some(DB));
    assert_eq!(schema.version(), file["version"].as_str());
    assert!(schema.tables().contains(&"Bridge"));
    assert!(schema.has_column("Bridge", "external_ids"));
    assert!(!schema.has_column("Bridge", "no_such_column"));

    let error = client.get_schema("No_such_db").unwrap_err();
    assert!(
        matches!(&error, Error::Rpc { method, error } if method == "get_schema"
            && error.contains("unknown database")),
        "{error:?}"
    );
}

#[test]
fn client_echo() {
    let server = Server::start();
    let client = server.client();
    for _ in 0..3 {
        client.echo().unwrap();
    }
}

#[test]
fn connect_failure_names_the_endpoint_and_the_reason() {
    let server = Server::start();
    let endpoint = Endpoint::Unix(server.dir.join("nothing.sock"));
    let error = Client::connect(&endpoint, TIMEOUT).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "cannot reach ovsdb-server at unix:{}: No such file or directory (os error 2)",
            server.dir.join("nothing.sock").display()
        )
    );
}

#[test]
fn inserts_selects_and_deletes_a_bridge_with_its_port_and_interface() {
    let server = Server::start();
    let client = server.client();
    let root = insert_root(&client);
    let (bridge, port) = add_bridge(&client, "wt0");

    let bridges = select(&client, "Bridge", vec![Condition::eq("name", "wt0")]);
    assert_eq!(bridges.len(), 1);
    let b = &bridges[0];
    assert_eq!(b["_uuid"], Datum::uuid(&bridge));
    assert_eq!(b["ports"].atoms(), &[Atom::uuid(&port)]);
    assert_eq!(b["external_ids"].get("wharf"), Some(&Atom::from("test")));
    // Optional columns not set come back as empty sets.
    assert_eq!(b["datapath_id"], Datum::empty());

    let roots = select(&client, "Open_vSwitch", vec![]);
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0]["_uuid"], Datum::uuid(&root));
    assert_eq!(roots[0]["bridges"].atoms(), &[Atom::uuid(&bridge)]);

    let ports = select(
        &client,
        "Port",
        vec![Condition::eq("_uuid", Datum::uuid(&port))],
    );
    assert_eq!(names(&ports), ["wt0"]);
    let interfaces = select(
        &client,
        "Interface",
        vec![Condition::new(
            "external_ids",
            Function::Includes,
            test_ids(),
        )],
    );
    assert_eq!(names(&interfaces), ["wt0"]);
    assert_eq!(
        ports[0]["interfaces"].atoms(),
        &[interfaces[0]["_uuid"].atoms()[0].clone()]
    );
    assert_eq!(interfaces[0]["type"], Datum::from("internal"));

    let results = client
        .transact(
            DB,
            &[
                Operation::Mutate {
                    table: "Open_vSwitch".into(),
                    conditions: vec![],
                    mutations: vec![Mutation::new(
                        "bridges",
                        Mutator::Delete,
                        Datum::set([Atom::uuid(&bridge)]),
                    )],
                },
                Operation::Delete {
                    table: "Bridge".into(),
                    conditions: vec![Condition::eq("name", "wt0")],
                },
            ],
        )
        .unwrap();
    assert_eq!(
        results,
        [OperationResult::Count(1), OperationResult::Count(1)]
    );
    assert!(select(&client, "Bridge", vec![]).is_empty());
    // Ports and interfaces are not root tables: unreferenced, the server drops them.
    assert!(select(&client, "Port", vec![]).is_empty());
    assert!(select(&client, "Interface", vec![]).is_empty());
    assert_eq!(
        select(&client, "Open_vSwitch", vec![])[0]["bridges"],
        Datum::empty()
    );
}

#[test]
fn a_failing_transaction_names_the_operation_and_changes_nothing() {
    let server = Server::start();
    let client = server.client();
    insert_root(&client);
    add_bridge(&client, "wt0");
    let before = (
        select(&client, "Bridge", vec![]),
        select(&client, "Open_vSwitch", vec![]),
    );

    // A wait that does not hold, with timeout 0, fails at once as an assertion.
    let ops = [
        Operation::Insert {
            table: "Bridge".into(),
            row: row(&[("name", "wt1".into())]),
            uuid_name: Some("b1".into()),
        },
        Operation::Mutate {
            table: "Open_vSwitch".into(),
            conditions: vec![],
            mutations: vec![Mutation::new(
                "bridges",
                Mutator::Insert,
                Datum::set([Atom::named_uuid("b1")]),
            )],
        },
        Operation::Wait {
            table: "Bridge".into(),
            conditions: vec![Condition::eq("name", "wt0")],
            columns: vec!["name".into()],
            until: Until::Equal,
            rows: vec![],
            timeout_ms: Some(0),
        },
    ];
    let error = client.transact(DB, &ops).unwrap_err();
    assert!(
        matches!(&error, Error::Operation { index: 2, op: "wait", error, .. }
            if error == "timed out"),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("OVSDB transaction failed at operation 2 (wait): timed out"),
        "{error}"
    );

    // An error with details: a column the table does not have.
    let error = client
        .transact(
            DB,
            &[
                Operation::Comment("first".into()),
                Operation::Insert {
                    table: "Bridge".into(),
                    row: row(&[("no_such_column", 1i64.into())]),
                    uuid_name: None,
                },
            ],
        )
        .unwrap_err();
    assert!(
        matches!(&error, Error::Operation { index: 1, op: "insert", details: Some(d), .. }
            if d.contains("no_such_column")),
        "{error:?}"
    );

    // Every operation fine, the commit not: a second bridge named wt0 breaks the
    // Bridge table's index on name.
    let ops = [
        Operation::Insert {
            table: "Bridge".into(),
            row: row(&[("name", "wt0".into())]),
            uuid_name: Some("b1".into()),
        },
        ops[1].clone(),
    ];
    let error = client.transact(DB, &ops).unwrap_err();
    assert!(
        matches!(&error, Error::Commit { error, details: Some(d) }
            if error == "constraint violation" && d.contains("wt0")),
        "{error:?}"
    );

    let after = (
        select(&client, "Bridge", vec![]),
        select(&client, "Open_vSwitch", vec![]),
    );
    assert_eq!(before, after);
}

fn next_update(
    updates: &std::sync::mpsc::Receiver<TableUpdates>,
) -> (String, wharf_ovsdb::RowUpdate) {
    let update = updates.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(update.len(), 1, "{update:?}");
    let rows = &update["Bridge"];
    assert_eq!(rows.len(), 1, "{update:?}");
    let (uuid, change) = rows.iter().next().unwrap();
    (uuid.clone(), change.clone())
}

#[test]
fn a_monitor_sees_initial_rows_then_inserts_modifications_and_deletes() {
    let server = Server::start();
    let client = server.client();
    insert_root(&client);
    let (first, _) = add_bridge(&client, "wt0");

    let requests = BTreeMap::from([(
        "Bridge".to_string(),
        MonitorRequest::columns(["name", "external_ids"]),
    )]);
    let monitor = client.monitor(DB, "wharf-test", &requests).unwrap();
    let initial = &monitor.initial["Bridge"];
    assert_eq!(initial.len(), 1);
    let row = initial[&first].new.as_ref().unwrap();
    assert_eq!(row["name"], Datum::from("wt0"));
    // Only the requested columns.
    assert_eq!(row.len(), 2, "{row:?}");
    assert_eq!(initial[&first].old, None);

    let (second, _) = add_bridge(&client, "wt1");
    let (uuid, change) = next_update(&monitor.updates);
    assert_eq!(uuid, second);
    assert_eq!(change.old, None);
    assert_eq!(change.new.unwrap()["name"], Datum::from("wt1"));

    client
        .transact(
            DB,
            &[Operation::Update {
                table: "Bridge".into(),
                conditions: vec![Condition::eq("name", "wt1")],
                row: row_of("external_ids", Datum::map([("wharf", "changed")])),
            }],
        )
        .unwrap();
    let (uuid, change) = next_update(&monitor.updates);
    assert_eq!(uuid, second);
    let old = change.old.unwrap();
    assert_eq!(old.keys().collect::<Vec<_>>(), ["external_ids"]);
    assert_eq!(old["external_ids"], test_ids());
    let new = change.new.unwrap();
    assert_eq!(
        new["external_ids"].get("wharf"),
        Some(&Atom::from("changed"))
    );
    assert_eq!(new["name"], Datum::from("wt1"));

    client
        .transact(
            DB,
            &[
                Operation::Mutate {
                    table: "Open_vSwitch".into(),
                    conditions: vec![],
                    mutations: vec![Mutation::new(
                        "bridges",
                        Mutator::Delete,
                        Datum::set([Atom::uuid(&second)]),
                    )],
                },
                Operation::Delete {
                    table: "Bridge".into(),
                    conditions: vec![Condition::eq("_uuid", Datum::uuid(&second))],
                },
            ],
        )
        .unwrap();
    let (uuid, change) = next_update(&monitor.updates);
    assert_eq!(uuid, second);
    assert_eq!(change.new, None);
    assert_eq!(change.old.unwrap()["name"], Datum::from("wt1"));

    // Changes to columns not monitored are not reported.
    client
        .transact(
            DB,
            &[Operation::Update {
                table: "Bridge".into(),
                conditions: vec![],
                row: row_of("stp_enable", true.into()),
            }],
        )
        .unwrap();
    assert_eq!(
        monitor.updates.recv_timeout(Duration::from_millis(300)),
        Err(RecvTimeoutError::Timeout)
    );

    client.monitor_cancel("wharf-test").unwrap();
    assert_eq!(
        monitor.updates.recv_timeout(TIMEOUT),
        Err(RecvTimeoutError::Disconnected)
    );
    client.echo().unwrap();
}

fn row_of(column: &str, value: Datum) -> Row {
    row(&[(column, value)])
}

#[test]
fn works_over_tcp() {
    let server = Server::start_with(true);
    let client = Client::connect(&server.tcp_endpoint(), TIMEOUT).unwrap();
    assert!(client.list_dbs().unwrap().contains(&DB.to_string()));
    client.echo().unwrap();
    insert_root(&client);
    add_bridge(&client, "wt0");
    assert_eq!(names(&select(&client, "Bridge", vec![])), ["wt0"]);
    // The unix socket sees the same database.
    assert_eq!(names(&select(&server.client(), "Bridge", vec![])), ["wt0"]);
}

#[test]
fn killing_the_server_fails_requests_promptly_and_a_new_client_connects_after_restart() {
    let mut server = Server::start();
    let client = std::sync::Arc::new(server.client());
    insert_root(&client);
    add_bridge(&client, "wt0");
    let requests = BTreeMap::from([("Bridge".to_string(), MonitorRequest::default())]);
    let monitor = client.monitor(DB, 1, &requests).unwrap();

    // A wait without timeout that cannot hold keeps its transaction pending.
    let pending = {
        let client = std::sync::Arc::clone(&client);
        thread::spawn(move || {
            client.transact(
                DB,
                &[Operation::Wait {
                    table: "Bridge".into(),
                    conditions: vec![],
                    columns: vec!["name".into()],
                    until: Until::Equal,
                    rows: vec![],
                    timeout_ms: None,
                }],
            )
        })
    };
    thread::sleep(Duration::from_millis(300));
    assert!(!pending.is_finished(), "the wait should still be pending");

    let killed = Instant::now();
    server.kill();
    let result = pending.join().unwrap();
    assert!(
        matches!(result, Err(Error::Disconnected { .. })),
        "{result:?}"
    );
    assert!(
        killed.elapsed() < Duration::from_secs(3),
        "took {:?}",
        killed.elapsed()
    );
    let next = client.echo();
    assert!(matches!(next, Err(Error::Disconnected { .. })), "{next:?}");
    assert_eq!(
        monitor.updates.recv_timeout(TIMEOUT),
        Err(RecvTimeoutError::Disconnected)
    );

    server.run();
    let client = server.client();
    assert_eq!(names(&select(&client, "Bridge", vec![])), ["wt0"]);
}

#[test]
fn the_servers_inactivity_probes_are_answered() {
    let server = Server::start();
    let client = server.client();
    insert_root(&client);
    // A listener whose connections the server probes after 1 s of silence (the
    // least it accepts) and drops if a probe goes unanswered for another second.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    client
        .transact(
            DB,
            &[
                Operation::Insert {
                    table: "Manager".into(),
                    row: row(&[
                        ("target", format!("ptcp:{port}:127.0.0.1").into()),
                        ("inactivity_probe", 1000i64.into()),
                    ]),
                    uuid_name: Some("m".into()),
                },
                Operation::Mutate {
                    table: "Open_vSwitch".into(),
                    conditions: vec![],
                    mutations: vec![Mutation::new(
                        "manager_options",
                        Mutator::Insert,
                        Datum::set([Atom::named_uuid("m")]),
                    )],
                },
            ],
        )
        .unwrap();
    let endpoint = Endpoint::parse(&format!("tcp:127.0.0.1:{port}")).unwrap();
    let started = Instant::now();
    let probed = loop {
        match Client::connect(&endpoint, TIMEOUT) {
            Ok(client) => break client,
            Err(e) => assert!(started.elapsed() < TIMEOUT, "{e}"),
        }
        thread::sleep(Duration::from_millis(20));
    };
    thread::sleep(Duration::from_millis(3500));
    assert_eq!(probed.disconnect_reason(), None);
    probed.echo().unwrap();
}
