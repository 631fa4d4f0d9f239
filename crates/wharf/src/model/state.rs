//! What wharf remembers: pools and their allocations, networks and their endpoints. The
//! store keeps it on disk as a snapshot plus the [`Change`](super::Change)s since; the engine
//! keeps it in memory in persistent maps, so that taking a copy (for `wharf status`, for a
//! late event subscriber) costs nothing and a change costs the same with 10 or 10,000
//! endpoints.

use std::net::IpAddr;
use std::sync::Arc;

use imbl::OrdMap;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Bumped when the layout changes incompatibly; a newer file is refused, not misread.
/// Version 2 stores a network's mode once, with the mode's own settings beside it; version 1
/// files (a mode plus an optional macvlan/ipvlan `attachment`) still load.
pub const STATE_VERSION: u32 = 2;
/// The oldest layout this version reads.
pub const OLDEST_STATE_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub pools: OrdMap<String, Pool>,
    pub networks: OrdMap<String, Network>,
    /// Where the search for the next default pool starts, per family, so a pool Docker
    /// releases and re-requests is not handed back forever.
    #[serde(default)]
    pub next_default_v4: Option<IpNet>,
    #[serde(default)]
    pub next_default_v6: Option<IpNet>,
    /// Links about to be made (by the endpoint or network named by the key) that no committed
    /// change owns yet: a link exists before the kernel lets wharf mark it, so a crash in
    /// between would leave one nobody could tell is wharf's. Reconciliation removes them.
    #[serde(default, skip_serializing_if = "OrdMap::is_empty")]
    pub intents: OrdMap<String, Vec<String>>,
    /// Ports endpoints publish on the host (`docker run -p`), by endpoint ID.
    #[serde(default, skip_serializing_if = "OrdMap::is_empty")]
    pub published: OrdMap<String, Published>,
}

impl State {
    pub fn new() -> Self {
        State {
            version: STATE_VERSION,
            ..Default::default()
        }
    }

    pub fn network(&self, id: &str) -> Option<&Network> {
        self.networks.get(id)
    }

    pub fn endpoint(&self, network: &str, id: &str) -> Option<&Endpoint> {
        self.networks.get(network)?.endpoints.get(id).map(|e| &**e)
    }

    /// Every endpoint of every network, with its network.
    pub fn endpoints(&self) -> impl Iterator<Item = (&Network, &Endpoint)> {
        self.networks
            .values()
            .flat_map(|n| n.endpoints.values().map(move |e| (n, &**e)))
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
    pub allocations: OrdMap<IpAddr, Allocation>,
    /// The most recently handed-out dynamic address; the next search starts after it, so a
    /// released address is not reused at once (stale ARP/NDP entries elsewhere).
    pub last_allocated: Option<IpAddr>,
    /// The gateway to hand out when Docker asks for one without naming it (the daemon's
    /// `--gateway`, for its `--ipvlan-subnet` pool); None: the first address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_gateway: Option<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Allocation {
    /// The network's gateway.
    Gateway,
    /// An endpoint's primary address or an aux address, asked for by the container runtime.
    Docker,
    /// An extra address wharf took for an endpoint (`wharf.addresses`).
    Extra { endpoint: String },
    /// An address the host itself takes on a network (a macvlan/ipvlan network's shim).
    Shim { network: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "NetworkRecord")]
pub struct Network {
    pub id: String,
    /// The name of the mode that owns the network (`routed`, `macvlan`, `ipvlan`): the one
    /// place its kind is stored.
    pub mode: String,
    /// The runtime's name for the network, once learned (Docker does not send it with the
    /// network; wharf asks Docker when a network's `accept_from` may name it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub mtu: u32,
    pub internal: bool,
    pub ipv6: bool,
    pub subnets: Vec<Subnet>,
    /// The mode's own settings, as the mode wrote them: nothing but the mode reads them.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub config: Value,
    /// Shared, not copied, when a change copies the map's nodes around the one it changes.
    pub endpoints: OrdMap<String, Arc<Endpoint>>,
}

impl Network {
    /// The network without its endpoints (what a change record carries).
    pub fn settings(&self) -> Network {
        Network {
            endpoints: OrdMap::new(),
            ..self.clone()
        }
    }

