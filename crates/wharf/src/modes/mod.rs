//! Network modes: one file per mode, each implementing [`NetworkMode`]. A mode parses its own
//! options, decides a new network's settings, says which host objects a network and each of
//! its endpoints own, builds the container's side of a Join, and names the addresses its
//! endpoints make reachable. The engine runs the same validate -> plan -> apply (undo on
//! failure) -> commit for every mode, and reconciles and reports every mode's objects the
//! same way. Adding a mode is a new file and a line in [`ModeRegistry::standard`].

pub mod ipvlan;
pub mod macvlan;
pub mod ovs;
pub mod parent;
pub mod routed;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use serde_json::Value;

use crate::dataplane::{HostObject, LinkInfo, Result as DataplaneResult};
use crate::model::{Endpoint, ExtraAddress, Network, Subnet};

/// A mode's refusal: bad options, a parent that cannot be used, an endpoint the network
/// cannot take. The text names the object and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModeError {
    #[error("{0}")]
    Invalid(String),
    /// Reading the host failed (looking a parent up, say).
    #[error(transparent)]
    Host(#[from] crate::dataplane::DataplaneError),
}

pub type Result<T> = std::result::Result<T, ModeError>;

/// `-o advertise=`'s key.
pub const ADVERTISE: &str = "advertise";

/// `-o advertise=host|subnet|none`, as stored in a network's config.
pub fn parse_advertise(value: &str) -> Result<&'static str> {
    match value.trim() {
        "host" => Ok("host"),
        "subnet" => Ok("subnet"),
        "none" => Ok("none"),
        other => Err(invalid(format!(
            "option advertise: {other:?} is not host, subnet or none"
        ))),
    }
}

/// The advertise setting a network's config holds, or `default`.
pub fn stored_advertise(
    network: &Network,
    default: crate::model::Advertise,
) -> crate::model::Advertise {
    match network.config.get(ADVERTISE).and_then(Value::as_str) {
        Some("host") => crate::model::Advertise::Host,
        Some("subnet") => crate::model::Advertise::Subnet,
        Some("none") => crate::model::Advertise::None,
        _ => default,
    }
}

pub fn invalid(message: impl Into<String>) -> ModeError {
    ModeError::Invalid(message.into())
}

/// What a mode may read of the host while planning.
pub trait HostView {
    fn link(&self, name: &str) -> DataplaneResult<Option<LinkInfo>>;
    fn default_route_device(&self) -> DataplaneResult<Option<String>>;
    /// Whether Open vSwitch can use the kernel's datapath here.
    fn kernel_switching(&self) -> bool;
}

/// Addresses a network takes for the host itself (a shim's), from its subnets' pools.
pub trait HostAddressPool {
    /// A free address of `subnet`'s pool, now taken for the host; None when another IPAM
    /// driver manages the subnet.
    fn take(&mut self, subnet: &Subnet) -> Result<Option<ExtraAddress>>;
}

/// A new network, as the engine hands it to its mode.
#[derive(Debug, Clone)]
pub struct NetworkDraft<'a> {
    pub id: &'a str,
    /// The mode's own `-o` options (the engine has refused any other key).
    pub options: &'a BTreeMap<String, String>,
    /// `-o mtu`, if given.
    pub mtu: Option<u32>,
    pub internal: bool,
    pub ipv6: bool,
    pub subnets: &'a [Subnet],
}

/// What the mode decided for a new network.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkPlan {
    pub mtu: u32,
    /// A network on a dummy parent is internal whatever it was asked.
    pub internal: bool,
    /// The mode's own settings, stored with the network.
    pub config: Value,
}

/// A host resource a network uses (a parent interface, a bridge), for the rules on sharing
/// one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// What the resource is, for messages: `parent`, `bridge`, `interface`.
    pub what: &'static str,
    /// The resource's name: an interface.
    pub parent: String,
    /// Networks of different families (`macvlan`, `ipvlan`, the uplink of one bridge)
    /// never share a resource.
    pub family: String,
    /// Why the parent cannot carry a second network of the same family, if it cannot.
    pub exclusive: Option<&'static str>,
    /// `ipvlan l2 bridge`: how the using network is named in a refusal.
    pub describe: String,
}

