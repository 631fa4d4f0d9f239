//! The engine's decisions through the plugin, against the recording dataplane: the call
//! sequences a real dockerd sends, failures that must leave nothing behind, restarts,
//! reconciliation, events.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;

use crate::dataplane::fake::{recording, Call, FakeKernel};
use crate::dataplane::HostRoute;
use crate::engine::{status, Engine, EngineConfig, Result};
use crate::model::State;
use crate::modes::{ModeDefaults, ModeRegistry};
use crate::protocol::plugin::Plugin;
use crate::protocol::types::*;
use crate::store::Store;

const NET: &str = "71c5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const EP_A: &str = "dabd000000000000000000000000000000000000000000000000000000000001";
const EP_B: &str = "beef000000000000000000000000000000000000000000000000000000000002";

struct Fixture {
    engine: Arc<Engine>,
    /// The engine as dockerd reaches it: Docker's requests, translated.
    plugin: Plugin,
    kernel: Arc<FakeKernel>,
    /// Removed on drop; None after a simulated crash, which keeps the state on disk.
    dir: Option<PathBuf>,
}

impl Fixture {
    /// Stops the engine the way kill -9 would: the state directory stays as it is.
    fn crash(mut self) {
        self.dir = None;
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wharf-engine-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

type Host = (crate::dataplane::Dataplane, Arc<FakeKernel>);

fn start(dir: PathBuf, host: Host) -> Fixture {
    start_with(dir, host, &ModeDefaults::default())
}

fn start_with(dir: PathBuf, host: Host, defaults: &ModeDefaults) -> Fixture {
    let store = Store::open_exclusive(&dir).unwrap();
    let modes = ModeRegistry::standard(defaults);
    let engine = Engine::load(EngineConfig::default(), modes, host.0, store).unwrap();
    engine.reconcile().unwrap();
    let engine = Arc::new(engine);
    Fixture {
        plugin: Plugin::new(engine.clone()),
        engine,
        kernel: host.1,
        dir: Some(dir),
    }
}

fn fixture(name: &str) -> Fixture {
    start(temp_dir(name), recording())
}

fn parse<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).unwrap()
}

/// RequestPool + gateway + CreateNetwork, as dockerd does for `--subnet 10.46.0.0/16`.
fn create_network(f: &Fixture, generic: serde_json::Value) -> Result<String> {
    create_network_on(f, NET, "10.46.0.0/16", generic)
}

/// RequestPool + gateway + CreateNetwork for `subnet`, as dockerd sends them; on a failed
/// create, the pool and gateway are given back as dockerd does. Returns the pool ID.
fn create_network_on(
    f: &Fixture,
    id: &str,
    subnet: &str,
    generic: serde_json::Value,
) -> Result<String> {
    let pool = f.plugin.request_pool(&parse(
        json!({"AddressSpace": "local", "Pool": subnet, "V6": false}),
    ))?;
    let gateway = f
        .plugin
        .request_address(&parse(json!({"PoolID": pool.pool_id,
        "Options": {"RequestAddressType": "com.docker.network.gateway"}})))?;
    let created = f.plugin.create_network(&parse(json!({"NetworkID": id,
        "Options": {"com.docker.network.enable_ipv6": false, "com.docker.network.generic": generic},
        "IPv4Data": [{"AddressSpace": "local", "Gateway": gateway.address, "Pool": subnet}],
        "IPv6Data": []})));
    if let Err(e) = created {
        let bare = gateway.address.split('/').next().unwrap_or_default();
        f.plugin
            .release_address(&parse(json!({"PoolID": pool.pool_id, "Address": bare})))?;
        f.plugin
            .release_pool(&parse(json!({"PoolID": pool.pool_id})))?;
        return Err(e);
    }
    Ok(pool.pool_id)
}

/// Whether the engine asked the kernel for forwarding (routed networks only).
fn forwarding_requested(f: &Fixture) -> bool {
    f.kernel
        .calls()
        .iter()
        .any(|c| matches!(c, Call::EnsureForwarding(_)))
}

fn create_endpoint(
    f: &Fixture,
    pool: &str,
    id: &str,
    ip: Option<&str>,
    options: serde_json::Value,
) -> Result<String> {
    let addr = f
        .plugin
        .request_address(&parse(json!({"PoolID": pool, "Address": ip.unwrap_or("")})))?;
    f.plugin.create_endpoint(&parse(json!({"NetworkID": NET, "EndpointID": id,
        "Interface":{"Address": addr.address, "AddressIPv6":"", "MacAddress":""}, "Options": options})))?;
    Ok(addr.address)
}

