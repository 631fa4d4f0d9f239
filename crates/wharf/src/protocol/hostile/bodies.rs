//! Every endpoint, sent arbitrary JSON, mutated Docker bodies and raw bytes, through the
//! server's dispatch (and, for a smaller sample, its real unix socket).

use bytes::Bytes;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::*;
use crate::protocol::server::dispatch;

/// Every path wharf answers, and some it does not.
pub const PATHS: &[&str] = &[
    "/Plugin.Activate",
    "/NetworkDriver.GetCapabilities",
    "/NetworkDriver.GwAllocCheck",
    "/NetworkDriver.CreateNetwork",
    "/NetworkDriver.DeleteNetwork",
    "/NetworkDriver.CreateEndpoint",
    "/NetworkDriver.DeleteEndpoint",
    "/NetworkDriver.EndpointOperInfo",
    "/NetworkDriver.Join",
    "/NetworkDriver.Leave",
    "/NetworkDriver.ProgramExternalConnectivity",
    "/NetworkDriver.RevokeExternalConnectivity",
    "/NetworkDriver.DiscoverNew",
    "/NetworkDriver.DiscoverDelete",
    "/IpamDriver.GetCapabilities",
    "/IpamDriver.GetDefaultAddressSpaces",
    "/IpamDriver.RequestPool",
    "/IpamDriver.ReleasePool",
    "/IpamDriver.RequestAddress",
    "/IpamDriver.ReleaseAddress",
    "/Wharf.Status",
    "/NetworkDriver.Nope",
    "/",
    "/../IpamDriver.RequestPool",
];

/// A body dockerd could send to `path`, aimed at the populated host's objects.
fn template(path: &str) -> Value {
    let ids = json!({"NetworkID": NET, "EndpointID": EP_A});
    match path {
        "/NetworkDriver.GwAllocCheck" => json!({"Options": {"com.docker.network.enable_ipv4": true,
            "com.docker.network.generic": {"mode": "ipvlan", "ipvlan_mode": "l3"}}}),
        "/NetworkDriver.CreateNetwork" => json!({"NetworkID": "71c6".repeat(16),
            "Options": {"com.docker.network.enable_ipv6": false,
                "com.docker.network.generic": {"mode": "routed", "mtu": "1400"}},
            "IPv4Data": [{"AddressSpace": "local", "Gateway": "10.48.0.1/24", "Pool": "10.48.0.0/24"}],
            "IPv6Data": []}),
        "/NetworkDriver.DeleteNetwork" => json!({"NetworkID": NET}),
        "/NetworkDriver.CreateEndpoint" => json!({"NetworkID": NET, "EndpointID": EP_B,
            "Interface": {"Address": "10.46.1.8/16", "AddressIPv6": "", "MacAddress": ""},
            "Options": {"wharf.addresses": "10.46.2.2", "com.docker.network.portmap": []}}),
        "/NetworkDriver.Join" => json!({"NetworkID": NET, "EndpointID": EP_A,
            "SandboxKey": "/var/run/docker/netns/y", "Options": {}}),
        "/NetworkDriver.ProgramExternalConnectivity" => {
            json!({"NetworkID": NET, "EndpointID": EP_A,
            "Options": {"com.docker.network.portmap": [{"Proto": 6, "IP": "", "Port": 80,
                "HostIP": "", "HostPort": 8080, "HostPortEnd": 8080}]}})
        }
        "/NetworkDriver.DiscoverNew" | "/NetworkDriver.DiscoverDelete" => {
            json!({"DiscoveryType": 1, "DiscoveryData": {}})
        }
        "/IpamDriver.RequestPool" => json!({"AddressSpace": "local", "Pool": "10.49.0.0/24",
            "SubPool": "10.49.0.0/25", "Options": {}, "V6": false}),
        "/IpamDriver.ReleasePool" => json!({"PoolID": POOL}),
        "/IpamDriver.RequestAddress" => json!({"PoolID": POOL, "Address": "10.46.1.9",
            "Options": {"RequestAddressType": "com.docker.network.gateway"}}),
        "/IpamDriver.ReleaseAddress" => json!({"PoolID": POOL, "Address": "10.46.1.7"}),
        p if p.starts_with("/NetworkDriver.") => ids,
        _ => json!({}),
    }
}

