//! Docker's requests translated into the engine's calls, and the engine's answers into
//! Docker's. Everything Docker-specific stops here: its option keys and flag spellings, its
//! JSON shapes, its way of naming a gateway request or a Join's routes.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use serde_json::Value;

use super::docker_api::NameLearner;
use super::ports::{port_mappings, PORT_MAP};
use super::types::*;
use crate::dataplane::SandboxAddresses;
use crate::engine::ipam::{parse_address, parse_prefix, PoolRequest};
use crate::engine::status::StatusReport;
use crate::engine::{
    error::invalid, AddressUse, EndpointSpec as WharfEndpoint, Engine, NetworkSpec as WharfNetwork,
    Result, SubnetRequest, LOCAL_ADDRESS_SPACE,
};
use crate::modes::{format_mac, parse_mac, JoinAnswer};

/// Endpoint driver option naming extra addresses: `10.46.1.8;10.46.1.9` (Docker's CLI splits
/// unquoted commas, so `;` separates; a quoted comma list is accepted too).
pub const EXTRA_ADDRESSES_OPTION: &str = "wharf.addresses";
/// Docker's bridge driver spells the MTU option this way; users who switch keep it.
const DOCKER_MTU_OPTION: &str = "com.docker.network.driver.mtu";

/// The plugin: Docker's calls, answered through the engine.
#[derive(Clone)]
pub struct Plugin {
    engine: Arc<Engine>,
    names: Option<Arc<NameLearner>>,
    speaker: Option<wharf_bgp::speaker::Speaker>,
}

/// Docker sends booleans as JSON booleans, older versions as strings.
fn flag(options: &Options, key: &str) -> bool {
    match options.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

/// `-o key=value` options: strings under `com.docker.network.generic`.
fn generic_options(options: &Options) -> Result<BTreeMap<String, String>> {
    let generic = match options.get(OPTION_GENERIC) {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map,
        Some(other) => {
            return Err(invalid(format!(
                "network options must be key=value strings, got {other}"
            )))
        }
    };
    let mut out = BTreeMap::new();
    for (key, value) in generic {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let key = if key == DOCKER_MTU_OPTION { "mtu" } else { key };
        if out.insert(key.to_owned(), text).is_some() {
            return Err(invalid(format!(
                "option mtu is given twice (as mtu and as {DOCKER_MTU_OPTION}): give one"
            )));
        }
    }
    Ok(out)
}

fn subnets(data: &[IpamData], v6: bool) -> Result<Vec<SubnetRequest>> {
    data.iter()
        .map(|d| {
            let prefix = parse_prefix("pool", &d.pool)?;
            if prefix.addr().is_ipv6() != v6 {
                return Err(invalid(format!(
                    "pool {prefix} is listed as {} data",
                    if v6 { "IPv6" } else { "IPv4" }
                )));
            }
            let gateway = match d.gateway.trim() {
                "" => None,
                text => Some(parse_address("gateway", text)?),
            };
            Ok(SubnetRequest { prefix, gateway })
        })
        .collect()
}

/// Parses `wharf.addresses` from the endpoint's driver options.
pub fn requested_extras(options: Option<&Options>) -> Result<Vec<IpAddr>> {
    let Some(value) = options.and_then(|o| o.get(EXTRA_ADDRESSES_OPTION)) else {
        return Ok(Vec::new());
    };
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(";"),
        other => other.to_string(),
    };
    let mut addresses: Vec<IpAddr> = Vec::new();
    for part in text
        .split([';', ','])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let address: IpAddr = part.parse().map_err(|_| {
            invalid(format!(
                "option {EXTRA_ADDRESSES_OPTION}: {part:?} is not an IP address \
                 (separate addresses with ';', e.g. 10.46.1.8;10.46.1.9)"
            ))
        })?;
        if addresses.contains(&address) {
            return Err(invalid(format!(
                "option {EXTRA_ADDRESSES_OPTION}: {address} is listed twice"
            )));
        }
        addresses.push(address);
    }
    Ok(addresses)
}

