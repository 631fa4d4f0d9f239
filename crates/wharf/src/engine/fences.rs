//! Fences between networks the host routes between (see [`crate::dataplane::fence`]): which
//! ones a state calls for, keeping the kernel's table equal to them, and the networks' names
//! that `accept_from` may use.

use std::collections::{BTreeMap, BTreeSet};

use super::error::invalid;
use super::{Draft, Engine, Result};
use crate::dataplane::fence::{Accepts, Fence, Fences};
use crate::model::{short_id, Change, Network, State};
use crate::modes::AcceptFrom;
use crate::store::Durability;

impl Engine {
    /// The fences `state` calls for: one per network whose mode routes it through the host.
    pub(super) fn fences(&self, state: &State) -> Fences {
        let fenced: Vec<(&Network, AcceptFrom)> = state
            .networks
            .values()
            .filter_map(|n| Some((n, self.mode_of(n).ok()?.fence(n)?)))
            .collect();
        fenced
            .iter()
            .map(|(network, accept_from)| {
                let accepts = match accept_from {
                    AcceptFrom::Everywhere => Accepts::Everywhere,
                    AcceptFrom::Networks(entries) => Accepts::Networks(
                        fenced
                            .iter()
                            .filter(|(other, _)| other.id != network.id)
                            .filter(|(other, _)| {
                                entries
                                    .iter()
                                    .any(|e| AcceptFrom::names(e, &other.id, other.name.as_deref()))
                            })
                            .map(|(other, _)| other.id.clone())
                            .collect::<BTreeSet<_>>(),
                    ),
                };
                let fence = Fence {
                    prefixes: network.prefixes(),
                    internal: network.internal,
                    accepts,
                };
                (network.id.clone(), fence)
            })
            .collect()
    }

    /// Makes the kernel's table hold the fences of `state`. Call with the network lock held,
    /// so that two changes cannot apply their states in the wrong order.
    pub(super) fn sync_fences(&self, state: &State) -> Result<()> {
        Ok(self.dataplane.firewall.sync_fences(&self.fences(state))?)
    }

    /// Refuses a fenced network whose subnet overlaps another fenced network's: the host
    /// could route only one of them, and a fence could not tell them apart.
    pub(super) fn check_fence_overlap(&self, state: &State, network: &Network) -> Result<()> {
        if self.mode_of(network)?.fence(network).is_none() {
            return Ok(());
        }
        for other in state.networks.values() {
            if self.mode_of(other)?.fence(other).is_none() {
                continue;
            }
            for mine in &network.subnets {
                if let Some(theirs) = other.subnets.iter().find(|s| {
                    s.prefix.contains(&mine.prefix.network())
                        || mine.prefix.contains(&s.prefix.network())
                }) {
                    return Err(invalid(format!(
                        "subnet {} overlaps {} of network {}: two routed networks cannot share \
                         addresses on one host; choose another --subnet",
                        mine.prefix,
                        theirs.prefix,
                        other
                            .name
                            .clone()
                            .unwrap_or_else(|| short_id(&other.id).into())
                    )));
                }
            }
        }
        Ok(())
    }

    /// Whether network `id` exists with no name learned yet.
    pub fn network_unnamed(&self, id: &str) -> bool {
        self.lock()
            .state
            .networks
            .get(id)
            .is_some_and(|n| n.name.is_none())
    }

    /// Records the runtime's names of networks (ID -> name; IDs wharf does not have are
    /// ignored) and changes the fences that now accept them. Returns how many were new.
    pub fn name_networks(&self, names: &BTreeMap<String, String>) -> Result<usize> {
        let _one_at_a_time = self.network_ops.lock().unwrap_or_else(|e| e.into_inner());
        let mut core = self.lock();
        let mut draft = Draft::new(core.state.clone());
        let mut learned = 0;
        for (id, network) in core.state.networks.iter() {
            match names.get(id) {
                Some(name) if network.name.as_ref() != Some(name) => {
                    draft.record(Change::NetworkNamed {
                        id: id.clone(),
                        name: name.clone(),
                    })?;
                    learned += 1;
                }
                _ => {}
            }
        }
        if learned == 0 {
            return Ok(0);
        }
        self.commit(&mut core, draft, Durability::Lazy)?;
        self.sync_fences(&core.state)?;
        Ok(learned)
    }
}
