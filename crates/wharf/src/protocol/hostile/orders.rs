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
/// Pool IDs as wharf names them for SUBNETS ("": the first default pool), and a stranger.
const POOLS: [&str; 6] = [
    "local/10.46.0.0/24",
    "local/10.46.1.0/24",
    "local/10.46.0.0/16",
    "local/fd4e:46::/64",
    "local/10.47.0.0/24",
    "local/10.99.0.0/24",
];
/// Host numbers inside a subnet: its network address, its first, two ordinary ones, and
/// 255 (the broadcast address of a /24, an ordinary one in the /16 that overlaps it).
const HOSTS: [u32; 5] = [0, 1, 7, 200, 255];
const MODES: [&str; 4] = ["routed", "macvlan", "ipvlan", "ovs"];

/// An address: host `.1` of subnet `.0` (of POOLS, so the stranger's lies outside them all),
/// or none at all.
#[derive(Debug, Clone, Copy)]
struct Addr(usize, usize);

impl Addr {
    fn text(self) -> String {
        let subnet: ipnet::IpNet = match POOLS[self.0].split_once('/') {
            Some((_, prefix)) => prefix.parse().unwrap_or_else(|_| unreachable!()),
            None => unreachable!(),
        };
        match subnet.network() {
            std::net::IpAddr::V4(a) => {
                std::net::Ipv4Addr::from(u32::from(a) + HOSTS[self.1]).to_string()
            }
            std::net::IpAddr::V6(a) => {
                std::net::Ipv6Addr::from(u128::from(a) + u128::from(HOSTS[self.1])).to_string()
            }
        }
    }

    /// With the prefix length Docker sends: the pool's.
    fn cidr(self) -> String {
        let length = POOLS[self.0].rsplit('/').next().unwrap_or_default();
        format!("{}/{length}", self.text())
    }
}

#[derive(Debug, Clone)]
enum Op {
    RequestPool {
        subnet: usize,
        range: bool,
    },
    ReleasePool {
        pool: usize,
    },
    RequestAddress {
        pool: usize,
        address: Option<Addr>,
        gateway: bool,
    },
    ReleaseAddress {
        pool: usize,
        address: Addr,
    },
    CreateNetwork {
        net: usize,
        subnet: usize,
        gateway: Option<Addr>,
        mode: usize,
    },
    DeleteNetwork {
        net: usize,
    },
    CreateEndpoint {
        net: usize,
        ep: usize,
        address: Option<Addr>,
        extra: Option<Addr>,
    },
    DeleteEndpoint {
        net: usize,
        ep: usize,
    },
    Join {
        net: usize,
        ep: usize,
    },
    Leave {
        net: usize,
        ep: usize,
    },
    OperInfo {
        net: usize,
        ep: usize,
    },
    /// ProgramExternalConnectivity with `-p PORT:80` (none: Revoke).
    Publish {
        net: usize,
        ep: usize,
        port: Option<u16>,
    },
    /// What dockerd sends for `docker network create`: a pool, its gateway, the network.
    Provision {
        net: usize,
        subnet: usize,
        mode: usize,
    },
    /// What dockerd sends for `docker run --ip`: the address, the endpoint, the Join.
    Attach {
        net: usize,
        ep: usize,
        address: Addr,
        extra: Option<Addr>,
    },
    /// What dockerd sends when that container goes: Leave, the endpoint, its address.
    Detach {
        net: usize,
        ep: usize,
        address: Addr,
    },
}

fn addr() -> impl Strategy<Value = Addr> {
    (0..POOLS.len(), 0..HOSTS.len()).prop_map(|(s, h)| Addr(s, h))
}