/// A new endpoint, as the engine hands it to its network's mode.
#[derive(Debug, Clone)]
pub struct EndpointDraft<'a> {
    pub id: &'a str,
    pub primary: &'a [IpNet],
    /// The MAC the container runtime asked for.
    pub mac: Option<[u8; 6]>,
    pub extra: &'a [ExtraAddress],
}

/// What the mode made of a new endpoint: its record, and the MAC to report back (one the
/// runtime did not set itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEndpoint {
    pub endpoint: Endpoint,
    pub report_mac: Option<[u8; 6]>,
}

/// The container's side of a Join, in wharf's terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JoinAnswer {
    /// The link to move into the sandbox.
    pub interface: String,
    pub gateway_v4: Option<IpAddr>,
    pub gateway_v6: Option<IpAddr>,
    pub routes: Vec<ContainerRoute>,
    /// The runtime must not add a gateway network of its own for the container.
    pub disable_gateway_service: bool,
}

/// A route the container gets: on-link (no next hop) or via a next hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRoute {
    pub destination: IpNet,
    pub next_hop: Option<IpAddr>,
}

/// Addresses of an endpoint reachable through a host link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reachable {
    pub link: String,
    pub addresses: Vec<IpNet>,
}

pub trait NetworkMode: Send + Sync {
    /// The `mode=` value.
    fn name(&self) -> &'static str;

    /// `-o` keys this mode takes besides the common `mode` and `mtu`.
    fn option_keys(&self) -> &'static [&'static str];

    /// Validates the mode's options and decides the new network's settings. Reads the host
    /// (parents) through `host`; takes the host's own addresses, if it needs any, from
    /// `addresses`. Makes nothing.
    fn plan_network(
        &self,
        draft: &NetworkDraft<'_>,
        host: &dyn HostView,
        addresses: &mut dyn HostAddressPool,
    ) -> Result<NetworkPlan>;

    /// Whether a network with these options (the mode's own) uses its subnets' gateway
    /// addresses; when not, the runtime need not take them from IPAM.
    fn uses_gateways(&self, options: &BTreeMap<String, String>) -> Result<bool> {
        let _ = options;
        Ok(true)
    }

    /// Host resources the network uses, for the sharing rules between networks.
    fn claims(&self, network: &Network) -> Vec<Claim> {
        let _ = network;
        Vec::new()
    }

    /// Objects the network owns while it exists (parents, shims), in the order they are
    /// made. Parents may be named by several networks.
    fn network_objects(&self, network: &Network) -> Result<Vec<HostObject>> {
        let _ = network;
        Ok(Vec::new())
    }

    /// Decides a new endpoint's links and MAC. Makes nothing.
    fn new_endpoint(
        &self,
        network: &Network,
        draft: &EndpointDraft<'_>,
        host: &dyn HostView,
    ) -> Result<NewEndpoint>;

    /// Objects the endpoint owns in the host, in the order they are made. Links listed here
    /// are never made again by reconciliation (the container side went with them); routes
    /// and addresses are restored while their link exists.
    fn endpoint_objects(&self, network: &Network, endpoint: &Endpoint) -> Result<Vec<HostObject>>;

    /// The container's side of a Join.
    fn join(&self, network: &Network, endpoint: &Endpoint) -> Result<JoinAnswer>;

    /// The endpoint's addresses that this host makes reachable, and through which link;
    /// None when the network's own segment carries them (nothing to announce per address).
    fn reachable(&self, network: &Network, endpoint: &Endpoint) -> Option<Reachable>;

    /// Which other networks may reach the network through the host, when the host routes
    /// between networks; None when the network's own segment keeps it apart (macvlan,
    /// ipvlan: the host does not route between their containers).
    fn fence(&self, network: &Network) -> Option<AcceptFrom> {
        let _ = network;
        None
    }

    /// What of the network routing peers hear of (`-o advertise=`, where the mode takes it).
    /// Nothing by default: containers on a parent's segment (macvlan, ipvlan L2) are not
    /// reached through this host, and a route saying so would lead nowhere.
    fn advertise(&self, network: &Network) -> crate::model::Advertise {
        let _ = network;
        crate::model::Advertise::None
    }

    /// Whether the network needs the host to forward: Some(ipv6 too) or None.
    fn forwarding(&self, network: &Network) -> Option<bool> {
        let _ = network;
        None
    }

    /// Whether the endpoint's link is found in the sandbox by its address as well as its MAC
    /// (links that share their parent's MAC).
    fn links_share_mac(&self, network: &Network) -> bool {
        let _ = network;
        false
    }

    /// The host's link to the network's containers when the host masquerades their traffic
    /// to elsewhere and publishes their ports (an Open vSwitch nat network's gateway port);
    /// None when it does neither.
    fn nat_link(&self, network: &Network) -> Option<String> {
        let _ = network;
        None
    }

    /// Mode-specific lines for `wharf status` (`parent`, `links`, `shim`, `ovs`).
    fn describe(&self, network: &Network) -> BTreeMap<String, String> {
        let _ = network;
        BTreeMap::new()
    }
}

