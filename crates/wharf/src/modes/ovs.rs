//! Open vSwitch mode (`mode=ovs`): containers attached by veth pairs as ports of an Open
//! vSwitch bridge that wharf makes and owns through ovsdb-server.
//!
//! - `ovs_mode=nat` (the default): the network's gateway is an internal port of its own on
//!   the bridge (`wg` + the network ID's digits), which the host routes through; the host
//!   masquerades the subnet's traffic to elsewhere and publishes `-p` ports (wharf's NAT
//!   table), and isolates the network from wharf's other routed networks (fences).
//! - `ovs_mode=flat`: pure L2. The host has no address on the network; an `uplink` interface
//!   joins the bridge and carries the segment out (and loses its own IP configuration, as
//!   any interface enslaved to a switch does); `vxlan_remote` adds VXLAN tunnel ports to
//!   other hosts' bridges.
//!
//! `vlan=N` makes the network's ports (containers', gateway's, tunnels') access ports with
//! tag N, so networks can share one bridge and one uplink (a trunk) and stay apart. Several
//! networks may name one bridge: it goes with the last of them.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{json, Value};

use super::routed::ACCEPT_FROM;
use super::{
    gateways, invalid, AcceptFrom, Claim, EndpointDraft, HostAddressPool, HostView, JoinAnswer,
    NetworkDraft, NetworkMode, NetworkPlan, NewEndpoint, Reachable, Result,
};
use crate::dataplane::{
    BridgeSpec, Datapath, HostAddress, HostEnd, HostObject, HostRoute, PortKind, PortSpec,
    PortVlan, VethSpec, GATEWAY_PORT_PREFIX, LINK_ALIAS_PREFIX,
};
use crate::model::{Endpoint, Network};

pub const OVS_MODE: &str = "ovs_mode";
pub const BRIDGE: &str = "bridge";
pub const UPLINK: &str = "uplink";
pub const VLAN: &str = "vlan";
pub const VXLAN_REMOTE: &str = "vxlan_remote";
pub const VXLAN_VNI: &str = "vxlan_vni";
pub const DATAPATH: &str = "datapath";
pub const HOST_ADDRESS: &str = "host_address";

/// The old Open vSwitch plugin's default MTU, which leaves room for a VXLAN header on a
/// 1500-byte underlay.
pub const DEFAULT_OVS_MTU: u32 = 1450;
/// The old plugin's bridge, the default of the daemon's `--mode nat|flat` form.
pub const DEFAULT_BRIDGE_NAME: &str = "ovsbr-docker0";
/// Gateway ports are `wg` + this many characters of the network ID.
const GATEWAY_ID_DIGITS: usize = 12;
/// The kernel's limit on an interface name (IFNAMSIZ - 1).
const MAX_IFNAME: usize = 15;
const MAX_VNI: u32 = (1 << 24) - 1;

/// `nat` or `flat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OvsMode {
    Nat,
    Flat,
}

impl OvsMode {
    pub fn name(self) -> &'static str {
        match self {
            OvsMode::Nat => "nat",
            OvsMode::Flat => "flat",
        }
    }

    pub fn parse(text: &str) -> Result<OvsMode> {
        match text.trim() {
            "nat" => Ok(OvsMode::Nat),
            "flat" => Ok(OvsMode::Flat),
            other => Err(invalid(format!(
                "option ovs_mode: {other:?} is not nat or flat"
            ))),
        }
    }
}

/// Defaults from the daemon's flags (the old plugin's `--mode nat|flat` form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OvsDefaults {
    pub ovs_mode: OvsMode,
    /// The bridge of networks that name none; None: one derived from the network ID.
    pub bridge: Option<String>,
    pub mtu: u32,
}

impl Default for OvsDefaults {
    fn default() -> Self {
        OvsDefaults {
            ovs_mode: OvsMode::Nat,
            bridge: None,
            mtu: DEFAULT_OVS_MTU,
        }
    }
}

pub struct Ovs {
    defaults: OvsDefaults,
}

impl Ovs {
    pub fn new(defaults: OvsDefaults) -> Ovs {
        Ovs { defaults }
    }
}

