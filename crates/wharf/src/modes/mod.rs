//! One file per network mode: what each mode makes of a network and an endpoint.
pub mod routed;
pub mod sublink;

use std::net::IpAddr;

use ipnet::IpNet;

use crate::engine::state::{Endpoint, Network};
use crate::protocol::types::{InterfaceName, JoinResponse, StaticRoute, ROUTE_TYPE_CONNECTED};

/// Docker's Join answer: the endpoint's link to move in as `ethN`, and (unless the network is
/// internal) the gateways of the subnets it has addresses in. With `connected_gateway`, the
/// IPv4 gateway also gets a connected /32, for modes where the container must reach it
/// through a point-to-point link rather than a shared segment.
pub fn join_response(
    network: &Network,
    endpoint: &Endpoint,
    connected_gateway: bool,
) -> JoinResponse {
    let mut response = JoinResponse {
        interface_name: InterfaceName {
            src_name: endpoint.container_ifname.clone(),
            dst_prefix: "eth".into(),
        },
        gateway: String::new(),
        gateway_ipv6: String::new(),
        static_routes: Vec::new(),
        disable_gateway_service: network.internal,
    };
    if network.internal {
        return response;
    }
    for gateway in routed::gateways(network, endpoint) {
        match gateway {
            IpAddr::V4(_) if response.gateway.is_empty() => {
                response.gateway = gateway.to_string();
                if connected_gateway {
                    response.static_routes.push(StaticRoute {
                        destination: IpNet::from(gateway).to_string(),
                        route_type: ROUTE_TYPE_CONNECTED,
                        next_hop: String::new(),
                    });
                }
            }
            IpAddr::V6(_) if response.gateway_ipv6.is_empty() => {
                response.gateway_ipv6 = gateway.to_string();
            }
            _ => {}
        }
    }
    response
}
