//! Routed mode: a veth pair per endpoint, the host as every container's router.
//!
//! The container keeps the address Docker gives it (with the network's prefix length, so it
//! believes the subnet is on-link); its default route goes via the network's gateway, which
//! each host end carries as a /32 (/128), so the next hop is a local address of the host.
//! Every container address gets a host route via its host end, with wharf's protocol number.
//! For IPv4, proxy ARP on the host end answers for other containers of the subnet, so traffic
//! between them is routed by the host. IPv6 has no proxy-everything switch, so each host end
//! gets a proxy NDP entry per IPv6 address of the other endpoints of the network.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::dataplane::{HostRoute, ProxyNeighbour, RoutedEndpointSpec, LINK_ALIAS_PREFIX};
use crate::engine::state::{Endpoint, Network};
use crate::protocol::types::JoinResponse;

/// The host routes that make every address of `endpoint` reachable.
pub fn host_routes(endpoint: &Endpoint) -> Vec<HostRoute> {
    endpoint
        .addresses()
        .map(|address| HostRoute {
            destination: IpNet::from(address),
            device: endpoint.host_ifname.clone(),
            source: None,
        })
        .collect()
}

/// The gateways of the subnets the endpoint has addresses in.
pub fn gateways(network: &Network, endpoint: &Endpoint) -> Vec<IpAddr> {
    let mut gateways: Vec<IpAddr> = network
        .subnets
        .iter()
        .filter(|s| endpoint.addresses().any(|a| s.prefix.contains(&a)))
        .filter_map(|s| s.gateway)
        .collect();
    gateways.dedup();
    gateways
}

fn ipv6_addresses(endpoint: &Endpoint) -> impl Iterator<Item = IpAddr> + '_ {
    endpoint.addresses().filter(IpAddr::is_ipv6)
}

/// Proxy NDP entries linking `endpoint` with the other endpoints of `network`: those to put
/// on its own host end, and those to put on (or, when it leaves, take off) theirs.
pub fn proxy_neighbours(
    network: &Network,
    endpoint: &Endpoint,
) -> (Vec<ProxyNeighbour>, Vec<ProxyNeighbour>) {
    let others = network.endpoints.values().filter(|o| o.id != endpoint.id);
    let mut own = Vec::new();
    let mut theirs = Vec::new();
    for other in others {
        own.extend(ipv6_addresses(other).map(|address| ProxyNeighbour {
            address,
            device: endpoint.host_ifname.clone(),
        }));
        theirs.extend(ipv6_addresses(endpoint).map(|address| ProxyNeighbour {
            address,
            device: other.host_ifname.clone(),
        }));
    }
    (own, theirs)
}

pub fn endpoint_spec(
    network: &Network,
    endpoint: &Endpoint,
    mac: [u8; 6],
    proxies: Vec<ProxyNeighbour>,
) -> RoutedEndpointSpec {
    RoutedEndpointSpec {
        host_ifname: endpoint.host_ifname.clone(),
        container_ifname: endpoint.container_ifname.clone(),
        container_mac: mac,
        mtu: network.mtu,
        alias: format!("{LINK_ALIAS_PREFIX}{}", endpoint.id),
        gateways: gateways(network, endpoint),
        routes: host_routes(endpoint),
        proxy_neighbours: proxies,
    }
}

/// What Docker needs to set up the container side. An internal network gets no default
/// route; otherwise the default route goes via the gateway, which is made reachable with a
/// connected /32 (never a connected default route, which would make the container ARP for
/// every destination).
pub fn join_response(network: &Network, endpoint: &Endpoint) -> JoinResponse {
    super::join_response(network, endpoint, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::state::{ExtraAddress, Mode, Subnet};
    use crate::protocol::types::ROUTE_TYPE_CONNECTED;

    fn network(internal: bool) -> Network {
        Network {
            id: "n1".into(),
            mode: Mode::Routed,
            mtu: 1500,
            internal,
            ipv6: true,
            subnets: vec![
                Subnet {
                    prefix: "10.46.0.0/16".parse().unwrap(),
                    gateway: Some("10.46.0.1".parse().unwrap()),
                    pool_id: Some("local/10.46.0.0/16".into()),
                },
                Subnet {
                    prefix: "fd4e:46::/64".parse().unwrap(),
                    gateway: Some("fd4e:46::1".parse().unwrap()),
                    pool_id: None,
                },
            ],
            endpoints: Default::default(),
            attachment: None,
        }
    }

    fn endpoint(id: &str, v4: &str, v6: &str) -> Endpoint {
        Endpoint {
            id: id.into(),
            host_ifname: format!("wh{id}"),
            container_ifname: format!("wc{id}"),
            mac: String::new(),
            primary: vec![v4.parse().unwrap(), v6.parse().unwrap()],
            extra: vec![ExtraAddress {
                address: "10.46.1.9".parse().unwrap(),
                pool_id: "local/10.46.0.0/16".into(),
            }],
            sandbox: None,
        }
    }

    #[test]
    fn spec_routes_every_address_and_carries_both_gateways() {
        let net = network(false);
        let ep = endpoint("a", "10.46.1.7/16", "fd4e:46::7/64");
        let spec = endpoint_spec(&net, &ep, [2, 0, 0, 0, 0, 1], vec![]);
        let dests: Vec<String> = spec
            .routes
            .iter()
            .map(|r| r.destination.to_string())
            .collect();
        assert_eq!(dests, ["10.46.1.7/32", "fd4e:46::7/128", "10.46.1.9/32"]);
        assert!(spec.routes.iter().all(|r| r.device == "wha"));
        assert_eq!(spec.gateways.len(), 2);
        assert_eq!(spec.alias, "wharf:a");
    }

    #[test]
    fn join_gives_gateway_and_connected_host_route_but_not_on_internal() {
        let ep = endpoint("a", "10.46.1.7/16", "fd4e:46::7/64");
        let resp = join_response(&network(false), &ep);
        assert_eq!(resp.gateway, "10.46.0.1");
        assert_eq!(resp.gateway_ipv6, "fd4e:46::1");
        assert_eq!(resp.static_routes.len(), 1);
        assert_eq!(resp.static_routes[0].destination, "10.46.0.1/32");
        assert_eq!(resp.static_routes[0].route_type, ROUTE_TYPE_CONNECTED);
        assert!(!resp
            .static_routes
            .iter()
            .any(|r| r.destination.ends_with("/0")));
        let internal = join_response(&network(true), &ep);
        assert!(internal.gateway.is_empty() && internal.static_routes.is_empty());
        assert_eq!(internal.interface_name.src_name, "wca");
    }

    #[test]
    fn proxies_pair_ipv6_addresses_both_ways() {
        let mut net = network(false);
        let a = endpoint("a", "10.46.1.7/16", "fd4e:46::7/64");
        let b = endpoint("b", "10.46.1.8/16", "fd4e:46::8/64");
        net.endpoints.insert("a".into(), a.clone());
        net.endpoints.insert("b".into(), b.clone());
        let (own, theirs) = proxy_neighbours(&net, &b);
        assert_eq!(
            own,
            vec![ProxyNeighbour {
                address: "fd4e:46::7".parse().unwrap(),
                device: "whb".into()
            }]
        );
        assert_eq!(
            theirs,
            vec![ProxyNeighbour {
                address: "fd4e:46::8".parse().unwrap(),
                device: "wha".into()
            }]
        );
    }
}