/// The networks a fenced network lets in, as the user named them (`accept_from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptFrom {
    Everywhere,
    /// Docker network names or IDs (12 or more hex digits); none: only itself.
    Networks(Vec<String>),
}

impl AcceptFrom {
    /// The option's value: `*`, or network names or IDs separated by commas.
    pub fn parse(value: &str, internal: bool) -> Result<AcceptFrom> {
        let entries: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        if entries == ["*"] {
            if internal {
                return Err(invalid(
                    "option accept_from=* would open an --internal network to everything; \
                     name the networks it accepts instead",
                ));
            }
            return Ok(AcceptFrom::Everywhere);
        }
        if entries.is_empty() {
            return Err(invalid(
                "option accept_from is empty: give network names or IDs separated by commas, \
                 or * for every network",
            ));
        }
        for entry in &entries {
            let valid = entry.len() <= 128
                && entry.starts_with(|c: char| c.is_ascii_alphanumeric())
                && entry
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !valid {
                return Err(invalid(format!(
                    "option accept_from: {entry:?} is not a Docker network name or ID (and * \
                     must stand alone)"
                )));
            }
        }
        Ok(AcceptFrom::Networks(
            entries.into_iter().map(String::from).collect(),
        ))
    }

    /// Whether `entry` names the network `id` called `name`: by name, or by an ID prefix of
    /// at least Docker's short length.
    pub fn names(entry: &str, id: &str, name: Option<&str>) -> bool {
        name == Some(entry)
            || (entry.len() >= 12
                && entry.chars().all(|c| c.is_ascii_hexdigit())
                && id.starts_with(entry))
    }
}

/// The modes wharf knows, by name.
#[derive(Clone)]
pub struct ModeRegistry {
    modes: BTreeMap<&'static str, Arc<dyn NetworkMode>>,
}

/// Daemon-wide defaults the modes take (flags of `wharf serve`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeDefaults {
    /// MTU of routed networks that set none.
    pub mtu: u32,
    /// `ipvlan_mode` of ipvlan networks that set none (the ipvlan plugin's `--mode l2|l3`).
    pub ipvlan_mode: crate::dataplane::IpvlanMode,
    /// Parent of macvlan/ipvlan networks that name none (`--host-interface`).
    pub parent: Option<String>,
    /// Open vSwitch networks' defaults (the old plugin's `--mode nat|flat` form).
    pub ovs: ovs::OvsDefaults,
    /// Who spreads routes (`--routing`): with a daemon beside wharf, every address this host
    /// makes reachable needs a kernel route for the daemon to find and export.
    pub routing: crate::model::Routing,
}

impl Default for ModeDefaults {
    fn default() -> Self {
        ModeDefaults {
            mtu: 1500,
            ipvlan_mode: crate::dataplane::IpvlanMode::L2,
            parent: None,
            ovs: ovs::OvsDefaults::default(),
            routing: crate::model::Routing::default(),
        }
    }
}

impl ModeDefaults {
    fn parent_defaults(&self) -> parent::ParentDefaults {
        parent::ParentDefaults {
            parent: self.parent.clone(),
            mtu: self.mtu,
        }
    }
}

impl ModeRegistry {
    /// Every mode of this release.
    pub fn standard(defaults: &ModeDefaults) -> ModeRegistry {
        ModeRegistry::with(vec![
            Arc::new(routed::Routed::new(defaults.mtu)),
            Arc::new(macvlan::Macvlan::new(defaults.parent_defaults())),
            Arc::new(ipvlan::Ipvlan::new(
                defaults.parent_defaults(),
                defaults.ipvlan_mode,
                defaults.routing == crate::model::Routing::External,
            )),
            Arc::new(ovs::Ovs::new(defaults.ovs.clone())),
        ])
    }

