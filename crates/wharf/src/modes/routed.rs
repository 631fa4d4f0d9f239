//! Routed mode: a veth pair per endpoint, the host as every container's router.
//!
//! The container keeps the address it is given (with the network's prefix length, so it
//! believes the subnet is on-link); its default route goes via the network's gateway, which
//! each host end carries as a /32 (/128), so the next hop is a local address of the host.
//! Every container address gets a host route via its host end, with wharf's protocol number.
//! For IPv4, proxy ARP on the host end answers for the rest of the subnet, so traffic between
//! containers is routed by the host. IPv6 has no proxy-everything switch (a proxy NDP entry
//! per other container on every host end would cost O(n) per container, O(n^2) in all): the
//! container instead gets the two halves of each IPv6 subnet routed via the gateway, which
//! are more specific than the on-link subnet route the kernel makes for its address, so it
//! never asks its neighbours for another container's address.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{json, Value};

use super::{
    gateways, invalid, AcceptFrom, ContainerRoute, EndpointDraft, HostAddressPool, HostView,
    JoinAnswer, NetworkDraft, NetworkMode, NetworkPlan, NewEndpoint, Reachable, Result,
};
use crate::dataplane::{HostAddress, HostEnd, HostObject, HostRoute, VethSpec, LINK_ALIAS_PREFIX};
use crate::model::{Endpoint, Network};

/// The option naming the networks whose containers may reach this network's.
pub const ACCEPT_FROM: &str = "accept_from";
/// The option saying what routing peers hear of the network: host, subnet or none.
pub use super::ADVERTISE;

pub struct Routed {
    default_mtu: u32,
}

impl Routed {
    pub fn new(default_mtu: u32) -> Routed {
        Routed { default_mtu }
    }
}

/// The host routes that make every address of `endpoint` reachable.
fn host_routes(endpoint: &Endpoint) -> Vec<HostRoute> {
    endpoint
        .addresses()
        .map(|address| HostRoute {
            destination: IpNet::from(address),
            device: endpoint.host_ifname.clone(),
            source: None,
        })
        .collect()
}

/// The two halves of an IPv6 subnet (none for a /128).
fn halves(prefix: IpNet) -> Vec<IpNet> {
    let Some(longer) = prefix.prefix_len().checked_add(1) else {
        return Vec::new();
    };
    prefix
        .subnets(longer)
        .map(Iterator::collect)
        .unwrap_or_default()
}