/// A network's settings, as stored in its config.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Settings {
    mode: OvsMode,
    bridge: String,
    datapath: Datapath,
    vlan: Option<u16>,
    uplink: Option<String>,
    vxlan_remotes: Vec<IpAddr>,
    vni: u32,
    /// A flat network's addresses for the host (`host_address=true`), from its pools.
    host_addresses: Vec<IpAddr>,
}

impl Settings {
    fn to_config(&self, accept_from: Option<Value>) -> Value {
        let mut config = serde_json::Map::new();
        config.insert(OVS_MODE.into(), json!(self.mode.name()));
        config.insert(BRIDGE.into(), json!(self.bridge));
        config.insert(DATAPATH.into(), json!(self.datapath.ovs_name()));
        if let Some(vlan) = self.vlan {
            config.insert(VLAN.into(), json!(vlan));
        }
        if let Some(uplink) = &self.uplink {
            config.insert(UPLINK.into(), json!(uplink));
        }
        if !self.vxlan_remotes.is_empty() {
            let remotes: Vec<String> = self.vxlan_remotes.iter().map(IpAddr::to_string).collect();
            config.insert(VXLAN_REMOTE.into(), json!(remotes));
        }
        config.insert(VXLAN_VNI.into(), json!(self.vni));
        if !self.host_addresses.is_empty() {
            let addresses: Vec<String> =
                self.host_addresses.iter().map(IpAddr::to_string).collect();
            config.insert(HOST_ADDRESS.into(), json!(addresses));
        }
        if let Some(accept) = accept_from {
            config.insert(ACCEPT_FROM.into(), accept);
        }
        Value::Object(config)
    }