/// Join into a sandbox, as dockerd sends it; the answer.
fn join(f: &Fixture, endpoint: &str) -> JoinResponse {
    f.plugin
        .join(&parse(json!({"NetworkID": NET, "EndpointID": endpoint,
            "SandboxKey": "/var/run/docker/netns/x"})))
        .unwrap()
        .0
}

/// A fixture whose host has `eth1` (MTU 1500), with network NET on 10.50.0.0/24 made on it.
fn network_on_eth1(name: &str, generic: serde_json::Value) -> Fixture {
    let f = fixture(name);
    f.kernel.add_parent("eth1", 1500);
    create_network_on(&f, NET, "10.50.0.0/24", generic).unwrap();
    f
}

fn ep(id: &str) -> EndpointRequest {
    parse(json!({"NetworkID": NET, "EndpointID": id}))
}

#[test]
fn docker_sequence_creates_routes_and_removes_everything() {
    let f = fixture("sequence");
    let pool = create_network(&f, json!({})).unwrap();
    let a = create_endpoint(&f, &pool, EP_A, Some("10.46.1.7"), json!({})).unwrap();
    assert_eq!(a, "10.46.1.7/16");
    let (join, work) = f
        .plugin
        .join(&parse(json!({"NetworkID": NET, "EndpointID": EP_A,
        "SandboxKey": "/var/run/docker/netns/x"})))
        .unwrap();
    assert!(work.is_none());
    assert_eq!(join.interface_name.src_name, "wcdabd000000");
    assert_eq!(join.gateway, "10.46.0.1");
    assert_eq!(
        f.kernel.routes().into_iter().collect::<Vec<_>>(),
        vec![HostRoute {
            destination: "10.46.1.7/32".parse().unwrap(),
            device: "whdabd000000".into(),
            source: None,
        }]
    );
    assert!(f.kernel.calls().contains(&Call::EnsureForwarding(false)));
    // A routed container is reached at its own address: `-p` programs nothing.
    f.plugin
        .program_external(&parse(json!({"NetworkID": NET, "EndpointID": EP_A,
            "Options": {"com.docker.network.portmap": [
                {"Proto": 6, "IP": "", "Port": 80, "HostIP": "", "HostPort": 8080, "HostPortEnd": 8080}]}})))
        .unwrap();
    assert!(f.kernel.nat().is_empty());
    f.plugin.revoke_external(&ep(EP_A)).unwrap();
    f.plugin.leave(&ep(EP_A)).unwrap();
    f.plugin.delete_endpoint(&ep(EP_A)).unwrap();
    f.plugin
        .release_address(&parse(json!({"PoolID": pool, "Address": "10.46.1.7"})))
        .unwrap();
    f.plugin
        .release_address(&parse(json!({"PoolID": pool, "Address": "10.46.0.1"})))
        .unwrap();
    f.plugin
        .release_pool(&parse(json!({"PoolID": pool})))
        .unwrap();
    f.plugin
        .delete_network(&parse(json!({"NetworkID": NET})))
        .unwrap();
    assert!(f.kernel.links().is_empty());
    assert!(f.kernel.routes().is_empty());
    assert_eq!(f.engine.state(), State::new());
    assert_eq!(f.kernel.calls().last(), Some(&Call::ReleaseForwarding));
}

