//! macvlan mode: each endpoint is a macvlan link on the network's parent, so containers sit
//! on the parent's L2 segment with their own MAC addresses, as with Docker's built-in driver.
//! The host keeps no per-container state: no host end, no routes.

use crate::dataplane::{MacvlanSpec, LINK_ALIAS_PREFIX};
use crate::engine::state::{Endpoint, MacvlanSettings, Network};
use crate::protocol::types::JoinResponse;

pub fn endpoint_spec(
    network: &Network,
    settings: &MacvlanSettings,
    endpoint: &Endpoint,
    mac: [u8; 6],
) -> MacvlanSpec {
    MacvlanSpec {
        name: endpoint.container_ifname.clone(),
        parent: settings.parent.clone(),
        mode: settings.mode,
        mtu: network.mtu,
        mac,
        alias: format!("{LINK_ALIAS_PREFIX}{}", endpoint.id),
    }
}

/// The gateways come from IPAM and live on the parent's segment (a router there); an
/// internal network gets none.
pub fn join_response(network: &Network, endpoint: &Endpoint) -> JoinResponse {
    super::join_response(network, endpoint, false)
}