    fn from_config(network: &Network) -> Result<Settings> {
        let config = &network.config;
        let text = |key: &str| config.get(key).and_then(Value::as_str);
        let broken = |what: &str| {
            invalid(format!(
                "network {}'s stored Open vSwitch settings have no valid {what}",
                crate::model::short_id(&network.id)
            ))
        };
        Ok(Settings {
            mode: OvsMode::parse(text(OVS_MODE).ok_or_else(|| broken(OVS_MODE))?)?,
            bridge: text(BRIDGE).ok_or_else(|| broken(BRIDGE))?.to_owned(),
            datapath: match text(DATAPATH) {
                Some("system") => Datapath::System,
                Some("netdev") => Datapath::Netdev,
                _ => return Err(broken(DATAPATH)),
            },
            vlan: match config.get(VLAN) {
                None => None,
                Some(v) => Some(
                    v.as_u64()
                        .and_then(|v| u16::try_from(v).ok())
                        .ok_or_else(|| broken(VLAN))?,
                ),
            },
            uplink: text(UPLINK).map(str::to_owned),
            vxlan_remotes: config
                .get(VXLAN_REMOTE)
                .and_then(Value::as_array)
                .map(|remotes| {
                    remotes
                        .iter()
                        .filter_map(|r| r.as_str()?.parse().ok())
                        .collect()
                })
                .unwrap_or_default(),
            vni: config
                .get(VXLAN_VNI)
                .and_then(Value::as_u64)
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| broken(VXLAN_VNI))?,
            host_addresses: config
                .get(HOST_ADDRESS)
                .and_then(Value::as_array)
                .map(|addresses| {
                    addresses
                        .iter()
                        .filter_map(|a| a.as_str()?.parse().ok())
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    fn port(&self, name: String, kind: PortKind) -> PortSpec {
        PortSpec {
            bridge: self.bridge.clone(),
            name,
            vlan: self.vlan.map_or(PortVlan::Untagged, PortVlan::Access),
            kind,
        }
    }
}

/// The gateway port of a nat network.
pub fn gateway_port(network_id: &str) -> String {
    let digits: String = network_id.chars().take(GATEWAY_ID_DIGITS).collect();
    format!("{GATEWAY_PORT_PREFIX}{digits}")
}

/// The gateway port's MAC: from the network ID, so a port made again (a wiped database)
/// keeps the one the containers have in their ARP caches. Locally administered unicast, its
/// first byte (06) unlike the endpoints' (02).
fn gateway_mac(network_id: &str) -> [u8; 6] {
    let mut mac = super::mac_for(network_id);
    mac[0] = 0x06;
    mac
}

/// The bridge of a network that names none and has no daemon default.
fn derived_bridge(network_id: &str) -> String {
    let digits: String = network_id.chars().take(MAX_IFNAME - 4).collect();
    format!("ovs-{digits}")
}

/// FNV-1a: a small stable hash, for names and numbers that must come out the same on every
/// host and every run (std's hasher is neither).
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A VXLAN port's name: `vx` + 12 hex digits of its remote and VNI, the same wherever the
/// same tunnel is asked for (so two networks asking for it share one port).
fn vxlan_port(remote: IpAddr, vni: u32) -> String {
    format!("vx{:012x}", stable_hash(&format!("{remote}/{vni}")) >> 16)
}

/// The default VNI: the VLAN tag if there is one, else a hash of the first subnet. Not the
/// network ID, which Docker draws at random on each host: the other hosts' networks of the
/// same segment have the same subnet and tag.
fn default_vni(vlan: Option<u16>, first_subnet: Option<IpNet>) -> u32 {
    if let Some(vlan) = vlan {
        return u32::from(vlan);
    }
    let text = first_subnet
        .map(|s| s.trunc().to_string())
        .unwrap_or_default();
    let vni = (stable_hash(&text) % u64::from(MAX_VNI)) as u32;
    vni.max(1)
}

fn check_name(option: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(invalid(format!(
            "option {option} is empty: name an interface"
        )));
    }
    if name.len() > MAX_IFNAME {
        return Err(invalid(format!(
            "option {option}: {name:?} is longer than {MAX_IFNAME} characters, the kernel's \
             limit for an interface name; choose a shorter one"
        )));
    }
    let bad = |c: char| c == '/' || c == ':' || c.is_whitespace() || c.is_control();
    if name.chars().any(bad) || name == "." || name == ".." {
        return Err(invalid(format!(
            "option {option}: {name:?} is not an interface name (no '/', ':' or spaces)"
        )));
    }
    Ok(())
}

fn parse_vlan(text: &str) -> Result<u16> {
    text.trim()
        .parse::<u16>()
        .ok()
        .filter(|v| (1..=4094).contains(v))
        .ok_or_else(|| {
            invalid(format!(
                "option vlan: {text:?} is not a usable VLAN ID; use 1 to 4094"
            ))
        })
}

fn parse_vni(text: &str) -> Result<u32> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|v| (1..=MAX_VNI).contains(v))
        .ok_or_else(|| {
            invalid(format!(
                "option vxlan_vni: {text:?} is not a VXLAN network identifier; use 1 to {MAX_VNI}"
            ))
        })
}

fn parse_remotes(text: &str) -> Result<Vec<IpAddr>> {
    let mut remotes: Vec<IpAddr> = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let remote: IpAddr = entry.parse().map_err(|_| {
            invalid(format!(
                "option vxlan_remote: {entry:?} is not an IP address; give the other hosts' \
                 addresses separated by commas"
            ))
        })?;
        if remote.is_unspecified() || remote.is_loopback() || remote.is_multicast() {
            return Err(invalid(format!(
                "option vxlan_remote: {remote} cannot be another host's address"
            )));
        }
        if !remotes.contains(&remote) {
            remotes.push(remote);
        }
    }
    if remotes.is_empty() {
        return Err(invalid(
            "option vxlan_remote is empty: give the other hosts' addresses separated by commas",
        ));
    }
    Ok(remotes)
}

fn parse_datapath(text: &str, host: &dyn HostView) -> Result<Datapath> {
    match text.trim() {
        "netdev" => Ok(Datapath::Netdev),
        "system" if host.kernel_switching() => Ok(Datapath::System),
        "system" => Err(invalid(
            "option datapath=system needs the kernel's openvswitch module, which is not \
             loaded here: load it (modprobe openvswitch) or use datapath=netdev",
        )),
        other => Err(invalid(format!(
            "option datapath: {other:?} is not system or netdev"
        ))),
    }
}

/// Options that only a flat network takes: a nat network reaches out through the host.
fn refuse_for_nat(options: &BTreeMap<String, String>) -> Result<()> {
    for key in [UPLINK, VXLAN_REMOTE, VXLAN_VNI] {
        if options.contains_key(key) {
            return Err(invalid(format!(
                "option {key} applies to ovs_mode=flat networks; a nat network reaches other \
                 hosts through the host's own routing"
            )));
        }
    }
    Ok(())
}

