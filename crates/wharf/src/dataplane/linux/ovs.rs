//! Open vSwitch bridges and ports, written to ovsdb-server over OVSDB (wharf-ovsdb), the
//! way `ovs-vsctl` does it but with structured errors. ovs-vswitchd reads the database and
//! does the switching; the only kernel work here is bringing up the link ovs-vswitchd makes
//! for a bridge.
//!
//! Every row written carries `external_ids:wharf=owned`; rows without it are never changed,
//! so an operator's or another tool's bridge of the same name is an error, not adopted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use wharf_ovsdb::{
    Atom, Client, Condition, Datum, Endpoint, Error, Function, Mutation, Mutator, Operation,
    OperationResult, Row,
};

use super::{kernel_error, sysctl, LinuxDataplane};
use crate::dataplane::{
    BridgeSpec, Datapath, DataplaneError, OwnedBridge, OwnedPort, PortKind, PortSpec, PortVlan,
    Result, Switches, OVS_OWNER_KEY, OVS_OWNER_VALUE,
};

const DB: &str = "Open_vSwitch";
/// Bounds each OVSDB request, so a wedged ovsdb-server fails a call instead of hanging it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long ovs-vswitchd may take to make a new bridge's kernel link (a tap for netdev).
const BRIDGE_LINK_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an OVSDB call did not do what was asked.
enum Failure {
    Ovsdb(Error),
    /// The database holds something wharf must not touch, or cannot use.
    Refused(String),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure::Ovsdb(error)
    }
}

type Outcome<T> = std::result::Result<T, Failure>;