#[test]
fn extra_addresses_are_allocated_routed_and_released() {
    let f = fixture("extras");
    let pool = create_network(&f, json!({})).unwrap();
    create_endpoint(
        &f,
        &pool,
        EP_A,
        None,
        json!({"wharf.addresses": "10.46.1.8;10.46.1.9"}),
    )
    .unwrap();
    assert_eq!(f.kernel.routes().len(), 3);
    let (_, work) = f
        .plugin
        .join(&parse(json!({"NetworkID": NET, "EndpointID": EP_A,
        "SandboxKey": "/var/run/docker/netns/x"})))
        .unwrap();
    let work = work.unwrap();
    assert_eq!(work.addresses.len(), 2);
    assert_eq!(work.mac, [2, 0xda, 0xbd, 0, 0, 0]);
    // Docker cannot hand an extra address to another container.
    let taken = f
        .plugin
        .request_address(&parse(json!({"PoolID": pool, "Address": "10.46.1.8"})));
    assert!(taken
        .unwrap_err()
        .to_string()
        .contains("extra address of endpoint dabd"));
    // An extra address already in use fails the endpoint and leaves nothing behind.
    let err = create_endpoint(
        &f,
        &pool,
        EP_B,
        None,
        json!({"wharf.addresses": "10.46.1.9"}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("10.46.1.9"), "{err}");
    assert_eq!(f.kernel.links().len(), 1);
    f.plugin.delete_endpoint(&ep(EP_A)).unwrap();
    f.plugin
        .request_address(&parse(json!({"PoolID": pool, "Address": "10.46.1.8"})))
        .unwrap();
}

#[test]
fn extra_address_outside_subnet_is_refused() {
    let f = fixture("extra-outside");
    let pool = create_network(&f, json!({})).unwrap();
    let err = create_endpoint(
        &f,
        &pool,
        EP_A,
        None,
        json!({"wharf.addresses": "10.99.0.1"}),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("outside the network's subnets"),
        "{err}"
    );
    assert!(f.kernel.links().is_empty());
}

#[test]
fn kernel_failure_leaves_no_endpoint_and_no_allocation() {
    let f = fixture("kernel-fail");
    let pool = create_network(&f, json!({})).unwrap();
    f.kernel.fail_on("create_veth");
    let err = create_endpoint(
        &f,
        &pool,
        EP_A,
        None,
        json!({"wharf.addresses": "10.46.1.8"}),
    );
    assert!(err.is_err());
    let state = f.engine.state();
    assert!(state.networks[NET].endpoints.is_empty());
    let pool_state = &state.pools[&pool];
    assert!(!pool_state
        .allocations
        .contains_key(&"10.46.1.8".parse::<std::net::IpAddr>().unwrap()));
    f.kernel.heal();
    create_endpoint(
        &f,
        &pool,
        EP_A,
        None,
        json!({"wharf.addresses": "10.46.1.8"}),
    )
    .unwrap();
}

#[test]
fn bad_options_create_nothing() {
    let f = fixture("bad-options");
    let err = create_network(&f, json!({"bogus": "1"})).unwrap_err();
    assert!(err.to_string().contains("\"bogus\""), "{err}");
    let state = f.engine.state();
    assert!(state.networks.is_empty() && state.pools.is_empty());
    assert!(!forwarding_requested(&f));
}

#[test]
fn unknown_ids_are_clear_errors() {
    let f = fixture("unknown");
    let err = f
        .plugin
        .join(&parse(
            json!({"NetworkID": "nope", "EndpointID": EP_A, "SandboxKey": "/x"}),
        ))
        .unwrap_err();
    assert_eq!(err.to_string(), "network nope is not known to wharf");
    create_network(&f, json!({})).unwrap();
    let err = f.plugin.leave(&ep(EP_B)).unwrap_err();
    assert!(
        err.to_string()
            .contains("endpoint beef00000000 is not known"),
        "{err}"
    );
    assert!(f
        .plugin
        .create_endpoint(&parse(json!({"NetworkID": NET, "EndpointID": "zz"})))
        .is_err());
}

#[test]
fn ipv6_endpoints_reach_each_other_through_the_gateway_with_no_proxy_entries() {
    let f = fixture("ipv6");
    let v4 = f
        .plugin
        .request_pool(&parse(json!({"Pool":"10.46.0.0/16"})))
        .unwrap();
    let v6 = f
        .plugin
        .request_pool(&parse(json!({"Pool":"fd4e:46::/64","V6":true})))
        .unwrap();
    f.plugin
        .create_network(&parse(json!({"NetworkID": NET,
        "Options":{"com.docker.network.enable_ipv6":true},
        "IPv4Data":[{"Gateway":"10.46.0.1/16","Pool":"10.46.0.0/16"}],
        "IPv6Data":[{"Gateway":"fd4e:46::1/64","Pool":"fd4e:46::/64"}]})))
        .unwrap();
    for (id, four, six) in [
        (EP_A, "10.46.0.7/16", "fd4e:46::7/64"),
        (EP_B, "10.46.0.8/16", "fd4e:46::8/64"),
    ] {
        f.plugin
            .create_endpoint(&parse(json!({"NetworkID": NET, "EndpointID": id,
            "Interface":{"Address": four, "AddressIPv6": six}})))
            .unwrap();
    }
    // Nothing per pair of containers: the cost of one does not grow with their number.
    assert!(f.kernel.proxies().is_empty());
    let (join, _) = f
        .plugin
        .join(&parse(
            json!({"NetworkID": NET, "EndpointID": EP_B, "SandboxKey": "/x"}),
        ))
        .unwrap();
    assert_eq!(join.gateway_ipv6, "fd4e:46::1");
    let routes: Vec<(String, String)> = join
        .static_routes
        .iter()
        .map(|r| (r.destination.clone(), r.next_hop.clone()))
        .collect();
    for (destination, hop) in [
        ("fd4e:46::1/128", ""),
        ("fd4e:46::/65", "fd4e:46::1"),
        ("fd4e:46:0:0:8000::/65", "fd4e:46::1"),
    ] {
        assert!(
            routes.contains(&(destination.into(), hop.into())),
            "{destination} via {hop:?} in {routes:?}"
        );
    }
    f.plugin.delete_endpoint(&ep(EP_B)).unwrap();
    assert!(f.kernel.calls().contains(&Call::EnsureForwarding(true)));
    let _ = (v4, v6);
}

#[test]
fn state_survives_restart_and_reconcile_restores_routes_and_removes_strays() {
    let dir = temp_dir("restart");
    let host = recording();
    let kernel = host.1.clone();
    let pool = {
        let f = start(dir.clone(), host.clone());
        let pool = create_network(&f, json!({})).unwrap();
        create_endpoint(&f, &pool, EP_A, Some("10.46.1.7"), json!({})).unwrap();
        f.crash();
        pool
    };
    let route = HostRoute {
        destination: "10.46.1.7/32".parse().unwrap(),
        device: "whdabd000000".into(),
        source: None,
    };
    kernel.drop_route(&route);
    kernel.add_link("wh0000000000", "wharf:0000000000");
    kernel.add_link("eth7", "not ours");
    let f = start(dir, host);
    assert!(kernel.routes().contains(&route));
    let links = kernel.links();
    assert!(!links.contains_key("wh0000000000"));
    assert!(links.contains_key("eth7"));
    // Allocations survived: the address is not handed out twice.
    let err = f
        .plugin
        .request_address(&parse(json!({"PoolID": pool, "Address": "10.46.1.7"})));
    assert!(err.is_err());
    let next = f
        .plugin
        .request_address(&parse(json!({"PoolID": pool})))
        .unwrap();
    assert_ne!(next.address, "10.46.1.7/16");
}

#[test]
fn reconcile_keeps_endpoint_whose_link_vanished() {
    let f = fixture("vanished");
    let pool = create_network(&f, json!({})).unwrap();
    create_endpoint(&f, &pool, EP_A, None, json!({})).unwrap();
    f.kernel.drop_link("whdabd000000");
    let (plan, _) = f.engine.reconcile().unwrap();
    assert_eq!(plan.endpoints_without_link, vec![EP_A.to_string()]);
    assert!(plan.restore_routes.is_empty());
    f.plugin.delete_endpoint(&ep(EP_A)).unwrap();
}

#[test]
fn status_reports_routes_and_their_presence() {
    let f = fixture("status");
    let pool = create_network(&f, json!({})).unwrap();
    create_endpoint(&f, &pool, EP_A, Some("10.46.1.7"), json!({})).unwrap();
    let text = status::render(&f.plugin.status().unwrap());
    assert!(
        text.contains("route 10.46.1.7/32 dev whdabd000000"),
        "{text}"
    );
    assert!(!text.contains("MISSING"));
    // A route gone from the kernel is shown as such.
    f.kernel.drop_route(&HostRoute {
        destination: "10.46.1.7/32".parse().unwrap(),
        device: "whdabd000000".into(),
        source: None,
    });
    let text = status::render(&f.plugin.status().unwrap());
    assert!(
        text.contains("route 10.46.1.7/32 dev whdabd000000 MISSING"),
        "{text}"
    );
}

/// A macvlan network as dockerd creates it (wharf IPAM), with `generic` options.
fn create_macvlan_network(
    f: &Fixture,
    id: &str,
    subnet: &str,
    generic: serde_json::Value,
) -> Result<()> {
    create_network_on(f, id, subnet, generic).map(drop)
}

#[test]
fn macvlan_network_takes_the_parents_mtu_and_refuses_a_larger_one() {
    let f = fixture("macvlan-mtu");
    f.kernel.add_parent("eth1", 1450);
    let err = create_macvlan_network(
        &f,
        NET,
        "10.50.0.0/24",
        json!({"mode": "macvlan", "parent": "eth1", "mtu": "9000"}),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("9000") && err.contains("eth1") && err.contains("1450"),
        "{err}"
    );
    let err = create_macvlan_network(
        &f,
        NET,
        "10.50.0.0/24",
        json!({"mode": "macvlan", "parent": "eth9"}),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("parent eth9 does not exist"), "{err}");
    assert_eq!(f.engine.state(), State::new());
    create_macvlan_network(
        &f,
        NET,
        "10.50.0.0/24",
        json!({"mode": "macvlan", "parent": "eth1"}),
    )
    .unwrap();
    let state = f.engine.state();
    assert_eq!(state.networks[NET].mtu, 1450);
    // A macvlan network needs no forwarding and no firewall rules.
    assert!(!forwarding_requested(&f));
}

#[test]
fn macvlan_parent_defaults_to_the_default_route_interface() {
    let f = fixture("macvlan-default");
    let err = create_macvlan_network(&f, NET, "10.50.0.0/24", json!({"mode": "macvlan"}))
        .unwrap_err()
        .to_string();
    assert!(err.contains("-o parent="), "{err}");
    f.kernel.add_parent("uplink0", 1500);
    f.kernel.set_default_route_device("uplink0");
    create_macvlan_network(&f, NET, "10.50.0.0/24", json!({"mode": "macvlan"})).unwrap();
    let settings = crate::modes::parent::attachment(&f.engine.state().networks[NET]).unwrap();
    assert_eq!(settings.parent, "uplink0");
    assert_eq!(
        settings.kind,
        crate::dataplane::SubLinkKind::Macvlan {
            mode: crate::dataplane::MacvlanMode::Bridge
        }
    );
}

#[test]
fn macvlan_endpoint_is_one_link_with_the_gateway_and_no_host_routes() {
    let f = network_on_eth1(
        "macvlan-endpoint",
        json!({"mode": "macvlan", "parent": "eth1"}),
    );
    let pool = "local/10.50.0.0/24";
    create_endpoint(&f, pool, EP_A, Some("10.50.0.7"), json!({})).unwrap();
    assert!(f
        .kernel
        .calls()
        .contains(&Call::CreateSubLink("wcdabd000000".into())));
    assert!(f.kernel.routes().is_empty());
    let join = join(&f, EP_A);
    assert_eq!(join.interface_name.src_name, "wcdabd000000");
    assert_eq!(join.gateway, "10.50.0.1");
    assert!(join.static_routes.is_empty());
    // After a restart, a joined macvlan endpoint's link is in its sandbox: nothing to undo.
    f.kernel.drop_link("wcdabd000000");
    let (plan, _) = f.engine.reconcile().unwrap();
    assert!(plan.endpoints_without_link.is_empty() && plan.restore_routes.is_empty());
    assert_eq!(plan.forwarding, None);
    f.plugin.delete_endpoint(&ep(EP_A)).unwrap();
    assert!(f.kernel.links().is_empty());
}

#[test]
fn macvlan_passthru_keeps_its_parent_and_one_container() {
    let f = fixture("macvlan-passthru");
    f.kernel.add_parent("eth1", 1500);
    f.kernel.add_parent("eth2", 1500);
    create_macvlan_network(
        &f,
        NET,
        "10.50.0.0/24",
        json!({"mode": "macvlan", "parent": "eth1"}),
    )
    .unwrap();
    let other = "72c5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let err = create_macvlan_network(
        &f,
        other,
        "10.51.0.0/24",
        json!({"mode": "macvlan", "parent": "eth1", "macvlan_mode": "passthru"}),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("passthru parent cannot be shared"), "{err}");
    // Two bridge-mode networks may share a parent; a passthru one on its own parent is fine.
    create_macvlan_network(
        &f,
        other,
        "10.51.0.0/24",
        json!({"mode": "macvlan", "parent": "eth2", "macvlan_mode": "passthru"}),
    )
    .unwrap();
    let pass = |id: &str, ip: &str| {
        let address = f
            .plugin
            .request_address(&parse(
                json!({"PoolID": "local/10.51.0.0/24", "Address": ip}),
            ))
            .unwrap();
        f.plugin
            .create_endpoint(&parse(json!({"NetworkID": other, "EndpointID": id,
            "Interface": {"Address": address.address}})))
    };
    pass(EP_A, "10.51.0.7").unwrap();
    let err = pass(EP_B, "10.51.0.8").unwrap_err().to_string();
    assert!(err.contains("already has a container"), "{err}");
}

