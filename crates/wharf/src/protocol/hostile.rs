//! Hostile input: property tests that drive every plugin endpoint with arbitrary and mutated
//! JSON ([`bodies`]), and the plugin's calls in arbitrary orders with colliding IDs
//! ([`orders`]), against the engine on the recording fake dataplane. What must hold whatever
//! arrives: no panic; an answer that is either a success or a clear `{"Err": ...}`; a refused
//! call changes neither the state nor the (fake) kernel; the state stays consistent; and
//! whatever was made can be taken away again, leaving nothing behind.
//!
//! Case counts (proptest `cases`, also printed by each test; 25 to 45 s in all with
//! `cargo test --release` on this 2-core machine, the slowest test about 30 s on its own):
//! - `bodies::arbitrary_json_to_every_endpoint`: 1500 cases, one arbitrary body each.
//! - `bodies::mutated_docker_bodies_to_every_endpoint`: 2500 cases, one mutated body each.
//! - `bodies::raw_bytes_over_the_socket`: 150 cases through the real unix-socket server.
//! - `orders::arbitrary_call_orders`: 400 cases of 1 to 50 operations each (dockerd's
//!   composite ones expand to 3 calls), then a full teardown.
//! - `corrupt::damaged_state_at_start`: 400 damaged state directories loaded.
//!
//! `PROPTEST_CASES=N` in the environment overrides every count (for a longer soak).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hyper::StatusCode;
use proptest::test_runner::Config;
use serde_json::{json, Value};

use crate::dataplane::fake::{recording, FakeKernel};
use crate::engine::{Engine, EngineConfig};
use crate::model::{Allocation, State};
use crate::modes::{ModeDefaults, ModeRegistry};
use crate::protocol::plugin::Plugin;
use crate::store::Store;

mod bodies;
mod corrupt;
mod orders;
mod regressions;
mod socket;

pub const NET: &str = "71c5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub const EP_A: &str = "dabd000000000000000000000000000000000000000000000000000000000001";
pub const EP_B: &str = "beef000000000000000000000000000000000000000000000000000000000002";
pub const POOL: &str = "local/10.46.0.0/16";

