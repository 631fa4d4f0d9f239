//! The plugin's calls in arbitrary orders (Join before CreateEndpoint, DeleteEndpoint twice,
//! Leave of an endpoint never made, a pool released under its network...), with IDs,
//! subnets and addresses drawn from small sets so that they collide. After every call: a
//! refused call changed nothing, and the state is consistent. At the end, everything is
//! taken away the way dockerd would, and nothing of wharf's is left in the state or on the
//! (fake) host.

use proptest::prelude::*;

use super::*;
use crate::engine::Result;

/// Network IDs: two Docker ones that share their first 12 digits (the short ID wharf
/// names things by), and one that is not Docker's.
const NETS: [&str; 3] = [
    "71c5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "71c5aaaaaaaabbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    "not-a-docker-id",
];
/// Endpoint IDs: two that share the digits their links are named by, one other.
const EPS: [&str; 3] = [
    "dabd000000000000000000000000000000000000000000000000000000000001",
    "dabd000000000000000000000000000000000000000000000000000000000002",
    "beef000000000000000000000000000000000000000000000000000000000003",
];
/// Subnets: two disjoint, one overlapping both, an IPv6 one, and "" (a default pool).
const SUBNETS: [&str; 5] = [
    "10.46.0.0/24",
    "10.46.1.0/24",
    "10.46.0.0/16",
    "fd4e:46::/64",
    "",
];
/// Pool IDs as wharf names them for SUBNETS (the first default pool last), and a stranger.
const POOLS: [&str; 6] = [
    "local/10.46.0.0/24",
    "local/10.46.1.0/24",
    "local/10.46.0.0/16",
    "local/fd4e:46::/64",
    "local/10.47.0.0/24",
    "local/10.99.0.0/24",
];
/// Addresses in, between and outside those subnets; "" asks for any.
const ADDRESSES: [&str; 8] = [
    "",
    "10.46.0.1",
    "10.46.0.7",
    "10.46.1.7",
    "10.47.0.5",
    "fd4e:46::7",
    "10.46.0.255",
    "10.99.0.1",
];
const MODES: [&str; 3] = ["routed", "macvlan", "ipvlan"];

#[derive(Debug, Clone)]
enum Op {
    RequestPool { subnet: usize, range: bool },
    ReleasePool { pool: usize },
    RequestAddress { pool: usize, address: usize, gateway: bool },
    ReleaseAddress { pool: usize, address: usize },
    CreateNetwork { net: usize, subnet: usize, gateway: usize, mode: usize },
    DeleteNetwork { net: usize },
    CreateEndpoint { net: usize, ep: usize, address: usize, extra: usize },
    DeleteEndpoint { net: usize, ep: usize },
    Join { net: usize, ep: usize },
    Leave { net: usize, ep: usize },
    OperInfo { net: usize, ep: usize },
}

fn op() -> impl Strategy<Value = Op> {
    let (n, e, s, p, a, m) = (0..NETS.len(), 0..EPS.len(), 0..SUBNETS.len(), 0..POOLS.len(),
        0..ADDRESSES.len(), 0..MODES.len());
    prop_oneof![
        1 => (s.clone(), any::<bool>()).prop_map(|(subnet, range)| Op::RequestPool { subnet, range }),
        1 => p.clone().prop_map(|pool| Op::ReleasePool { pool }),
        1 => (p.clone(), a.clone(), any::<bool>())
            .prop_map(|(pool, address, gateway)| Op::RequestAddress { pool, address, gateway }),
        1 => (p, a.clone()).prop_map(|(pool, address)| Op::ReleaseAddress { pool, address }),
        3 => (n.clone(), s, a.clone(), m)
            .prop_map(|(net, subnet, gateway, mode)| Op::CreateNetwork { net, subnet, gateway, mode }),
        1 => n.clone().prop_map(|net| Op::DeleteNetwork { net }),
        3 => (n.clone(), e.clone(), a.clone(), a)
            .prop_map(|(net, ep, address, extra)| Op::CreateEndpoint { net, ep, address, extra }),
        2 => (n.clone(), e.clone()).prop_map(|(net, ep)| Op::DeleteEndpoint { net, ep }),
        2 => (n.clone(), e.clone()).prop_map(|(net, ep)| Op::Join { net, ep }),
        1 => (n.clone(), e.clone()).prop_map(|(net, ep)| Op::Leave { net, ep }),
        1 => (n, e).prop_map(|(net, ep)| Op::OperInfo { net, ep }),
    ]
}

/// The prefix length an address of `text`'s family gets (Docker sends the pool's).
fn with_length(text: &str) -> String {
    match text {
        "" => String::new(),
        t if t.contains(':') => format!("{t}/64"),
        t => format!("{t}/24"),
    }
}