fn primary_addresses(request: &CreateEndpointRequest) -> Result<Vec<IpNet>> {
    let mut primary = Vec::new();
    if let Some(interface) = &request.interface {
        for (what, text) in [
            ("address", &interface.address),
            ("IPv6 address", &interface.address_ipv6),
        ] {
            if !text.trim().is_empty() {
                let net: IpNet = text.trim().parse().map_err(|_| {
                    invalid(format!("endpoint {what} {text:?} is not in CIDR form"))
                })?;
                primary.push(net);
            }
        }
    }
    Ok(primary)
}

/// Docker's form of a Join answer: the link to move in as `ethN`, its gateways, its routes
/// (on-link ones as RouteType 1, the others as 0 with their next hop).
pub fn join_response(answer: &JoinAnswer) -> JoinResponse {
    JoinResponse {
        interface_name: InterfaceName {
            src_name: answer.interface.clone(),
            dst_prefix: "eth".into(),
        },
        gateway: answer.gateway_v4.map(|g| g.to_string()).unwrap_or_default(),
        gateway_ipv6: answer.gateway_v6.map(|g| g.to_string()).unwrap_or_default(),
        static_routes: answer
            .routes
            .iter()
            .map(|route| StaticRoute {
                destination: route.destination.to_string(),
                route_type: match route.next_hop {
                    None => ROUTE_TYPE_CONNECTED,
                    Some(_) => ROUTE_TYPE_NEXTHOP,
                },
                next_hop: route.next_hop.map(|h| h.to_string()).unwrap_or_default(),
            })
            .collect(),
        disable_gateway_service: answer.disable_gateway_service,
    }
}

impl Plugin {
    pub fn new(engine: Arc<Engine>) -> Plugin {
        Plugin {
            engine,
            names: None,
            speaker: None,
        }
    }

    /// The BGP speaker, for `wharf bgp`'s questions.
    pub fn with_speaker(mut self, speaker: Option<wharf_bgp::speaker::Speaker>) -> Plugin {
        self.speaker = speaker;
        self
    }

    pub fn speaker(&self) -> Option<&wharf_bgp::speaker::Speaker> {
        self.speaker.as_ref()
    }

    /// Learns networks' names from dockerd at `socket` (for `accept_from`).
    pub fn with_names(mut self, names: Arc<NameLearner>) -> Plugin {
        self.names = Some(names);
        self
    }

