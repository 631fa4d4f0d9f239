//! The one commit path: every change wharf makes to its state goes through [`Engine::commit`],
//! which saves it, makes it current, and only then publishes what it means as [`Event`]s. A
//! refused or rolled-back change never gets here, so it publishes nothing.

use std::collections::HashMap;
use std::net::IpAddr;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use super::endpoints::claimed_names;
use super::{Core, Draft, Engine, Result};
use crate::model::{Change, Endpoint, EndpointAddresses, Event, Network, NetworkPrefixes, State};
use crate::store::Durability;

impl Engine {
    /// Saves the draft's changes, makes its state current and publishes the events. Call with
    /// the lock held since the draft was taken from the current state.
    pub(super) fn commit(
        &self,
        core: &mut Core,
        draft: Draft,
        durability: Durability,
    ) -> Result<()> {
        if draft.changes().is_empty() {
            return Ok(());
        }
        let (state, changes) = draft.into_parts();
        self.store.append(&changes, &state, durability)?;
        let events = self.events(&core.state, &changes, &state);
        index_names(core, &changes);
        core.state = state;
        if !events.is_empty() {
            core.subscribers.retain(|subscriber| {
                events
                    .iter()
                    .all(|event| subscriber.send(event.clone()).is_ok())
            });
        }
        Ok(())
    }

    /// A new subscription: a snapshot of everything reachable, then every committed change.
    pub fn subscribe(&self) -> UnboundedReceiver<Event> {
        let (sender, receiver) = unbounded_channel();
        let mut core = self.lock();
        // Under the lock: no commit can slip between the snapshot and the first event.
        if sender.send(self.snapshot_event(&core.state)).is_ok() {
            core.subscribers.push(sender);
        }
        receiver
    }

    /// Sends every subscriber a fresh snapshot (after reconciliation, which may have found
    /// the kernel different from what it last heard).
    pub fn publish_snapshot(&self) {
        let mut core = self.lock();
        let snapshot = self.snapshot_event(&core.state);
        core.subscribers
            .retain(|subscriber| subscriber.send(snapshot.clone()).is_ok());
    }

    fn snapshot_event(&self, state: &State) -> Event {
        Event::Snapshot {
            networks: state
                .networks
                .values()
                .map(|n| self.prefixes(state, n))
                .collect(),
            endpoints: state
                .endpoints()
                .filter_map(|(network, endpoint)| self.reachable(network, endpoint))
                .collect(),
        }
    }

    fn reachable(&self, network: &Network, endpoint: &Endpoint) -> Option<EndpointAddresses> {
        let reachable = self
            .modes
            .get(&network.mode)?
            .reachable(network, endpoint)?;
        Some(EndpointAddresses {
            network: network.id.clone(),
            endpoint: endpoint.id.clone(),
            addresses: reachable.addresses,
            link: reachable.link,
        })
    }

    /// What `changes` (taking `before` to `after`) mean to subscribers, in their order.
    fn events(&self, before: &State, changes: &[Change], after: &State) -> Vec<Event> {
        let mut events = Vec::new();
        for change in changes {
            match change {
                Change::NetworkAdded { network } => {
                    events.push(Event::NetworkAdded(self.prefixes(after, network)));
                }
                Change::NetworkRemoved { id } => {
                    if let Some(network) = before.network(id) {
                        events.push(Event::NetworkRemoved(self.prefixes(before, network)));
                    }
                }
                Change::EndpointAdded { network, endpoint } => {
                    let added = after
                        .network(network)
                        .and_then(|n| self.reachable(n, endpoint));
                    events.extend(added.map(Event::AddressesAdded));
                }
                Change::EndpointRemoved { network, id } => {
                    let removed = before
                        .network(network)
                        .and_then(|n| Some((n, n.endpoints.get(id)?)))
                        .and_then(|(n, e)| self.reachable(n, e));
                    events.extend(removed.map(Event::AddressesRemoved));
                }
                _ => {}
            }
        }
        events
    }
}

/// Keeps the index of endpoint names in step with `changes` (`core.state` still the before).
fn index_names(core: &mut Core, changes: &[Change]) {
    for change in changes {
        match change {
            Change::EndpointAdded { network, endpoint } => {
                for name in claimed_names(endpoint) {
                    core.names.insert(name.to_owned(), endpoint.id.clone());
                }
                for address in endpoint.addresses() {
                    core.holders
                        .entry(address)
                        .or_default()
                        .push((network.clone(), endpoint.id.clone()));
                }
            }
            Change::EndpointRemoved { network, id } => {
                let Some(endpoint) = core.state.endpoint(network, id) else {
                    continue;
                };
                for name in claimed_names(endpoint) {
                    core.names.remove(name);
                }
                for address in endpoint.addresses() {
                    if let Some(holders) = core.holders.get_mut(&address) {
                        holders.retain(|(n, e)| !(n == network && e == id));
                        if holders.is_empty() {
                            core.holders.remove(&address);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// The holders index of a whole state (at load).
pub(super) fn holders_of(state: &State) -> HashMap<IpAddr, Vec<(String, String)>> {
    let mut holders: HashMap<IpAddr, Vec<(String, String)>> = HashMap::new();
    for (network, endpoint) in state.endpoints() {
        for address in endpoint.addresses() {
            holders
                .entry(address)
                .or_default()
                .push((network.id.clone(), endpoint.id.clone()));
        }
    }
    holders
}

impl Engine {
    fn prefixes(&self, state: &State, network: &Network) -> NetworkPrefixes {
        // This host's part of each subnet: its pool's range (Docker's --ip-range or the
        // host's --host-block) when it has one.
        let blocks = network
            .subnets
            .iter()
            .map(|s| {
                let pool = s.pool_id.as_ref().and_then(|id| state.pools.get(id));
                pool.and_then(|p| p.range).unwrap_or(s.prefix).trunc()
            })
            .collect();
        NetworkPrefixes {
            network: network.id.clone(),
            mode: network.mode.clone(),
            prefixes: network.prefixes(),
            blocks,
            advertise: self
                .modes
                .get(&network.mode)
                .map(|m| m.advertise(network))
                .unwrap_or_default(),
        }
    }
}