mod attachments;
mod events;
mod fences;
mod scale;

#[test]
fn a_link_made_but_not_yet_marked_when_wharf_died_is_removed_at_the_next_start() {
    let dir = temp_dir("crash-window");
    let host = recording();
    let kernel = host.1.clone();
    let pool = {
        let f = start(dir.clone(), host.clone());
        let pool = create_network(&f, json!({})).unwrap();
        kernel.crash_before_alias();
        let died = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            create_endpoint(&f, &pool, EP_A, Some("10.46.1.7"), json!({}))
        }));
        assert!(died.is_err(), "the process died between the two requests");
        f.crash();
        pool
    };
    // The link is there, unmarked: without the intent nothing would tell whose it is.
    assert_eq!(
        kernel.links().get("whdabd000000").map(String::as_str),
        Some("")
    );
    let f = start(dir, host);
    assert!(
        !kernel.links().contains_key("whdabd000000"),
        "{:?}",
        kernel.links()
    );
    assert!(f.engine.state().intents.is_empty());
    // The address Docker took is Docker's to release; the endpoint never existed.
    assert!(f.engine.state().networks[NET].endpoints.is_empty());
    create_endpoint(&f, &pool, EP_A, None, json!({})).unwrap();
    // Someone else's link of an intended name is left alone.
    f.kernel.add_link("whbeef000000", "someone else");
    f.kernel.add_link("whbeef000001", "");
    let _ = f
        .plugin
        .create_endpoint(&parse(json!({"NetworkID": NET, "EndpointID": EP_B,
            "Interface": {"Address": "10.46.1.9/16"}})));
    assert_eq!(f.kernel.links()["whbeef000000"], "someone else");
}

