//! The server against the engine on a recording dataplane, over a real unix socket.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Value};

use super::*;
use crate::dataplane::fake::recording;
use crate::engine::{Engine, EngineConfig};
use crate::modes::{ModeDefaults, ModeRegistry};
use crate::protocol::client;
use crate::store::Store;

struct Daemon {
    socket: PathBuf,
    dir: PathBuf,
    runtime: tokio::runtime::Runtime,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn daemon(name: &str) -> Daemon {
    daemon_with(name, |_| None)
}

/// A daemon whose plugin gets the BGP speaker `speaker` starts in its runtime.
fn daemon_with(
    name: &str,
    speaker: impl FnOnce(&tokio::runtime::Runtime) -> Option<wharf_bgp::speaker::Speaker>,
) -> Daemon {
    let dir = std::env::temp_dir().join(format!("wharf-server-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let socket = dir.join("wharf.sock");
    let store = Store::open_exclusive(&dir.join("state")).unwrap();
    let engine = Engine::load(
        EngineConfig::default(),
        ModeRegistry::standard(&ModeDefaults::default()),
        recording().0,
        store,
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime.block_on(bind(&socket)).unwrap();
    let plugin = Arc::new(Plugin::new(Arc::new(engine)).with_speaker(speaker(&runtime)));
    runtime.spawn(serve(listener, plugin, std::future::pending()));
    Daemon {
        socket,
        dir,
        runtime,
    }
}

fn call(d: &Daemon, path: &str, body: &str) -> (u16, Value) {
    let (code, text) = client::post(&d.socket, path, body).unwrap();
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn activate_and_capabilities_with_empty_bodies() {
    let d = daemon("activate");
    let (code, body) = call(&d, "/Plugin.Activate", "");
    assert_eq!(code, 200);
    assert_eq!(body, json!({"Implements": ["NetworkDriver", "IpamDriver"]}));
    let (_, caps) = call(&d, "/NetworkDriver.GetCapabilities", "null");
    assert_eq!(
        caps,
        json!({"Scope": "local", "ConnectivityScope": "local", "GwAllocChecker": true})
    );
    let (_, spaces) = call(&d, "/IpamDriver.GetDefaultAddressSpaces", "");
    assert_eq!(spaces["LocalDefaultAddressSpace"], "local");
    let (_, ipam) = call(&d, "/IpamDriver.GetCapabilities", "");
    assert_eq!(ipam["RequiresRequestReplay"], false);
    let (code, discover) = call(&d, "/NetworkDriver.DiscoverNew", r#"{"DiscoveryType":1}"#);
    assert_eq!((code, discover), (200, json!({})));
    let mode = std::fs::metadata(&d.socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn bad_input_gets_err_and_the_daemon_stays_up() {
    let d = daemon("bad");
    let (code, body) = call(&d, "/IpamDriver.RequestPool", "{not json");
    assert_eq!(code, 500);
    assert!(
        body["Err"].as_str().unwrap().contains("malformed JSON"),
        "{body}"
    );
    let (code, body) = call(&d, "/IpamDriver.RequestPool", r#"{"Pool":"10.46.0.0/33"}"#);
    assert_eq!(code, 500);
    assert!(body["Err"].as_str().unwrap().contains("10.46.0.0/33"));
    assert_eq!(body["Err"], body["Error"]);
    let (code, body) = call(
        &d,
        "/NetworkDriver.Leave",
        r#"{"NetworkID":"abc","EndpointID":"def"}"#,
    );
    assert_eq!(code, 500);
    assert!(body["Err"]
        .as_str()
        .unwrap()
        .contains("network abc is not known"));
    let (code, _) = call(&d, "/NetworkDriver.Frobnicate", "{}");
    assert_eq!(code, 404);
    let (code, _) = call(&d, "/Plugin.Activate", "");
    assert_eq!(code, 200);
}

#[test]
fn a_second_daemon_does_not_steal_a_live_socket() {
    let d = daemon("inuse");
    let second = d.runtime.block_on(bind(&d.socket));
    assert!(matches!(second, Err(ServerError::InUse { .. })));
    let (code, _) = call(&d, "/Plugin.Activate", "");
    assert_eq!(code, 200);
}

#[test]
fn network_lifecycle_over_the_socket() {
    let d = daemon("lifecycle");
    let (_, pool) = call(
        &d,
        "/IpamDriver.RequestPool",
        r#"{"AddressSpace":"local","Pool":"10.46.0.0/16","SubPool":"","Options":{},"V6":false}"#,
    );
    let pool_id = pool["PoolID"].as_str().unwrap().to_owned();
    let (_, gw) = call(
        &d,
        "/IpamDriver.RequestAddress",
        &json!({"PoolID": pool_id, "Address": "",
        "Options": {"RequestAddressType": "com.docker.network.gateway"}})
        .to_string(),
    );
    assert_eq!(gw["Address"], "10.46.0.1/16");
    let net = "71c5000000000000000000000000000000000000000000000000000000000000";
    let ep = "dabd000000000000000000000000000000000000000000000000000000000000";
    let (code, body) = call(
        &d,
        "/NetworkDriver.CreateNetwork",
        &json!({"NetworkID": net,
        "Options": {"com.docker.network.enable_ipv6": false, "com.docker.network.generic": {}},
        "IPv4Data": [{"AddressSpace": "local", "Gateway": "10.46.0.1/16", "Pool": "10.46.0.0/16"}],
        "IPv6Data": []})
        .to_string(),
    );
    assert_eq!((code, body), (200, json!({})));
    let (_, addr) = call(
        &d,
        "/IpamDriver.RequestAddress",
        &json!({"PoolID": pool_id, "Address": "10.46.1.7", "Options": null}).to_string(),
    );
    let (code, created) = call(&d, "/NetworkDriver.CreateEndpoint", &json!({"NetworkID": net, "EndpointID": ep,
        "Interface": {"Address": addr["Address"], "AddressIPv6": "", "MacAddress": ""},
        "Options": {"com.docker.network.endpoint.exposedports": [], "com.docker.network.portmap": []}}).to_string());
    assert_eq!(code, 200, "{created}");
    assert_eq!(created["Interface"]["MacAddress"], "02:da:bd:00:00:00");
    let (code, join) = call(
        &d,
        "/NetworkDriver.Join",
        &json!({"NetworkID": net, "EndpointID": ep,
        "SandboxKey": "/var/run/docker/netns/x", "Options": {}})
        .to_string(),
    );
    assert_eq!(code, 200);
    assert_eq!(
        join["InterfaceName"],
        json!({"SrcName": "wcdabd000000", "DstPrefix": "eth"})
    );
    assert_eq!(join["Gateway"], "10.46.0.1");
    let ids = json!({"NetworkID": net, "EndpointID": ep}).to_string();
    for path in [
        "/NetworkDriver.ProgramExternalConnectivity",
        "/NetworkDriver.EndpointOperInfo",
        "/NetworkDriver.RevokeExternalConnectivity",
        "/NetworkDriver.Leave",
        "/NetworkDriver.DeleteEndpoint",
    ] {
        let (code, body) = call(&d, path, &ids);
        assert_eq!(code, 200, "{path}: {body}");
    }
    let (code, status) = call(&d, "/Wharf.Status", "");
    assert_eq!(code, 200);
    assert_eq!(status["networks"][0]["endpoints"], json!([]));
}

#[test]
fn gateway_allocation_check_as_dockerd_28_sends_it() {
    let d = daemon("gwalloc");
    let check = |generic: Value| {
        let body = json!({"Options": {"com.docker.network.enable_ipv4": true,
            "com.docker.network.enable_ipv6": false, "com.docker.network.generic": generic}});
        call(&d, "/NetworkDriver.GwAllocCheck", &body.to_string())
    };
    for (generic, skip) in [
        (json!({}), false),
        (json!({"mode": "macvlan", "parent": "eth1"}), false),
        (json!({"mode": "ipvlan"}), false),
        (json!({"mode": "ipvlan", "ipvlan_mode": "l2"}), false),
        (json!({"mode": "ipvlan", "ipvlan_mode": "l3"}), true),
        (json!({"mode": "ipvlan", "ipvlan_mode": "l3s"}), true),
    ] {
        let (code, body) = check(generic.clone());
        assert_eq!(code, 200, "{generic} {body}");
        assert_eq!(
            body,
            json!({"SkipIPv4": skip, "SkipIPv6": skip}),
            "{generic}"
        );
    }
    let (code, body) = check(json!({"mode": "ipvlan", "ipvlan_mode": "l4"}));
    assert_eq!(code, 500);
    assert!(
        body["Err"].as_str().unwrap().contains("option ipvlan_mode"),
        "{body}"
    );
    let (code, _) = call(&d, "/NetworkDriver.GwAllocCheck", "");
    assert_eq!(code, 200, "no options: a routed network, gateways used");

    // Then, as dockerd does after SkipIPv4: a pool, no gateway request, a network without one.
    let (_, pool) = call(
        &d,
        "/IpamDriver.RequestPool",
        r#"{"AddressSpace":"local","Pool":"10.46.0.0/24","SubPool":"","Options":{},"V6":false}"#,
    );
    let net = "71c6000000000000000000000000000000000000000000000000000000000000";
    let (code, body) = call(
        &d,
        "/NetworkDriver.CreateNetwork",
        &json!({"NetworkID": net, "Options": {"com.docker.network.enable_ipv4": true,
            "com.docker.network.enable_ipv6": false,
            "com.docker.network.generic": {"mode": "ipvlan", "ipvlan_mode": "l3"}},
            "IPv4Data": [{"AddressSpace": "local", "Pool": "10.46.0.0/24"}], "IPv6Data": []})
        .to_string(),
    );
    assert_eq!((code, body), (200, json!({})));
    let (_, address) = call(
        &d,
        "/IpamDriver.RequestAddress",
        &json!({"PoolID": pool["PoolID"], "Address": "", "Options": null}).to_string(),
    );
    assert_eq!(
        address["Address"], "10.46.0.1/24",
        "the first address goes to a container"
    );
}

/// POSTs `body` and reads the answer even when the server stops reading before the body's
/// end (it answers and closes as soon as the limit is passed, so the write may break).
fn post_ignoring_write_errors(d: &Daemon, path: &str, body: &[u8]) -> (u16, Value) {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: plugin\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body));
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let code = head.split_whitespace().nth(1).and_then(|c| c.parse().ok());
    (
        code.unwrap_or(0),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[test]
fn a_body_over_the_limit_is_refused_naming_it_and_the_daemon_keeps_serving() {
    let d = daemon("limit");
    let huge = format!("{{\"Pool\": \"{}\"}}", "x".repeat(2 << 20));
    let (code, body) = post_ignoring_write_errors(&d, "/IpamDriver.RequestPool", huge.as_bytes());
    assert_eq!(code, 500, "{body}");
    let err = body["Err"].as_str().unwrap();
    assert!(err.contains(&MAX_BODY.to_string()), "{err}");
    // Just under the limit is read (and refused for what it says, not for its size).
    let big = format!("{{\"Pool\": \"{}\"}}", "x".repeat(MAX_BODY - 20));
    let (code, body) = call(&d, "/IpamDriver.RequestPool", &big);
    assert_eq!(code, 500);
    assert!(
        body["Err"].as_str().unwrap().contains("invalid pool"),
        "{body}"
    );
    let (code, _) = call(&d, "/Plugin.Activate", "");
    assert_eq!(code, 200);
}

struct NoRoutes;

impl wharf_bgp::speaker::RouteSink for NoRoutes {
    fn apply(&mut self, _: &[wharf_bgp::rib::RouteChange]) {}
}

/// A speaker that never touches the network: no listener, one passive peer (it waits, in
/// Active, for a connection that cannot come).
fn quiet_speaker(runtime: &tokio::runtime::Runtime) -> Option<wharf_bgp::speaker::Speaker> {
    use wharf_bgp::speaker::{PeerSpec, Speaker, SpeakerConfig};
    let config = SpeakerConfig {
        asn: 65001,
        router_id: "198.51.100.1".parse().unwrap(),
        port: 179,
        listen: false,
        peers: vec![PeerSpec {
            address: "198.51.100.254".parse().unwrap(),
            asn: 65000,
            passive: true,
            hold_time: 90,
            connect_retry: std::time::Duration::from_secs(30),
            graceful_restart: None,
            import: Default::default(),
            export: Default::default(),
            transport: Default::default(),
            max_prefixes: None,
        }],
        protected: Vec::new(),
        restarted: false,
        interface_addresses: None,
    };
    Some(
        runtime
            .block_on(Speaker::start(config, Box::new(NoRoutes)))
            .unwrap(),
    )
}

#[test]
fn bgp_refresh_without_a_speaker_says_how_to_start_one() {
    let d = daemon("refresh-nobgp");
    let (code, body) = call(&d, "/Wharf.BgpRefresh", "");
    assert_eq!(code, 500);
    assert!(
        body["Err"]
            .as_str()
            .unwrap()
            .contains("start wharf serve with --bgp-asn"),
        "{body}"
    );
}

#[test]
fn bgp_refresh_answers_per_peer_and_names_an_unknown_one() {
    let d = daemon_with("refresh", quiet_speaker);
    let down = json!([{"peer": "198.51.100.254", "outcome": "not-established", "state": "Active"}]);
    assert_eq!(call(&d, "/Wharf.BgpRefresh", ""), (200, down.clone()));
    let named = r#"{"peer":"198.51.100.254"}"#;
    assert_eq!(call(&d, "/Wharf.BgpRefresh", named), (200, down));
    let (code, body) = call(&d, "/Wharf.BgpRefresh", r#"{"peer":"198.51.100.9"}"#);
    assert_eq!(code, 500);
    let message = body["Err"].as_str().unwrap();
    assert!(
        message.contains("198.51.100.9 is not a BGP peer")
            && message.contains("its peers: 198.51.100.254")
            && message.contains("--bgp-peer"),
        "{message}"
    );
    let (code, body) = call(&d, "/Wharf.BgpRefresh", r#"{"peer":"nonsense"}"#);
    assert_eq!(code, 500);
    assert!(
        body["Err"].as_str().unwrap().contains("malformed JSON"),
        "{body}"
    );
}
