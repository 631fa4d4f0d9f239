//! What macvlan and ipvlan networks share: each endpoint is one link on the network's parent
//! interface, so containers sit on the parent's segment (L2) or behind it (ipvlan L3/L3S)
//! without a bridge, as with Docker's built-in drivers. This module chooses and checks the
//! parent (an existing interface, an 802.1Q sub-interface wharf makes, or a dummy for an
//! internal network), stores it as the network's settings, and plans the objects such a
//! network owns: the parent wharf made, and the host shim (`host_shim=true`): a parent cannot
//! reach its own macvlan/ipvlan links, a sibling link can, so the host gets one with an
//! address from the network's pools and a route through it to every container.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::{
    gateways, invalid, link_digits, parse_bool, parse_mac, Claim, ContainerRoute, EndpointDraft,
    HostAddressPool, HostView, JoinAnswer, NetworkDraft, NetworkPlan, Result,
};
use crate::dataplane::{
    HostAddress, HostObject, HostRoute, IpvlanFlag, MacvlanMode, ParentKind, ParentSpec,
    SubLinkKind, SubLinkSpec, CONTAINER_LINK_PREFIX, LINK_ALIAS_PREFIX, SHIM_ALIAS_PREFIX,
};
use crate::model::{short_id, Endpoint, ExtraAddress, Network};

/// The kernel's limit on interface names (IFNAMSIZ less the terminating NUL).
const MAX_IFNAME: usize = 15;
/// Characters of the network ID in the names of its dummy parent and its shim.
const NETWORK_ID_DIGITS: usize = 10;

/// How wharf came by a network's parent. Only a parent wharf created is ever deleted by
/// wharf, with the last network that uses it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParentOrigin {
    /// An interface that was on the host already.
    #[default]
    Host,
    /// An 802.1Q sub-interface wharf created on `base` (a parent named `base.id`).
    Vlan { base: String, id: u16 },
    /// A dummy link wharf created for a network with no parent (an internal network).
    Dummy,
}

/// The host's own link on the network, with its addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shim {
    pub name: String,
    pub addresses: Vec<ExtraAddress>,
}

/// A macvlan or ipvlan network's settings: where its endpoints hang, and what they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "AttachmentRecord")]
pub struct Attachment {
    pub parent: String,
    pub kind: SubLinkKind,
    pub origin: ParentOrigin,
    pub shim: Option<Shim>,
}

/// An attachment as stored: the current layout, or the first one (a macvlan network's
/// `{"parent", "mode"}`), read so that state written before ipvlan existed still loads.
#[derive(Deserialize)]
#[serde(untagged)]
enum AttachmentRecord {
    Current {
        parent: String,
        kind: SubLinkKind,
        #[serde(default)]
        origin: ParentOrigin,
        #[serde(default)]
        shim: Option<Shim>,
    },
    FirstMacvlan {
        parent: String,
        mode: MacvlanMode,
    },
}

impl From<AttachmentRecord> for Attachment {
    fn from(record: AttachmentRecord) -> Self {
        match record {
            AttachmentRecord::Current {
                parent,
                kind,
                origin,
                shim,
            } => Attachment {
                parent,
                kind,
                origin,
                shim,
            },
            AttachmentRecord::FirstMacvlan { parent, mode } => Attachment {
                parent,
                kind: SubLinkKind::Macvlan { mode },
                origin: ParentOrigin::Host,
                shim: None,
            },
        }
    }
}

/// The network's attachment, from its stored settings.
pub fn attachment(network: &Network) -> Result<Attachment> {
    serde_json::from_value(network.config.clone()).map_err(|e| {
        invalid(format!(
            "network {} has unreadable settings ({e}); remove and recreate it",
            short_id(&network.id)
        ))
    })
}

fn network_digits(network_id: &str) -> &str {
    network_id.get(..NETWORK_ID_DIGITS).unwrap_or(network_id)
}

/// `wd` + the network ID's first characters: a network's dummy parent.
pub fn dummy_name(network_id: &str) -> String {
    format!("wd{}", network_digits(network_id))
}

/// `ws` + the network ID's first characters: a network's host shim.
pub fn shim_name(network_id: &str) -> String {
    format!("ws{}", network_digits(network_id))
}

