//! Endpoints: made in three steps so that no lock is held while the kernel works. Under the
//! lock, the request is checked against the current state and the endpoint's links are
//! marked busy; without it, the mode's objects are made; under the lock again, the extra
//! addresses are taken and everything is committed (or, if anything changed meanwhile that
//! makes the endpoint impossible, the objects are taken away again). Taking an endpoint away
//! is the same in reverse.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;

use super::error::invalid;
use super::remote::RemoteHosts;
use super::{ipam, Core, CreatedEndpoint, Draft, EndpointSpec, Engine, EngineError, Result};
use crate::dataplane::SandboxAddresses;
use crate::model::{short_id, Allocation, Change, Endpoint, ExtraAddress, Network, State};
use crate::modes::{parse_mac, EndpointDraft, ENDPOINT_ID_DIGITS};
use crate::store::Durability;

/// Docker's endpoint IDs are 64 hex digits; the first ten name the links and form the MAC.
fn check_endpoint_id(id: &str) -> Result<()> {
    let ok = id.len() >= ENDPOINT_ID_DIGITS
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
    if !ok {
        return Err(invalid(format!(
            "endpoint ID {id:?} is not a Docker ID (at least {ENDPOINT_ID_DIGITS} lowercase hex digits)"
        )));
    }
    Ok(())
}

fn network<'a>(state: &'a State, id: &str) -> Result<&'a Network> {
    state
        .network(id)
        .ok_or_else(|| EngineError::UnknownNetwork(id.into()))
}

fn endpoint<'a>(state: &'a State, network_id: &str, endpoint_id: &str) -> Result<&'a Endpoint> {
    network(state, network_id)?
        .endpoints
        .get(endpoint_id)
        .map(|e| &**e)
        .ok_or_else(|| EngineError::UnknownEndpoint {
            network: network_id.into(),
            endpoint: endpoint_id.into(),
        })
}