impl NetworkMode for Routed {
    fn name(&self) -> &'static str {
        "routed"
    }

    fn option_keys(&self) -> &'static [&'static str] {
        &[ACCEPT_FROM, ADVERTISE]
    }

    fn plan_network(
        &self,
        draft: &NetworkDraft<'_>,
        _host: &dyn HostView,
        _addresses: &mut dyn HostAddressPool,
    ) -> Result<NetworkPlan> {
        if let Some(key) = draft
            .options
            .keys()
            .find(|k| *k != ACCEPT_FROM && *k != ADVERTISE)
        {
            return Err(invalid(format!("option {key:?} is not a routed network's")));
        }
        let mut config = serde_json::Map::new();
        if let Some(value) = draft.options.get(ACCEPT_FROM) {
            let accept = match AcceptFrom::parse(value, draft.internal)? {
                AcceptFrom::Everywhere => json!("*"),
                AcceptFrom::Networks(names) => json!(names),
            };
            config.insert(ACCEPT_FROM.into(), accept);
        }
        if let Some(value) = draft.options.get(ADVERTISE) {
            config.insert(ADVERTISE.into(), json!(super::parse_advertise(value)?));
        }
        let config = if config.is_empty() {
            Value::Null
        } else {
            Value::Object(config)
        };
        Ok(NetworkPlan {
            mtu: draft.mtu.unwrap_or(self.default_mtu),
            internal: draft.internal,
            config,
        })
    }

    fn new_endpoint(
        &self,
        _network: &Network,
        draft: &EndpointDraft<'_>,
        _host: &dyn HostView,
    ) -> Result<NewEndpoint> {
        Ok(super::veth_endpoint(draft))
    }

    fn endpoint_objects(&self, network: &Network, endpoint: &Endpoint) -> Result<Vec<HostObject>> {
        let container_mac = super::parse_mac(&endpoint.mac)
            .ok_or_else(|| invalid(format!("endpoint MAC {:?} is not valid", endpoint.mac)))?;
        let mut objects = vec![HostObject::Veth(VethSpec {
            host_ifname: endpoint.host_ifname.clone(),
            container_ifname: endpoint.container_ifname.clone(),
            container_mac,
            mtu: network.mtu,
            alias: format!("{LINK_ALIAS_PREFIX}{}", endpoint.id),
            ipv6: endpoint.addresses().any(|a| a.is_ipv6()),
            host_end: HostEnd::Router,
        })];
        objects.extend(gateways(network, endpoint).into_iter().map(|gateway| {
            HostObject::Address(HostAddress {
                address: gateway,
                device: endpoint.host_ifname.clone(),
            })
        }));
        objects.extend(host_routes(endpoint).into_iter().map(HostObject::Route));
        Ok(objects)
    }

    /// A default route via the gateway, which is made reachable with a connected /32 (never a
    /// connected default route, which would make the container ARP for every destination);
    /// an internal network gets none. IPv6 subnets: the gateway as a connected /128 and the
    /// subnet's halves via it (see the module's doc), internal networks too.
    fn join(&self, network: &Network, endpoint: &Endpoint) -> Result<JoinAnswer> {
        let mut answer = JoinAnswer {
            interface: endpoint.container_ifname.clone(),
            disable_gateway_service: network.internal,
            ..Default::default()
        };
        for subnet in &network.subnets {
            let Some(gateway) = subnet.gateway else {
                continue;
            };
            if !endpoint.addresses().any(|a| subnet.prefix.contains(&a)) {
                continue;
            }
            let first_of_family = match gateway {
                IpAddr::V4(_) => answer.gateway_v4.is_none(),
                IpAddr::V6(_) => answer.gateway_v6.is_none(),
            };
            if gateway.is_ipv6() {
                answer.routes.push(ContainerRoute {
                    destination: IpNet::from(gateway),
                    next_hop: None,
                });
                answer
                    .routes
                    .extend(
                        halves(subnet.prefix)
                            .into_iter()
                            .map(|half| ContainerRoute {
                                destination: half,
                                next_hop: Some(gateway),
                            }),
                    );
            }
            if network.internal || !first_of_family {
                continue;
            }
            match gateway {
                IpAddr::V4(_) => {
                    answer.gateway_v4 = Some(gateway);
                    answer.routes.push(ContainerRoute {
                        destination: IpNet::from(gateway),
                        next_hop: None,
                    });
                }
                IpAddr::V6(_) => answer.gateway_v6 = Some(gateway),
            }
        }
        // Docker adds on-link routes before next-hop ones; keep them first for readers too.
        answer.routes.sort_by_key(|r| r.next_hop.is_some());
        Ok(answer)
    }

    fn reachable(&self, _network: &Network, endpoint: &Endpoint) -> Option<Reachable> {
        Some(Reachable {
            link: endpoint.host_ifname.clone(),
            addresses: endpoint.addresses().map(IpNet::from).collect(),
        })
    }

    fn forwarding(&self, network: &Network) -> Option<bool> {
        Some(network.ipv6)
    }

    fn advertise(&self, network: &Network) -> crate::model::Advertise {
        super::stored_advertise(network, crate::model::Advertise::Host)
    }

    fn fence(&self, network: &Network) -> Option<AcceptFrom> {
        Some(accept_from(network))
    }

    fn describe(&self, network: &Network) -> BTreeMap<String, String> {
        let accepts = match accept_from(network) {
            AcceptFrom::Everywhere => "every network".to_owned(),
            AcceptFrom::Networks(names) if names.is_empty() => "itself only".to_owned(),
            AcceptFrom::Networks(names) => format!("itself, {}", names.join(", ")),
        };
        BTreeMap::from([("accepts".to_owned(), accepts)])
    }
}

