//! Changes: the one way the state moves. The engine decides a change as a list of these,
//! the store appends exactly these to its journal, and applying them to the state is all
//! that happens in memory. Each record *sets* something to a value or *removes* it, never
//! adjusts it relative to what was there, so replaying a journal onto a snapshot that already
//! holds some of its records gives the same state (a crash between writing a new snapshot
//! and emptying the journal is harmless). A record is the size of one allocation, one
//! endpoint or one network's settings, whatever the number of containers.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::state::{Allocation, Endpoint, Network, Pool, State};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// A pool and its settings, with no allocations (they have records of their own).
    PoolAdded {
        pool: Pool,
    },
    PoolRemoved {
        id: String,
    },
    /// `address` is taken in `pool`; a dynamic allocation also moves the pool's cursor.
    Allocated {
        pool: String,
        address: IpAddr,
        allocation: Allocation,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<IpAddr>,
    },
    Released {
        pool: String,
        address: IpAddr,
    },
    /// Where the next default pool search starts, per family.
    DefaultCursors {
        v4: Option<IpNet>,
        v6: Option<IpNet>,
    },
    /// A network's settings (its endpoints have records of their own).
    NetworkAdded {
        network: Network,
    },
    NetworkRemoved {
        id: String,
    },
    /// The runtime's name for a network, learned after it was made.
    NetworkNamed {
        id: String,
        name: String,
    },
    EndpointAdded {
        network: String,
        endpoint: Endpoint,
    },
    EndpointRemoved {
        network: String,
        id: String,
    },
    /// Links about to be made for `owner` (an endpoint or a network ID), before they exist.
    Intended {
        owner: String,
        links: Vec<String>,
    },
    /// The intended links of `owner` are committed (or undone): no longer at risk.
    IntentDone {
        owner: String,
    },
    /// The ports an endpoint publishes (none: it publishes none any more).
    PortsPublished {
        network: String,
        endpoint: String,
        ports: Vec<super::PortMapping>,
    },
    /// The sandbox an endpoint joined (None: it left).
    EndpointSandbox {
        network: String,
        id: String,
        sandbox: Option<String>,
    },
    /// Version 1's journal records: a whole pool, a network's settings or an endpoint set to
    /// a value (None: removed), and both cursors. Read from old journals, never written.
    Pool {
        id: String,
        pool: Option<Pool>,
    },
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
        v4: Option<IpNet>,
        v6: Option<IpNet>,
    },
}

/// A record that does not fit the state it is applied to (a journal that belongs to another
/// snapshot, say): an allocation in a pool that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Misfit(pub String);

impl State {
    /// Applies one change. Removing what is not there is not an error (replays may see it).
    pub fn apply(&mut self, change: &Change) -> Result<(), Misfit> {
        match change {
            Change::PoolAdded { pool } => {
                let mut pool = pool.clone();
                if let Some(existing) = self.pools.get(&pool.id) {
                    // A replay after a snapshot that already holds the pool: keep what it has.
                    pool.allocations = existing.allocations.clone();
                    pool.last_allocated = pool.last_allocated.or(existing.last_allocated);
                }
                self.pools.insert(pool.id.clone(), pool);
            }
            Change::PoolRemoved { id } => {
                self.pools.remove(id);
            }
            Change::Allocated {
                pool,
                address,
                allocation,
                cursor,
            } => {
                let pool = self
                    .pools
                    .get_mut(pool)
                    .ok_or_else(|| Misfit(format!("allocation in unknown pool {pool}")))?;
                pool.allocations.insert(*address, allocation.clone());
                if cursor.is_some() {
                    pool.last_allocated = *cursor;
                }
            }
            Change::Released { pool, address } => {
                if let Some(pool) = self.pools.get_mut(pool) {
                    pool.allocations.remove(address);
                }
            }
            Change::DefaultCursors { v4, v6 } | Change::Cursors { v4, v6 } => {
                self.next_default_v4 = *v4;
                self.next_default_v6 = *v6;
            }
            Change::NetworkAdded { network } => {
                let mut network = network.clone();
                if let Some(existing) = self.networks.get(&network.id) {
                    network.endpoints = existing.endpoints.clone();
                }
                self.networks.insert(network.id.clone(), network);
            }
            Change::NetworkRemoved { id } => {
                self.networks.remove(id);
            }
            Change::NetworkNamed { id, name } => {
                // The network may be gone already: a name learned late names nothing.
                if let Some(network) = self.networks.get_mut(id) {
                    network.name = Some(name.clone());
                }
            }
            Change::EndpointAdded { network, endpoint } => {
                let network = self.network_mut(network)?;
                network
                    .endpoints
                    .insert(endpoint.id.clone(), Arc::new(endpoint.clone()));
            }
            Change::EndpointRemoved { network, id } => {
                if let Some(network) = self.networks.get_mut(network) {
                    network.endpoints.remove(id);
                }
                self.published.remove(id);
            }
            Change::PortsPublished {
                network,
                endpoint,
                ports,
            } => {
                if self.endpoint(network, endpoint).is_none() {
                    return Err(Misfit(format!("ports of unknown endpoint {endpoint}")));
                }
                if ports.is_empty() {
                    self.published.remove(endpoint);
                } else {
                    self.published.insert(
                        endpoint.clone(),
                        super::Published {
                            network: network.clone(),
                            ports: ports.clone(),
                        },
                    );
                }
            }
            Change::Intended { owner, links } => {
                self.intents.insert(owner.clone(), links.clone());
            }
            Change::IntentDone { owner } => {
                self.intents.remove(owner);
            }
            Change::EndpointSandbox {
                network,
                id,
                sandbox,
            } => {
                let endpoint = self
                    .network_mut(network)?
                    .endpoints
                    .get_mut(id)
                    .ok_or_else(|| Misfit(format!("sandbox of unknown endpoint {id}")))?;
                Arc::make_mut(endpoint).sandbox = sandbox.clone();
            }
            Change::Pool { id, pool } => match pool {
                Some(pool) => {
                    self.pools.insert(id.clone(), pool.clone());
                }
                None => {
                    self.pools.remove(id);
                }
            },
            Change::Network { id, network } => match network {
                Some(network) => {
                    let mut network = network.clone();
                    if let Some(existing) = self.networks.get(id) {
                        network.endpoints = existing.endpoints.clone();
                    }
                    self.networks.insert(id.clone(), network);
                }
                None => {
                    self.networks.remove(id);
                }
            },
            Change::Endpoint {
                network,
                id,
                endpoint,
            } => {
                let network = self.network_mut(network)?;
                match endpoint {
                    Some(endpoint) => {
                        network
                            .endpoints
                            .insert(id.clone(), Arc::new(endpoint.clone()));
                    }
                    None => {
                        network.endpoints.remove(id);
                        self.published.remove(id);
                    }
                }
            }
        }
        Ok(())
    }

