//! The engine: networks, endpoints, IPAM and reconciliation. It decides what must exist and
//! asks the [`Dataplane`] to make it so; every change is saved before Docker hears of it.

mod attachment;
pub mod error;
pub mod ipam;
mod ipam_driver;
mod network_driver;
pub mod options;
pub mod reconcile;
pub mod state;
pub mod status;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use error::{EngineError, Result};
pub use ipam_driver::{GLOBAL_ADDRESS_SPACE, LOCAL_ADDRESS_SPACE};

use crate::dataplane::Dataplane;
use crate::store::Store;
use ipam::DefaultPools;
use options::NetworkDefaults;
use state::State;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub network_defaults: NetworkDefaults,
    pub default_pools: DefaultPools,
    /// How long to wait for Docker to move an interface into its sandbox.
    pub sandbox_timeout: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            network_defaults: NetworkDefaults::default(),
            default_pools: DefaultPools::default(),
            sandbox_timeout: Duration::from_secs(30),
        }
    }
}

pub struct Engine {
    config: EngineConfig,
    dataplane: Arc<dyn Dataplane>,
    store: Store,
    state: Mutex<State>,
}

impl Engine {
    /// Loads the saved state. Call [`Engine::reconcile`] before serving.
    pub fn load(config: EngineConfig, dataplane: Arc<dyn Dataplane>, store: Store) -> Result<Self> {
        let state = store.load()?;
        Ok(Engine {
            config,
            dataplane,
            store,
            state: Mutex::new(state),
        })
    }

    pub fn dataplane(&self) -> Arc<dyn Dataplane> {
        self.dataplane.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-changed state: changes are made
        // on a copy and swapped in whole. So the data behind a poisoned lock is consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the current state.
    pub fn snapshot_state(&self) -> State {
        self.lock().clone()
    }

    /// Runs `change` on a copy of the state, saves the copy, and only then makes it current:
    /// a failed change or save leaves wharf as it was.
    fn update<T>(&self, change: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        self.update_durably(true, change)
    }

    /// As [`Engine::update`], but saves only when `durable`: for changes a restart can do
    /// without (they reach the disk with a later change of the same object, or a snapshot).
    fn update_durably<T>(
        &self,
        durable: bool,
        change: impl FnOnce(&mut State) -> Result<T>,
    ) -> Result<T> {
        let mut current = self.lock();
        let mut next = current.clone();
        let out = change(&mut next)?;
        if durable {
            self.store.save(&current, &next)?;
        }
        *current = next;
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