impl Ovs {
    fn settings(&self, draft: &NetworkDraft<'_>, host: &dyn HostView) -> Result<Settings> {
        let options = draft.options;
        let mode = match options.get(OVS_MODE) {
            Some(text) => OvsMode::parse(text)?,
            None => self.defaults.ovs_mode,
        };
        if mode == OvsMode::Nat {
            refuse_for_nat(options)?;
        } else if options.contains_key(ACCEPT_FROM) {
            return Err(invalid(
                "option accept_from applies to ovs_mode=nat networks, which the host routes; \
                 a flat network is a segment of its own",
            ));
        }
        let bridge = match options.get(BRIDGE).map(|b| b.trim().to_owned()) {
            Some(name) => name,
            None => self
                .defaults
                .bridge
                .clone()
                .unwrap_or_else(|| derived_bridge(draft.id)),
        };
        check_name(BRIDGE, &bridge)?;
        let vlan = options.get(VLAN).map(|v| parse_vlan(v)).transpose()?;
        let uplink = options.get(UPLINK).map(|u| u.trim().to_owned());
        let mtu = draft.mtu.unwrap_or(self.defaults.mtu);
        if let Some(uplink) = &uplink {
            check_name(UPLINK, uplink)?;
            if *uplink == bridge {
                return Err(invalid(format!(
                    "option uplink: {uplink} is the bridge itself; name the interface that \
                     carries the segment out"
                )));
            }
            let link = host.link(uplink)?.ok_or_else(|| {
                invalid(format!(
                    "option uplink: interface {uplink} does not exist; name an existing \
                     interface (it becomes a port of bridge {bridge})"
                ))
            })?;
            if mtu > link.mtu {
                return Err(invalid(format!(
                    "option mtu: {mtu} is larger than the MTU of uplink {uplink} ({}); frames \
                     that large could not leave through it",
                    link.mtu
                )));
            }
        }
        let vxlan_remotes = options
            .get(VXLAN_REMOTE)
            .map(|r| parse_remotes(r))
            .transpose()?
            .unwrap_or_default();
        let vni = match options.get(VXLAN_VNI) {
            Some(text) => parse_vni(text)?,
            None => default_vni(vlan, draft.subnets.first().map(|s| s.prefix)),
        };
        let datapath = match options.get(DATAPATH) {
            Some(text) => parse_datapath(text, host)?,
            None if host.kernel_switching() => Datapath::System,
            None => Datapath::Netdev,
        };
        Ok(Settings {
            mode,
            bridge,
            datapath,
            vlan,
            uplink,
            vxlan_remotes,
            vni,
            host_addresses: Vec::new(),
        })
    }
}

/// The host's addresses on a flat network (`host_address=true`): one per subnet wharf's
/// IPAM manages, taken from its pool like a gateway.
fn take_host_addresses(
    draft: &NetworkDraft<'_>,
    addresses: &mut dyn HostAddressPool,
) -> Result<Vec<IpAddr>> {
    let mut taken = Vec::new();
    for subnet in draft.subnets {
        if let Some(address) = addresses.take(subnet)? {
            taken.push(address.address);
        }
    }
    if taken.is_empty() {
        return Err(invalid(
            "option host_address needs an address for the host from wharf's IPAM: create the \
             network with --ipam-driver wharf",
        ));
    }
    Ok(taken)
}