/// The network's `accept_from`, as stored (nothing stored: itself only).
fn accept_from(network: &Network) -> AcceptFrom {
    match network.config.get(ACCEPT_FROM) {
        Some(Value::String(all)) if all == "*" => AcceptFrom::Everywhere,
        Some(Value::Array(names)) => AcceptFrom::Networks(
            names
                .iter()
                .filter_map(|n| n.as_str().map(String::from))
                .collect(),
        ),
        _ => AcceptFrom::Networks(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ExtraAddress, Subnet};
    use imbl::OrdMap;

    fn network(internal: bool) -> Network {
        Network {
            id: "n1".into(),
            mode: "routed".into(),
            name: None,
            mtu: 1500,
            internal,
            ipv6: true,
            subnets: vec![
                Subnet {
                    prefix: "10.46.0.0/16".parse().unwrap(),
                    gateway: Some("10.46.0.1".parse().unwrap()),
                    pool_id: None,
                },
                Subnet {
                    prefix: "fd4e:46::/64".parse().unwrap(),
                    gateway: Some("fd4e:46::1".parse().unwrap()),
                    pool_id: None,
                },
            ],
            config: Value::Null,
            endpoints: OrdMap::new(),
        }
    }

    fn endpoint() -> Endpoint {
        Endpoint {
            id: "a".into(),
            host_ifname: "wha".into(),
            container_ifname: "wca".into(),
            mac: "02:00:00:00:00:0a".into(),
            primary: vec![
                "10.46.1.7/16".parse().unwrap(),
                "fd4e:46::7/64".parse().unwrap(),
            ],
            extra: vec![ExtraAddress {
                address: "10.46.1.8".parse().unwrap(),
                pool_id: "p".into(),
            }],
            sandbox: None,
        }
    }

    fn route(destination: &str, next_hop: Option<&str>) -> ContainerRoute {
        ContainerRoute {
            destination: destination.parse().unwrap(),
            next_hop: next_hop.map(|h| h.parse().unwrap()),
        }
    }

    #[test]
    fn join_routes_ipv4_via_a_connected_gateway_and_ipv6_halves_via_the_gateway() {
        let answer = Routed::new(1500)
            .join(&network(false), &endpoint())
            .unwrap();
        assert_eq!(answer.gateway_v4, Some("10.46.0.1".parse().unwrap()));
        assert_eq!(answer.gateway_v6, Some("fd4e:46::1".parse().unwrap()));
        assert_eq!(
            answer.routes,
            [
                route("10.46.0.1/32", None),
                route("fd4e:46::1/128", None),
                route("fd4e:46::/65", Some("fd4e:46::1")),
                route("fd4e:46:0:0:8000::/65", Some("fd4e:46::1")),
            ]
        );
        assert!(!answer
            .routes
            .iter()
            .any(|r| r.destination.prefix_len() == 0));
        assert!(!answer.disable_gateway_service);
    }

    #[test]
    fn an_internal_network_gets_no_default_route_but_its_ipv6_halves() {
        let answer = Routed::new(1500).join(&network(true), &endpoint()).unwrap();
        assert_eq!((answer.gateway_v4, answer.gateway_v6), (None, None));
        assert_eq!(answer.interface, "wca");
        assert!(answer.disable_gateway_service);
        assert_eq!(
            answer.routes,
            [
                route("fd4e:46::1/128", None),
                route("fd4e:46::/65", Some("fd4e:46::1")),
                route("fd4e:46:0:0:8000::/65", Some("fd4e:46::1")),
            ]
        );
    }

    #[test]
    fn objects_are_the_pair_the_gateways_and_a_route_per_address() {
        let objects = Routed::new(1500)
            .endpoint_objects(&network(false), &endpoint())
            .unwrap();
        let described: Vec<String> = objects.iter().map(HostObject::describe).collect();
        assert_eq!(
            described,
            [
                "veth wha / wca",
                "address 10.46.0.1 dev wha",
                "address fd4e:46::1 dev wha",
                "route 10.46.1.7/32 dev wha",
                "route fd4e:46::7/128 dev wha",
                "route 10.46.1.8/32 dev wha",
            ]
        );
        let HostObject::Veth(veth) = &objects[0] else {
            panic!("not a veth: {objects:?}")
        };
        assert!(veth.ipv6);
        assert_eq!(veth.alias, "wharf:a");
    }

    #[test]
    fn halves_of_prefixes() {
        let net = |t: &str| t.parse::<IpNet>().unwrap();
        assert_eq!(
            halves(net("fd4e::/64")),
            [net("fd4e::/65"), net("fd4e::8000:0:0:0/65")]
        );
        assert_eq!(halves(net("fd4e::/128")), Vec::<IpNet>::new());
    }
}