/// `eth1.30` -> ("eth1", "30"): a name that asks for an 802.1Q sub-interface.
fn vlan_name(name: &str) -> Option<(&str, &str)> {
    let (base, id) = name.rsplit_once('.')?;
    let digits = !id.is_empty() && id.chars().all(|c| c.is_ascii_digit());
    (digits && !base.is_empty()).then_some((base, id))
}

fn check_interface_name(name: &str) -> Result<()> {
    let bad = |c: char| c == '/' || c == ':' || c.is_whitespace() || c.is_control();
    if name.len() > MAX_IFNAME || name.chars().any(bad) || name == "." || name == ".." {
        return Err(invalid(format!(
            "option parent: {name:?} is not an interface name (at most {MAX_IFNAME} characters, \
             no '/', ':' or spaces)"
        )));
    }
    Ok(())
}

/// A shim reaches the containers only where sibling links talk to each other.
fn check_shim_possible(kind: SubLinkKind) -> Result<()> {
    let reason = match kind {
        SubLinkKind::Macvlan {
            mode: MacvlanMode::Private,
        }
        | SubLinkKind::Ipvlan {
            flag: IpvlanFlag::Private,
            ..
        } => "private links cannot reach each other, so the host's shim could not reach the containers",
        SubLinkKind::Macvlan {
            mode: MacvlanMode::Passthru,
        } => "passthru gives the whole parent to one container",
        _ => return Ok(()),
    };
    Err(invalid(format!(
        "option host_shim: not possible with {}: {reason}",
        kind.describe()
    )))
}

/// Daemon-wide defaults of macvlan and ipvlan networks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentDefaults {
    /// `--host-interface`: the parent of a network that names none.
    pub parent: Option<String>,
    /// The MTU of a network on a dummy parent that sets none.
    pub mtu: u32,
}

/// The parent options both modes take, parsed.
pub struct ParentOptions {
    pub parent: Option<String>,
    pub host_shim: bool,
    /// The MTU when neither the options nor a parent give one.
    pub fallback_mtu: u32,
}

impl ParentOptions {
    pub fn parse(options: &BTreeMap<String, String>, defaults: &ParentDefaults) -> Result<Self> {
        let parent = match options.get("parent").map(|p| p.trim()) {
            Some("") => {
                return Err(invalid(
                    "option parent is empty: name an interface, e.g. parent=eth1",
                ))
            }
            Some(name) => Some(name.to_owned()),
            None => defaults.parent.clone(),
        };
        let host_shim = match options.get("host_shim") {
            Some(text) => parse_bool("host_shim", text)?,
            None => false,
        };
        Ok(ParentOptions {
            parent,
            host_shim,
            fallback_mtu: defaults.mtu,
        })
    }
}

/// Decides a new network's parent: the one named (created as an 802.1Q sub-interface when it
/// is missing and named `IFACE.VID`), else, when `default_route_parent` (macvlan networks
/// that are not internal), the interface of the host's default route, else a dummy wharf
/// creates (an internal network, as with Docker's drivers). Checks the MTU against the
/// parent's (the kernel would only say EINVAL), and takes the shim's addresses.
pub fn plan(
    draft: &NetworkDraft<'_>,
    host: &dyn HostView,
    addresses: &mut dyn HostAddressPool,
    kind: SubLinkKind,
    options: &ParentOptions,
    default_route_parent: bool,
) -> Result<NetworkPlan> {
    if options.host_shim {
        check_shim_possible(kind)?;
    }
    let name = match &options.parent {
        Some(name) => Some(name.clone()),
        None if default_route_parent => Some(host.default_route_device()?.ok_or_else(|| {
            invalid(
                "no parent given and the host has no IPv4 default route: pass -o parent=IFACE \
                 (or --internal for a network on a dummy link)",
            )
        })?),
        None => None,
    };
    let (parent, origin, parent_mtu) = match name {
        None => (dummy_name(draft.id), ParentOrigin::Dummy, None),
        Some(name) => {
            check_interface_name(&name)?;
            match host.link(&name)? {
                Some(link) => {
                    let origin = if link.owned_parent {
                        made_origin(&name)
                    } else {
                        ParentOrigin::Host
                    };
                    (name, origin, Some(link.mtu))
                }
                None => {
                    let (origin, mtu) = plan_vlan(&name, host)?;
                    (name, origin, Some(mtu))
                }
            }
        }
    };
    let mtu = match (draft.mtu, parent_mtu) {
        (Some(mtu), Some(max)) if mtu > max => {
            return Err(invalid(format!(
                "option mtu: {mtu} is larger than the MTU of parent {parent} ({max}); \
                 {} links cannot exceed their parent's",
                kind.describe()
            )))
        }
        (Some(mtu), _) => mtu,
        (None, Some(max)) => max,
        (None, None) => options.fallback_mtu,
    };
    let shim = if options.host_shim {
        Some(take_shim(draft, addresses)?)
    } else {
        None
    };
    let internal = draft.internal || origin == ParentOrigin::Dummy;
    let attachment = Attachment {
        parent,
        kind,
        origin,
        shim,
    };
    Ok(NetworkPlan {
        mtu,
        internal,
        config: serde_json::to_value(&attachment)
            .map_err(|e| invalid(format!("encoding the network's settings: {e}")))?,
    })
}

