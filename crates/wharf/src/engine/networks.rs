//! Creating and deleting networks: options checked, the mode's plan, the sharing rules
//! between networks, the network's host objects made (or taken away), one commit.

use std::collections::BTreeMap;

use super::error::invalid;
use super::remote::RemoteHosts;
use super::{ipam, Draft, Engine, EngineError, NetworkSpec, Result};
use crate::dataplane::HostObject;
use crate::model::{short_id, Allocation, Change, ExtraAddress, Network, State, Subnet};
use crate::modes::{Claim, HostAddressPool, NetworkDraft, NetworkMode, Result as ModeResult};
use crate::store::Durability;

pub const MIN_MTU: u32 = 68;
pub const MIN_MTU_IPV6: u32 = 1280;
pub const MAX_MTU: u32 = 65535;

/// Options every network takes, whatever its mode.
const COMMON_OPTIONS: [&str; 2] = ["mode", "mtu"];

fn check_network_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 128 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(invalid(format!("network ID {id:?} is not a Docker ID")));
    }
    Ok(())
}

pub fn parse_mtu(text: &str) -> Result<u32> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|mtu| (MIN_MTU..=MAX_MTU).contains(mtu))
        .ok_or_else(|| {
            invalid(format!(
                "option mtu: {text:?} is not a number between {MIN_MTU} and {MAX_MTU}"
            ))
        })
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// The network's subnets, with the wharf pool each came from (if any).
fn subnets(request: &NetworkSpec, state: &State) -> Result<Vec<Subnet>> {
    if request.subnets.is_empty() {
        return Err(invalid(
            "the network has no subnet: give it --subnet or an IPAM pool",
        ));
    }
    request
        .subnets
        .iter()
        .map(|s| {
            if let Some(gw) = s.gateway.filter(|gw| !s.prefix.contains(gw)) {
                return Err(invalid(format!(
                    "gateway {gw} is outside the network's subnet {}",
                    s.prefix
                )));
            }
            Ok(Subnet {
                prefix: s.prefix,
                gateway: s.gateway,
                pool_id: ipam::pool_for_subnet(state, s.prefix).map(|p| p.id.clone()),
            })
        })
        .collect()
}

/// The host's own addresses for a new network, taken in its draft.
struct ShimAddresses<'a> {
    draft: &'a mut Draft,
    network: &'a str,
    remote: &'a RemoteHosts,
}

impl HostAddressPool for ShimAddresses<'_> {
    fn take(&mut self, subnet: &Subnet) -> ModeResult<Option<ExtraAddress>> {
        let Some(pool_id) = &subnet.pool_id else {
            return Ok(None);
        };
        let allocation = Allocation::Shim {
            network: self.network.into(),
        };
        let address = ipam::request_address(self.draft, pool_id, None, allocation, self.remote)
            .map_err(|e| crate::modes::invalid(e.to_string()))?;
        Ok(Some(ExtraAddress {
            address: address.addr(),
            pool_id: pool_id.clone(),
        }))
    }
}

/// The sharing rule between a new network's use of a parent and another's.
fn conflict(mine: &Claim, theirs: &Claim, other: &Network) -> Option<String> {
    if mine.parent != theirs.parent {
        return None;
    }
    let why = if mine.family != theirs.family {
        format!(
            "it serves {} or {}, not both: choose another {}",
            theirs.family, mine.family, mine.what
        )
    } else {
        mine.exclusive.or(theirs.exclusive)?.to_owned()
    };
    Some(format!(
        "{} {} is used by {} network {}, and {why}",
        mine.what,
        mine.parent,
        theirs.describe,
        short_id(&other.id)
    ))
}