/// Strings that are not what a field expects, or only nearly: IDs that are not Docker's,
/// addresses outside the pools or of the other family, malformed CIDRs, huge and odd text.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".into()),
        Just(NET.into()),
        Just(EP_A.into()),
        Just(EP_A.to_uppercase()),
        Just(POOL.into()),
        Just("x".repeat(5000)),
        Just("a".repeat(129)),
        Just("dabd00000".into()),
        Just("zzzz000000000000".into()),
        Just("../../etc/passwd".into()),
        Just("10.46.0.0/33".into()),
        Just("10.46.1.7/16".into()),
        Just("10.46.0.0".into()),
        Just("10.46.255.255".into()),
        Just("10.99.0.1".into()),
        Just("999.1.1.1".into()),
        Just("0.0.0.0/0".into()),
        Just("::/0".into()),
        Just("fd4e::1/64".into()),
        Just("fe80::1%eth0".into()),
        Just("10.46.1.8;10.46.1.8".into()),
        Just("\u{0}\u{7f}\n\r\t".into()),
        Just("ipvlan".into()),
        Just("macvlan".into()),
        Just("1e999".into()),
        Just("-1".into()),
        "[0-9a-f]{1,80}",
        "[0-9./:a-f]{0,24}",
        any::<String>(),
    ]
}

/// Numbers JSON can carry, including ones no field would take.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from), // NaN and infinities become null
        Just(Value::from(u64::MAX)),
        Just(Value::from(i64::MIN)),
        Just(Value::from(1e308)),
    ]
}

/// Any JSON value, nested up to a few levels, with hostile strings among the leaves.
pub fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        number(),
        hostile_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::vec((field_name(), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Docker's field names (so that arbitrary objects reach the request structs' fields) and
/// others.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "NetworkID",
            "EndpointID",
            "PoolID",
            "Pool",
            "SubPool",
            "Address",
            "AddressIPv6",
            "MacAddress",
            "Interface",
            "Options",
            "IPv4Data",
            "IPv6Data",
            "Gateway",
            "V6",
            "SandboxKey",
            "AddressSpace",
            "com.docker.network.generic",
            "mode",
            "mtu",
            "parent",
            "wharf.addresses",
            "RequestAddressType",
            "accept_from",
            "ipvlan_mode",
        ])
        .prop_map(String::from),
        "[A-Za-z.]{0,12}",
    ]
}

/// Raw bodies that are not one serialized value: deep nesting, numbers past every integer
/// type, broken UTF-8, cut-off JSON.
pub fn raw_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (1usize..3000).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes()),
        (1usize..3000).prop_map(|n| {
            format!("{}1{}", "{\"NetworkID\":".repeat(n), "}".repeat(n)).into_bytes()
        }),
        Just(b"{\"PoolID\": 123456789012345678901234567890123}".to_vec()),
        Just(b"{\"V6\": 1e999}".to_vec()),
        Just(b"{\"NetworkID\": \"\\ud800\"}".to_vec()),
        Just(b"{\"Address\": \"\xff\xfe10.46.1.9\"}".to_vec()),
        Just(b"null".to_vec()),
        Just(b"  ".to_vec()),
        Just(b"{}{}".to_vec()),
        prop::collection::vec(any::<u8>(), 0..64),
    ]
}

/// Where in a body a mutation applies: a key of the top object or of an object below it.
#[derive(Debug, Clone)]
enum Mutation {
    Drop(usize),
    Replace(usize, Value),
    ReplaceString(usize, String),
    AddUnknown(String, Value),
    WrapInArray,
    NestDeep(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Drop),
        (any::<usize>(), arbitrary_json()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        (any::<usize>(), hostile_string()).prop_map(|(i, s)| Mutation::ReplaceString(i, s)),
        (field_name(), arbitrary_json()).prop_map(|(k, v)| Mutation::AddUnknown(k, v)),
        Just(Mutation::WrapInArray),
        (100usize..400).prop_map(Mutation::NestDeep),
    ]
}

