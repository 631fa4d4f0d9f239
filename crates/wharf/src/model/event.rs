//! Events: what other components (a route announcer, a route exporter) learn from the engine.
//! They say which prefixes and addresses became reachable on this host, or stopped being, in
//! the order the changes were committed. A subscriber first gets a [`Event::Snapshot`] of
//! everything reachable, then every change after it, with no gap and nothing twice.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// A network's address ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkPrefixes {
    pub network: String,
    pub mode: String,
    pub prefixes: Vec<IpNet>,
    /// This host's part of each prefix: the range its addresses come from (`--ip-range`,
    /// `wharf serve --host-block`), or the whole prefix. What `advertise=subnet` announces.
    #[serde(default)]
    pub blocks: Vec<IpNet>,
    /// What of the network a routing daemon should announce.
    #[serde(default)]
    pub advertise: Advertise,
}

/// What of a network is announced to routing peers (`-o advertise=`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Advertise {
    /// Each reachable endpoint address, as a /32 or /128.
    #[default]
    Host,
    /// The network's subnets, once, whatever its endpoints.
    Subnet,
    /// Nothing.
    None,
}

/// Who tells other hosts what is reachable here (`wharf serve --routing`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Routing {
    /// wharf's own BGP speaker announces, and installs what its peers announce.
    Bgp,
    /// A routing daemon the operator runs (FRR, BIRD) exports wharf's kernel routes: wharf
    /// keeps them in the kernel, and leaves the routes the daemon learns alone.
    #[default]
    External,
}

impl Routing {
    pub fn name(self) -> &'static str {
        match self {
            Routing::Bgp => "bgp",
            Routing::External => "external",
        }
    }
}

/// Addresses of one endpoint reachable through a host link (a routed endpoint's host end, an
/// ipvlan L3 network's parent), as host prefixes (/32, /128).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointAddresses {
    pub network: String,
    pub endpoint: String,
    pub addresses: Vec<IpNet>,
    /// The host link the addresses are reached through.
    pub link: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Everything that is reachable when the subscription starts.
    Snapshot {
        networks: Vec<NetworkPrefixes>,
        endpoints: Vec<EndpointAddresses>,
    },
    NetworkAdded(NetworkPrefixes),
    NetworkRemoved(NetworkPrefixes),
    AddressesAdded(EndpointAddresses),
    AddressesRemoved(EndpointAddresses),
}