impl Engine {
    /// The mode and the options it takes, from a request's options.
    fn mode_for(
        &self,
        options: &BTreeMap<String, String>,
    ) -> Result<(&dyn NetworkMode, BTreeMap<String, String>)> {
        let name = options
            .get("mode")
            .map(|m| m.trim().to_owned())
            .unwrap_or_else(|| self.config.default_mode.clone());
        let mode = self.modes.get(&name).ok_or_else(|| {
            invalid(format!(
                "option mode: {name:?} is not a wharf mode; use {}",
                or_list(&self.modes.names())
            ))
        })?;
        let mut own = BTreeMap::new();
        for (key, value) in options {
            if COMMON_OPTIONS.contains(&key.as_str()) {
                continue;
            }
            if !mode.option_keys().contains(&key.as_str()) {
                let takers = self.modes.taking(key);
                return Err(invalid(if takers.is_empty() {
                    let mut known: Vec<&str> = COMMON_OPTIONS.to_vec();
                    known.extend(mode.option_keys());
                    format!(
                        "unknown option {key:?} for a wharf {} network; wharf takes: {}",
                        mode.name(),
                        known.join(", ")
                    )
                } else {
                    format!(
                        "option {key:?} applies to {} networks, not to mode={}",
                        takers.join(" and "),
                        mode.name()
                    )
                }));
            }
            own.insert(key.clone(), value.clone());
        }
        Ok((mode.as_ref(), own))
    }

    pub(super) fn mode_of(&self, network: &Network) -> Result<&dyn NetworkMode> {
        self.modes
            .get(&network.mode)
            .map(|m| m.as_ref())
            .ok_or_else(|| {
                invalid(format!(
                    "network {} has mode {:?}, which this wharf does not know",
                    short_id(&network.id),
                    network.mode
                ))
            })
    }

    /// Whether a network with these options would use gateway addresses (checked like a
    /// create's options, so a bad option is refused here already).
    pub fn uses_gateways(&self, options: &BTreeMap<String, String>) -> Result<bool> {
        let (mode, own_options) = self.mode_for(options)?;
        Ok(mode.uses_gateways(&own_options)?)
    }

    pub fn create_network(&self, request: &NetworkSpec) -> Result<()> {
        check_network_id(&request.id)?;
        let (mode, own_options) = self.mode_for(&request.options)?;
        let mtu = request
            .options
            .get("mtu")
            .map(|t| parse_mtu(t))
            .transpose()?;
        let _one_at_a_time = self.network_ops.lock().unwrap_or_else(|e| e.into_inner());
        let mut core = self.lock();
        if core.state.networks.contains_key(&request.id) {
            return Err(EngineError::Exists(format!(
                "network {}",
                short_id(&request.id)
            )));
        }
        let subnets = subnets(request, &core.state)?;
        let mut draft = Draft::new(core.state.clone());
        let plan = mode.plan_network(
            &NetworkDraft {
                id: &request.id,
                options: &own_options,
                mtu,
                internal: request.internal,
                ipv6: request.ipv6,
                subnets: &subnets,
            },
            &self.host(),
            &mut ShimAddresses {
                draft: &mut draft,
                network: &request.id,
                remote: &self.remote_hosts(),
            },
        )?;
        if request.ipv6 && plan.mtu < MIN_MTU_IPV6 {
            return Err(invalid(format!(
                "option mtu: {} is below {MIN_MTU_IPV6}, the smallest MTU IPv6 allows on an --ipv6 network",
                plan.mtu
            )));
        }
        let network = Network {
            id: request.id.clone(),
            mode: mode.name().into(),
            name: None,
            mtu: plan.mtu,
            internal: plan.internal,
            ipv6: request.ipv6,
            subnets,
            config: plan.config,
            endpoints: Default::default(),
        };
        self.check_sharing(&core.state, mode, &network)?;
        self.check_fence_overlap(&core.state, &network)?;
        draft.record(Change::NetworkAdded {
            network: network.clone(),
        })?;
        let objects = mode.network_objects(&network)?;
        let shared = shared_objects(self, draft.state(), &network.id);
        let fresh: Vec<HostObject> = objects
            .iter()
            .filter(|o| !shared.contains(o))
            .filter(|o| !matches!(o, HostObject::Parent(p) if self.parent_exists(&p.name)))
            .cloned()
            .collect();
        // The intent is committed on its own, before anything is made; the network's changes
        // then go on top of it, with the intent's end.
        self.record_intent(&mut core, &network.id, &fresh)?;
        let planned = draft;
        let mut draft = Draft::new(core.state.clone());
        let rebased = planned
            .changes()
            .iter()
            .try_for_each(|change| draft.record(change.clone()))
            .and_then(|()| {
                draft.record(Change::IntentDone {
                    owner: network.id.clone(),
                })
            });
        // On failure, make takes away what it made, and only that; after it, all is ours.
        let mut made = false;
        let finished = rebased
            .map_err(EngineError::from)
            .and_then(|()| Ok(self.dataplane.make(&fresh)?))
            .and_then(|()| {
                made = true;
                self.ensure_forwarding(forwarding_needed(self, draft.state()))
            })
            // The fence is up before Docker can attach a container to the network.
            .and_then(|()| self.sync_fences(draft.state()))
            .and_then(|()| self.sync_nat(draft.state()))
            .and_then(|()| self.commit(&mut core, draft, Durability::Synced));
        if let Err(error) = finished {
            if made {
                if let Err(undo) = self.dataplane.remove(&fresh, &|_| false) {
                    tracing::warn!(error = %undo, "undoing a failed network create left something behind");
                }
                if let Err(undo) = self.sync_fences(&core.state) {
                    tracing::warn!(error = %undo, "undoing a failed network's fence failed");
                }
                if let Err(undo) = self.sync_nat(&core.state) {
                    tracing::warn!(error = %undo, "undoing a failed network's NAT failed");
                }
            }
            drop(core);
            self.drop_intent(&network.id);
            return Err(error);
        }
        drop(core);
        tracing::info!(
            network = short_id(&request.id),
            mode = mode.name(),
            mtu = network.mtu,
            made = ?fresh.iter().map(HostObject::describe).collect::<Vec<_>>(),
            "network created"
        );
        Ok(())
    }