/// An engine on the recording dataplane, with a host that has `eth1` for macvlan networks.
pub struct Host {
    pub engine: Arc<Engine>,
    pub plugin: Arc<Plugin>,
    pub kernel: Arc<FakeKernel>,
    dir: PathBuf,
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh host in its own state directory (proptest cases of parallel tests must not share).
pub fn host(name: &str) -> Host {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("wharf-hostile-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (dataplane, kernel) = recording();
    kernel.add_parent("eth1", 1500);
    let store = Store::open_exclusive(&dir).expect("state directory");
    let modes = ModeRegistry::standard(&ModeDefaults::default());
    let engine = Arc::new(
        Engine::load(EngineConfig::default(), modes, dataplane, store).expect("empty state loads"),
    );
    Host {
        plugin: Arc::new(Plugin::new(engine.clone())),
        engine,
        kernel,
        dir,
    }
}

pub fn parse<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("a well-formed request")
}

/// A host with what a real dockerd would have made: pool 10.46.0.0/16 with its gateway,
/// routed network NET, endpoint EP_A (10.46.1.7, extra 10.46.2.1) joined to a sandbox. The
/// hostile bodies are aimed at these, so that they meet real objects.
pub fn populated(name: &str) -> Host {
    let h = host(name);
    let p = &h.plugin;
    p.request_pool(&parse(
        json!({"AddressSpace": "local", "Pool": "10.46.0.0/16", "V6": false}),
    ))
    .expect("pool");
    p.request_address(&parse(json!({"PoolID": POOL, "Address": "10.46.0.1",
        "Options": {"RequestAddressType": "com.docker.network.gateway"}})))
        .expect("gateway");
    p.create_network(&parse(json!({"NetworkID": NET,
        "Options": {"com.docker.network.enable_ipv6": false, "com.docker.network.generic": {}},
        "IPv4Data": [{"AddressSpace": "local", "Gateway": "10.46.0.1/16", "Pool": "10.46.0.0/16"}],
        "IPv6Data": []})))
        .expect("network");
    p.request_address(&parse(json!({"PoolID": POOL, "Address": "10.46.1.7"})))
        .expect("address");
    p.create_endpoint(&parse(json!({"NetworkID": NET, "EndpointID": EP_A,
        "Interface": {"Address": "10.46.1.7/16", "AddressIPv6": "", "MacAddress": ""},
        "Options": {"wharf.addresses": "10.46.2.1"}})))
        .expect("endpoint");
    p.join(&parse(json!({"NetworkID": NET, "EndpointID": EP_A,
        "SandboxKey": "/var/run/docker/netns/x"})))
        .expect("join");
    h
}

/// The proptest configuration: `cases` unless PROPTEST_CASES says otherwise; failures are
/// not persisted to files in the source tree (a failing case is kept as a regression test).
pub fn config(test: &str, cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    eprintln!("hostile: {test}: {cases} cases");
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// An error Docker can show a user: one line-ish of printable text that is not a panic.
pub fn check_error_text(message: &str) -> Result<(), String> {
    if message.trim().is_empty() {
        return Err("an empty error".into());
    }
    if message.contains("panicked") {
        return Err(format!("a panic answered as an error: {message}"));
    }
    if message.chars().any(|c| c.is_control() && c != '\n') {
        return Err(format!("control characters in {message:?}"));
    }
    if message.len() > 4096 {
        return Err(format!("an error of {} bytes", message.len()));
    }
    Ok(())
}

/// What a server answer must look like: 200 with a JSON object, or 500 (404 for a call
/// wharf does not implement) with the same readable text in `Err` and, for 500, `Error`.
pub fn check_answer(path: &str, status: StatusCode, body: &Value) -> Result<(), String> {
    match status {
        StatusCode::OK if body.is_object() => Ok(()),
        StatusCode::INTERNAL_SERVER_ERROR | StatusCode::NOT_FOUND => {
            let err = body["Err"].as_str().ok_or("no Err string")?;
            check_error_text(err)?;
            if status == StatusCode::INTERNAL_SERVER_ERROR && body["Error"] != body["Err"] {
                return Err("Error differs from Err".into());
            }
            Ok(())
        }
        other => Err(format!("{path}: status {other}, body {body}")),
    }
    .map_err(|e| format!("{path}: {e}"))
}

/// What must hold of any state wharf committed.
pub fn check_state(state: &State) -> Result<(), String> {
    for (network, endpoint) in state.endpoints() {
        let mine: Vec<_> = endpoint.addresses().collect();
        // Two holders of one address on one network: two routes or ARP answers for it.
        for other in network.endpoints.values().filter(|o| o.id != endpoint.id) {
            if let Some(a) = other.addresses().find(|a| mine.contains(a)) {
                return Err(format!(
                    "{a} is held by endpoints {} and {}",
                    endpoint.id, other.id
                ));
            }
        }
        for address in endpoint.primary.iter().map(|p| p.addr()) {
            if !network.subnets.iter().any(|s| s.prefix.contains(&address)) {
                return Err(format!("{address} is outside its network's subnets"));
            }
        }
        // An extra address stays wharf's, for this endpoint, while the endpoint lives.
        for extra in &endpoint.extra {
            let held = state
                .pools
                .get(&extra.pool_id)
                .and_then(|p| p.allocations.get(&extra.address));
            let mine = Allocation::Extra {
                endpoint: endpoint.id.clone(),
            };
            if held != Some(&mine) {
                return Err(format!(
                    "extra address {} of {} is {held:?} in pool {}",
                    extra.address, endpoint.id, extra.pool_id
                ));
            }
        }
    }
    for pool in state.pools.values() {
        for (address, allocation) in pool.allocations.iter() {
            if !pool.subnet.contains(address) {
                return Err(format!("{address} allocated outside pool {}", pool.subnet));
            }
            let owner_exists = match allocation {
                Allocation::Extra { endpoint } => state.endpoints().any(|(_, e)| {
                    &e.id == endpoint && e.extra.iter().any(|x| x.address == *address)
                }),
                Allocation::Shim { network } => state.networks.contains_key(network),
                Allocation::Gateway | Allocation::Docker => true,
            };
            if !owner_exists {
                return Err(format!(
                    "{address} in {} is {allocation:?}, whose owner is gone",
                    pool.id
                ));
            }
        }
    }
    Ok(())
}

/// [`check_state`], and no links left intended: between calls, every intent was finished.
/// (A state loaded after a crash may hold some; reconciliation takes them away.)
pub fn check_settled(state: &State) -> Result<(), String> {
    check_state(state)?;
    if !state.intents.is_empty() {
        return Err(format!("intents left between calls: {:?}", state.intents));
    }
    Ok(())
}
