//! IPAM requests: pools and the addresses in them, each decided on a draft and committed.

use std::net::IpAddr;

use ipnet::IpNet;

use super::error::invalid;
use super::ipam::{self, PoolRequest};
use super::{Draft, Engine, Result};
use crate::model::{short_id, Allocation, Pool};
use crate::store::Durability;

/// The address space wharf reports as its local default, and uses when none is named.
pub const LOCAL_ADDRESS_SPACE: &str = "local";
pub const GLOBAL_ADDRESS_SPACE: &str = "global";

/// What an address is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressUse {
    /// The network's gateway: with no address named, the subnet's first one when free.
    Gateway,
    /// A container's address (or an aux address the runtime keeps back).
    Container,
}

impl Engine {
    pub fn request_pool(&self, request: &PoolRequest) -> Result<Pool> {
        // Only a default pool has to avoid what the host already routes; don't pay for the
        // route dump otherwise (and not under the lock).
        let host_prefixes = match request.subnet {
            Some(_) => Vec::new(),
            None => self.dataplane.routes.used_prefixes()?,
        };
        let mut core = self.lock();
        let mut draft = Draft::new(core.state.clone());
        let pool = ipam::request_pool(
            &mut draft,
            &self.config.default_pools,
            &host_prefixes,
            &self.config.host_blocks,
            request,
        )?;
        self.commit(&mut core, draft, Durability::Synced)?;
        drop(core);
        tracing::info!(pool = %pool.subnet, id = %pool.id, "pool reserved");
        Ok(pool)
    }

    pub fn release_pool(&self, pool_id: &str) -> Result<()> {
        let mut core = self.lock();
        let mut draft = Draft::new(core.state.clone());
        let pool = ipam::release_pool(&mut draft, pool_id)?;
        self.commit(&mut core, draft, Durability::Synced)?;
        drop(core);
        tracing::info!(pool = %pool.subnet, "pool released");
        Ok(())
    }

    /// Allocates `wanted`, or the next free address; returns it with the pool's prefix length.
    pub fn request_address(
        &self,
        pool_id: &str,
        wanted: Option<IpAddr>,
        purpose: AddressUse,
    ) -> Result<IpNet> {
        let allocation = match purpose {
            AddressUse::Gateway => Allocation::Gateway,
            AddressUse::Container => Allocation::Docker,
        };
        let mut core = self.lock();
        let mut draft = Draft::new(core.state.clone());
        let remote = self.remote_hosts();
        let address = ipam::request_address(&mut draft, pool_id, wanted, allocation, &remote)?;
        self.commit(&mut core, draft, Durability::Synced)?;
        drop(core);
        tracing::debug!(%address, pool = %pool_id, "address allocated");
        Ok(address)
    }

    /// Addresses containers on other hosts use, as routing peers announce them: the IPAM
    /// never hands one out here. `learned` are added, `gone` removed.
    pub fn note_remote_hosts(&self, learned: &[IpAddr], gone: &[IpAddr]) {
        let mut remote = self.remote.lock().unwrap_or_else(|e| e.into_inner());
        for address in gone {
            remote.remove(*address);
        }
        for address in learned {
            remote.insert(*address);
        }
    }

    /// Replaces every remote address at once (a routing daemon's routes read anew).
    pub fn replace_remote_hosts(&self, all: &[IpAddr]) {
        let mut remote = self.remote.lock().unwrap_or_else(|e| e.into_inner());
        *remote = super::remote::RemoteHosts::default();
        for address in all {
            remote.insert(*address);
        }
    }

    /// A copy-free look at the remote addresses, for a decision taken under the core lock
    /// (the lock order is core, then remote).
    pub(super) fn remote_hosts(&self) -> std::sync::MutexGuard<'_, super::remote::RemoteHosts> {
        self.remote.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a local endpoint uses `address` (as a primary or an extra address).
    pub fn uses_address(&self, address: IpAddr) -> bool {
        self.lock()
            .holders
            .get(&address)
            .is_some_and(|h| !h.is_empty())
    }

    /// Gives back an address the runtime asked for. Addresses wharf took itself (an endpoint's
    /// extras, a network's shim) are given back with their owner, never on request: released
    /// early, they would be handed to another container while their owner still uses them.
    pub fn release_address(&self, pool_id: &str, address: IpAddr) -> Result<()> {
        self.release_holder(pool_id, address)?;
        let mut core = self.lock();
        let held = core
            .state
            .pools
            .get(pool_id)
            .and_then(|p| p.allocations.get(&address));
        let owner = match held {
            Some(Allocation::Extra { endpoint }) => Some(format!(
                "an extra address of endpoint {}",
                short_id(endpoint)
            )),
            Some(Allocation::Shim { network }) => Some(format!(
                "the host's address on network {}",
                short_id(network)
            )),
            _ => None,
        };
        if let Some(owner) = owner {
            return Err(invalid(format!(
                "address {address} is {owner}: wharf gives it back when that goes, not on request"
            )));
        }
        let mut draft = Draft::new(core.state.clone());
        ipam::release_address(&mut draft, pool_id, address)?;
        self.commit(&mut core, draft, Durability::Synced)?;
        drop(core);
        tracing::debug!(%address, pool = %pool_id, "address released");
        Ok(())
    }

    /// Docker releases an endpoint's address after deleting the endpoint, and gives the
    /// endpoint up even when its DeleteEndpoint failed: a call retried after wharf restarted
    /// reaches it without its body (seen with dockerd 26). An endpoint that still holds the
    /// address then is one Docker has forgotten: if it left its container, it is deleted now,
    /// with its link and routes, before its address can be handed out again; if it is still
    /// joined to one, the release is refused, so the address is never held twice.
    fn release_holder(&self, pool_id: &str, address: IpAddr) -> Result<()> {
        let holder = {
            let core = self.lock();
            // Only an address Docker holds in this pool can be released; any other release is
            // refused below and must leave everything as it was, its holder too.
            let held_by_docker = core
                .state
                .pools
                .get(pool_id)
                .and_then(|p| p.allocations.get(&address))
                == Some(&Allocation::Docker);
            if !held_by_docker {
                return Ok(());
            }
            let held = core.holders.get(&address).into_iter().flatten();
            let mut found = None;
            for (network, endpoint) in held {
                let uses_pool = core.state.networks.get(network).is_some_and(|n| {
                    n.subnets
                        .iter()
                        .any(|s| s.pool_id.as_deref() == Some(pool_id))
                });
                // Only a primary address is Docker's to release; an extra one is wharf's.
                let holds_as_primary =
                    |e: &&crate::model::Endpoint| e.primary.iter().any(|p| p.addr() == address);
                if uses_pool {
                    found = core
                        .state
                        .endpoint(network, endpoint)
                        .filter(holds_as_primary)
                        .map(|e| (network.clone(), e.clone()));
                    break;
                }
            }
            found
        };
        let Some((network, endpoint)) = holder else {
            return Ok(());
        };
        if endpoint.sandbox.is_some() {
            return Err(invalid(format!(
                "address {address} is still used by endpoint {} in a container: delete the \
                 endpoint (docker network disconnect) before its address",
                short_id(&endpoint.id)
            )));
        }
        tracing::warn!(endpoint = short_id(&endpoint.id), %address,
            "the runtime released the address of an endpoint it never deleted; deleting it");
        self.delete_endpoint(&network, &endpoint.id)
    }
}