    /// Refuses a network whose parent another network uses in a way the two cannot share.
    fn check_sharing(
        &self,
        state: &State,
        mode: &dyn NetworkMode,
        network: &Network,
    ) -> Result<()> {
        let mine = mode.claims(network);
        if mine.is_empty() {
            return Ok(());
        }
        for other in state.networks.values().filter(|n| n.id != network.id) {
            let theirs = self.mode_of(other)?.claims(other);
            for (a, b) in mine.iter().flat_map(|a| theirs.iter().map(move |b| (a, b))) {
                if let Some(message) = conflict(a, b, other) {
                    return Err(invalid(message));
                }
            }
        }
        Ok(())
    }

    fn parent_exists(&self, name: &str) -> bool {
        self.dataplane.links.link(name).is_ok_and(|l| l.is_some())
    }

    pub fn delete_network(&self, id: &str) -> Result<()> {
        let _one_at_a_time = self.network_ops.lock().unwrap_or_else(|e| e.into_inner());
        let mut core = self.lock();
        let network = core
            .state
            .network(id)
            .cloned()
            .ok_or_else(|| EngineError::UnknownNetwork(id.into()))?;
        let mode = self.mode_of(&network)?;
        let mut draft = Draft::new(core.state.clone());
        // Docker removes endpoints first; anything left is wharf's to clean up.
        let mut objects = Vec::new();
        for endpoint in network.endpoints.values() {
            objects.extend(mode.endpoint_objects(&network, endpoint)?);
            self.release_endpoint(&mut draft, &network, endpoint)?;
        }
        objects.extend(mode.network_objects(&network)?);
        release_host_addresses(&mut draft, &network)?;
        draft.record(Change::NetworkRemoved { id: id.into() })?;
        let shared = shared_objects(self, draft.state(), id);
        let keep = |o: &HostObject| shared.contains(o);
        self.dataplane.remove(&objects, &keep)?;
        self.commit(&mut core, draft, Durability::Synced)?;
        if let Err(error) = self.sync_fences(&core.state) {
            // The network is gone either way; the next start replaces the whole table.
            tracing::warn!(%error, "could not take the deleted network's fence away");
        }
        if let Err(error) = self.sync_nat(&core.state) {
            tracing::warn!(%error, "could not take the deleted network's NAT away");
        }
        let needed = forwarding_needed(self, &core.state);
        drop(core);
        self.settle_forwarding(needed);
        tracing::info!(network = short_id(id), "network deleted");
        Ok(())
    }