/// The origin of a parent that carries wharf's mark: wharf made it, so it goes with the last
/// network that uses it; what it is, its name says.
fn made_origin(parent: &str) -> ParentOrigin {
    match vlan_name(parent).and_then(|(base, id)| Some((base, id.parse().ok()?))) {
        Some((base, id)) => ParentOrigin::Vlan {
            base: base.into(),
            id,
        },
        None => ParentOrigin::Dummy,
    }
}

/// A missing parent named `IFACE.VID`: VLAN VID on IFACE, with IFACE's MTU.
fn plan_vlan(name: &str, host: &dyn HostView) -> Result<(ParentOrigin, u32)> {
    let Some((base, id_text)) = vlan_name(name) else {
        return Err(invalid(format!(
            "parent {name} does not exist: name an existing interface with -o parent=IFACE, \
             or IFACE.VID for an 802.1Q sub-interface wharf creates"
        )));
    };
    let id = id_text
        .parse::<u16>()
        .ok()
        .filter(|id| (1..=4094).contains(id))
        .ok_or_else(|| {
            invalid(format!(
                "parent {name}: VLAN id {id_text} is outside 1-4094"
            ))
        })?;
    let base_link = host.link(base)?.ok_or_else(|| {
        invalid(format!(
            "parent {name} does not exist, and neither does {base} to create it on as VLAN {id}"
        ))
    })?;
    Ok((
        ParentOrigin::Vlan {
            base: base.into(),
            id,
        },
        base_link.mtu,
    ))
}

/// The shim's addresses: one per subnet wharf's IPAM manages.
fn take_shim(draft: &NetworkDraft<'_>, addresses: &mut dyn HostAddressPool) -> Result<Shim> {
    let mut taken = Vec::new();
    for subnet in draft.subnets {
        if let Some(address) = addresses.take(subnet)? {
            taken.push(address);
        }
    }
    if taken.is_empty() {
        return Err(invalid(
            "option host_shim needs an address for the host from wharf's IPAM: \
             create the network with --ipam-driver wharf",
        ));
    }
    Ok(Shim {
        name: shim_name(draft.id),
        addresses: taken,
    })
}

/// The network's use of its parent, for the sharing rules: an ipvlan parent carries one
/// ipvlan network (its links share one mode) and no macvlan links; a macvlan passthru parent
/// is not shared at all; other macvlan networks may share one.
pub fn claims(network: &Network) -> Vec<Claim> {
    let Ok(attachment) = attachment(network) else {
        return Vec::new();
    };
    let (family, exclusive) = match attachment.kind {
        SubLinkKind::Ipvlan { .. } => (
            "ipvlan",
            Some(
                "a parent carries one ipvlan network (its ipvlan links share one mode): \
                 use another parent, e.g. an 802.1Q sub-interface such as parent=IFACE.VID",
            ),
        ),
        SubLinkKind::Macvlan {
            mode: MacvlanMode::Passthru,
        } => (
            "macvlan",
            Some("a macvlan passthru parent cannot be shared: choose another parent"),
        ),
        SubLinkKind::Macvlan { .. } => ("macvlan", None),
    };
    vec![Claim {
        what: "parent",
        parent: attachment.parent.clone(),
        family: family.to_owned(),
        exclusive,
        describe: attachment.kind.describe(),
    }]
}

