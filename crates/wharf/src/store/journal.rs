//! The journal: what changed since the snapshot, one JSON line per saved change, at the
//! granularity of a pool, a network's settings or an endpoint. Every entry sets a key to its
//! new value (or removes it), so replaying the whole journal onto a snapshot that already
//! contains its changes gives that snapshot again: a crash between writing a new snapshot
//! and emptying the journal is harmless.

use serde::{Deserialize, Serialize};

use crate::engine::state::{Endpoint, Network, Pool, State};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entry {
    Pool {
        id: String,
        pool: Option<Pool>,
    },
    /// A network's settings; its endpoints have entries of their own.
    Network {
        id: String,
        network: Option<Network>,
    },
    Endpoint {
        network: String,
        id: String,
        endpoint: Option<Endpoint>,
    },
    Cursors {
        v4: Option<ipnet::IpNet>,
        v6: Option<ipnet::IpNet>,
    },
}

/// The network without its endpoints.
fn settings(network: &Network) -> Network {
    Network {
        id: network.id.clone(),
        mode: network.mode,
        mtu: network.mtu,
        internal: network.internal,
        ipv6: network.ipv6,
        subnets: network.subnets.clone(),
        endpoints: Default::default(),
        attachment: network.attachment.clone(),
    }
}

fn same_settings(a: &Network, b: &Network) -> bool {
    a.mode == b.mode
        && a.mtu == b.mtu
        && a.internal == b.internal
        && a.ipv6 == b.ipv6
        && a.subnets == b.subnets
        && a.attachment == b.attachment
}

/// The entries that turn `old` into `new`.
pub fn diff(old: &State, new: &State) -> Vec<Entry> {
    let mut entries = Vec::new();
    for (id, pool) in &new.pools {
        if old.pools.get(id) != Some(pool) {
            entries.push(Entry::Pool {
                id: id.clone(),
                pool: Some(pool.clone()),
            });
        }
    }
    for id in old.pools.keys().filter(|id| !new.pools.contains_key(*id)) {
        entries.push(Entry::Pool {
            id: id.clone(),
            pool: None,
        });
    }
    for (id, network) in &new.networks {
        let before = old.networks.get(id);
        if !before.is_some_and(|b| same_settings(b, network)) {
            entries.push(Entry::Network {
                id: id.clone(),
                network: Some(settings(network)),
            });
        }
        let empty = Default::default();
        let old_endpoints = before.map_or(&empty, |b| &b.endpoints);
        for (ep_id, endpoint) in &network.endpoints {
            if old_endpoints.get(ep_id) != Some(endpoint) {
                entries.push(Entry::Endpoint {
                    network: id.clone(),
                    id: ep_id.clone(),
                    endpoint: Some(endpoint.clone()),
                });
            }
        }
        for ep_id in old_endpoints
            .keys()
            .filter(|e| !network.endpoints.contains_key(*e))
        {
            entries.push(Entry::Endpoint {
                network: id.clone(),
                id: ep_id.clone(),
                endpoint: None,
            });
        }
    }
    for id in old
        .networks
        .keys()
        .filter(|id| !new.networks.contains_key(*id))
    {
        entries.push(Entry::Network {
            id: id.clone(),
            network: None,
        });
    }
    if (old.next_default_v4, old.next_default_v6) != (new.next_default_v4, new.next_default_v6) {
        entries.push(Entry::Cursors {
            v4: new.next_default_v4,
            v6: new.next_default_v6,
        });
    }
    entries
}

/// Applies entries in order. An endpoint of a network the state does not have is an error.
pub fn apply(state: &mut State, entries: Vec<Entry>) -> Result<(), String> {
    for entry in entries {
        match entry {
            Entry::Pool {
                id,
                pool: Some(pool),
            } => {
                state.pools.insert(id, pool);
            }
            Entry::Pool { id, pool: None } => {
                state.pools.remove(&id);
            }
            Entry::Network {
                id,
                network: Some(network),
            } => {
                let endpoints = state
                    .networks
                    .remove(&id)
                    .map(|n| n.endpoints)
                    .unwrap_or_default();
                state.networks.insert(
                    id,
                    Network {
                        endpoints,
                        ..network
                    },
                );
            }
            Entry::Network { id, network: None } => {
                state.networks.remove(&id);
            }
            Entry::Endpoint {
                network,
                id,
                endpoint,
            } => {
                let endpoints = &mut state
                    .networks
                    .get_mut(&network)
                    .ok_or_else(|| format!("an endpoint of unknown network {network}"))?
                    .endpoints;
                match endpoint {
                    Some(endpoint) => endpoints.insert(id, endpoint),
                    None => endpoints.remove(&id),
                };
            }
            Entry::Cursors { v4, v6 } => {
                state.next_default_v4 = v4;
                state.next_default_v6 = v6;
            }
        }
    }
    Ok(())
}
