//! Request and response bodies of Docker's libnetwork remote plugin protocol (NetworkDriver
//! and IpamDriver), field for field as dockerd sends and expects them. Every request field is
//! optional on the wire (`#[serde(default)]`): older clients send `null` or leave keys out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Free-form option maps: Docker's own keys carry booleans, lists and nested maps.
pub type Options = BTreeMap<String, Value>;

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ActivateResponse {
    pub implements: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CapabilitiesResponse {
    pub scope: &'static str,
    pub connectivity_scope: &'static str,
    /// Asks dockerd (28 and later) to call GwAllocCheck before it takes gateway addresses.
    pub gw_alloc_checker: bool,
}

/// dockerd 28+: the network's options, before it asks IPAM for gateways.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GwAllocCheckRequest {
    pub options: Option<Options>,
}

/// Which families' gateway addresses dockerd need not take (the network would not use them).
#[derive(Debug, Serialize)]
pub struct GwAllocCheckResponse {
    #[serde(rename = "SkipIPv4")]
    pub skip_ipv4: bool,
    #[serde(rename = "SkipIPv6")]
    pub skip_ipv6: bool,
}

// ---- IPAM -----------------------------------------------------------------------------

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamCapabilitiesResponse {
    #[serde(rename = "RequiresMACAddress")]
    pub requires_mac_address: bool,
    /// wharf keeps its own state, so Docker need not replay requests after a restart.
    pub requires_request_replay: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddressSpacesResponse {
    pub local_default_address_space: &'static str,
    pub global_default_address_space: &'static str,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RequestPoolRequest {
    pub address_space: String,
    pub pool: String,
    pub sub_pool: String,
    pub options: Option<BTreeMap<String, String>>,
    #[serde(rename = "V6")]
    pub v6: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RequestPoolResponse {
    #[serde(rename = "PoolID")]
    pub pool_id: String,
    pub pool: String,
    pub data: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReleasePoolRequest {
    #[serde(rename = "PoolID")]
    pub pool_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RequestAddressRequest {
    #[serde(rename = "PoolID")]
    pub pool_id: String,
    pub address: String,
    pub options: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RequestAddressResponse {
    /// CIDR notation: the address with the pool's prefix length.
    pub address: String,
    pub data: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReleaseAddressRequest {
    #[serde(rename = "PoolID")]
    pub pool_id: String,
    pub address: String,
}

/// `RequestAddress` option naming what the address is for.
pub const REQUEST_ADDRESS_TYPE: &str = "RequestAddressType";
pub const GATEWAY_ADDRESS_TYPE: &str = "com.docker.network.gateway";

// ---- NetworkDriver --------------------------------------------------------------------

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamData {
    pub address_space: String,
    pub pool: String,
    pub gateway: String,
    pub aux_addresses: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateNetworkRequest {
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    pub options: Option<Options>,
    #[serde(rename = "IPv4Data")]
    pub ipv4_data: Option<Vec<IpamData>>,
    #[serde(rename = "IPv6Data")]
    pub ipv6_data: Option<Vec<IpamData>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkRequest {
    #[serde(rename = "NetworkID")]
    pub network_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointInterface {
    pub address: String,
    #[serde(rename = "AddressIPv6")]
    pub address_ipv6: String,
    pub mac_address: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateEndpointRequest {
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub interface: Option<EndpointInterface>,
    pub options: Option<Options>,
}

/// Only fields Docker left empty may be filled in; repeating one it set is an error there.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatedInterface {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateEndpointResponse {
    pub interface: CreatedInterface,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointRequest {
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
}

/// ProgramExternalConnectivity: the endpoint, and Docker's options (the Join options with
/// the port map).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExternalConnectivityRequest {
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub options: Option<Options>,
}

/// One entry of `com.docker.network.portmap` (libnetwork's `PortBinding`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    /// The IP protocol number: 6 TCP, 17 UDP, 132 SCTP.
    pub proto: u64,
    /// The container's port.
    pub port: u64,
    #[serde(rename = "HostIP")]
    pub host_ip: String,
    pub host_port: u64,
    pub host_port_end: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointInfoResponse {
    pub value: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JoinRequest {
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub sandbox_key: String,
    pub options: Option<Options>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InterfaceName {
    pub src_name: String,
    pub dst_prefix: String,
}

/// Route types of a `StaticRoute`, as libnetwork numbers them.
pub const ROUTE_TYPE_NEXTHOP: u8 = 0;
pub const ROUTE_TYPE_CONNECTED: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StaticRoute {
    pub destination: String,
    pub route_type: u8,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub next_hop: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JoinResponse {
    pub interface_name: InterfaceName,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    #[serde(rename = "GatewayIPv6", skip_serializing_if = "String::is_empty")]
    pub gateway_ipv6: String,
    pub static_routes: Vec<StaticRoute>,
    pub disable_gateway_service: bool,
}

/// Docker's keys in `CreateNetwork` options.
pub const OPTION_GENERIC: &str = "com.docker.network.generic";
pub const OPTION_INTERNAL: &str = "com.docker.network.internal";
pub const OPTION_ENABLE_IPV6: &str = "com.docker.network.enable_ipv6";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_network_parses_dockerd_body() {
        let body = r#"{"NetworkID":"71c5","Options":{"com.docker.network.enable_ipv6":false,
            "com.docker.network.generic":{"mtu":"1400"}},"IPv4Data":[{"AddressSpace":"l",
            "Gateway":"10.77.0.1/24","Pool":"10.77.0.0/24"}],"IPv6Data":[]}"#;
        let req: CreateNetworkRequest = serde_json::from_str(body).unwrap();
        assert_eq!(req.network_id, "71c5");
        let v4 = req.ipv4_data.unwrap();
        assert_eq!(v4[0].gateway, "10.77.0.1/24");
        assert_eq!(
            req.options.unwrap()[OPTION_GENERIC]["mtu"],
            Value::String("1400".into())
        );
    }

    #[test]
    fn null_fields_are_accepted() {
        let req: RequestAddressRequest =
            serde_json::from_str(r#"{"PoolID":"p","Address":"","Options":null}"#).unwrap();
        assert!(req.options.is_none());
        let req: CreateEndpointRequest =
            serde_json::from_str(r#"{"NetworkID":"n","EndpointID":"e","Interface":null}"#).unwrap();
        assert!(req.interface.is_none());
    }

    #[test]
    fn join_response_uses_docker_field_names() {
        let resp = JoinResponse {
            interface_name: InterfaceName {
                src_name: "wh0123456789".into(),
                dst_prefix: "eth".into(),
            },
            gateway: "10.46.0.1".into(),
            gateway_ipv6: String::new(),
            static_routes: vec![StaticRoute {
                destination: "10.46.0.1/32".into(),
                route_type: ROUTE_TYPE_CONNECTED,
                next_hop: String::new(),
            }],
            disable_gateway_service: false,
        };
        let json = serde_json::to_value(&resp).unwrap();
        assert_eq!(json["InterfaceName"]["SrcName"], "wh0123456789");
        assert_eq!(json["StaticRoutes"][0]["RouteType"], 1);
        assert!(json.get("GatewayIPv6").is_none());
        let pool = RequestPoolResponse {
            pool_id: "x".into(),
            pool: "10.0.0.0/8".into(),
            data: BTreeMap::new(),
        };
        assert!(serde_json::to_value(&pool).unwrap().get("PoolID").is_some());
    }
}