/// The paths (lists of keys) of every value inside `value`'s objects.
fn keys(value: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Value::Object(map) = value {
        for (key, inner) in map {
            prefix.push(key.clone());
            out.push(prefix.clone());
            keys(inner, prefix, out);
            prefix.pop();
        }
    }
    if let Some(first) = value.as_array().and_then(|a| a.first()) {
        keys(first, prefix, out);
    }
}

/// The object holding the value at `path` (through the first element of any array).
fn parent_of<'a>(mut value: &'a mut Value, path: &[String]) -> Option<&'a mut Map<String, Value>> {
    for key in &path[..path.len() - 1] {
        if value.is_array() {
            value = value.get_mut(0)?;
        }
        value = value.get_mut(key)?;
    }
    if value.is_array() {
        value = value.get_mut(0)?;
    }
    value.as_object_mut()
}

fn mutate(mut body: Value, mutation: Mutation) -> Value {
    let mut paths = Vec::new();
    keys(&body, &mut Vec::new(), &mut paths);
    let pick = |i: usize| paths.get(i % paths.len().max(1)).cloned();
    match mutation {
        Mutation::Drop(i) | Mutation::Replace(i, _) | Mutation::ReplaceString(i, _)
            if pick(i).is_none() =>
        {
            body = Value::String("not an object".into())
        }
        Mutation::Drop(i) => {
            let path = pick(i).unwrap_or_default();
            if let Some(map) = parent_of(&mut body, &path) {
                map.remove(&path[path.len() - 1]);
            }
        }
        Mutation::Replace(i, value) => set(&mut body, &pick(i).unwrap_or_default(), value),
        Mutation::ReplaceString(i, text) => {
            set(&mut body, &pick(i).unwrap_or_default(), Value::String(text))
        }
        Mutation::AddUnknown(key, value) => {
            if let Some(map) = body.as_object_mut() {
                map.insert(key, value);
            }
        }
        Mutation::WrapInArray => body = Value::Array(vec![body]),
        Mutation::NestDeep(depth) => {
            let deep = (0..depth).fold(Value::Null, |inner, _| json!({ "a": [inner] }));
            if let Some(map) = body.as_object_mut() {
                map.insert("Options".into(), deep);
            }
        }
    }
    body
}

fn set(body: &mut Value, path: &[String], value: Value) {
    if let Some(map) = parent_of(body, path) {
        map.insert(path[path.len() - 1].clone(), value);
    }
}

/// Sends `body` to `path` on the populated host and checks the answer and, when the call
/// was refused, that nothing changed.
fn send(path: &str, body: Vec<u8>) -> Result<(), TestCaseError> {
    let h = populated("bodies");
    let before = h.engine.state();
    let calls = h.kernel.calls().len();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (status, answer) = runtime.block_on(dispatch(h.plugin.clone(), path, Bytes::from(body)));
    check_answer(path, status, &answer).map_err(TestCaseError::fail)?;
    let after = h.engine.state();
    if status != StatusCode::OK {
        prop_assert_eq!(
            &after,
            &before,
            "{} refused ({}) but changed the state",
            path,
            answer
        );
        prop_assert_eq!(
            h.kernel.calls().len(),
            calls,
            "{} refused but asked the kernel",
            path
        );
    }
    check_settled(&after).map_err(|e| TestCaseError::fail(format!("after {path}: {e}")))?;
    Ok(())
}

proptest! {
    #![proptest_config(config("arbitrary_json_to_every_endpoint", 1500))]
    #[test]
    fn arbitrary_json_to_every_endpoint(
        path in prop::sample::select(PATHS),
        body in prop_oneof![
            arbitrary_json().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
            raw_body(),
        ],
    ) {
        send(path, body)?;
    }
}

proptest! {
    #![proptest_config(config("mutated_docker_bodies_to_every_endpoint", 2500))]
    #[test]
    fn mutated_docker_bodies_to_every_endpoint(
        path in prop::sample::select(PATHS),
        mutations in prop::collection::vec(mutation(), 1..4),
        cut in prop::option::weighted(0.1, any::<prop::sample::Index>()),
    ) {
        let body = mutations.into_iter().fold(template(path), mutate);
        let mut bytes = serde_json::to_vec(&body).unwrap_or_default();
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        send(path, bytes)?;
    }
}