fn op() -> impl Strategy<Value = Op> {
    // Mostly the two Docker IDs, so that networks get made and then used.
    let n = || prop_oneof![4 => Just(0usize), 3 => Just(1usize), 1 => Just(2usize)];
    let e = || 0..EPS.len();
    let s = || 0..SUBNETS.len();
    let p = || 0..POOLS.len();
    let m = || 0..MODES.len();
    let maybe = || prop::option::weighted(0.8, addr());
    let extra = || prop::option::weighted(0.3, addr());
    prop_oneof![
        2 => (s(), any::<bool>()).prop_map(|(subnet, range)| Op::RequestPool { subnet, range }),
        1 => p().prop_map(|pool| Op::ReleasePool { pool }),
        2 => (p(), maybe(), any::<bool>())
            .prop_map(|(pool, address, gateway)| Op::RequestAddress { pool, address, gateway }),
        2 => (p(), addr()).prop_map(|(pool, address)| Op::ReleaseAddress { pool, address }),
        2 => (n(), s(), maybe(), m())
            .prop_map(|(net, subnet, gateway, mode)| Op::CreateNetwork { net, subnet, gateway, mode }),
        2 => n().prop_map(|net| Op::DeleteNetwork { net }),
        2 => (n(), e(), maybe(), extra())
            .prop_map(|(net, ep, address, extra)| Op::CreateEndpoint { net, ep, address, extra }),
        2 => (n(), e()).prop_map(|(net, ep)| Op::DeleteEndpoint { net, ep }),
        2 => (n(), e()).prop_map(|(net, ep)| Op::Join { net, ep }),
        1 => (n(), e()).prop_map(|(net, ep)| Op::Leave { net, ep }),
        1 => (n(), e()).prop_map(|(net, ep)| Op::OperInfo { net, ep }),
        2 => (n(), e(), prop::option::weighted(0.8, prop_oneof![Just(8080u16), Just(8081), Just(0)]))
            .prop_map(|(net, ep, port)| Op::Publish { net, ep, port }),
        3 => (n(), s(), m()).prop_map(|(net, subnet, mode)| Op::Provision { net, subnet, mode }),
        4 => (n(), e(), addr(), extra())
            .prop_map(|(net, ep, address, extra)| Op::Attach { net, ep, address, extra }),
        2 => (n(), e(), addr()).prop_map(|(net, ep, address)| Op::Detach { net, ep, address }),
    ]
}

/// A composite operation as the calls dockerd makes for it, each checked on its own.
fn calls(op: &Op) -> Vec<Op> {
    match *op {
        Op::Provision { net, subnet, mode } => {
            let pool = if SUBNETS[subnet].is_empty() {
                4
            } else {
                subnet
            };
            let gateway = Some(Addr(pool, 1));
            vec![
                Op::RequestPool {
                    subnet,
                    range: false,
                },
                Op::RequestAddress {
                    pool,
                    address: gateway,
                    gateway: true,
                },
                Op::CreateNetwork {
                    net,
                    subnet,
                    gateway,
                    mode,
                },
            ]
        }
        Op::Attach {
            net,
            ep,
            address,
            extra,
        } => vec![
            Op::RequestAddress {
                pool: address.0,
                address: Some(address),
                gateway: false,
            },
            Op::CreateEndpoint {
                net,
                ep,
                address: Some(address),
                extra,
            },
            Op::Join { net, ep },
        ],
        Op::Detach { net, ep, address } => vec![
            Op::Leave { net, ep },
            Op::DeleteEndpoint { net, ep },
            Op::ReleaseAddress {
                pool: address.0,
                address,
            },
        ],
        ref other => vec![other.clone()],
    }
}