/// Takes each extra address in the wharf pool of the network subnet that holds it.
fn allocate_extras(
    draft: &mut Draft,
    network: &Network,
    endpoint_id: &str,
    wanted: &[IpAddr],
    remote: &RemoteHosts,
) -> Result<Vec<ExtraAddress>> {
    let mut extras = Vec::new();
    for (i, &address) in wanted.iter().enumerate() {
        if wanted[..i].contains(&address) {
            return Err(invalid(format!("extra address {address} is listed twice")));
        }
        let subnet = network
            .subnets
            .iter()
            .find(|s| s.prefix.contains(&address))
            .ok_or_else(|| {
                invalid(format!(
                    "option wharf.addresses: {address} is outside the network's subnets ({})",
                    network
                        .subnets
                        .iter()
                        .map(|s| s.prefix.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        let pool_id = subnet.pool_id.clone().ok_or_else(|| {
            invalid(format!(
                "option wharf.addresses needs the network to use wharf's IPAM \
                 (docker network create --ipam-driver wharf): subnet {} is managed by another IPAM driver",
                subnet.prefix
            ))
        })?;
        let allocation = Allocation::Extra {
            endpoint: endpoint_id.into(),
        };
        ipam::request_address(draft, &pool_id, Some(address), allocation, remote)?;
        extras.push(ExtraAddress { address, pool_id });
    }
    Ok(extras)
}

/// Refuses an address that another endpoint of the network has. Docker's IPAM hands each
/// address out once, but a caller that skips it (or an IPAM driver that lost track) could give
/// two endpoints one address: two host routes for one /32, the later one taking the earlier
/// one's traffic. Looked up in the index of endpoints' addresses (extra addresses come from
/// wharf's pools, which never hand one out twice), under the lock: when the endpoint is
/// decided, and again at its commit, when others may have been made meanwhile.
fn check_addresses_free(
    holders: &HashMap<IpAddr, Vec<(String, String)>>,
    network: &Network,
    request: &EndpointSpec,
) -> Result<()> {
    let wanted = request.addresses.iter().map(|a| (a.addr(), "")).chain(
        request
            .extra
            .iter()
            .map(|a| (*a, "option wharf.addresses: ")),
    );
    for (address, asked_by) in wanted {
        // The same endpoint again is refused by its ID, with the message that says so.
        let other = holders
            .get(&address)
            .into_iter()
            .flatten()
            .find(|(n, e)| *n == network.id && *e != request.id);
        if let Some((_, other)) = other {
            return Err(invalid(format!(
                "{asked_by}address {address} is in use by endpoint {} on network {}: give the endpoint another one",
                short_id(other),
                short_id(&network.id)
            )));
        }
    }
    Ok(())
}

/// An endpoint's ID and links, which no other endpoint may have.
pub(super) fn claimed_names(endpoint: &Endpoint) -> [&str; 3] {
    [
        &endpoint.id,
        &endpoint.host_ifname,
        &endpoint.container_ifname,
    ]
}

/// An endpoint ID or link name in use by another endpoint (made, or being made) is refused
/// before anything is made. `names` maps every endpoint's ID and link names to its ID.
fn check_unclaimed(
    names: &HashMap<String, String>,
    busy: &HashSet<String>,
    endpoint: &Endpoint,
) -> Result<()> {
    let names_used = claimed_names(endpoint);
    if let Some(name) = names_used.into_iter().find(|n| busy.contains(*n)) {
        return Err(EngineError::Busy(format!("endpoint or link {name}")));
    }
    match names_used
        .into_iter()
        .find_map(|n| Some((n, names.get(n)?)))
    {
        Some((_, owner)) if owner == &endpoint.id => {
            Err(EngineError::Exists(format!("endpoint {}", short_id(owner))))
        }
        Some((name, owner)) => Err(EngineError::Exists(format!(
            "endpoint {} (link {name})",
            short_id(owner)
        ))),
        None => Ok(()),
    }
}

impl Engine {
    pub fn create_endpoint(&self, request: &EndpointSpec) -> Result<CreatedEndpoint> {
        check_endpoint_id(&request.id)?;
        if request.addresses.is_empty() {
            return Err(invalid(format!(
                "endpoint {} has no address: it must be given one from the network's pools",
                short_id(&request.id)
            )));
        }
        // 1. Decide, under the lock.
        let (net, created, objects) = {
            let mut core = self.lock();
            let net = network(&core.state, &request.network)?.clone();
            let mode = self.mode_of(&net)?;
            if let Some(stray) = request
                .addresses
                .iter()
                .find(|a| !net.subnets.iter().any(|s| s.prefix.contains(&a.addr())))
            {
                return Err(invalid(format!(
                    "endpoint address {stray} is outside network {}'s subnets",
                    short_id(&net.id)
                )));
            }
            check_addresses_free(&core.holders, &net, request)?;
            // A dry run of the extra addresses: refused now rather than after the kernel work.
            let mut trial = Draft::new(core.state.clone());
            let extra = allocate_extras(
                &mut trial,
                &net,
                &request.id,
                &request.extra,
                &self.remote_hosts(),
            )?;
            let created = mode.new_endpoint(
                &net,
                &EndpointDraft {
                    id: &request.id,
                    primary: &request.addresses,
                    mac: request.mac,
                    extra: &extra,
                },
                &self.host(),
            )?;
            check_unclaimed(&core.names, &core.busy, &created.endpoint)?;
            let objects = mode.endpoint_objects(&net, &created.endpoint)?;
            self.record_intent(&mut core, &request.id, &objects)?;
            core.busy
                .extend(claimed_names(&created.endpoint).map(String::from));
            (net, created, objects)
        };
        // 2. Make, without it (on failure, make takes away what it made, and only that).
        let made = self.dataplane.make(&objects).map_err(EngineError::from);
        let was_made = made.is_ok();
        // 3. Commit, under it again.
        let mut core = self.lock();
        for name in claimed_names(&created.endpoint) {
            core.busy.remove(name);
        }
        let committed = made.and_then(|()| {
            let current = network(&core.state, &net.id)?;
            if current.mode != net.mode || current.config != net.config {
                return Err(invalid(format!(
                    "network {} changed while endpoint {} was being made; try again",
                    short_id(&net.id),
                    short_id(&request.id)
                )));
            }
            check_addresses_free(&core.holders, current, request)?;
            let mut draft = Draft::new(core.state.clone());
            allocate_extras(
                &mut draft,
                current,
                &request.id,
                &request.extra,
                &self.remote_hosts(),
            )?;
            draft.record(Change::EndpointAdded {
                network: net.id.clone(),
                endpoint: created.endpoint.clone(),
            })?;
            draft.record(Change::IntentDone {
                owner: request.id.clone(),
            })?;
            self.commit(&mut core, draft, Durability::Synced)
        });
        drop(core);
        if let Err(error) = committed {
            if was_made {
                if let Err(undo) = self.dataplane.remove(&objects, &|_| false) {
                    tracing::warn!(error = %undo, "undoing a failed endpoint left something behind");
                }
            }
            self.drop_intent(&request.id);
            return Err(error);
        }
        tracing::info!(endpoint = short_id(&request.id), link = %created.endpoint.host_ifname,
            addresses = ?created.endpoint.addresses().collect::<Vec<_>>(), "endpoint created");
        Ok(CreatedEndpoint {
            mac: created.report_mac,
        })
    }

    pub fn delete_endpoint(&self, network_id: &str, endpoint_id: &str) -> Result<()> {
        let (net, gone, objects) = {
            let mut core = self.lock();
            let gone = endpoint(&core.state, network_id, endpoint_id)?.clone();
            if core.busy.contains(&gone.id) {
                return Err(EngineError::Busy(format!(
                    "endpoint {}",
                    short_id(&gone.id)
                )));
            }
            let net = network(&core.state, network_id)?.clone();
            let objects = self.mode_of(&net)?.endpoint_objects(&net, &gone)?;
            core.busy.insert(gone.id.clone());
            (net, gone, objects)
        };
        let removed = self.dataplane.remove(&objects, &|_| false);
        let mut core = self.lock();
        core.busy.remove(&gone.id);
        // A teardown that failed keeps the endpoint (and its addresses): a retry, or the next
        // start's reconciliation, finishes it.
        removed?;
        let mut draft = Draft::new(core.state.clone());
        let current = network(&core.state, &net.id)?.clone();
        if let Some(endpoint) = current.endpoints.get(endpoint_id) {
            self.release_endpoint(&mut draft, &current, endpoint)?;
        }
        let published = core.state.published.contains_key(endpoint_id);
        self.commit(&mut core, draft, Durability::Synced)?;
        drop(core);
        if published {
            // Docker revokes ports before it deletes an endpoint; this is for when it did not.
            let _one_at_a_time = self.network_ops.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(error) = self.sync_nat(&self.state()) {
                tracing::warn!(%error, "could not take a deleted endpoint's published ports away");
            }
        }
        tracing::info!(endpoint = short_id(endpoint_id), "endpoint deleted");
        Ok(())
    }

    /// What the container's side needs, and the work left for when the runtime has moved the
    /// link into the sandbox (extra addresses), which the caller runs after answering.
    pub fn join(
        &self,
        network_id: &str,
        endpoint_id: &str,
        sandbox: &str,
    ) -> Result<(crate::modes::JoinAnswer, Option<SandboxAddresses>)> {
        if sandbox.trim().is_empty() {
            return Err(invalid("Join carries no sandbox"));
        }
        let mut core = self.lock();
        let net = network(&core.state, network_id)?;
        let ep = endpoint(&core.state, network_id, endpoint_id)?;
        let mode = self.mode_of(net)?;
        let answer = mode.join(net, ep)?;
        let work = self.sandbox_work(net, ep, sandbox);
        self.set_sandbox(&mut core, network_id, endpoint_id, Some(sandbox))?;
        drop(core);
        tracing::info!(endpoint = short_id(endpoint_id), %sandbox, "joined");
        Ok((answer, work))
    }

    pub fn leave(&self, network_id: &str, endpoint_id: &str) -> Result<()> {
        let mut core = self.lock();
        self.set_sandbox(&mut core, network_id, endpoint_id, None)?;
        drop(core);
        tracing::info!(endpoint = short_id(endpoint_id), "left");
        Ok(())
    }

    /// Records the sandbox an endpoint joined (None: it left). It matters after a restart only
    /// to re-apply extra addresses: don't pay for an fdatasync on every Join otherwise.
    fn set_sandbox(
        &self,
        core: &mut Core,
        network_id: &str,
        endpoint_id: &str,
        sandbox: Option<&str>,
    ) -> Result<()> {
        let ep = endpoint(&core.state, network_id, endpoint_id)?;
        let durability = match ep.extra.is_empty() {
            true => Durability::Lazy,
            false => Durability::Synced,
        };
        let mut draft = Draft::new(core.state.clone());
        draft.record(Change::EndpointSandbox {
            network: network_id.into(),
            id: endpoint_id.into(),
            sandbox: sandbox.map(String::from),
        })?;
        self.commit(core, draft, durability)
    }

    /// The endpoint's record (for the runtime's EndpointOperInfo).
    pub fn endpoint(&self, network_id: &str, endpoint_id: &str) -> Result<Endpoint> {
        endpoint(&self.lock().state, network_id, endpoint_id).cloned()
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
        let shares_mac = self
            .mode_of(network)
            .is_ok_and(|mode| mode.links_share_mac(network));
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
}