    /// Applies changes in order; stops at the first that does not fit.
    pub fn apply_all<'a>(
        &mut self,
        changes: impl IntoIterator<Item = &'a Change>,
    ) -> Result<(), Misfit> {
        changes.into_iter().try_for_each(|c| self.apply(c))
    }

    fn network_mut(&mut self, id: &str) -> Result<&mut Network, Misfit> {
        self.networks
            .get_mut(id)
            .ok_or_else(|| Misfit(format!("record for unknown network {id}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::state::Subnet;
    use imbl::OrdMap;

    fn pool() -> Pool {
        Pool {
            id: "local/10.46.0.0/16".into(),
            address_space: "local".into(),
            subnet: "10.46.0.0/16".parse().unwrap(),
            range: None,
            from_defaults: false,
            allocations: OrdMap::new(),
            last_allocated: None,
            default_gateway: None,
        }
    }

    fn network() -> Network {
        Network {
            id: "n1".into(),
            mode: "routed".into(),
            name: None,
            mtu: 1500,
            internal: false,
            ipv6: false,
            subnets: vec![Subnet {
                prefix: "10.46.0.0/16".parse().unwrap(),
                gateway: None,
                pool_id: None,
            }],
            config: serde_json::Value::Null,
            endpoints: OrdMap::new(),
        }
    }

    fn endpoint(id: &str) -> Endpoint {
        Endpoint {
            id: id.into(),
            host_ifname: format!("wh{id}"),
            container_ifname: format!("wc{id}"),
            mac: "02:00:00:00:00:01".into(),
            primary: vec!["10.46.0.2/16".parse().unwrap()],
            extra: Vec::new(),
            sandbox: None,
        }
    }

    fn script() -> Vec<Change> {
        let address = "10.46.0.2".parse().unwrap();
        vec![
            Change::PoolAdded { pool: pool() },
            Change::Allocated {
                pool: pool().id,
                address,
                allocation: Allocation::Docker,
                cursor: Some(address),
            },
            Change::NetworkAdded { network: network() },
            Change::EndpointAdded {
                network: "n1".into(),
                endpoint: endpoint("e1"),
            },
            Change::EndpointSandbox {
                network: "n1".into(),
                id: "e1".into(),
                sandbox: Some("/run/netns/x".into()),
            },
            Change::EndpointAdded {
                network: "n1".into(),
                endpoint: endpoint("e2"),
            },
            Change::EndpointRemoved {
                network: "n1".into(),
                id: "e2".into(),
            },
        ]
    }

    #[test]
    fn replaying_onto_a_state_that_holds_the_changes_changes_nothing() {
        let mut state = State::new();
        state.apply_all(&script()).unwrap();
        assert_eq!(state.pools[&pool().id].allocations.len(), 1);
        let e1 = state.endpoint("n1", "e1").unwrap();
        assert_eq!(e1.sandbox.as_deref(), Some("/run/netns/x"));
        assert!(state.endpoint("n1", "e2").is_none());
        let mut replayed = state.clone();
        replayed.apply_all(&script()).unwrap();
        assert_eq!(replayed, state);
    }

    #[test]
    fn records_that_do_not_fit_are_refused_and_removals_of_nothing_are_not() {
        let mut state = State::new();
        let misfit = state.apply(&Change::EndpointAdded {
            network: "nope".into(),
            endpoint: endpoint("e1"),
        });
        assert!(misfit.is_err());
        state
            .apply(&Change::EndpointRemoved {
                network: "nope".into(),
                id: "e1".into(),
            })
            .unwrap();
        state
            .apply(&Change::Released {
                pool: "nope".into(),
                address: "10.0.0.1".parse().unwrap(),
            })
            .unwrap();
        assert_eq!(state, State::new());
    }

    #[test]
    fn version_one_records_still_apply() {
        let line = r#"[{"pool":{"id":"p","pool":null}},{"cursors":{"v4":"10.47.1.0/24","v6":null}},
            {"endpoint":{"network":"n1","id":"e1","endpoint":null}}]"#;
        let changes: Vec<Change> = serde_json::from_str(line).unwrap();
        let mut state = State::new();
        state
            .apply(&Change::NetworkAdded { network: network() })
            .unwrap();
        state.apply_all(&changes).unwrap();
        assert_eq!(state.next_default_v4, Some("10.47.1.0/24".parse().unwrap()));
    }
}
