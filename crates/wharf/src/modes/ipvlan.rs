//! ipvlan mode (L2, L3, L3S), as with Docker's built-in ipvlan driver (same option names).
//! The links carry their parent's MAC. L2 switches on the parent's segment, with the IPAM
//! gateway as a router there. L3 and L3S route: no gateway, the container's default route is
//! bound to its interface and the host's routing table carries its traffic; a neighbour on
//! the segment that routes the subnet via this host reaches the containers (the ipvlan driver
//! delivers by destination address, so no host route is needed; with `--routing external`
//! each address gets one on the parent all the same, for the routing daemon to export). A parent
//! carries one ipvlan network (its links share one mode) and no macvlan links.

use std::collections::BTreeMap;

use ipnet::IpNet;
use serde_json::Value;

use super::parent::{self, ParentDefaults, ParentOptions};
use super::{
    format_mac, invalid, EndpointDraft, HostAddressPool, HostView, JoinAnswer, NetworkDraft,
    NetworkMode, NetworkPlan, NewEndpoint, Reachable, Result,
};
use crate::dataplane::{HostObject, HostRoute, IpvlanFlag, IpvlanMode, SubLinkKind};
use crate::model::{short_id, Endpoint, Network};

pub struct Ipvlan {
    defaults: ParentDefaults,
    /// `ipvlan_mode` of networks that set none (the ipvlan plugin's `--mode`).
    default_mode: IpvlanMode,
    /// Whether L3 containers get a host route on their parent: a routing daemon beside wharf
    /// (`--routing external`) exports kernel routes, and the ipvlan driver needs none itself.
    export_routes: bool,
}

impl Ipvlan {
    pub fn new(defaults: ParentDefaults, default_mode: IpvlanMode, export_routes: bool) -> Ipvlan {
        Ipvlan {
            defaults,
            default_mode,
            export_routes,
        }
    }

    /// `ADDRESS/32 dev PARENT` (and /128) for each of an L3 endpoint's addresses, for a
    /// routing daemon to find: the host's own traffic to them does not work without a shim
    /// either way (the parent does not hand it to its ipvlan links), and with a shim the
    /// shim's routes are there already. Nothing for `advertise=none`.
    fn exported_routes(&self, network: &Network, endpoint: &Endpoint) -> Result<Vec<HostObject>> {
        if !self.export_routes
            || !routes_itself(network)
            || self.advertise(network) == crate::model::Advertise::None
        {
            return Ok(Vec::new());
        }
        let attachment = parent::attachment(network)?;
        if attachment.shim.is_some() {
            return Ok(Vec::new());
        }
        Ok(endpoint
            .addresses()
            .map(|address| {
                HostObject::Route(HostRoute {
                    destination: IpNet::from(address),
                    device: attachment.parent.clone(),
                    source: None,
                })
            })
            .collect())
    }
}

pub fn parse_ipvlan_mode(text: &str) -> Result<IpvlanMode> {
    match text {
        "l2" => Ok(IpvlanMode::L2),
        "l3" => Ok(IpvlanMode::L3),
        "l3s" => Ok(IpvlanMode::L3s),
        other => Err(invalid(format!(
            "option ipvlan_mode: {other:?} is not an ipvlan mode; use l2, l3 or l3s"
        ))),
    }
}

pub fn parse_ipvlan_flag(text: &str) -> Result<IpvlanFlag> {
    match text {
        "bridge" => Ok(IpvlanFlag::Bridge),
        "private" => Ok(IpvlanFlag::Private),
        "vepa" => Ok(IpvlanFlag::Vepa),
        other => Err(invalid(format!(
            "option ipvlan_flag: {other:?} is not an ipvlan flag; use bridge, private or vepa"
        ))),
    }
}

/// Whether the network's links route (L3, L3S) rather than switch.
fn routes_itself(network: &Network) -> bool {
    parent::attachment(network)
        .is_ok_and(|a| matches!(a.kind, SubLinkKind::Ipvlan { mode, .. } if mode.routes()))
}