/// The parent wharf made (if it did), then the shim and its addresses.
pub fn network_objects(network: &Network) -> Result<Vec<HostObject>> {
    let attachment = attachment(network)?;
    let mut objects = Vec::new();
    let parent_kind = match &attachment.origin {
        ParentOrigin::Host => None,
        ParentOrigin::Vlan { base, id } => Some(ParentKind::Vlan {
            base: base.clone(),
            id: *id,
        }),
        ParentOrigin::Dummy => Some(ParentKind::Dummy),
    };
    if let Some(kind) = parent_kind {
        objects.push(HostObject::Parent(ParentSpec {
            name: attachment.parent.clone(),
            kind,
            mtu: network.mtu,
        }));
    }
    if let Some(shim) = &attachment.shim {
        // A link of the network's own kind (an ipvlan parent takes one mode), up.
        objects.push(HostObject::SubLink(SubLinkSpec {
            name: shim.name.clone(),
            parent: attachment.parent.clone(),
            kind: attachment.kind,
            mtu: network.mtu,
            mac: None,
            alias: format!("{SHIM_ALIAS_PREFIX}{}", network.id),
            up: true,
        }));
        objects.extend(shim.addresses.iter().map(|a| {
            HostObject::Address(HostAddress {
                address: a.address,
                device: shim.name.clone(),
            })
        }));
    }
    Ok(objects)
}

/// The endpoint's one link, named `wc` + its ID's digits, with `mac` (its own, or its
/// parent's for ipvlan).
pub fn endpoint_record(draft: &EndpointDraft<'_>, mac: String) -> Endpoint {
    let name = format!("{CONTAINER_LINK_PREFIX}{}", link_digits(draft.id));
    Endpoint {
        id: draft.id.into(),
        host_ifname: name.clone(),
        container_ifname: name,
        mac,
        primary: draft.primary.to_vec(),
        extra: draft.extra.to_vec(),
        sandbox: None,
    }
}

/// The endpoint's link (created down in the host namespace, for the runtime to move into the
/// sandbox), then routes to its addresses through the shim, if the network has one.
pub fn endpoint_objects(
    network: &Network,
    endpoint: &Endpoint,
    set_mac: bool,
) -> Result<Vec<HostObject>> {
    let attachment = attachment(network)?;
    let mac = if set_mac {
        parse_mac(&endpoint.mac)
    } else {
        None
    };
    let mut objects = vec![HostObject::SubLink(SubLinkSpec {
        name: endpoint.container_ifname.clone(),
        parent: attachment.parent.clone(),
        kind: attachment.kind,
        mtu: network.mtu,
        mac,
        alias: format!("{LINK_ALIAS_PREFIX}{}", endpoint.id),
        up: false,
    })];
    objects.extend(
        shim_routes(&attachment, endpoint)
            .into_iter()
            .map(HostObject::Route),
    );
    Ok(objects)
}

/// Routes from the host to every address of `endpoint` through the shim, from the shim's
/// address of the same family (none for a family the shim has no address in).
fn shim_routes(attachment: &Attachment, endpoint: &Endpoint) -> Vec<HostRoute> {
    let Some(shim) = &attachment.shim else {
        return Vec::new();
    };
    endpoint
        .addresses()
        .filter_map(|address| {
            let source = shim
                .addresses
                .iter()
                .map(|a| a.address)
                .find(|s| s.is_ipv6() == address.is_ipv6())?;
            Some(HostRoute {
                destination: IpNet::from(address),
                device: shim.name.clone(),
                source: Some(source),
            })
        })
        .collect()
}

/// On the parent's segment: the gateways come from IPAM and live there (a router on the
/// segment), so no connected route is needed to reach them. An internal network gets none.
pub fn join_on_segment(network: &Network, endpoint: &Endpoint) -> JoinAnswer {
    let mut answer = JoinAnswer {
        interface: endpoint.container_ifname.clone(),
        disable_gateway_service: network.internal,
        ..Default::default()
    };
    if network.internal {
        return answer;
    }
    for gateway in gateways(network, endpoint) {
        match gateway {
            IpAddr::V4(_) if answer.gateway_v4.is_none() => answer.gateway_v4 = Some(gateway),
            IpAddr::V6(_) if answer.gateway_v6.is_none() => answer.gateway_v6 = Some(gateway),
            _ => {}
        }
    }
    answer
}