    /// What taking an endpoint away gives back: its record and its extra addresses.
    pub(super) fn release_endpoint(
        &self,
        draft: &mut Draft,
        network: &Network,
        endpoint: &crate::model::Endpoint,
    ) -> Result<()> {
        for extra in &endpoint.extra {
            // The pool may be gone already (Docker released it first).
            let _ = ipam::release_address(draft, &extra.pool_id, extra.address);
        }
        draft.record(Change::EndpointRemoved {
            network: network.id.clone(),
            id: endpoint.id.clone(),
        })?;
        Ok(())
    }
}

/// Gives back the addresses the network took for the host itself (its shim's).
fn release_host_addresses(draft: &mut Draft, network: &Network) -> Result<()> {
    for pool_id in network.subnets.iter().filter_map(|s| s.pool_id.as_ref()) {
        let Some(pool) = draft.state().pools.get(pool_id) else {
            continue;
        };
        let held: Vec<_> = pool
            .allocations
            .iter()
            .filter(|(_, a)| matches!(a, Allocation::Shim { network: n } if *n == network.id))
            .map(|(address, _)| *address)
            .collect();
        for address in held {
            ipam::release_address(draft, pool_id, address)?;
        }
    }
    Ok(())
}

/// The objects several networks may share (parents, bridges, uplinks, tunnels) that
/// networks other than `except` name in `state`: made by the first, kept until the last.
/// A parent counts by its name (one made as a VLAN for one network is the same link for
/// another that names it).
fn shared_objects(engine: &Engine, state: &State, except: &str) -> SharedObjects {
    let objects = state
        .networks
        .values()
        .filter(|n| n.id != except)
        .filter_map(|n| engine.mode_of(n).ok()?.network_objects(n).ok())
        .flatten()
        .filter(HostObject::shareable)
        .collect();
    SharedObjects(objects)
}

struct SharedObjects(Vec<HostObject>);

impl SharedObjects {
    fn contains(&self, object: &HostObject) -> bool {
        object.shareable()
            && self.0.iter().any(|o| match (o, object) {
                (HostObject::Parent(a), HostObject::Parent(b)) => a.name == b.name,
                _ => o == object,
            })
    }
}

impl Engine {
    /// Host-wide forwarding for the networks of a state about to be committed: forwarding on
    /// and the firewall's accept rules in place (checked each time: a firewall reload may
    /// have taken them). Runs `iptables` under the lock, for network creation only.
    fn ensure_forwarding(&self, needed: Option<bool>) -> Result<()> {
        let Some(ipv6) = needed else {
            return Ok(());
        };
        Ok(self.dataplane.firewall.ensure_forwarding(ipv6)?)
    }

    /// Releases the firewall's rules once no network needs forwarding. A failure is logged:
    /// the network is gone either way, and the next start's reconciliation tries again.
    fn settle_forwarding(&self, needed: Option<bool>) {
        if needed.is_some() {
            return;
        }
        if let Err(error) = self.dataplane.firewall.release_forwarding() {
            tracing::warn!(%error, "could not remove wharf's firewall rules");
        }
    }
}

/// Whether any network of `state` needs the host to forward: Some(ipv6 too), or None.
pub(super) fn forwarding_needed(engine: &Engine, state: &State) -> Option<bool> {
    state
        .networks
        .values()
        .filter_map(|n| engine.mode_of(n).ok()?.forwarding(n))
        .reduce(|a, b| a || b)
}
