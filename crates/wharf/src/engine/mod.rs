//! The engine: networks, endpoints, IPAM and reconciliation, in wharf's own terms (the plugin
//! protocol layer translates Docker's requests). It decides what must exist, asks the modes
//! what that means for each network, has the dataplane make it, and commits every change
//! through one path ([`commit`]) that saves it, makes it current and only then publishes it
//! as events.
//!
//! Locking: one mutex guards the current state, and is held only to decide and to commit
//! (which includes the journal's fdatasync), never across kernel work of an endpoint: a
//! container's links are made between two short holds, so other endpoints, IPAM calls and
//! `wharf status` (which copies the state in O(1): its maps are persistent) do not wait for
//! them. Network creation and deletion, rare and host-wide, run one at a time.

mod commit;
mod draft;
mod endpoints;
pub mod error;
mod fences;
mod intents;
pub mod ipam;
pub mod networks;
mod pools;
mod published;
pub mod reconcile;
pub mod remote;
pub mod status;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::mpsc::UnboundedSender;

pub use draft::Draft;
pub use error::{EngineError, Result};
pub use pools::{AddressUse, GLOBAL_ADDRESS_SPACE, LOCAL_ADDRESS_SPACE};

use crate::dataplane::{Dataplane, LinkInfo};
use crate::model::{Event, State};
use crate::modes::{HostView, ModeRegistry};
use crate::store::Store;
use ipam::DefaultPools;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The mode of a network that names none (`wharf serve --mode`).
    pub default_mode: String,
    pub default_pools: DefaultPools,
    /// How long to wait for the runtime to move a link into its sandbox.
    pub sandbox_timeout: Duration,
    /// This host's blocks of subnets that span hosts (`wharf serve --host-block`): a pool
    /// whose subnet holds one hands out addresses from it only, unless Docker names a
    /// range of its own (`--ip-range`).
    pub host_blocks: Vec<ipnet::IpNet>,
    /// Who spreads this host's routes (`wharf serve --routing`), for `wharf status`.
    pub routing: crate::model::Routing,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            default_mode: "routed".into(),
            default_pools: DefaultPools::default(),
            sandbox_timeout: Duration::from_secs(30),
            host_blocks: Vec::new(),
            routing: crate::model::Routing::default(),
        }
    }
}

/// A network to create, in wharf's terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkSpec {
    pub id: String,
    /// `key=value` options: `mode`, `mtu` and the mode's own.
    pub options: std::collections::BTreeMap<String, String>,
    pub internal: bool,
    pub ipv6: bool,
    pub subnets: Vec<SubnetRequest>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetRequest {
    pub prefix: IpNet,
    pub gateway: Option<IpAddr>,
}

/// An endpoint to create, in wharf's terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointSpec {
    pub network: String,
    pub id: String,
    /// Addresses the runtime assigned, with the network's prefix length.
    pub addresses: Vec<IpNet>,
    /// The MAC the runtime asked for.
    pub mac: Option<[u8; 6]>,
    /// Extra addresses wharf allocates and configures itself.
    pub extra: Vec<IpAddr>,
}

/// The answer to a new endpoint: the MAC the runtime did not set, if wharf chose one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreatedEndpoint {
    pub mac: Option<[u8; 6]>,
}

struct Core {
    state: State,
    subscribers: Vec<UnboundedSender<Event>>,
    /// Endpoint IDs and link names of endpoints being made or taken away right now, outside
    /// the lock: a second request for the same ones is refused, not raced.
    busy: HashSet<String>,
    /// Every endpoint's ID and link names, to the endpoint's ID: a clash is found without
    /// looking at every endpoint. Kept by the commit path.
    names: HashMap<String, String>,
    /// Every endpoint's addresses (primary and extra), to its network and ID: an address in
    /// use is found without looking at every endpoint. Kept by the commit path.
    holders: HashMap<IpAddr, Vec<(String, String)>>,
}

pub struct Engine {
    config: EngineConfig,
    modes: ModeRegistry,
    dataplane: Dataplane,
    store: Store,
    core: Mutex<Core>,
    /// Network creations and deletions run one at a time: they read and change host-wide
    /// things (parents, forwarding) that concurrent ones could race for.
    network_ops: Mutex<()>,
    /// Addresses containers on other hosts use (see [`remote`]). Taken after `core` when
    /// both are held.
    remote: Mutex<remote::RemoteHosts>,
}

impl Engine {
    /// Loads the saved state. Call [`Engine::reconcile`] before serving.
    pub fn load(
        config: EngineConfig,
        modes: ModeRegistry,
        dataplane: Dataplane,
        store: Store,
    ) -> Result<Self> {
        let state = store.load().map_err(EngineError::Load)?;
        if let Some(network) = state
            .networks
            .values()
            .find(|n| modes.get(&n.mode).is_none())
        {
            return Err(error::invalid(format!(
                "the saved state in {} has network {} in mode {:?}, which this wharf does not know \
                 (it knows {}): run the wharf that made it",
                store.dir().display(),
                crate::model::short_id(&network.id),
                network.mode,
                modes.names().join(", ")
            )));
        }
        if modes.get(&config.default_mode).is_none() {
            return Err(error::invalid(format!(
                "default mode {:?} is not one of {}",
                config.default_mode,
                modes.names().join(", ")
            )));
        }
        Ok(Engine {
            config,
            modes,
            dataplane,
            store,
            core: Mutex::new(Core {
                names: state
                    .endpoints()
                    .flat_map(|(_, e)| {
                        endpoints::claimed_names(e).map(|n| (n.to_owned(), e.id.clone()))
                    })
                    .collect(),
                holders: commit::holders_of(&state),
                state,
                subscribers: Vec::new(),
                busy: HashSet::new(),
            }),
            network_ops: Mutex::new(()),
            remote: Mutex::default(),
        })
    }

    pub fn dataplane(&self) -> &Dataplane {
        &self.dataplane
    }

    pub fn modes(&self) -> &ModeRegistry {
        &self.modes
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        // Changes are decided on a draft and swapped in whole, so the state behind a poisoned
        // lock is consistent.
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current state (O(1): its maps are shared, not copied).
    pub fn state(&self) -> State {
        self.lock().state.clone()
    }

    fn host(&self) -> EngineHost<'_> {
        EngineHost {
            dataplane: &self.dataplane,
        }
    }
}

/// The host as the modes may read it while planning.
struct EngineHost<'a> {
    dataplane: &'a Dataplane,
}

impl HostView for EngineHost<'_> {
    fn link(&self, name: &str) -> crate::dataplane::Result<Option<LinkInfo>> {
        self.dataplane.links.link(name)
    }

    fn default_route_device(&self) -> crate::dataplane::Result<Option<String>> {
        self.dataplane.routes.default_route_device()
    }

    fn kernel_switching(&self) -> bool {
        self.dataplane.switches.kernel_datapath()
    }
}