impl NetworkMode for Ipvlan {
    fn name(&self) -> &'static str {
        "ipvlan"
    }

    fn option_keys(&self) -> &'static [&'static str] {
        &[
            "parent",
            "ipvlan_mode",
            "ipvlan_flag",
            "host_shim",
            super::ADVERTISE,
        ]
    }

    fn plan_network(
        &self,
        draft: &NetworkDraft<'_>,
        host: &dyn HostView,
        addresses: &mut dyn HostAddressPool,
    ) -> Result<NetworkPlan> {
        let mode = match draft.options.get("ipvlan_mode") {
            Some(text) => parse_ipvlan_mode(text)?,
            None => self.default_mode,
        };
        let flag = match draft.options.get("ipvlan_flag") {
            Some(text) => parse_ipvlan_flag(text)?,
            None => IpvlanFlag::Bridge,
        };
        let advertise = match draft.options.get(super::ADVERTISE) {
            Some(value) => Some(super::parse_advertise(value)?),
            None => None,
        };
        if advertise.is_some_and(|a| a != "none") && !mode.routes() {
            return Err(super::invalid(
                "option advertise: an ipvlan l2 network's containers are on the parent's \
                 segment, not routed through this host; use ipvlan_mode=l3 or l3s to announce them",
            ));
        }
        let options = ParentOptions::parse(draft.options, &self.defaults)?;
        // Like Docker's ipvlan driver: no parent means an internal network on a dummy.
        let kind = SubLinkKind::Ipvlan { mode, flag };
        let mut plan = parent::plan(draft, host, addresses, kind, &options, false)?;
        if let (Some(advertise), Value::Object(config)) = (advertise, &mut plan.config) {
            config.insert(super::ADVERTISE.into(), Value::from(advertise));
        }
        Ok(plan)
    }

    /// L3 and L3S containers are reached through this host: their addresses are announced
    /// unless the network says otherwise; L2 ones are on the segment.
    fn advertise(&self, network: &Network) -> crate::model::Advertise {
        if !routes_itself(network) {
            return crate::model::Advertise::None;
        }
        super::stored_advertise(network, crate::model::Advertise::Host)
    }

    /// L3 and L3S route the containers' traffic with no gateway.
    fn uses_gateways(&self, options: &BTreeMap<String, String>) -> Result<bool> {
        let mode = match options.get("ipvlan_mode") {
            Some(text) => parse_ipvlan_mode(text)?,
            None => self.default_mode,
        };
        Ok(!mode.routes())
    }

    fn claims(&self, network: &Network) -> Vec<super::Claim> {
        parent::claims(network)
    }

    fn network_objects(&self, network: &Network) -> Result<Vec<HostObject>> {
        parent::network_objects(network)
    }

    /// ipvlan links carry their parent's MAC: there is none of the endpoint's own to honour
    /// or hand back. The link is found in the sandbox by the parent's MAC and its address,
    /// which only extra addresses need.
    fn new_endpoint(
        &self,
        network: &Network,
        draft: &EndpointDraft<'_>,
        host: &dyn HostView,
    ) -> Result<NewEndpoint> {
        if let Some(mac) = draft.mac {
            return Err(invalid(format!(
                "ipvlan network {} cannot take MAC address {}: ipvlan links share \
                 their parent's MAC; drop --mac-address, or use mode=macvlan",
                short_id(&network.id),
                format_mac(mac)
            )));
        }
        let parent_mac = if draft.extra.is_empty() {
            String::new()
        } else {
            let attachment = parent::attachment(network)?;
            let mac = host
                .link(&attachment.parent)?
                .and_then(|link| link.mac)
                .ok_or_else(|| {
                    invalid(format!(
                        "parent {} is gone or has no MAC",
                        attachment.parent
                    ))
                })?;
            format_mac(mac)
        };
        Ok(NewEndpoint {
            endpoint: parent::endpoint_record(draft, parent_mac),
            report_mac: None,
        })
    }

    fn endpoint_objects(&self, network: &Network, endpoint: &Endpoint) -> Result<Vec<HostObject>> {
        let mut objects = parent::endpoint_objects(network, endpoint, false)?;
        objects.extend(self.exported_routes(network, endpoint)?);
        Ok(objects)
    }

    fn join(&self, network: &Network, endpoint: &Endpoint) -> Result<JoinAnswer> {
        Ok(if routes_itself(network) {
            parent::join_routed_by_host(network, endpoint)
        } else {
            parent::join_on_segment(network, endpoint)
        })
    }

    /// L3/L3S containers are reached through this host's parent; L2 ones are on the segment.
    fn reachable(&self, network: &Network, endpoint: &Endpoint) -> Option<Reachable> {
        if !routes_itself(network) {
            return None;
        }
        let attachment = parent::attachment(network).ok()?;
        Some(Reachable {
            link: attachment.parent,
            addresses: endpoint.addresses().map(IpNet::from).collect(),
        })
    }

    fn links_share_mac(&self, _network: &Network) -> bool {
        true
    }

    fn describe(&self, network: &Network) -> BTreeMap<String, String> {
        parent::describe(network)
    }
}