/// Runs one call through the plugin, as dockerd would send it.
fn run(p: &Plugin, op: &Op) -> Result<()> {
    let ids = |net: usize, ep: usize| parse(json!({"NetworkID": NETS[net], "EndpointID": EPS[ep]}));
    let text = |a: Option<Addr>| a.map(Addr::text).unwrap_or_default();
    match *op {
        Op::RequestPool { subnet, range } => {
            let text = SUBNETS[subnet];
            let sub = if range && !text.is_empty() {
                text.replace("/24", "/25")
            } else {
                String::new()
            };
            p.request_pool(&parse(
                json!({"AddressSpace": "", "Pool": text, "SubPool": sub,
                "V6": text.contains(':')}),
            ))
            .map(drop)
        }
        Op::ReleasePool { pool } => p.release_pool(&parse(json!({"PoolID": POOLS[pool]}))),
        Op::RequestAddress {
            pool,
            address,
            gateway,
        } => {
            let options =
                gateway.then(|| json!({"RequestAddressType": "com.docker.network.gateway"}));
            p.request_address(&parse(
                json!({"PoolID": POOLS[pool], "Address": text(address),
                "Options": options}),
            ))
            .map(drop)
        }
        Op::ReleaseAddress { pool, address } => p.release_address(&parse(
            json!({"PoolID": POOLS[pool], "Address": address.text()}),
        )),
        Op::CreateNetwork {
            net,
            subnet,
            gateway,
            mode,
        } => {
            let prefix = match SUBNETS[subnet] {
                "" => "10.47.0.0/24",
                t => t,
            };
            let data = json!([{"AddressSpace": "local", "Pool": prefix,
                "Gateway": gateway.map(Addr::cidr).unwrap_or_default()}]);
            let v6 = prefix.contains(':');
            let (v4, v6data) = if v6 {
                (json!([]), data)
            } else {
                (data, json!([]))
            };
            let mut generic = json!({"mode": MODES[mode]});
            if MODES[mode] == "macvlan" || MODES[mode] == "ipvlan" {
                generic["parent"] = json!("eth1");
            }
            p.create_network(&parse(json!({"NetworkID": NETS[net],
                "Options": {"com.docker.network.enable_ipv6": v6,
                    "com.docker.network.generic": generic},
                "IPv4Data": v4, "IPv6Data": v6data})))
        }
        Op::DeleteNetwork { net } => p.delete_network(&parse(json!({"NetworkID": NETS[net]}))),
        Op::CreateEndpoint {
            net,
            ep,
            address,
            extra,
        } => {
            let cidr = address.map(Addr::cidr).unwrap_or_default();
            let (v4, v6) = match cidr.contains(':') {
                true => (String::new(), cidr),
                false => (cidr, String::new()),
            };
            p.create_endpoint(&parse(
                json!({"NetworkID": NETS[net], "EndpointID": EPS[ep],
                "Interface": {"Address": v4, "AddressIPv6": v6, "MacAddress": ""},
                "Options": {"wharf.addresses": text(extra)}}),
            ))
            .map(drop)
        }
        Op::DeleteEndpoint { net, ep } => p.delete_endpoint(&ids(net, ep)),
        Op::Join { net, ep } => p
            .join(&parse(
                json!({"NetworkID": NETS[net], "EndpointID": EPS[ep],
                "SandboxKey": "/var/run/docker/netns/x"}),
            ))
            .map(drop),
        Op::Leave { net, ep } => p.leave(&ids(net, ep)),
        Op::OperInfo { net, ep } => p.endpoint_info(&ids(net, ep)).map(drop),
        Op::Publish {
            net,
            ep,
            port: None,
        } => p.revoke_external(&ids(net, ep)),
        Op::Publish {
            net,
            ep,
            port: Some(port),
        } => p.program_external(&parse(
            json!({"NetworkID": NETS[net], "EndpointID": EPS[ep],
            "Options": {"com.docker.network.portmap": [{"Proto": 6, "IP": "", "Port": 80,
                "HostIP": "", "HostPort": port, "HostPortEnd": port}]}}),
        )),
        Op::Provision { .. } | Op::Attach { .. } | Op::Detach { .. } => {
            unreachable!("expanded by calls()")
        }
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
    fn arbitrary_call_orders(ops in prop::collection::vec(op(), 1..50)) {
        let h = host("orders");
        for (step, op) in ops.iter().flat_map(calls).enumerate() {
            let before = h.engine.state();
            let calls = h.kernel.calls().len();
            let outcome = run(&h.plugin, &op);
            let after = h.engine.state();
            if let Err(error) = &outcome {
                check_error_text(&error.to_string()).map_err(TestCaseError::fail)?;
                prop_assert_eq!(&after, &before, "step {} {:?} refused ({}) but changed the state",
                    step, op, error);
                prop_assert_eq!(h.kernel.calls().len(), calls,
                    "step {} {:?} refused ({}) but asked the kernel", step, op, error);
            }
            check_settled(&after)
                .map_err(|e| TestCaseError::fail(format!("after step {step} {op:?}: {e}")))?;
        }
        let last = h.engine.state();
        teardown(&h.plugin, &last)
            .map_err(|e| TestCaseError::fail(format!("teardown of {last:?}: {e}")))?;
        let empty = h.engine.state();
        prop_assert!(empty.networks.is_empty() && empty.pools.is_empty(), "left: {:?}", empty);
        prop_assert!(empty.intents.is_empty());
        prop_assert!(empty.published.is_empty(), "published ports left: {:?}", empty.published);
        prop_assert!(h.kernel.links().is_empty(), "links left: {:?}", h.kernel.links());
        prop_assert!(h.kernel.routes().is_empty(), "routes left: {:?}", h.kernel.routes());
        prop_assert!(h.kernel.addresses().is_empty(), "addresses left: {:?}", h.kernel.addresses());
        prop_assert!(h.kernel.proxies().is_empty());
        prop_assert!(h.kernel.fences().is_empty(), "fences left: {:?}", h.kernel.fences());
        prop_assert!(h.kernel.nat().is_empty(), "NAT left: {:?}", h.kernel.nat());
        prop_assert!(h.kernel.bridges().is_empty(), "bridges left: {:?}", h.kernel.bridges());
    }
}