/// Runs `op` through the plugin, as dockerd would send it.
fn run(p: &Plugin, op: &Op) -> Result<()> {
    let ids = |net: usize, ep: usize| parse(json!({"NetworkID": NETS[net], "EndpointID": EPS[ep]}));
    match *op {
        Op::RequestPool { subnet, range } => {
            let text = SUBNETS[subnet];
            let sub = if range && !text.is_empty() { text.replace("/24", "/25") } else { String::new() };
            p.request_pool(&parse(json!({"AddressSpace": "", "Pool": text, "SubPool": sub,
                "V6": text.contains(':')})))
            .map(drop)
        }
        Op::ReleasePool { pool } => p.release_pool(&parse(json!({"PoolID": POOLS[pool]}))),
        Op::RequestAddress { pool, address, gateway } => {
            let options = gateway.then(|| json!({"RequestAddressType": "com.docker.network.gateway"}));
            p.request_address(&parse(json!({"PoolID": POOLS[pool], "Address": ADDRESSES[address],
                "Options": options})))
            .map(drop)
        }
        Op::ReleaseAddress { pool, address } => p.release_address(&parse(
            json!({"PoolID": POOLS[pool], "Address": ADDRESSES[address]}),
        )),
        Op::CreateNetwork { net, subnet, gateway, mode } => {
            let text = match SUBNETS[subnet] {
                "" => "10.47.0.0/24",
                t => t,
            };
            let data = json!([{"AddressSpace": "local", "Pool": text,
                "Gateway": with_length(ADDRESSES[gateway])}]);
            let (v4, v6) = if text.contains(':') { (json!([]), data) } else { (data, json!([])) };
            let mut generic = json!({"mode": MODES[mode]});
            if MODES[mode] != "routed" {
                generic["parent"] = json!("eth1");
            }
            p.create_network(&parse(json!({"NetworkID": NETS[net],
                "Options": {"com.docker.network.enable_ipv6": text.contains(':'),
                    "com.docker.network.generic": generic},
                "IPv4Data": v4, "IPv6Data": v6})))
        }
        Op::DeleteNetwork { net } => p.delete_network(&parse(json!({"NetworkID": NETS[net]}))),
        Op::CreateEndpoint { net, ep, address, extra } => {
            let address = ADDRESSES[address];
            let (v4, v6) = match address.contains(':') {
                true => (String::new(), with_length(address)),
                false => (with_length(address), String::new()),
            };
            p.create_endpoint(&parse(json!({"NetworkID": NETS[net], "EndpointID": EPS[ep],
                "Interface": {"Address": v4, "AddressIPv6": v6, "MacAddress": ""},
                "Options": {"wharf.addresses": ADDRESSES[extra]}})))
            .map(drop)
        }
        Op::DeleteEndpoint { net, ep } => p.delete_endpoint(&ids(net, ep)),
        Op::Join { net, ep } => p
            .join(&parse(json!({"NetworkID": NETS[net], "EndpointID": EPS[ep],
                "SandboxKey": "/var/run/docker/netns/x"})))
            .map(drop),
        Op::Leave { net, ep } => p.leave(&ids(net, ep)),
        Op::OperInfo { net, ep } => p.endpoint_info(&ids(net, ep)).map(drop),
    }
}

/// Takes everything away in dockerd's order: each endpoint (Leave, DeleteEndpoint), the
/// runtime's addresses, the pools, then the networks.
fn teardown(p: &Plugin, state: &State) -> Result<()> {
    for (network, endpoint) in state.endpoints() {
        let ids = parse::<crate::protocol::types::EndpointRequest>(
            json!({"NetworkID": network.id, "EndpointID": endpoint.id}),
        );
        p.leave(&ids)?;
        p.delete_endpoint(&ids)?;
    }
    for pool in state.pools.values() {
        for (address, allocation) in pool.allocations.iter() {
            if matches!(allocation, Allocation::Gateway | Allocation::Docker) {
                p.release_address(&parse(json!({"PoolID": pool.id, "Address": address})))?;
            }
        }
        p.release_pool(&parse(json!({"PoolID": pool.id})))?;
    }
    for id in state.networks.keys() {
        p.delete_network(&parse(json!({"NetworkID": id})))?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(config("arbitrary_call_orders", 400))]
    #[test]
    fn arbitrary_call_orders(ops in prop::collection::vec(op(), 1..40)) {
        let h = host("orders");
        for (step, op) in ops.iter().enumerate() {
            let before = h.engine.state();
            let calls = h.kernel.calls().len();
            let outcome = run(&h.plugin, op);
            let after = h.engine.state();
            if let Err(error) = &outcome {
                check_error_text(&error.to_string()).map_err(TestCaseError::fail)?;
                prop_assert_eq!(&after, &before, "step {} {:?} refused ({}) but changed the state",
                    step, op, error);
                prop_assert_eq!(h.kernel.calls().len(), calls,
                    "step {} {:?} refused ({}) but asked the kernel", step, op, error);
            }
            check_state(&after)
                .map_err(|e| TestCaseError::fail(format!("after step {step} {op:?}: {e}")))?;
        }
        let last = h.engine.state();
        teardown(&h.plugin, &last)
            .map_err(|e| TestCaseError::fail(format!("teardown of {last:?}: {e}")))?;
        let empty = h.engine.state();
        prop_assert!(empty.networks.is_empty() && empty.pools.is_empty(), "left: {:?}", empty);
        prop_assert!(empty.intents.is_empty());
        prop_assert!(h.kernel.links().is_empty(), "links left: {:?}", h.kernel.links());
        prop_assert!(h.kernel.routes().is_empty(), "routes left: {:?}", h.kernel.routes());
        prop_assert!(h.kernel.addresses().is_empty(), "addresses left: {:?}", h.kernel.addresses());
        prop_assert!(h.kernel.proxies().is_empty());
        prop_assert!(h.kernel.fences().is_empty(), "fences left: {:?}", h.kernel.fences());
    }
}
