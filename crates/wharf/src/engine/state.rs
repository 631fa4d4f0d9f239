//! What wharf remembers: pools and their allocations, networks and their endpoints. This is
//! the document the store writes atomically after every change that Docker must be able to
//! rely on, and that reconciliation compares with the kernel after a restart.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Bumped when the layout changes incompatibly; a newer file is refused, not misread.
pub const STATE_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub pools: BTreeMap<String, Pool>,
    pub networks: BTreeMap<String, Network>,
    /// Where the search for the next default pool starts, per family, so a pool Docker
    /// releases and re-requests is not handed back forever.
    #[serde(default)]
    pub next_default_v4: Option<IpNet>,
    #[serde(default)]
    pub next_default_v6: Option<IpNet>,
}

impl State {
    pub fn new() -> Self {
        State {
            version: STATE_VERSION,
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    pub id: String,
    pub address_space: String,
    pub subnet: IpNet,
    /// Docker's `--ip-range`: dynamic addresses come from here; static ones from the subnet.
    #[serde(default)]
    pub range: Option<IpNet>,
    /// Picked from the default pools rather than asked for by the user.
    pub from_defaults: bool,
    pub allocations: BTreeMap<IpAddr, Allocation>,
    /// The most recently handed-out dynamic address; the next search starts after it, so a
    /// released address is not reused at once (stale ARP/NDP entries elsewhere).
    pub last_allocated: Option<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Allocation {
    /// The network's gateway, asked for by Docker.
    Gateway,
    /// An endpoint's primary address or an aux address, asked for by Docker.
    Docker,
    /// An extra address wharf took for an endpoint (`wharf.addresses`).
    Extra { endpoint: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Routed,
    Macvlan,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Routed => "routed",
            Mode::Macvlan => "macvlan",
        }
    }
}

/// Docker's `macvlan_mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MacvlanMode {
    Bridge,
    Private,
    Vepa,
    Passthru,
}

impl MacvlanMode {
    pub fn name(self) -> &'static str {
        match self {
            MacvlanMode::Bridge => "bridge",
            MacvlanMode::Private => "private",
            MacvlanMode::Vepa => "vepa",
            MacvlanMode::Passthru => "passthru",
        }
    }
}

/// Where a macvlan network's links hang: the parent interface and the macvlan mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacvlanSettings {
    pub parent: String,
    pub mode: MacvlanMode,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub id: String,
    pub mode: Mode,
    pub mtu: u32,
    pub internal: bool,
    pub ipv6: bool,
    pub subnets: Vec<Subnet>,
    pub endpoints: BTreeMap<String, Endpoint>,
    /// Set for macvlan networks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macvlan: Option<MacvlanSettings>,
}

/// One of the network's address ranges, with the gateway Docker gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub prefix: IpNet,
    pub gateway: Option<IpAddr>,
    /// The wharf pool this range came from; None when another IPAM driver manages it.
    pub pool_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: String,
    /// The host end of a routed endpoint's veth pair; for a macvlan endpoint, its one link
    /// (the same as `container_ifname`).
    pub host_ifname: String,
    pub container_ifname: String,
    pub mac: String,
    /// Addresses Docker assigned, with the network's prefix length as Docker configures them.
    pub primary: Vec<IpNet>,
    /// Extra addresses wharf allocated and configures itself, with the pool they came from.
    pub extra: Vec<ExtraAddress>,
    /// The sandbox the endpoint joined, while it is joined.
    pub sandbox: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraAddress {
    pub address: IpAddr,
    pub pool_id: String,
}

impl Endpoint {
    /// Every address of the container: primary ones first, then extras.
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.primary
            .iter()
            .map(|net| net.addr())
            .chain(self.extra.iter().map(|extra| extra.address))
    }
}

/// Docker shows the first 12 characters of its IDs; so do wharf's messages.
pub fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