    /// Learns network `id`'s name in the background, if it is not known yet.
    fn learn_name(&self, id: &str) {
        if let Some(names) = &self.names {
            names.learn(&self.engine, id);
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn create_network(&self, request: &CreateNetworkRequest) -> Result<()> {
        let empty = Options::new();
        let options = request.options.as_ref().unwrap_or(&empty);
        let mut subnets = subnets(request.ipv4_data.as_deref().unwrap_or_default(), false)?;
        subnets.extend(self::subnets(
            request.ipv6_data.as_deref().unwrap_or_default(),
            true,
        )?);
        self.engine.create_network(&WharfNetwork {
            id: request.network_id.clone(),
            options: generic_options(options)?,
            internal: flag(options, OPTION_INTERNAL),
            ipv6: flag(options, OPTION_ENABLE_IPV6),
            subnets,
        })?;
        self.learn_name(&request.network_id);
        Ok(())
    }

    /// dockerd 28+ asks before it takes gateway addresses: a network whose mode routes its
    /// containers without one (ipvlan L3/L3S) skips them.
    pub fn gw_alloc_check(&self, request: &GwAllocCheckRequest) -> Result<GwAllocCheckResponse> {
        let empty = Options::new();
        let options = generic_options(request.options.as_ref().unwrap_or(&empty))?;
        let needed = self.engine.uses_gateways(&options)?;
        Ok(GwAllocCheckResponse {
            skip_ipv4: !needed,
            skip_ipv6: !needed,
        })
    }

    pub fn delete_network(&self, request: &NetworkRequest) -> Result<()> {
        self.engine.delete_network(&request.network_id)
    }

    pub fn create_endpoint(
        &self,
        request: &CreateEndpointRequest,
    ) -> Result<CreateEndpointResponse> {
        let mac = match request.interface.as_ref().map(|i| i.mac_address.trim()) {
            None | Some("") => None,
            Some(text) => Some(
                parse_mac(text)
                    .ok_or_else(|| invalid(format!("MAC address {text:?} is not valid")))?,
            ),
        };
        let created = self.engine.create_endpoint(&WharfEndpoint {
            network: request.network_id.clone(),
            id: request.endpoint_id.clone(),
            addresses: primary_addresses(request)?,
            mac,
            extra: requested_extras(request.options.as_ref())?,
        })?;
        // By now dockerd lists the network, if learning its name at creation was too early.
        self.learn_name(&request.network_id);
        // Only fields Docker left empty may be filled in.
        Ok(CreateEndpointResponse {
            interface: CreatedInterface {
                mac_address: created.mac.map(format_mac),
            },
        })
    }

    pub fn delete_endpoint(&self, request: &EndpointRequest) -> Result<()> {
        self.engine
            .delete_endpoint(&request.network_id, &request.endpoint_id)
    }

    pub fn endpoint_info(&self, request: &EndpointRequest) -> Result<EndpointInfoResponse> {
        let endpoint = self
            .engine
            .endpoint(&request.network_id, &request.endpoint_id)?;
        let mut value = BTreeMap::new();
        value.insert(
            "host_interface".into(),
            Value::from(endpoint.host_ifname.clone()),
        );
        value.insert(
            "addresses".into(),
            Value::from(
                endpoint
                    .addresses()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>(),
            ),
        );
        Ok(EndpointInfoResponse { value })
    }

    pub fn join(&self, request: &JoinRequest) -> Result<(JoinResponse, Option<SandboxAddresses>)> {
        if request.sandbox_key.trim().is_empty() {
            return Err(invalid("Join carries no SandboxKey"));
        }
        let (answer, work) = self.engine.join(
            &request.network_id,
            &request.endpoint_id,
            &request.sandbox_key,
        )?;
        Ok((join_response(&answer), work))
    }

    pub fn leave(&self, request: &EndpointRequest) -> Result<()> {
        self.engine.leave(&request.network_id, &request.endpoint_id)
    }

    /// ProgramExternalConnectivity: the ports the container publishes (`-p`), which networks
    /// the host NATs for program; others' containers are reached at their own addresses.
    pub fn program_external(&self, request: &ExternalConnectivityRequest) -> Result<()> {
        let ports = match request.options.as_ref().and_then(|o| o.get(PORT_MAP)) {
            None | Some(Value::Null) => Vec::new(),
            Some(map) => port_mappings(map)?,
        };
        self.engine
            .publish_ports(&request.network_id, &request.endpoint_id, ports)
    }

    /// RevokeExternalConnectivity: the endpoint publishes nothing any more.
    pub fn revoke_external(&self, request: &EndpointRequest) -> Result<()> {
        self.engine
            .publish_ports(&request.network_id, &request.endpoint_id, Vec::new())
    }

    pub fn request_pool(&self, request: &RequestPoolRequest) -> Result<RequestPoolResponse> {
        let optional = |what, text: &str| -> Result<Option<IpNet>> {
            Ok(match text.trim() {
                "" => None,
                text => Some(parse_prefix(what, text)?),
            })
        };
        let pool = self.engine.request_pool(&PoolRequest {
            address_space: match request.address_space.trim() {
                "" => LOCAL_ADDRESS_SPACE.into(),
                space => space.into(),
            },
            subnet: optional("pool", &request.pool)?,
            range: optional("--ip-range", &request.sub_pool)?,
            v6: request.v6,
        })?;
        Ok(RequestPoolResponse {
            pool_id: pool.id,
            pool: pool.subnet.to_string(),
            data: BTreeMap::new(),
        })
    }

    pub fn release_pool(&self, request: &ReleasePoolRequest) -> Result<()> {
        self.engine.release_pool(&request.pool_id)
    }

    pub fn request_address(
        &self,
        request: &RequestAddressRequest,
    ) -> Result<RequestAddressResponse> {
        let wanted = match request.address.trim() {
            "" => None,
            text => Some(parse_address("address", text)?),
        };
        let gateway = request
            .options
            .as_ref()
            .and_then(|o| o.get(REQUEST_ADDRESS_TYPE))
            .is_some_and(|t| t == GATEWAY_ADDRESS_TYPE);
        let purpose = if gateway {
            AddressUse::Gateway
        } else {
            AddressUse::Container
        };
        let address = self
            .engine
            .request_address(&request.pool_id, wanted, purpose)?;
        Ok(RequestAddressResponse {
            address: address.to_string(),
            data: BTreeMap::new(),
        })
    }

    pub fn release_address(&self, request: &ReleaseAddressRequest) -> Result<()> {
        let address = parse_address("address", &request.address)?;
        self.engine.release_address(&request.pool_id, address)
    }

    pub fn status(&self) -> Result<StatusReport> {
        Ok(self.engine.status())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extra_address_option_forms() {
        let opts = |v: Value| -> Options {
            let mut o = Options::new();
            o.insert(EXTRA_ADDRESSES_OPTION.into(), v);
            o
        };
        let semi = requested_extras(Some(&opts(Value::from("10.46.1.8;10.46.1.9")))).unwrap();
        let comma = requested_extras(Some(&opts(Value::from("10.46.1.8, 10.46.1.9")))).unwrap();
        assert_eq!(semi, comma);
        assert_eq!(semi.len(), 2);
        let err = requested_extras(Some(&opts(Value::from("10.46.1.8;nope")))).unwrap_err();
        assert!(err.to_string().contains("\"nope\""));
        assert!(requested_extras(Some(&opts(Value::from("10.46.1.8;10.46.1.8")))).is_err());
        assert!(requested_extras(None).unwrap().is_empty());
    }

    #[test]
    fn docker_options_become_wharf_options() {
        let options: Options = serde_json::from_value(json!({
            "com.docker.network.internal": true,
            "com.docker.network.enable_ipv6": "true",
            "com.docker.network.generic": {"mode": "routed", "com.docker.network.driver.mtu": "1400"}
        }))
        .unwrap();
        assert!(flag(&options, OPTION_INTERNAL) && flag(&options, OPTION_ENABLE_IPV6));
        let generic = generic_options(&options).unwrap();
        assert_eq!(generic["mtu"], "1400");
        assert_eq!(generic["mode"], "routed");
        let twice: Options = serde_json::from_value(json!({"com.docker.network.generic":
            {"mtu": "1400", "com.docker.network.driver.mtu": "1400"}}))
        .unwrap();
        assert!(generic_options(&twice)
            .unwrap_err()
            .to_string()
            .contains("twice"));
        let bad: Options =
            serde_json::from_value(json!({"com.docker.network.generic": ["mtu"]})).unwrap();
        assert!(generic_options(&bad).is_err());
    }

    #[test]
    fn join_answers_in_dockers_form() {
        let answer = JoinAnswer {
            interface: "wc01".into(),
            gateway_v4: Some("10.46.0.1".parse().unwrap()),
            gateway_v6: None,
            routes: vec![
                crate::modes::ContainerRoute {
                    destination: "10.46.0.1/32".parse().unwrap(),
                    next_hop: None,
                },
                crate::modes::ContainerRoute {
                    destination: "fd4e::/65".parse().unwrap(),
                    next_hop: Some("fd4e::1".parse().unwrap()),
                },
            ],
            disable_gateway_service: false,
        };
        let json = serde_json::to_value(join_response(&answer)).unwrap();
        assert_eq!(
            json,
            json!({"InterfaceName": {"SrcName": "wc01", "DstPrefix": "eth"},
                "Gateway": "10.46.0.1",
                "StaticRoutes": [{"Destination": "10.46.0.1/32", "RouteType": 1},
                    {"Destination": "fd4e::/65", "RouteType": 0, "NextHop": "fd4e::1"}],
                "DisableGatewayService": false})
        );
    }
}
