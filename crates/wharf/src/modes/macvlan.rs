//! macvlan mode: each container gets its own MAC address on the parent's segment, as with
//! Docker's built-in macvlan driver (same option names). Networks may share a parent, except
//! in passthru mode, where the parent serves one network and one container.

use std::collections::BTreeMap;

use super::parent::{self, ParentDefaults, ParentOptions};
use super::{
    format_mac, invalid, mac_for, EndpointDraft, HostAddressPool, HostView, JoinAnswer,
    NetworkDraft, NetworkMode, NetworkPlan, NewEndpoint, Reachable, Result,
};
use crate::dataplane::{HostObject, MacvlanMode, SubLinkKind};
use crate::model::{short_id, Endpoint, Network};

pub struct Macvlan {
    defaults: ParentDefaults,
}

impl Macvlan {
    pub fn new(defaults: ParentDefaults) -> Macvlan {
        Macvlan { defaults }
    }
}

pub fn parse_macvlan_mode(text: &str) -> Result<MacvlanMode> {
    match text {
        "bridge" => Ok(MacvlanMode::Bridge),
        "private" => Ok(MacvlanMode::Private),
        "vepa" => Ok(MacvlanMode::Vepa),
        "passthru" => Ok(MacvlanMode::Passthru),
        other => Err(invalid(format!(
            "option macvlan_mode: {other:?} is not a macvlan mode; use bridge, private, vepa or passthru"
        ))),
    }
}

fn is_passthru(network: &Network) -> bool {
    parent::attachment(network).is_ok_and(|a| {
        a.kind
            == SubLinkKind::Macvlan {
                mode: MacvlanMode::Passthru,
            }
    })
}

impl NetworkMode for Macvlan {
    fn name(&self) -> &'static str {
        "macvlan"
    }

    fn option_keys(&self) -> &'static [&'static str] {
        &["parent", "macvlan_mode", "host_shim"]
    }

    fn plan_network(
        &self,
        draft: &NetworkDraft<'_>,
        host: &dyn HostView,
        addresses: &mut dyn HostAddressPool,
    ) -> Result<NetworkPlan> {
        let mode = match draft.options.get("macvlan_mode") {
            Some(text) => parse_macvlan_mode(text)?,
            None => MacvlanMode::Bridge,
        };
        let options = ParentOptions::parse(draft.options, &self.defaults)?;
        // Like Docker's macvlan driver: no parent means the default route's interface, unless
        // the network is internal (then a dummy).
        let default_route_parent = !draft.internal;
        let kind = SubLinkKind::Macvlan { mode };
        parent::plan(draft, host, addresses, kind, &options, default_route_parent)
    }

    fn claims(&self, network: &Network) -> Vec<super::Claim> {
        parent::claims(network)
    }

    fn network_objects(&self, network: &Network) -> Result<Vec<HostObject>> {
        parent::network_objects(network)
    }

    fn new_endpoint(
        &self,
        network: &Network,
        draft: &EndpointDraft<'_>,
        _host: &dyn HostView,
    ) -> Result<NewEndpoint> {
        if is_passthru(network) && !network.endpoints.is_empty() {
            return Err(invalid(format!(
                "macvlan passthru network {} already has a container: passthru gives the whole parent to one",
                short_id(&network.id)
            )));
        }
        let mac = draft.mac.unwrap_or_else(|| mac_for(draft.id));
        Ok(NewEndpoint {
            endpoint: parent::endpoint_record(draft, format_mac(mac)),
            report_mac: draft.mac.is_none().then_some(mac),
        })
    }

    fn endpoint_objects(&self, network: &Network, endpoint: &Endpoint) -> Result<Vec<HostObject>> {
        parent::endpoint_objects(network, endpoint, true)
    }

    fn join(&self, network: &Network, endpoint: &Endpoint) -> Result<JoinAnswer> {
        Ok(parent::join_on_segment(network, endpoint))
    }

    /// The parent's segment carries the containers' addresses: nothing to announce per
    /// address.
    fn reachable(&self, _network: &Network, _endpoint: &Endpoint) -> Option<Reachable> {
        None
    }

    fn describe(&self, network: &Network) -> BTreeMap<String, String> {
        parent::describe(network)
    }
}