impl NetworkMode for Ovs {
    fn name(&self) -> &'static str {
        "ovs"
    }

    fn option_keys(&self) -> &'static [&'static str] {
        &[
            OVS_MODE,
            BRIDGE,
            UPLINK,
            VLAN,
            VXLAN_REMOTE,
            VXLAN_VNI,
            DATAPATH,
            ACCEPT_FROM,
            HOST_ADDRESS,
        ]
    }

    fn plan_network(
        &self,
        draft: &NetworkDraft<'_>,
        host: &dyn HostView,
        addresses: &mut dyn HostAddressPool,
    ) -> Result<NetworkPlan> {
        let mut settings = self.settings(draft, host)?;
        let host_address = match draft.options.get(HOST_ADDRESS) {
            Some(text) => super::parse_bool(HOST_ADDRESS, text)?,
            None => false,
        };
        if host_address {
            if settings.mode == OvsMode::Nat {
                return Err(invalid(
                    "option host_address applies to ovs_mode=flat networks: a nat network's \
                     gateway is the host's address on it already",
                ));
            }
            settings.host_addresses = take_host_addresses(draft, addresses)?;
        }
        if settings.mode == OvsMode::Nat {
            if let Some(subnet) = draft.subnets.iter().find(|s| s.gateway.is_none()) {
                return Err(invalid(format!(
                    "subnet {} has no gateway: a nat network's gateway is the host's port on \
                     the bridge; give --gateway",
                    subnet.prefix
                )));
            }
        }
        let accept_from = match draft.options.get(ACCEPT_FROM) {
            Some(value) => Some(match AcceptFrom::parse(value, draft.internal)? {
                AcceptFrom::Everywhere => json!("*"),
                AcceptFrom::Networks(names) => json!(names),
            }),
            None => None,
        };
        Ok(NetworkPlan {
            mtu: draft.mtu.unwrap_or(self.defaults.mtu),
            internal: draft.internal,
            config: settings.to_config(accept_from),
        })
    }

    /// The bridge (one datapath per bridge) and the uplink (one bridge per uplink, which
    /// no macvlan or ipvlan network may use as a parent meanwhile).
    fn claims(&self, network: &Network) -> Vec<Claim> {
        let Ok(settings) = Settings::from_config(network) else {
            return Vec::new();
        };
        let mut claims = vec![Claim {
            what: "bridge",
            parent: settings.bridge.clone(),
            family: format!("Open vSwitch {}", settings.datapath.ovs_name()),
            exclusive: None,
            describe: format!("ovs {}", settings.mode.name()),
        }];
        if let Some(uplink) = &settings.uplink {
            claims.push(Claim {
                what: "interface",
                parent: uplink.clone(),
                family: format!("the uplink of Open vSwitch bridge {}", settings.bridge),
                exclusive: None,
                describe: format!("ovs {}", settings.mode.name()),
            });
        }
        claims
    }

    fn network_objects(&self, network: &Network) -> Result<Vec<HostObject>> {
        let settings = Settings::from_config(network)?;
        let mut objects = vec![HostObject::Bridge(BridgeSpec {
            name: settings.bridge.clone(),
            datapath: settings.datapath,
            mtu: None,
        })];
        if let Some(uplink) = &settings.uplink {
            // A trunk: it carries every VLAN of the bridge's networks.
            objects.push(HostObject::SwitchPort(PortSpec {
                bridge: settings.bridge.clone(),
                name: uplink.clone(),
                vlan: PortVlan::Trunk,
                kind: PortKind::System,
            }));
        }
        for remote in &settings.vxlan_remotes {
            objects.push(HostObject::SwitchPort(settings.port(
                vxlan_port(*remote, settings.vni),
                PortKind::Vxlan {
                    remote: *remote,
                    key: settings.vni,
                },
            )));
        }
        // The host's own port on the network: a nat network's gateway, or a flat network's
        // host address.
        let host_addresses: Vec<(IpAddr, IpNet)> = match settings.mode {
            OvsMode::Nat => network
                .subnets
                .iter()
                .filter_map(|s| Some((s.gateway?, s.prefix)))
                .collect(),
            OvsMode::Flat => settings
                .host_addresses
                .iter()
                .filter_map(|a| {
                    let subnet = network.subnets.iter().find(|s| s.prefix.contains(a))?;
                    Some((*a, subnet.prefix))
                })
                .collect(),
        };
        if !host_addresses.is_empty() {
            let port = gateway_port(&network.id);
            objects.push(HostObject::SwitchPort(settings.port(
                port.clone(),
                PortKind::Internal {
                    mtu: Some(network.mtu),
                    mac: Some(gateway_mac(&network.id)),
                },
            )));
            for (address, prefix) in host_addresses {
                objects.push(HostObject::Address(HostAddress {
                    address,
                    device: port.clone(),
                }));
                objects.push(HostObject::Route(HostRoute {
                    destination: prefix.trunc(),
                    device: port.clone(),
                    source: Some(address),
                }));
            }
        }
        Ok(objects)
    }

    fn new_endpoint(
        &self,
        _network: &Network,
        draft: &EndpointDraft<'_>,
        _host: &dyn HostView,
    ) -> Result<NewEndpoint> {
        Ok(super::veth_endpoint(draft))
    }

    fn endpoint_objects(&self, network: &Network, endpoint: &Endpoint) -> Result<Vec<HostObject>> {
        let settings = Settings::from_config(network)?;
        let container_mac = super::parse_mac(&endpoint.mac)
            .ok_or_else(|| invalid(format!("endpoint MAC {:?} is not valid", endpoint.mac)))?;
        Ok(vec![
            HostObject::Veth(VethSpec {
                host_ifname: endpoint.host_ifname.clone(),
                container_ifname: endpoint.container_ifname.clone(),
                container_mac,
                mtu: network.mtu,
                alias: format!("{LINK_ALIAS_PREFIX}{}", endpoint.id),
                ipv6: false,
                host_end: HostEnd::SwitchPort {
                    software_checksums: settings.datapath == Datapath::Netdev,
                },
            }),
            HostObject::SwitchPort(settings.port(endpoint.host_ifname.clone(), PortKind::System)),
        ])
    }

    /// The subnets are on-link; the default route goes via the gateway (the host's port on
    /// a nat network, a router on the uplink's segment on a flat one), none when internal.
    fn join(&self, network: &Network, endpoint: &Endpoint) -> Result<JoinAnswer> {
        let mut answer = JoinAnswer {
            interface: endpoint.container_ifname.clone(),
            disable_gateway_service: network.internal,
            ..Default::default()
        };
        if !network.internal {
            for gateway in gateways(network, endpoint) {
                match gateway {
                    IpAddr::V4(_) if answer.gateway_v4.is_none() => {
                        answer.gateway_v4 = Some(gateway)
                    }
                    IpAddr::V6(_) if answer.gateway_v6.is_none() => {
                        answer.gateway_v6 = Some(gateway)
                    }
                    _ => {}
                }
            }
        }
        Ok(answer)
    }

    fn reachable(&self, _network: &Network, _endpoint: &Endpoint) -> Option<Reachable> {
        None
    }

    fn fence(&self, network: &Network) -> Option<AcceptFrom> {
        let settings = Settings::from_config(network).ok()?;
        if settings.mode != OvsMode::Nat {
            return None;
        }
        Some(match network.config.get(ACCEPT_FROM) {
            Some(Value::String(all)) if all == "*" => AcceptFrom::Everywhere,
            Some(Value::Array(names)) => AcceptFrom::Networks(
                names
                    .iter()
                    .filter_map(|n| n.as_str().map(String::from))
                    .collect(),
            ),
            _ => AcceptFrom::Networks(Vec::new()),
        })
    }

    fn forwarding(&self, network: &Network) -> Option<bool> {
        let settings = Settings::from_config(network).ok()?;
        (settings.mode == OvsMode::Nat).then_some(network.ipv6)
    }

    fn nat_link(&self, network: &Network) -> Option<String> {
        let settings = Settings::from_config(network).ok()?;
        (settings.mode == OvsMode::Nat && !network.internal).then(|| gateway_port(&network.id))
    }

    fn describe(&self, network: &Network) -> BTreeMap<String, String> {
        let Ok(settings) = Settings::from_config(network) else {
            return BTreeMap::new();
        };
        let mut line = format!(
            "bridge {} ({}), datapath {}",
            settings.bridge,
            settings.mode.name(),
            settings.datapath.ovs_name()
        );
        if let Some(vlan) = settings.vlan {
            line.push_str(&format!(", vlan {vlan}"));
        }
        if settings.mode == OvsMode::Nat {
            line.push_str(&format!(", gateway port {}", gateway_port(&network.id)));
        }
        if !settings.host_addresses.is_empty() {
            let addresses: Vec<String> = settings
                .host_addresses
                .iter()
                .map(IpAddr::to_string)
                .collect();
            line.push_str(&format!(
                ", host address {} on port {}",
                addresses.join(", "),
                gateway_port(&network.id)
            ));
        }
        if let Some(uplink) = &settings.uplink {
            line.push_str(&format!(", uplink {uplink}"));
        }
        if !settings.vxlan_remotes.is_empty() {
            let remotes: Vec<String> = settings
                .vxlan_remotes
                .iter()
                .map(IpAddr::to_string)
                .collect();
            line.push_str(&format!(
                ", vxlan to {} (vni {})",
                remotes.join(", "),
                settings.vni
            ));
        }
        BTreeMap::from([("ovs".to_owned(), line)])
    }
}

#[cfg(test)]
#[path = "ovs_tests.rs"]
mod tests;
