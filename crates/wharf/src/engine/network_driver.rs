//! The NetworkDriver calls: networks, endpoints, joins.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde_json::Value;

use super::error::{invalid, EngineError, Result};
use super::ipam;
use super::options::parse_network_options;
use super::state::{
    short_id, Allocation, Endpoint, ExtraAddress, MacvlanMode, Mode, Network, State, SubLinkKind,
    Subnet,
};
use super::Engine;
use crate::dataplane::{SandboxAddresses, CONTAINER_LINK_PREFIX, HOST_LINK_PREFIX};
use crate::modes::{routed, sublink};
use crate::protocol::types::{
    CreateEndpointRequest, CreateEndpointResponse, CreateNetworkRequest, CreatedInterface,
    EndpointInfoResponse, EndpointRequest, IpamData, JoinRequest, JoinResponse, NetworkRequest,
    Options,
};

/// Endpoint driver option naming extra addresses: `10.46.1.8;10.46.1.9` (Docker's CLI splits
/// unquoted commas, so `;` separates; a quoted comma list is accepted too).
pub const EXTRA_ADDRESSES_OPTION: &str = "wharf.addresses";

/// Characters of the endpoint ID used in link names and the container end's MAC.
const ID_DIGITS: usize = 10;

fn network<'a>(state: &'a State, id: &str) -> Result<&'a Network> {
    state
        .networks
        .get(id)
        .ok_or_else(|| EngineError::UnknownNetwork(id.into()))
}

fn endpoint<'a>(state: &'a State, network_id: &str, endpoint_id: &str) -> Result<&'a Endpoint> {
    network(state, network_id)?
        .endpoints
        .get(endpoint_id)
        .ok_or_else(|| EngineError::UnknownEndpoint {
            network: network_id.into(),
            endpoint: endpoint_id.into(),
        })
}

fn check_network_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 128 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(invalid(format!("network ID {id:?} is not a Docker ID")));
    }
    Ok(())
}

/// Docker's endpoint IDs are 64 hex digits; the first ten name the links and form the MAC.
fn check_endpoint_id(id: &str) -> Result<()> {
    let ok = id.len() >= ID_DIGITS
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
    if !ok {
        return Err(invalid(format!(
            "endpoint ID {id:?} is not a Docker ID (at least {ID_DIGITS} lowercase hex digits)"
        )));
    }
    Ok(())
}

fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

fn format_mac(mac: [u8; 6]) -> String {
    mac.map(|b| format!("{b:02x}")).join(":")
}

/// A locally administered unicast MAC from the endpoint ID: stable, and distinct for
/// distinct endpoints of one sandbox, which is how the interface is found again inside it.
fn mac_for(endpoint_id: &str) -> [u8; 6] {
    let mut mac = [0x02, 0, 0, 0, 0, 0];
    for (i, byte) in mac.iter_mut().skip(1).enumerate() {
        let digits = endpoint_id.get(2 * i..2 * i + 2).unwrap_or("00");
        *byte = u8::from_str_radix(digits, 16).unwrap_or(0);
    }
    mac
}

fn subnets(data: &[IpamData], state: &State, v6: bool) -> Result<Vec<Subnet>> {
    data.iter()
        .map(|d| {
            let prefix = ipam::parse_prefix("pool", &d.pool)?;
            if prefix.addr().is_ipv6() != v6 {
                return Err(invalid(format!(
                    "pool {prefix} is listed as {} data",
                    if v6 { "IPv6" } else { "IPv4" }
                )));
            }
            let gateway = match d.gateway.trim() {
                "" => None,
                text => Some(ipam::parse_address("gateway", text)?),
            };
            if let Some(gw) = gateway.filter(|gw| !prefix.contains(gw)) {
                return Err(invalid(format!(
                    "gateway {gw} is outside the network's subnet {prefix}"
                )));
            }
            Ok(Subnet {
                prefix,
                gateway,
                pool_id: ipam::pool_for_subnet(state, prefix).map(|p| p.id.clone()),
            })
        })
        .collect()
}

