//! macvlan and ipvlan modes: each endpoint is one macvlan or ipvlan link on the network's
//! parent, so containers sit on the parent's segment (L2) or behind it (ipvlan L3/L3S)
//! without a bridge, as with Docker's built-in drivers. The host keeps no per-container
//! state, except routes through the network's shim when it has one (`host_shim=true`): a
//! parent cannot reach its own macvlan/ipvlan links, a sibling link can.

use ipnet::IpNet;

use crate::dataplane::{
    HostRoute, ParentKind, ParentSpec, SubLinkSpec, LINK_ALIAS_PREFIX, SHIM_ALIAS_PREFIX,
};
use crate::engine::state::{Attachment, Endpoint, Network, ParentOrigin, Shim, SubLinkKind};
use crate::protocol::types::{JoinResponse, StaticRoute, ROUTE_TYPE_CONNECTED};

/// Characters of the network ID in the names of its dummy parent and its shim.
const NETWORK_ID_DIGITS: usize = 10;

fn network_digits(network_id: &str) -> &str {
    network_id.get(..NETWORK_ID_DIGITS).unwrap_or(network_id)
}

/// `wd` + the network ID's first characters: a network's dummy parent.
pub fn dummy_name(network_id: &str) -> String {
    format!("wd{}", network_digits(network_id))
}

/// `ws` + the network ID's first characters: a network's host shim.
pub fn shim_name(network_id: &str) -> String {
    format!("ws{}", network_digits(network_id))
}

pub fn endpoint_spec(
    network: &Network,
    attachment: &Attachment,
    endpoint: &Endpoint,
    mac: Option<[u8; 6]>,
) -> SubLinkSpec {
    SubLinkSpec {
        name: endpoint.container_ifname.clone(),
        parent: attachment.parent.clone(),
        kind: attachment.kind,
        mtu: network.mtu,
        mac,
        alias: format!("{LINK_ALIAS_PREFIX}{}", endpoint.id),
        addresses: Vec::new(),
    }
}

/// The shim: a link of the network's own kind (an ipvlan parent takes one mode), up, with
/// its host addresses.
pub fn shim_spec(network: &Network, attachment: &Attachment, shim: &Shim) -> SubLinkSpec {
    SubLinkSpec {
        name: shim.name.clone(),
        parent: attachment.parent.clone(),
        kind: attachment.kind,
        mtu: network.mtu,
        mac: None,
        alias: format!("{SHIM_ALIAS_PREFIX}{}", network.id),
        addresses: shim.addresses.iter().map(|a| a.address).collect(),
    }
}

/// The parent to create, for a network whose parent wharf makes.
pub fn parent_spec(network: &Network, attachment: &Attachment) -> Option<ParentSpec> {
    let kind = match &attachment.origin {
        ParentOrigin::Host => return None,
        ParentOrigin::Vlan { base, id } => ParentKind::Vlan {
            base: base.clone(),
            id: *id,
        },
        ParentOrigin::Dummy => ParentKind::Dummy,
    };
    Some(ParentSpec {
        name: attachment.parent.clone(),
        kind,
        mtu: network.mtu,
    })
}

/// Routes from the host to every address of `endpoint` through the shim, from the shim's
/// address of the same family (none for a family the shim has no address in).
pub fn shim_routes(attachment: &Attachment, endpoint: &Endpoint) -> Vec<HostRoute> {
    let Some(shim) = &attachment.shim else {
        return Vec::new();
    };
    endpoint
        .addresses()
        .filter_map(|address| {
            let source = shim
                .addresses
                .iter()
                .map(|a| a.address)
                .find(|s| s.is_ipv6() == address.is_ipv6())?;
            Some(HostRoute {
                destination: IpNet::from(address),
                device: shim.name.clone(),
                source: Some(source),
            })
        })
        .collect()
}

/// macvlan and ipvlan L2: the gateways come from IPAM and live on the parent's segment (a
/// router there). ipvlan L3/L3S: no gateway; the default routes are bound to the interface
/// (the host routes the container's traffic), and Docker must not add its gateway bridge.
/// An internal network gets no route at all.
pub fn join_response(
    network: &Network,
    attachment: &Attachment,
    endpoint: &Endpoint,
) -> JoinResponse {
    let mut response = super::join_response(network, endpoint, false);
    let routes_itself =
        matches!(attachment.kind, SubLinkKind::Ipvlan { mode, .. } if mode.routes());
    if !routes_itself {
        return response;
    }
    response.gateway.clear();
    response.gateway_ipv6.clear();
    response.disable_gateway_service = true;
    if network.internal {
        return response;
    }
    for (default, v6) in [("0.0.0.0/0", false), ("::/0", true)] {
        if endpoint.addresses().any(|a| a.is_ipv6() == v6) {
            response.static_routes.push(StaticRoute {
                destination: default.into(),
                route_type: ROUTE_TYPE_CONNECTED,
                next_hop: String::new(),
            });
        }
    }
    response
}