    pub fn with(modes: Vec<Arc<dyn NetworkMode>>) -> ModeRegistry {
        ModeRegistry {
            modes: modes.into_iter().map(|m| (m.name(), m)).collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn NetworkMode>> {
        self.modes.get(name)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.modes.keys().copied().collect()
    }

    /// The modes that take option `key`.
    pub fn taking(&self, key: &str) -> Vec<&'static str> {
        self.modes
            .values()
            .filter(|m| m.option_keys().contains(&key))
            .map(|m| m.name())
            .collect()
    }
}

/// A new endpoint on a veth pair (routed and Open vSwitch networks): `wh` + digits of its ID
/// on the host's side, `wc` + the same on the container's, the runtime's MAC or one from the ID.
pub fn veth_endpoint(draft: &EndpointDraft<'_>) -> NewEndpoint {
    let digits = link_digits(draft.id);
    let mac = draft.mac.unwrap_or_else(|| mac_for(draft.id));
    NewEndpoint {
        endpoint: Endpoint {
            id: draft.id.into(),
            host_ifname: format!("{}{digits}", crate::dataplane::HOST_LINK_PREFIX),
            container_ifname: format!("{}{digits}", crate::dataplane::CONTAINER_LINK_PREFIX),
            mac: format_mac(mac),
            primary: draft.primary.to_vec(),
            extra: draft.extra.to_vec(),
            sandbox: None,
        },
        report_mac: draft.mac.is_none().then_some(mac),
    }
}

/// Characters of an endpoint ID in its link names and its MAC.
pub const ENDPOINT_ID_DIGITS: usize = 10;

/// The first [`ENDPOINT_ID_DIGITS`] characters of an endpoint ID (checked by the engine to be
/// lowercase hex digits).
pub fn link_digits(endpoint_id: &str) -> &str {
    endpoint_id.get(..ENDPOINT_ID_DIGITS).unwrap_or(endpoint_id)
}

/// A locally administered unicast MAC from the endpoint ID: stable, and distinct for
/// distinct endpoints of one sandbox, which is how the link is found again inside it.
pub fn mac_for(endpoint_id: &str) -> [u8; 6] {
    let mut mac = [0x02, 0, 0, 0, 0, 0];
    for (i, byte) in mac.iter_mut().skip(1).enumerate() {
        let digits = endpoint_id.get(2 * i..2 * i + 2).unwrap_or("00");
        *byte = u8::from_str_radix(digits, 16).unwrap_or(0);
    }
    mac
}

pub fn format_mac(mac: [u8; 6]) -> String {
    mac.map(|b| format!("{b:02x}")).join(":")
}

pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// The Go spellings of a boolean (strconv.ParseBool), which Docker's own drivers accept.
pub fn parse_bool(key: &str, text: &str) -> Result<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(invalid(format!(
            "option {key}: {other:?} is not a boolean; use true or false"
        ))),
    }
}

/// The gateways of the network's subnets the endpoint has addresses in.
pub fn gateways(network: &Network, endpoint: &Endpoint) -> Vec<IpAddr> {
    let mut gateways: Vec<IpAddr> = network
        .subnets
        .iter()
        .filter(|s| endpoint.addresses().any(|a| s.prefix.contains(&a)))
        .filter_map(|s| s.gateway)
        .collect();
    gateways.dedup();
    gateways
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_from_ids() {
        assert_eq!(
            mac_for("0123456789abcdef"),
            [2, 0x01, 0x23, 0x45, 0x67, 0x89]
        );
        assert_eq!(
            parse_mac("02:01:23:45:67:89"),
            Some([2, 1, 0x23, 0x45, 0x67, 0x89])
        );
        assert_eq!(parse_mac("02:01:23"), None);
        assert_eq!(parse_mac("02:01:23:45:67:89:00"), None);
        assert_eq!(parse_mac("2:1:23:45:67:89"), None);
        assert_eq!(
            format_mac([2, 1, 0x23, 0x45, 0x67, 0x89]),
            "02:01:23:45:67:89"
        );
        assert_eq!(link_digits("0123456789abcdef"), "0123456789");
    }

    #[test]
    fn booleans_as_docker_spells_them() {
        assert!(parse_bool("host_shim", "True").unwrap());
        assert!(!parse_bool("host_shim", "0").unwrap());
        let err = parse_bool("host_shim", "maybe").unwrap_err().to_string();
        assert!(err.contains("option host_shim"), "{err}");
    }
}