/// dockerd 26, seen in the chaos test: DeleteEndpoint failed with wharf restarting, its retry
/// arrived without a body, and Docker gave the endpoint up and released its address.
#[test]
fn an_address_released_under_a_forgotten_endpoint_takes_the_endpoint_with_it() {
    let f = fixture("forgotten-endpoint");
    let pool = create_network(&f, json!({})).unwrap();
    create_endpoint(&f, &pool, EP_A, Some("10.46.1.7"), json!({})).unwrap();
    create_endpoint(&f, &pool, EP_B, Some("10.46.1.8"), json!({})).unwrap();
    join(&f, EP_A);
    join(&f, EP_B);
    f.plugin.leave(&ep(EP_A)).unwrap();
    let lost = f.plugin.delete_endpoint(&parse(json!({})));
    assert!(lost.is_err(), "a body-less DeleteEndpoint names nothing");
    // EP_B is still in its container: its address is not given up under it.
    let before = f.engine.state();
    let err = f
        .plugin
        .release_address(&parse(json!({"PoolID": pool, "Address": "10.46.1.8"})))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("address 10.46.1.8 is still used by endpoint beef00000000"),
        "{err}"
    );
    assert_eq!(f.engine.state(), before);
    // EP_A left its container and Docker forgot it: its release takes it away.
    f.plugin
        .release_address(&parse(json!({"PoolID": pool, "Address": "10.46.1.7"})))
        .unwrap();
    let state = f.engine.state();
    assert!(state.endpoint(NET, EP_A).is_none());
    assert!(
        !f.kernel.links().contains_key("whdabd000000"),
        "{:?}",
        f.kernel.links()
    );
    let again = create_endpoint(&f, &pool, EP_A, Some("10.46.1.7"), json!({}));
    assert!(again.is_ok(), "the address is free again: {again:?}");
}

#[cfg(test)]
#[path = "sequences_ovs.rs"]
mod ovs;