/// Routed by the host (ipvlan L3/L3S): no gateway; the default routes are bound to the
/// interface, and the runtime must not add a gateway network of its own.
pub fn join_routed_by_host(network: &Network, endpoint: &Endpoint) -> JoinAnswer {
    let mut answer = JoinAnswer {
        interface: endpoint.container_ifname.clone(),
        disable_gateway_service: true,
        ..Default::default()
    };
    if network.internal {
        return answer;
    }
    for (default, v6) in [("0.0.0.0/0", false), ("::/0", true)] {
        if endpoint.addresses().any(|a| a.is_ipv6() == v6) {
            if let Ok(destination) = default.parse() {
                answer.routes.push(ContainerRoute {
                    destination,
                    next_hop: None,
                });
            }
        }
    }
    answer
}

/// `parent`, `links` and `shim` lines for `wharf status`.
pub fn describe(network: &Network) -> BTreeMap<String, String> {
    let mut lines = BTreeMap::new();
    let Ok(attachment) = attachment(network) else {
        return lines;
    };
    let parent = match &attachment.origin {
        ParentOrigin::Host => attachment.parent.clone(),
        ParentOrigin::Vlan { base, id } => {
            format!("{} (VLAN {id} on {base}, made by wharf)", attachment.parent)
        }
        ParentOrigin::Dummy => format!("{} (dummy, made by wharf)", attachment.parent),
    };
    lines.insert("parent".into(), parent);
    lines.insert("links".into(), attachment.kind.describe());
    if let Some(shim) = &attachment.shim {
        let addresses: Vec<String> = shim
            .addresses
            .iter()
            .map(|a| a.address.to_string())
            .collect();
        lines.insert(
            "shim".into(),
            format!("{} {}", shim.name, addresses.join(", ")),
        );
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::{IpvlanMode, MacvlanMode};

    #[test]
    fn vlan_names() {
        assert_eq!(vlan_name("eth1.30"), Some(("eth1", "30")));
        assert_eq!(vlan_name("bond0.1.40"), Some(("bond0.1", "40")));
        assert_eq!(vlan_name("eth1"), None);
        assert_eq!(vlan_name("eth1."), None);
        assert_eq!(vlan_name(".30"), None);
        assert_eq!(vlan_name("eth1.3a"), None);
        assert!(check_interface_name("eth1.30").is_ok());
        assert!(check_interface_name("a-very-long-name.30").is_err());
        assert!(check_interface_name("eth/1").is_err());
        assert_eq!(
            made_origin("eth1.30"),
            ParentOrigin::Vlan {
                base: "eth1".into(),
                id: 30
            }
        );
        assert_eq!(made_origin("wd0123456789"), ParentOrigin::Dummy);
    }

    #[test]
    fn version_one_attachments_still_load() {
        let first = r#"{"parent": "eth1", "mode": "vepa"}"#;
        let attachment: Attachment = serde_json::from_str(first).unwrap();
        assert_eq!(
            attachment.kind,
            SubLinkKind::Macvlan {
                mode: MacvlanMode::Vepa
            }
        );
        assert_eq!(attachment.origin, ParentOrigin::Host);
        let current = Attachment {
            parent: "eth1.30".into(),
            kind: SubLinkKind::Ipvlan {
                mode: IpvlanMode::L3,
                flag: IpvlanFlag::Private,
            },
            origin: ParentOrigin::Vlan {
                base: "eth1".into(),
                id: 30,
            },
            shim: None,
        };
        let text = serde_json::to_string(&current).unwrap();
        assert_eq!(
            text,
            r#"{"parent":"eth1.30","kind":{"ipvlan":{"mode":"l3","flag":"private"}},"origin":{"vlan":{"base":"eth1","id":30}},"shim":null}"#
        );
        assert_eq!(serde_json::from_str::<Attachment>(&text).unwrap(), current);
    }
}