    pub fn prefixes(&self) -> Vec<IpNet> {
        self.subnets.iter().map(|s| s.prefix).collect()
    }
}

/// A network as stored: the current layout, or version 1's, whose macvlan and ipvlan
/// networks kept their settings under `attachment` (`macvlan` in the very first one).
#[derive(Deserialize)]
struct NetworkRecord {
    id: String,
    mode: String,
    #[serde(default)]
    name: Option<String>,
    mtu: u32,
    internal: bool,
    ipv6: bool,
    subnets: Vec<Subnet>,
    #[serde(default)]
    config: Value,
    #[serde(default, alias = "macvlan")]
    attachment: Option<Value>,
    #[serde(default)]
    endpoints: OrdMap<String, Arc<Endpoint>>,
}

impl From<NetworkRecord> for Network {
    fn from(record: NetworkRecord) -> Self {
        let config = match (record.config, record.attachment) {
            (Value::Null, Some(attachment)) => attachment,
            (config, _) => config,
        };
        Network {
            id: record.id,
            mode: record.mode,
            name: record.name,
            mtu: record.mtu,
            internal: record.internal,
            ipv6: record.ipv6,
            subnets: record.subnets,
            config,
            endpoints: record.endpoints,
        }
    }
}

/// One of the network's address ranges, with its gateway.
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
    /// The link wharf keeps in the host namespace for the endpoint (a routed endpoint's host
    /// end), or its one link (a macvlan/ipvlan endpoint's, which the sandbox takes).
    pub host_ifname: String,
    /// The link the container gets (Docker moves it into the sandbox and renames it).
    pub container_ifname: String,
    /// The container link's MAC (an ipvlan link's is its parent's), `02:..` form.
    pub mac: String,
    /// Addresses Docker assigned, with the network's prefix length as Docker configures them.
    pub primary: Vec<IpNet>,
    /// Extra addresses wharf allocated and configures itself, with the pool they came from.
    pub extra: Vec<ExtraAddress>,
    /// The sandbox the endpoint joined, while it is joined.
    pub sandbox: Option<String>,
}

/// An endpoint's published ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub network: String,
    pub ports: Vec<PortMapping>,
}

/// One `-p [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTOCOL]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PortMapping {
    pub protocol: L4Protocol,
    /// The host address it is bound to: None, every address; an unspecified one (0.0.0.0,
    /// ::), every address of that family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
}

impl PortMapping {
    /// Whether two mappings would claim the same host port: same protocol and port, on
    /// addresses that overlap.
    pub fn collides(&self, other: &PortMapping) -> bool {
        let overlap = match (self.host_ip, other.host_ip) {
            (None, _) | (_, None) => true,
            (Some(a), Some(b)) => {
                a == b || (a.is_ipv4() == b.is_ipv4() && (a.is_unspecified() || b.is_unspecified()))
            }
        };
        self.protocol == other.protocol && self.host_port == other.host_port && overlap
    }
}

impl std::fmt::Display for PortMapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.host_ip {
            Some(IpAddr::V6(ip)) => write!(f, "[{ip}]:")?,
            Some(ip) => write!(f, "{ip}:")?,
            None => {}
        }
        write!(
            f,
            "{}:{}/{}",
            self.host_port,
            self.container_port,
            self.protocol.name()
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum L4Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl L4Protocol {
    pub fn name(self) -> &'static str {
        match self {
            L4Protocol::Tcp => "tcp",
            L4Protocol::Udp => "udp",
            L4Protocol::Sctp => "sctp",
        }
    }

    /// From its IP protocol number, as Docker's port maps carry it.
    pub fn from_number(number: u64) -> Option<L4Protocol> {
        match number {
            6 => Some(L4Protocol::Tcp),
            17 => Some(L4Protocol::Udp),
            132 => Some(L4Protocol::Sctp),
            _ => None,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_one_networks_keep_their_attachment_as_the_mode_config() {
        let v1 = r#"{"id":"n1","mode":"macvlan","mtu":1500,"internal":false,"ipv6":false,
            "subnets":[],"endpoints":{},"attachment":{"parent":"eth1","mode":"vepa"}}"#;
        let network: Network = serde_json::from_str(v1).unwrap();
        assert_eq!(network.mode, "macvlan");
        assert_eq!(network.config["parent"], "eth1");
        let first = r#"{"id":"n1","mode":"macvlan","mtu":1500,"internal":false,"ipv6":false,
            "subnets":[],"endpoints":{},"macvlan":{"parent":"eth2","mode":"bridge"}}"#;
        let network: Network = serde_json::from_str(first).unwrap();
        assert_eq!(network.config["parent"], "eth2");
        let routed = r#"{"id":"n1","mode":"routed","mtu":1500,"internal":false,"ipv6":false,
            "subnets":[],"endpoints":{}}"#;
        let network: Network = serde_json::from_str(routed).unwrap();
        assert!(network.config.is_null());
        let text = serde_json::to_string(&network).unwrap();
        assert!(!text.contains("config"), "{text}");
        assert_eq!(serde_json::from_str::<Network>(&text).unwrap(), network);
    }
}
