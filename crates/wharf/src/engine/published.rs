//! Published ports (`docker run -p`) and masquerading, for the networks whose mode has the
//! host NAT for them (Open vSwitch nat networks): which ones a state calls for, checking a
//! runtime's request, and keeping wharf's NAT table equal to the state.

use std::net::IpAddr;

use super::error::invalid;
use super::{Draft, Engine, EngineError, Result};
use crate::dataplane::nat::{Masquerade, Nat, Protocol, PublishedPort};
use crate::model::{short_id, Change, Endpoint, L4Protocol, PortMapping, State};
use crate::store::Durability;

fn protocol(protocol: L4Protocol) -> Protocol {
    match protocol {
        L4Protocol::Tcp => Protocol::Tcp,
        L4Protocol::Udp => Protocol::Udp,
        L4Protocol::Sctp => Protocol::Sctp,
    }
}

/// The container addresses a mapping forwards to: the endpoint's primary address of the
/// host address's family, or of each family when the mapping names no address.
fn targets(mapping: &PortMapping, endpoint: &Endpoint) -> Vec<IpAddr> {
    let mut targets: Vec<IpAddr> = Vec::new();
    for address in endpoint.primary.iter().map(|a| a.addr()) {
        let family_fits = mapping
            .host_ip
            .is_none_or(|host| host.is_ipv4() == address.is_ipv4());
        if family_fits && !targets.iter().any(|t| t.is_ipv4() == address.is_ipv4()) {
            targets.push(address);
        }
    }
    targets
}

impl Engine {
    /// What wharf's NAT table must hold for `state`.
    pub(super) fn nat(&self, state: &State) -> Nat {
        let mut nat = Nat::default();
        for network in state.networks.values() {
            let Some(link) = self
                .mode_of(network)
                .ok()
                .and_then(|mode| mode.nat_link(network))
            else {
                continue;
            };
            nat.masquerade.insert(
                network.id.clone(),
                Masquerade {
                    prefixes: network.prefixes(),
                    bridge: link,
                },
            );
        }
        for (endpoint_id, published) in state.published.iter() {
            if !nat.masquerade.contains_key(&published.network) {
                continue;
            }
            let Some(endpoint) = state.endpoint(&published.network, endpoint_id) else {
                continue;
            };
            let ports: Vec<PublishedPort> = published
                .ports
                .iter()
                .flat_map(|mapping| {
                    targets(mapping, endpoint)
                        .into_iter()
                        .map(|container_ip| PublishedPort {
                            protocol: protocol(mapping.protocol),
                            host_ip: mapping.host_ip.filter(|ip| !ip.is_unspecified()),
                            host_port: mapping.host_port,
                            container_ip,
                            container_port: mapping.container_port,
                        })
                })
                .collect();
            if !ports.is_empty() {
                nat.published.insert(endpoint_id.clone(), ports);
            }
        }
        nat
    }

    /// Makes the kernel's NAT table hold what `state` calls for. Call with the network lock
    /// held, like [`Engine::sync_fences`].
    pub(super) fn sync_nat(&self, state: &State) -> Result<()> {
        Ok(self.dataplane.firewall.sync_nat(&self.nat(state))?)
    }

    /// The ports an endpoint publishes from now on (none: Docker revoked them). Networks
    /// whose containers are reached at their own addresses (routed, macvlan, ipvlan, flat
    /// Open vSwitch) publish nothing, as Docker's own macvlan and ipvlan drivers do.
    pub fn publish_ports(
        &self,
        network_id: &str,
        endpoint_id: &str,
        ports: Vec<PortMapping>,
    ) -> Result<()> {
        let _one_at_a_time = self.network_ops.lock().unwrap_or_else(|e| e.into_inner());
        let mut core = self.lock();
        let network = core
            .state
            .network(network_id)
            .ok_or_else(|| EngineError::UnknownNetwork(network_id.into()))?;
        let endpoint = core
            .state
            .endpoint(network_id, endpoint_id)
            .ok_or_else(|| EngineError::UnknownEndpoint {
                network: network_id.into(),
                endpoint: endpoint_id.into(),
            })?;
        if self.mode_of(network)?.nat_link(network).is_none() {
            if !ports.is_empty() {
                tracing::info!(
                    endpoint = short_id(endpoint_id),
                    "not publishing ports: the network's containers are reached at their own \
                     addresses"
                );
            }
            return Ok(());
        }
        let mut wanted: Vec<PortMapping> = Vec::new();
        for mapping in ports {
            check_mapping(&mapping, endpoint, &wanted, &core.state, endpoint_id)?;
            if !wanted.contains(&mapping) {
                wanted.push(mapping);
            }
        }
        let current = core.state.published.get(endpoint_id).map(|p| &p.ports);
        if current.map_or(wanted.is_empty(), |ports| *ports == wanted) {
            return Ok(());
        }
        let mut draft = Draft::new(core.state.clone());
        draft.record(Change::PortsPublished {
            network: network_id.into(),
            endpoint: endpoint_id.into(),
            ports: wanted.clone(),
        })?;
        self.sync_nat(draft.state())?;
        if let Err(error) = self.commit(&mut core, draft, Durability::Synced) {
            if let Err(undo) = self.sync_nat(&core.state) {
                tracing::warn!(error = %undo, "could not take back published ports");
            }
            return Err(error);
        }
        drop(core);
        tracing::info!(
            endpoint = short_id(endpoint_id),
            ports = ?wanted.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "published ports"
        );
        Ok(())
    }
}

/// Refuses a mapping wharf cannot program: no host port, no container address of its
/// family, or a host port another endpoint publishes already.
fn check_mapping(
    mapping: &PortMapping,
    endpoint: &Endpoint,
    earlier: &[PortMapping],
    state: &State,
    endpoint_id: &str,
) -> Result<()> {
    if mapping.host_port == 0 || mapping.container_port == 0 {
        return Err(invalid(format!(
            "publishing {}: wharf needs both ports; give -p HOST_PORT:CONTAINER_PORT",
            mapping
        )));
    }
    if targets(mapping, endpoint).is_empty() {
        return Err(invalid(format!(
            "publishing {mapping}: the container has no address of the host address's family"
        )));
    }
    if let Some(other) = earlier
        .iter()
        .find(|o| o.collides(mapping) && *o != mapping)
    {
        return Err(invalid(format!(
            "publishing {mapping}: it takes the host port of {other} of the same container"
        )));
    }
    for (other_id, published) in state.published.iter() {
        if other_id == endpoint_id {
            continue;
        }
        if let Some(other) = published.ports.iter().find(|o| o.collides(mapping)) {
            return Err(invalid(format!(
                "publishing {mapping}: host port {}/{} is published already by endpoint {} \
                 ({other}) of network {}; choose another host port",
                mapping.host_port,
                mapping.protocol.name(),
                short_id(other_id),
                short_id(&published.network)
            )));
        }
    }
    Ok(())
}