/// One lazily opened connection to ovsdb-server.
pub(super) struct Ovsdb {
    endpoint: String,
    /// Held for a whole call: it also serialises each call's check-then-write, so two
    /// callers in this process cannot both create the same bridge.
    client: Mutex<Option<Client>>,
    /// The UUIDs of wharf's Port rows by name, as inserted or last listed: ovsdb-server
    /// (3.1) finds a row by `_uuid` directly but by `name` only by scanning the table, which
    /// at 10,000 ports costs ~3 ms a lookup. Checked before use (a row of that UUID and name,
    /// marked as wharf's), so a stale entry only costs the scan.
    port_uuids: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for Ovsdb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ovsdb")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl Ovsdb {
    pub(super) fn new(endpoint: String) -> Ovsdb {
        Ovsdb {
            endpoint,
            client: Mutex::new(None),
            port_uuids: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `work` on the connection, opening it if needed. A connection found dead (the
    /// server restarted since) is replaced once and `work` runs again: each `work` reads
    /// what it needs before writing, so running it twice is safe.
    fn call<T>(&self, what: &str, work: impl Fn(&Client) -> Outcome<T>) -> Result<T> {
        let mut slot = self.client.lock().unwrap_or_else(|e| e.into_inner());
        let mut retried = false;
        loop {
            let client = match slot.take() {
                Some(client) => client,
                None => self
                    .connect()
                    .map_err(|e| self.error(what, Failure::Ovsdb(e)))?,
            };
            match work(&client) {
                Err(Failure::Ovsdb(Error::Disconnected { .. })) if !retried => retried = true,
                outcome => {
                    if !matches!(outcome, Err(Failure::Ovsdb(Error::Disconnected { .. }))) {
                        *slot = Some(client);
                    }
                    return outcome.map_err(|e| self.error(what, e));
                }
            }
        }
    }

    fn connect(&self) -> std::result::Result<Client, Error> {
        Client::connect(&Endpoint::parse(&self.endpoint)?, REQUEST_TIMEOUT)
    }

    fn port_uuids(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.port_uuids.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn error(&self, what: &str, failure: Failure) -> DataplaneError {
        let message = match failure {
            Failure::Refused(message) => message,
            Failure::Ovsdb(error @ (Error::Connect { .. } | Error::Endpoint { .. })) => format!(
                "{error}; check that ovsdb-server is running and listening on {}, or set wharf's \
                 OVSDB endpoint to the one it uses",
                self.endpoint
            ),
            Failure::Ovsdb(error) => error.to_string(),
        };
        DataplaneError::other(what, message)
    }
}

/// How often a lost ovsdb-server is looked for again.
const WATCH_RETRY: Duration = Duration::from_secs(2);

/// Holds a connection to ovsdb-server with a monitor on it (whose updates stop when the
/// connection is lost); when the server is back after a loss, calls `reconnected`. A host
/// without Open vSwitch costs a failed connect every [`WATCH_RETRY`].
fn watch(endpoint: &str, reconnected: &dyn Fn()) {
    let Ok(parsed) = Endpoint::parse(endpoint) else {
        return;
    };
    let mut lost = false;
    loop {
        let monitor = Client::connect(&parsed, REQUEST_TIMEOUT).and_then(|client| {
            let tables = std::collections::BTreeMap::from([(
                "Bridge".to_owned(),
                wharf_ovsdb::MonitorRequest::columns(["name"]),
            )]);
            let monitor = client.monitor(DB, "wharf-watch", &tables)?;
            Ok((client, monitor))
        });
        match monitor {
            Ok((_client, monitor)) => {
                if lost {
                    tracing::warn!(%endpoint, "ovsdb-server is back: putting wharf's bridges and ports back");
                    reconnected();
                }
                // Blocks until the connection goes (the client is kept alive meanwhile).
                while monitor.updates.recv().is_ok() {}
                tracing::warn!(%endpoint, "lost the connection to ovsdb-server");
                lost = true;
            }
            Err(error) => {
                tracing::debug!(%endpoint, %error, "ovsdb-server does not answer");
                lost = true;
            }
        }
        std::thread::sleep(WATCH_RETRY);
    }
}

/// A MAC as OVSDB's `mac` column writes it (`02:ab:...`).
fn mac_text(mac: [u8; 6]) -> String {
    mac.map(|b| format!("{b:02x}")).join(":")
}

fn mac_from_text(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

fn owner_mark() -> Datum {
    Datum::map([(OVS_OWNER_KEY, OVS_OWNER_VALUE)])
}

fn is_owned(row: &Row) -> bool {
    let mark = row
        .get("external_ids")
        .and_then(|ids| ids.get(OVS_OWNER_KEY));
    mark.and_then(Atom::as_str) == Some(OVS_OWNER_VALUE)
}

fn text<'a>(row: &'a Row, column: &str) -> Option<&'a str> {
    row.get(column)?.as_atom()?.as_str()
}

fn uuid(row: &Row) -> Outcome<String> {
    let uuid = row
        .get("_uuid")
        .and_then(Datum::as_atom)
        .and_then(Atom::as_uuid);
    uuid.map(str::to_owned)
        .ok_or_else(|| Error::Protocol("a selected row has no _uuid".into()).into())
}

fn uuids(row: &Row, column: &str) -> Vec<String> {
    let atoms = row.get(column).map(Datum::atoms).unwrap_or_default();
    atoms
        .iter()
        .filter_map(Atom::as_uuid)
        .map(str::to_owned)
        .collect()
}

fn by_uuid(uuid: &str) -> Condition {
    Condition::eq("_uuid", Datum::uuid(uuid))
}

fn select(table: &str, conditions: Vec<Condition>, columns: &[&str]) -> Operation {
    Operation::Select {
        table: table.into(),
        conditions,
        columns: Some(columns.iter().map(|c| c.to_string()).collect()),
    }
}

fn rows(results: &[OperationResult], index: usize) -> Outcome<Vec<Row>> {
    let rows = results.get(index).and_then(OperationResult::rows);
    rows.map(<[Row]>::to_vec)
        .ok_or_else(|| Error::Protocol(format!("select {index} answered no rows")).into())
}

/// The one row named `name` in `table`, if any (names are a unique index there).
fn named(client: &Client, table: &str, name: &str, columns: &[&str]) -> Outcome<Option<Row>> {
    let results = client.transact(
        DB,
        &[select(table, vec![Condition::eq("name", name)], columns)],
    )?;
    Ok(rows(&results, 0)?.into_iter().next())
}

fn ensure_bridge(client: &Client, spec: &BridgeSpec) -> Outcome<()> {
    if let Some(bridge) = named(client, "Bridge", &spec.name, &["external_ids"])? {
        return if is_owned(&bridge) {
            Ok(())
        } else {
            Err(not_wharfs("a bridge", &spec.name))
        };
    }
    // A fresh database has no root row until `ovs-vsctl init` (or the service) makes it;
    // a bridge referenced from nowhere would be dropped at commit.
    let results = client.transact(DB, &[select("Open_vSwitch", vec![], &["_uuid"])])?;
    let Some(root) = rows(&results, 0)?.first().map(uuid).transpose()? else {
        return Err(Failure::Refused(
            "the Open_vSwitch database has no root row (not initialised: run `ovs-vsctl init` \
             or start the openvswitch-switch service)"
                .into(),
        ));
    };
    let mut interface = Row::from([
        ("name".to_owned(), Datum::from(spec.name.as_str())),
        ("type".to_owned(), "internal".into()),
        ("external_ids".to_owned(), owner_mark()),
    ]);
    if let Some(mtu) = spec.mtu {
        // ovs-vswitchd sets an internal interface's MTU itself (the smallest of the
        // bridge's ports) unless asked for one, so it is asked here, not set by netlink.
        interface.insert("mtu_request".to_owned(), i64::from(mtu).into());
    }
    let ops = [
        insert("Interface", interface, "interface"),
        insert(
            "Port",
            port_row(&spec.name, PortVlan::Trunk, "interface"),
            "port",
        ),
        insert(
            "Bridge",
            Row::from([
                ("name".to_owned(), Datum::from(spec.name.as_str())),
                ("ports".to_owned(), Datum::named_uuid("port")),
                ("datapath_type".to_owned(), spec.datapath.ovs_name().into()),
                ("external_ids".to_owned(), owner_mark()),
            ]),
            "bridge",
        ),
        Operation::Mutate {
            table: "Open_vSwitch".into(),
            conditions: vec![by_uuid(&root)],
            mutations: vec![Mutation::new(
                "bridges",
                Mutator::Insert,
                Datum::named_uuid("bridge"),
            )],
        },
    ];
    client.transact(DB, &ops)?;
    Ok(())
}

fn insert(table: &str, row: Row, uuid_name: &str) -> Operation {
    Operation::Insert {
        table: table.into(),
        row,
        uuid_name: Some(uuid_name.into()),
    }
}

fn port_row(name: &str, vlan: PortVlan, interface: &str) -> Row {
    // OVS: a tag makes an access port; no tag and `trunks` [0] carries untagged frames
    // only; no tag and no trunks carries every VLAN.
    let (tag, trunks) = match vlan {
        PortVlan::Access(tag) => (Some(i64::from(tag)), None),
        PortVlan::Untagged => (None, Some(0i64)),
        PortVlan::Trunk => (None, None),
    };
    Row::from([
        ("name".to_owned(), Datum::from(name)),
        ("interfaces".to_owned(), Datum::named_uuid(interface)),
        ("tag".to_owned(), Datum::set(tag)),
        ("trunks".to_owned(), Datum::set(trunks)),
        ("external_ids".to_owned(), owner_mark()),
    ])
}

/// A port row's VLANs, if they are one of the kinds wharf writes.
fn port_vlan(port: &Row) -> Option<PortVlan> {
    let integers = |column: &str| -> Vec<i64> {
        port.get(column)
            .map(Datum::atoms)
            .unwrap_or_default()
            .iter()
            .filter_map(Atom::as_integer)
            .collect()
    };
    match (integers("tag").as_slice(), integers("trunks").as_slice()) {
        ([tag], []) => u16::try_from(*tag).ok().map(PortVlan::Access),
        ([], [0]) => Some(PortVlan::Untagged),
        ([], []) => Some(PortVlan::Trunk),
        _ => None,
    }
}

fn not_wharfs(what: &str, name: &str) -> Failure {
    Failure::Refused(format!(
        "{what} named {name} exists and is not wharf's (no external_ids:{OVS_OWNER_KEY}=\
         {OVS_OWNER_VALUE}); wharf leaves it alone"
    ))
}

fn delete_bridge(client: &Client, name: &str) -> Outcome<()> {
    let Some(bridge) = named(client, "Bridge", name, &["_uuid", "external_ids"])? else {
        return Ok(());
    };
    if !is_owned(&bridge) {
        return Err(not_wharfs("a bridge", name));
    }
    let bridge = uuid(&bridge)?;
    // The root row's strong reference must go in the same transaction; the bridge's ports
    // and interfaces, referenced from nowhere else, are then dropped by the server.
    let ops = [
        Operation::Mutate {
            table: "Open_vSwitch".into(),
            conditions: vec![],
            mutations: vec![Mutation::new(
                "bridges",
                Mutator::Delete,
                Datum::uuid(&bridge),
            )],
        },
        Operation::Delete {
            table: "Bridge".into(),
            conditions: vec![by_uuid(&bridge)],
        },
    ];
    client.transact(DB, &ops)?;
    Ok(())
}

fn interface_row(spec: &PortSpec) -> Row {
    let no_options = || Datum::map(Vec::<(&str, &str)>::new());
    let (kind, options) = match &spec.kind {
        PortKind::System => ("", no_options()),
        PortKind::Vxlan { remote, key } => (
            "vxlan",
            Datum::map([("remote_ip", remote.to_string()), ("key", key.to_string())]),
        ),
        PortKind::Internal { .. } => ("internal", no_options()),
    };
    let mut row = Row::from([
        ("name".to_owned(), Datum::from(spec.name.as_str())),
        ("type".to_owned(), kind.into()),
        ("options".to_owned(), options),
        ("external_ids".to_owned(), owner_mark()),
    ]);
    if let PortKind::Internal { mtu, mac } = spec.kind {
        // As for a bridge's own interface: ovs-vswitchd picks an internal interface's MTU
        // unless asked.
        if let Some(mtu) = mtu {
            row.insert("mtu_request".to_owned(), i64::from(mtu).into());
        }
        if let Some(mac) = mac {
            row.insert("mac".to_owned(), Datum::from(mac_text(mac).as_str()));
        }
    }
    row
}

/// Adds the port in one transaction without looking anything up first: the bridge is
/// named in the mutation's condition (with wharf's mark), and the Port and Interface
/// tables' unique name indexes refuse a duplicate. Returns the Port row's UUID, or None
/// when that did not work out (no such bridge of wharf's, a port of that name already
/// there) and [`add_port`] must look: then nothing was left, since rows no bridge refers to
/// are dropped at commit.
fn add_port_at_once(client: &Client, spec: &PortSpec) -> Outcome<Option<String>> {
    let ops = [
        insert("Interface", interface_row(spec), "interface"),
        insert("Port", port_row(&spec.name, spec.vlan, "interface"), "port"),
        Operation::Mutate {
            table: "Bridge".into(),
            conditions: vec![
                Condition::eq("name", spec.bridge.as_str()),
                owned_condition(),
            ],
            mutations: vec![Mutation::new(
                "ports",
                Mutator::Insert,
                Datum::named_uuid("port"),
            )],
        },
    ];
    match client.transact(DB, &ops) {
        Ok(results) if results.get(2).and_then(OperationResult::count) == Some(1) => {
            Ok(results.get(1).and_then(|r| r.uuid()).map(str::to_owned))
        }
        Ok(_) => Ok(None),
        Err(error @ Error::Disconnected { .. }) => Err(error.into()),
        Err(_) => Ok(None),
    }
}

fn add_port(client: &Client, spec: &PortSpec) -> Outcome<()> {
    let Some(bridge) = named(client, "Bridge", &spec.bridge, &["_uuid", "external_ids"])? else {
        return Err(Failure::Refused(format!(
            "there is no bridge {}",
            spec.bridge
        )));
    };
    if !is_owned(&bridge) {
        return Err(not_wharfs("a bridge", &spec.bridge));
    }
    let bridge = uuid(&bridge)?;
    let columns = [
        "_uuid",
        "name",
        "tag",
        "trunks",
        "interfaces",
        "external_ids",
    ];
    if let Some(port) = named(client, "Port", &spec.name, &columns)? {
        if !is_owned(&port) {
            return Err(not_wharfs("a port", &spec.name));
        }
        let port_uuid = uuid(&port)?;
        let has_it = Condition::new("ports", Function::Includes, Datum::uuid(&port_uuid));
        let results = client.transact(DB, &[select("Bridge", vec![has_it], &["name"])])?;
        let on = rows(&results, 0)?;
        let on_bridge = on.first().and_then(|b| text(b, "name")).unwrap_or_default();
        // Only the port's own interface, found by UUID (a lookup, not a scan).
        let conditions = uuids(&port, "interfaces")
            .first()
            .map(|u| vec![by_uuid(u)])
            .unwrap_or_default();
        let interfaces = by_uuids(read_interfaces(client, conditions)?);
        let existing = owned_port(&port, &interfaces)?;
        let wanted = OwnedPort {
            name: spec.name.clone(),
            vlan: spec.vlan,
            kind: spec.kind.clone(),
        };
        return if on_bridge == spec.bridge && existing == wanted {
            Ok(())
        } else {
            Err(Failure::Refused(format!(
                "wharf's port {} is there already with other settings (on bridge \
                 {on_bridge:?}, {existing:?}); delete it first",
                spec.name
            )))
        };
    }
    let ops = [
        insert("Interface", interface_row(spec), "interface"),
        insert("Port", port_row(&spec.name, spec.vlan, "interface"), "port"),
        Operation::Mutate {
            table: "Bridge".into(),
            conditions: vec![by_uuid(&bridge)],
            mutations: vec![Mutation::new(
                "ports",
                Mutator::Insert,
                Datum::named_uuid("port"),
            )],
        },
    ];
    client.transact(DB, &ops)?;
    Ok(())
}

fn delete_port(client: &Client, bridge: &str, name: &str, known: Option<&str>) -> Outcome<()> {
    // The UUID wharf knows, if the row of that UUID is still that port and wharf's.
    let checked = match known {
        Some(known) => {
            let results = client.transact(
                DB,
                &[select(
                    "Port",
                    vec![by_uuid(known)],
                    &["name", "external_ids"],
                )],
            )?;
            rows(&results, 0)?
                .first()
                .filter(|row| text(row, "name") == Some(name) && is_owned(row))
                .map(|_| known.to_owned())
        }
        None => None,
    };
    let port = match checked {
        Some(port) => port,
        None => {
            let Some(port) = named(client, "Port", name, &["_uuid", "external_ids"])? else {
                return Ok(());
            };
            if !is_owned(&port) {
                return Err(not_wharfs("a port", name));
            }
            uuid(&port)?
        }
    };
    // Only from the bridge named: a port of that name on another bridge is not this one.
    // The port row, then referenced from nowhere, is dropped by the server with its
    // interface.
    client.transact(
        DB,
        &[Operation::Mutate {
            table: "Bridge".into(),
            conditions: vec![Condition::eq("name", bridge)],
            mutations: vec![Mutation::new("ports", Mutator::Delete, Datum::uuid(&port))],
        }],
    )?;
    Ok(())
}

/// wharf-owned interfaces by UUID (with `conditions` narrowing them further).
fn read_interfaces(client: &Client, mut conditions: Vec<Condition>) -> Outcome<Vec<Row>> {
    conditions.push(owned_condition());
    let columns = [
        "_uuid",
        "name",
        "type",
        "options",
        "mtu_request",
        "mac",
        "external_ids",
    ];
    let results = client.transact(DB, &[select("Interface", conditions, &columns)])?;
    rows(&results, 0)
}

fn owned_condition() -> Condition {
    Condition::new("external_ids", Function::Includes, owner_mark())
}

/// A port row as an [`OwnedPort`], its kind from its (first, only) interface.
/// Rows by their UUID.
fn by_uuids(rows: Vec<Row>) -> HashMap<String, Row> {
    rows.into_iter()
        .filter_map(|row| Some((uuid(&row).ok()?, row)))
        .collect()
}

fn owned_port(port: &Row, interfaces: &HashMap<String, Row>) -> Outcome<OwnedPort> {
    let name = text(port, "name").unwrap_or_default().to_owned();
    let interface_uuid = uuids(port, "interfaces");
    let interface = interface_uuid
        .first()
        .and_then(|u| interfaces.get(u))
        .ok_or_else(|| {
            Failure::Refused(format!("wharf's port {name} has no interface of wharf's"))
        })?;
    Ok(OwnedPort {
        vlan: port_vlan(port).ok_or_else(|| {
            Failure::Refused(format!(
                "wharf's port {name} carries VLANs wharf does not set (tag or trunks changed)"
            ))
        })?,
        kind: port_kind(interface).ok_or_else(|| {
            Failure::Refused(format!(
                "wharf's interface {name} is of a kind wharf does not make"
            ))
        })?,
        name,
    })
}

fn port_kind(interface: &Row) -> Option<PortKind> {
    match text(interface, "type").unwrap_or_default() {
        "" | "system" => Some(PortKind::System),
        "vxlan" => {
            let options = interface.get("options")?;
            let option = |key| options.get(key).and_then(Atom::as_str);
            Some(PortKind::Vxlan {
                remote: option("remote_ip")?.parse::<IpAddr>().ok()?,
                key: option("key")?.parse().ok()?,
            })
        }
        "internal" => Some(PortKind::Internal {
            mtu: interface
                .get("mtu_request")
                .and_then(Datum::as_atom)
                .and_then(Atom::as_integer)
                .and_then(|mtu| u32::try_from(mtu).ok()),
            mac: interface
                .get("mac")
                .and_then(Datum::as_atom)
                .and_then(Atom::as_str)
                .and_then(mac_from_text),
        }),
        _ => None,
    }
}

/// wharf's bridges with their ports, and the UUIDs of wharf's ports by name.
fn owned_switch_objects(client: &Client) -> Outcome<(Vec<OwnedBridge>, HashMap<String, String>)> {
    let ops = [
        select(
            "Bridge",
            vec![owned_condition()],
            &["name", "datapath_type", "ports"],
        ),
        select(
            "Port",
            vec![owned_condition()],
            &["_uuid", "name", "tag", "trunks", "interfaces"],
        ),
    ];
    let results = client.transact(DB, &ops)?;
    let (bridges, ports) = (rows(&results, 0)?, by_uuids(rows(&results, 1)?));
    let interfaces = by_uuids(read_interfaces(client, vec![])?);
    let mut owned = Vec::new();
    for bridge in &bridges {
        let name = text(bridge, "name").unwrap_or_default().to_owned();
        let mut bridge_ports = Vec::new();
        for member in uuids(bridge, "ports") {
            let Some(port) = ports.get(&member) else {
                continue; // someone else's port on wharf's bridge
            };
            // The bridge's own internal port is part of the bridge, not a port wharf added.
            if text(port, "name") != Some(name.as_str()) {
                bridge_ports.push(owned_port(port, &interfaces)?);
            }
        }
        bridge_ports.sort();
        owned.push(OwnedBridge {
            datapath: match text(bridge, "datapath_type") {
                Some("netdev") => Datapath::Netdev,
                _ => Datapath::System,
            },
            name,
            ports: bridge_ports,
        });
    }
    owned.sort();
    let names = ports
        .iter()
        .filter_map(|(u, port)| Some((text(port, "name")?.to_owned(), u.clone())))
        .collect();
    Ok((owned, names))
}

fn datapath_types(client: &Client) -> Outcome<Vec<String>> {
    let results = client.transact(DB, &[select("Open_vSwitch", vec![], &["datapath_types"])])?;
    let rows = rows(&results, 0)?;
    let types = rows.first().and_then(|root| root.get("datapath_types"));
    let atoms = types.map(Datum::atoms).unwrap_or_default();
    Ok(atoms
        .iter()
        .filter_map(Atom::as_str)
        .map(str::to_owned)
        .collect())
}

impl LinuxDataplane {
    /// Waits for ovs-vswitchd to make the kernel link of a bridge or internal port (`what`)
    /// and apply its MTU, and sets it up: ovs-vswitchd creates it down. The link must be the
    /// one ovs-vswitchd reports for the row (its `ifindex`): after a database was wiped and
    /// filled again, a link of the same name may still be the old one, about to go.
    fn bring_up_link(&self, what: &str, name: &str, mtu: Option<u32>) -> Result<()> {
        let started = Instant::now();
        loop {
            let reported = self.ovs.call(&format!("read {what}'s ifindex"), |client| {
                let row = named(client, "Interface", name, &["ifindex"])?;
                Ok(row
                    .as_ref()
                    .and_then(|r| r.get("ifindex"))
                    .and_then(Datum::as_atom)
                    .and_then(Atom::as_integer)
                    .filter(|index| *index > 0))
            })?;
            let link = self
                .with_netlink(|netlink| netlink.link_by_name(name))
                .map_err(kernel_error(format!("look up {what}'s link")))?;
            if let Some(link) = link.filter(|l| reported == Some(i64::from(l.index))) {
                if !link.up {
                    self.with_netlink(|netlink| netlink.set_link_up(link.index))
                        .map_err(kernel_error(format!("set {what}'s link up")))?;
                }
                if mtu.is_none_or(|mtu| mtu == link.mtu) {
                    return Ok(());
                }
            }
            if started.elapsed() >= BRIDGE_LINK_TIMEOUT {
                return Err(DataplaneError::Timeout {
                    what: format!(
                        "{what}: waiting for ovs-vswitchd to make its link{} (is ovs-vswitchd \
                         running, in this network namespace?)",
                        mtu.map(|m| format!(" with MTU {m}")).unwrap_or_default()
                    ),
                    after: BRIDGE_LINK_TIMEOUT,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Switches for LinuxDataplane {
    fn ensure_bridge(&self, spec: &BridgeSpec) -> Result<()> {
        let what = format!("ensure bridge {}", spec.name);
        self.ovs.call(&what, |client| ensure_bridge(client, spec))?;
        self.bring_up_link(&format!("bridge {}", spec.name), &spec.name, spec.mtu)?;
        // The host has no address on a bridge (a nat network's gateway is a port of its
        // own): its stack must not answer ARP there for the host's other addresses, which
        // would let a flat network's containers reach the host, nor speak IPv6 there.
        let name = &spec.name;
        sysctl::write(&format!("net/ipv4/conf/{name}/arp_ignore"), "8")?;
        sysctl::write(&format!("net/ipv6/conf/{name}/disable_ipv6"), "1")
    }

    fn delete_bridge(&self, name: &str) -> Result<()> {
        let what = format!("delete bridge {name}");
        self.ovs.call(&what, |client| delete_bridge(client, name))
    }

    fn add_port(&self, spec: &PortSpec) -> Result<()> {
        spec.check()?;
        let what = format!("add port {} to bridge {}", spec.name, spec.bridge);
        if spec.kind == PortKind::System {
            // ovs-vswitchd would accept the row and only note the missing device in the
            // Interface's `error` column; saying so here is clearer.
            let link = self
                .with_netlink(|netlink| netlink.link_by_name(&spec.name))
                .map_err(kernel_error(format!("{what}: look up its link")))?;
            if link.is_none() {
                return Err(DataplaneError::other(what, "there is no link of that name"));
            }
        }
        let inserted = self.ovs.call(&what, |client| {
            Ok(match add_port_at_once(client, spec)? {
                Some(port) => Some(port),
                None => add_port(client, spec).map(|()| None)?,
            })
        })?;
        if let Some(port) = inserted {
            self.ovs.port_uuids().insert(spec.name.clone(), port);
        }
        match spec.kind {
            PortKind::Internal { mtu, .. } => {
                self.bring_up_link(&format!("internal port {}", spec.name), &spec.name, mtu)
            }
            _ => Ok(()),
        }
    }

    fn delete_port(&self, bridge: &str, name: &str) -> Result<()> {
        let what = format!("delete port {name} of bridge {bridge}");
        let known = self.ovs.port_uuids().get(name).cloned();
        self.ovs.call(&what, |client| {
            delete_port(client, bridge, name, known.as_deref())
        })?;
        self.ovs.port_uuids().remove(name);
        Ok(())
    }

    fn owned_switch_objects(&self) -> Result<Vec<OwnedBridge>> {
        let (owned, uuids) = self
            .ovs
            .call("list wharf's Open vSwitch bridges", owned_switch_objects)?;
        *self.ovs.port_uuids() = uuids;
        Ok(owned)
    }

    fn datapath_types(&self) -> Result<Vec<String>> {
        self.ovs
            .call("read Open vSwitch datapath types", datapath_types)
    }

    fn watch_restarts(&self, reconnected: Box<dyn Fn() + Send>) {
        let endpoint = self.ovs.endpoint.clone();
        let spawned = std::thread::Builder::new()
            .name("ovsdb-watch".into())
            .spawn(move || watch(&endpoint, reconnected.as_ref()));
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot watch ovsdb-server for restarts");
        }
    }

    fn kernel_datapath(&self) -> bool {
        // Listed while the module is loaded (or built in); ovs-vswitchd's own start-up
        // script loads it where it exists.
        std::path::Path::new("/sys/module/openvswitch").exists()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interface(kind: &str, options: &[(&str, &str)]) -> Row {
        Row::from([
            ("type".to_owned(), Datum::from(kind)),
            ("options".to_owned(), Datum::map(options.iter().copied())),
        ])
    }

    #[test]
    fn interface_rows_read_back_as_the_port_kinds_wharf_writes() {
        assert_eq!(port_kind(&interface("", &[])), Some(PortKind::System));
        assert_eq!(port_kind(&interface("system", &[])), Some(PortKind::System));
        let vxlan = interface("vxlan", &[("remote_ip", "10.46.9.2"), ("key", "7")]);
        assert_eq!(
            port_kind(&vxlan),
            Some(PortKind::Vxlan {
                remote: "10.46.9.2".parse().unwrap(),
                key: 7
            })
        );
        for odd in [
            interface("vxlan", &[("remote_ip", "10.46.9.2"), ("key", "flow")]),
            interface("vxlan", &[("key", "7")]),
            interface("geneve", &[]),
        ] {
            assert_eq!(port_kind(&odd), None, "{odd:?}");
        }
    }

    #[test]
    fn only_the_exact_mark_makes_a_row_wharfs() {
        let with = |ids: Datum| Row::from([("external_ids".to_owned(), ids)]);
        assert!(is_owned(&with(owner_mark())));
        assert!(!is_owned(&with(Datum::map([(OVS_OWNER_KEY, "other")]))));
        assert!(!is_owned(&with(Datum::map(Vec::<(&str, &str)>::new()))));
        assert!(!is_owned(&Row::new()));
    }
}