/// Parses `wharf.addresses` from the endpoint's driver options.
fn requested_extras(options: Option<&Options>) -> Result<Vec<IpAddr>> {
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

/// Reserves each extra address in the wharf pool of the network subnet that holds it.
fn allocate_extras(
    state: &mut State,
    network_id: &str,
    endpoint_id: &str,
    wanted: &[IpAddr],
) -> Result<Vec<ExtraAddress>> {
    let subnets = network(state, network_id)?.subnets.clone();
    let mut extras = Vec::new();
    for &address in wanted {
        let subnet = subnets
            .iter()
            .find(|s| s.prefix.contains(&address))
            .ok_or_else(|| {
                invalid(format!(
                    "option {EXTRA_ADDRESSES_OPTION}: {address} is outside the network's subnets ({})",
                    subnets.iter().map(|s| s.prefix.to_string()).collect::<Vec<_>>().join(", ")
                ))
            })?;
        let pool_id = subnet.pool_id.clone().ok_or_else(|| {
            invalid(format!(
                "option {EXTRA_ADDRESSES_OPTION} needs the network to use wharf's IPAM \
                 (docker network create --ipam-driver wharf): subnet {} is managed by another IPAM driver",
                subnet.prefix
            ))
        })?;
        let kind = Allocation::Extra {
            endpoint: endpoint_id.into(),
        };
        ipam::request_address(state, &pool_id, Some(address), kind)?;
        extras.push(ExtraAddress { address, pool_id });
    }
    Ok(extras)
}

fn primary_addresses(req: &CreateEndpointRequest) -> Result<Vec<IpNet>> {
    let mut primary = Vec::new();
    if let Some(interface) = &req.interface {
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
    if primary.is_empty() {
        return Err(invalid(format!(
            "endpoint {} has no address: Docker must assign one from the network's pools",
            short_id(&req.endpoint_id)
        )));
    }
    Ok(primary)
}

impl Engine {
    pub fn create_network(&self, req: &CreateNetworkRequest) -> Result<()> {
        check_network_id(&req.network_id)?;
        let options = parse_network_options(req.options.as_ref(), &self.config.network_defaults)?;
        let mut current = self.lock();
        let mut next = current.clone();
        if next.networks.contains_key(&req.network_id) {
            return Err(EngineError::Exists(format!(
                "network {}",
                short_id(&req.network_id)
            )));
        }
        let planned = match options.mode {
            Mode::Routed => None,
            Mode::Macvlan | Mode::Ipvlan => {
                Some(self.plan_attachment(&next, &req.network_id, &options)?)
            }
        };
        let mut subnets = subnets(req.ipv4_data.as_deref().unwrap_or_default(), &next, false)?;
        subnets.extend(subnets_v6(req, &next)?);
        if subnets.is_empty() {
            return Err(invalid(
                "the network has no subnet: give it --subnet or an IPAM pool",
            ));
        }
        let mut network = Network {
            id: req.network_id.clone(),
            mode: options.mode,
            mtu: options.mtu.unwrap_or(self.config.network_defaults.mtu),
            internal: options.internal,
            ipv6: options.ipv6,
            subnets,
            endpoints: BTreeMap::new(),
            attachment: None,
        };
        let mut made = Vec::new();
        if let Some(planned) = planned {
            network.mtu = planned.mtu;
            network.internal = planned.internal;
            let mut attachment = planned.attachment;
            if options.host_shim {
                attachment.shim = Some(self.allocate_shim(&mut next, &network)?);
            }
            made = self.make_attachment(&network, &attachment, planned.create_parent)?;
            network.attachment = Some(attachment);
        }
        next.networks.insert(network.id.clone(), network.clone());
        let finish = if options.mode == Mode::Routed {
            let any_ipv6 = routed_networks(&next).any(|n| n.ipv6);
            self.dataplane
                .ensure_forwarding(any_ipv6)
                .map_err(EngineError::from)
        } else {
            Ok(())
        }
        .and_then(|()| self.store.save(&current, &next).map_err(EngineError::from));
        if let Err(e) = finish {
            self.delete_links(&made);
            return Err(e);
        }
        *current = next;
        let attachment = network.attachment.as_ref();
        tracing::info!(
            network = short_id(&req.network_id),
            mode = options.mode.name(),
            mtu = network.mtu,
            parent = attachment.map(|a| a.parent.as_str()),
            links = attachment.map(|a| a.kind.describe()),
            made = ?made,
            "network created"
        );
        Ok(())
    }

    pub fn delete_network(&self, req: &NetworkRequest) -> Result<()> {
        self.update(|state| {
            let network = state
                .networks
                .remove(&req.network_id)
                .ok_or_else(|| EngineError::UnknownNetwork(req.network_id.clone()))?;
            // Docker removes endpoints first; anything left is wharf's to clean up.
            for endpoint in network.endpoints.values() {
                self.dataplane.delete_link(&endpoint.host_ifname)?;
                release_extras(state, endpoint);
            }
            if let Some(attachment) = &network.attachment {
                self.remove_attachment(state, attachment)?;
            }
            if network.mode == Mode::Routed && routed_networks(state).next().is_none() {
                self.dataplane.release_forwarding()?;
            }
            Ok(())
        })?;
        tracing::info!(network = short_id(&req.network_id), "network deleted");
        Ok(())
    }

    pub fn create_endpoint(&self, req: &CreateEndpointRequest) -> Result<CreateEndpointResponse> {
        check_endpoint_id(&req.endpoint_id)?;
        let primary = primary_addresses(req)?;
        let wanted_extras = requested_extras(req.options.as_ref())?;
        let docker_mac = req
            .interface
            .as_ref()
            .map(|i| i.mac_address.trim())
            .unwrap_or_default();
        let mac = match docker_mac {
            "" => mac_for(&req.endpoint_id),
            text => parse_mac(text)
                .ok_or_else(|| invalid(format!("MAC address {text:?} is not valid")))?,
        };
        let digits = &req.endpoint_id[..ID_DIGITS];
        let container_ifname = format!("{CONTAINER_LINK_PREFIX}{digits}");

        let mut current = self.lock();
        let mut next = current.clone();
        let net = network(&next, &req.network_id)?;
        let attachment = net.attachment.as_ref();
        // A macvlan or ipvlan endpoint has one link, the container's; a routed one a host end
        // too.
        let host_ifname = match attachment {
            None => format!("{HOST_LINK_PREFIX}{digits}"),
            Some(_) => container_ifname.clone(),
        };
        // ipvlan links carry their parent's MAC: there is none of the endpoint's own to
        // honour, hand back, or find the link by inside the sandbox.
        let ipvlan = attachment.is_some_and(|a| matches!(a.kind, SubLinkKind::Ipvlan { .. }));
        if ipvlan && !docker_mac.is_empty() {
            return Err(invalid(format!(
                "ipvlan network {} cannot take MAC address {docker_mac}: ipvlan links share \
                 their parent's MAC; drop --mac-address, or use mode=macvlan",
                short_id(&net.id)
            )));
        }
        // An ipvlan link is found in the sandbox by its parent's MAC (and its address), which
        // only extra addresses need.
        let parent_mac = match attachment.filter(|_| ipvlan && !wanted_extras.is_empty()) {
            Some(a) => self
                .dataplane
                .parent_link(&a.parent)?
                .and_then(|link| link.mac)
                .map(format_mac)
                .ok_or_else(|| invalid(format!("parent {} is gone or has no MAC", a.parent)))?,
            None => String::new(),
        };
        let passthru = MacvlanMode::Passthru;
        if attachment.is_some_and(|a| a.kind == SubLinkKind::Macvlan { mode: passthru })
            && !net.endpoints.is_empty()
        {
            return Err(invalid(format!(
                "macvlan passthru network {} already has a container: passthru gives the whole parent to one",
                short_id(&net.id)
            )));
        }
        let clash = next
            .networks
            .values()
            .flat_map(|n| n.endpoints.values())
            .find(|e| e.id == req.endpoint_id || e.host_ifname == host_ifname);
        if let Some(existing) = clash {
            return Err(EngineError::Exists(format!(
                "endpoint {} (link {})",
                short_id(&existing.id),
                existing.host_ifname
            )));
        }
        if let Some(stray) = primary
            .iter()
            .find(|a| !net.subnets.iter().any(|s| s.prefix.contains(&a.addr())))
        {
            return Err(invalid(format!(
                "endpoint address {stray} is outside network {}'s subnets",
                short_id(&net.id)
            )));
        }
        let extra = allocate_extras(&mut next, &req.network_id, &req.endpoint_id, &wanted_extras)?;
        let endpoint = Endpoint {
            id: req.endpoint_id.clone(),
            host_ifname: host_ifname.clone(),
            container_ifname,
            mac: if ipvlan { parent_mac } else { format_mac(mac) },
            primary,
            extra,
            sandbox: None,
        };
        let net = next
            .networks
            .get_mut(&req.network_id)
            .ok_or_else(|| EngineError::UnknownNetwork(req.network_id.clone()))?;
        net.endpoints.insert(endpoint.id.clone(), endpoint.clone());
        let (theirs, shim_routes) = match &net.attachment {
            Some(attachment) => {
                let link_mac = (!ipvlan).then_some(mac);
                let spec = sublink::endpoint_spec(net, attachment, &endpoint, link_mac);
                self.dataplane.create_sub_link(&spec)?;
                (Vec::new(), sublink::shim_routes(attachment, &endpoint))
            }
            None => {
                let (own, theirs) = routed::proxy_neighbours(net, &endpoint);
                let spec = routed::endpoint_spec(net, &endpoint, mac, own);
                self.dataplane.setup_routed_endpoint(&spec)?;
                (theirs, Vec::new())
            }
        };
        let finish = self
            .dataplane
            .ensure_proxy_neighbours(&theirs)
            .and_then(|()| self.dataplane.ensure_routes(&shim_routes))
            .map_err(EngineError::from)
            .and_then(|()| self.store.save(&current, &next).map_err(EngineError::from));
        if let Err(e) = finish {
            let _ = self.dataplane.remove_routes(&shim_routes);
            let _ = self.dataplane.remove_proxy_neighbours(&theirs);
            let _ = self.dataplane.delete_link(&host_ifname);
            return Err(e);
        }
        *current = next;
        tracing::info!(endpoint = short_id(&req.endpoint_id), link = %host_ifname,
            addresses = ?endpoint.addresses().collect::<Vec<_>>(), "endpoint created");
        Ok(CreateEndpointResponse {
            interface: CreatedInterface {
                mac_address: (docker_mac.is_empty() && !ipvlan).then(|| format_mac(mac)),
            },
        })
    }

    pub fn delete_endpoint(&self, req: &EndpointRequest) -> Result<()> {
        self.update(|state| {
            let endpoint = endpoint(state, &req.network_id, &req.endpoint_id)?.clone();
            let net = network(state, &req.network_id)?;
            let (theirs, shim_routes) = match &net.attachment {
                Some(attachment) => (Vec::new(), sublink::shim_routes(attachment, &endpoint)),
                None => (routed::proxy_neighbours(net, &endpoint).1, Vec::new()),
            };
            self.dataplane.delete_link(&endpoint.host_ifname)?;
            self.dataplane.remove_proxy_neighbours(&theirs)?;
            self.dataplane.remove_routes(&shim_routes)?;
            release_extras(state, &endpoint);
            if let Some(net) = state.networks.get_mut(&req.network_id) {
                net.endpoints.remove(&req.endpoint_id);
            }
            Ok(())
        })?;
        tracing::info!(endpoint = short_id(&req.endpoint_id), "endpoint deleted");
        Ok(())
    }

    pub fn endpoint_info(&self, req: &EndpointRequest) -> Result<EndpointInfoResponse> {
        let state = self.lock();
        let endpoint = endpoint(&state, &req.network_id, &req.endpoint_id)?;
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

    /// Answers Join, and returns the work left for when Docker has moved the interface into
    /// the sandbox (extra addresses), which the caller runs after answering.
    pub fn join(&self, req: &JoinRequest) -> Result<(JoinResponse, Option<SandboxAddresses>)> {
        if req.sandbox_key.trim().is_empty() {
            return Err(invalid("Join carries no SandboxKey"));
        }
        // The sandbox path matters after a restart only to re-apply extra addresses; don't
        // pay for an fsync on every Join otherwise.
        let durable = self.has_extras(&req.network_id, &req.endpoint_id);
        let (response, work) = self.update_durably(durable, |state| {
            let net = network(state, &req.network_id)?.clone();
            let endpoint = endpoint(state, &req.network_id, &req.endpoint_id)?.clone();
            let response = match &net.attachment {
                Some(attachment) => sublink::join_response(&net, attachment, &endpoint),
                None => routed::join_response(&net, &endpoint),
            };
            let work = self.sandbox_work(&net, &endpoint, &req.sandbox_key);
            if let Some(ep) = state
                .networks
                .get_mut(&req.network_id)
                .and_then(|n| n.endpoints.get_mut(&req.endpoint_id))
            {
                ep.sandbox = Some(req.sandbox_key.clone());
            }
            Ok((response, work))
        })?;
        tracing::info!(endpoint = short_id(&req.endpoint_id), sandbox = %req.sandbox_key, "joined");
        Ok((response, work))
    }

    /// Extra addresses to configure inside the sandbox, if the endpoint has any.
    pub(crate) fn sandbox_work(
        &self,
        network: &Network,
        endpoint: &Endpoint,
        sandbox: &str,
    ) -> Option<SandboxAddresses> {
        if endpoint.extra.is_empty() {
            return None;
        }
        let shares_mac = network
            .attachment
            .as_ref()
            .is_some_and(|a| matches!(a.kind, SubLinkKind::Ipvlan { .. }));
        Some(SandboxAddresses {
            netns_path: PathBuf::from(sandbox),
            mac: parse_mac(&endpoint.mac)?,
            with_address: endpoint
                .primary
                .first()
                .map(IpNet::addr)
                .filter(|_| shares_mac),
            addresses: endpoint
                .extra
                .iter()
                .map(|e| IpNet::from(e.address))
                .collect(),
            timeout: self.config.sandbox_timeout,
        })
    }

    fn has_extras(&self, network_id: &str, endpoint_id: &str) -> bool {
        endpoint(&self.lock(), network_id, endpoint_id).is_ok_and(|e| !e.extra.is_empty())
    }

    pub fn leave(&self, req: &EndpointRequest) -> Result<()> {
        let durable = self.has_extras(&req.network_id, &req.endpoint_id);
        self.update_durably(durable, |state| {
            endpoint(state, &req.network_id, &req.endpoint_id)?;
            if let Some(ep) = state
                .networks
                .get_mut(&req.network_id)
                .and_then(|n| n.endpoints.get_mut(&req.endpoint_id))
            {
                ep.sandbox = None;
            }
            Ok(())
        })?;
        tracing::info!(endpoint = short_id(&req.endpoint_id), "left");
        Ok(())
    }

    /// Program/RevokeExternalConnectivity: a routed container is reachable at its own
    /// address, so there is nothing to program; the IDs are still checked.
    pub fn external_connectivity(&self, req: &EndpointRequest) -> Result<()> {
        endpoint(&self.lock(), &req.network_id, &req.endpoint_id).map(|_| ())
    }
}

fn subnets_v6(req: &CreateNetworkRequest, state: &State) -> Result<Vec<Subnet>> {
    subnets(req.ipv6_data.as_deref().unwrap_or_default(), state, true)
}

pub(crate) fn routed_networks(state: &State) -> impl Iterator<Item = &Network> {
    state.networks.values().filter(|n| n.mode == Mode::Routed)
}

/// Gives an endpoint's extra addresses back to their pools (if the pools still exist).
fn release_extras(state: &mut State, endpoint: &Endpoint) {
    for extra in &endpoint.extra {
        let _ = ipam::release_address(state, &extra.pool_id, extra.address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_and_ids() {
        assert_eq!(
            mac_for("0123456789abcdef"),
            [2, 0x01, 0x23, 0x45, 0x67, 0x89]
        );
        assert_eq!(
            parse_mac("02:01:23:45:67:89"),
            Some([2, 1, 0x23, 0x45, 0x67, 0x89])
        );
        assert_eq!(parse_mac("02:01:23"), None);
        assert_eq!(
            format_mac([2, 1, 0x23, 0x45, 0x67, 0x89]),
            "02:01:23:45:67:89"
        );
        assert!(check_endpoint_id("0123456789").is_ok());
        assert!(check_endpoint_id("xyz").is_err());
        assert!(check_endpoint_id("ABCDEF012345").is_err());
        assert!(check_network_id("").is_err());
    }

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
}
