//! After a restart (or a crash), make the kernel match the state, the same way for every
//! mode: make again the network objects that are gone (a parent or shim after a reboot),
//! restore the addresses and routes of links that exist, delete wharf-marked links and
//! routes nothing needs, take away the proxy NDP entries earlier versions made, and redo the
//! host-wide settings. Only objects carrying wharf's marks (link alias, route protocol) are
//! ever removed.

use std::collections::{BTreeMap, BTreeSet};

use super::networks::forwarding_needed;
use super::{Draft, Engine, Result};
use crate::dataplane::{
    HostAddress, HostObject, HostRoute, OwnedBridge, OwnedLink, PortKind, PortSpec,
    SandboxAddresses, LINK_ALIAS_PREFIX, PARENT_ALIAS,
};
use crate::model::{short_id, Change, State};
use crate::modes::ModeRegistry;
use crate::store::Durability;

/// What the kernel has, as far as reconciliation needs to know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelView {
    /// Links carrying wharf's alias.
    pub owned_links: Vec<OwnedLink>,
    /// The names of all links.
    pub links: BTreeSet<String>,
    /// Routes with wharf's protocol number.
    pub owned_routes: Vec<HostRoute>,
    /// wharf's Open vSwitch bridges and ports; None when ovsdb-server could not be asked
    /// (Open vSwitch objects are then left as they are).
    pub switches: Option<Vec<OwnedBridge>>,
}

impl KernelView {
    fn has_bridge(&self, name: &str) -> Option<bool> {
        let switches = self.switches.as_ref()?;
        Some(switches.iter().any(|b| b.name == name))
    }

    fn has_port(&self, spec: &PortSpec) -> Option<bool> {
        let switches = self.switches.as_ref()?;
        Some(switches.iter().any(|b| {
            b.name == spec.bridge
                && b.ports
                    .iter()
                    .any(|p| p.name == spec.name && p.vlan == spec.vlan && p.kind == spec.kind)
        }))
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReconcilePlan {
    pub delete_links: Vec<String>,
    /// Network objects that are gone (parents, shims and their addresses), to make again.
    pub make: Vec<HostObject>,
    /// Addresses of links that exist (idempotent: present ones stay).
    pub ensure_addresses: Vec<HostAddress>,
    pub restore_routes: Vec<HostRoute>,
    pub remove_routes: Vec<HostRoute>,
    /// Routed host ends, whose proxy NDP entries (made by earlier versions) go.
    pub clear_proxies_on: Vec<String>,
    /// Links an unfinished change meant to make (intents) that exist and nothing needs: they
    /// go, unless someone else's alias shows they are not what wharf made.
    pub unfinished_links: Vec<String>,
    /// The intents to end once those links are gone.
    pub ended_intents: Vec<String>,
    /// Endpoints whose host link is gone (their container side went with it); they stay in
    /// the state until the runtime deletes them, so their addresses are not handed out again.
    pub endpoints_without_link: Vec<String>,
    /// Host-wide forwarding: None when no network needs it, else whether IPv6 too.
    pub forwarding: Option<bool>,
    /// wharf's Open vSwitch bridges nothing needs (their ports go with them).
    pub delete_bridges: Vec<String>,
    /// wharf's ports (bridge, port) nothing needs, or that differ from what is needed, on
    /// bridges that stay.
    pub delete_ports: Vec<(String, String)>,
    /// Gateway ports that are there as they should be, made again all the same (it changes
    /// nothing in the database) so that their links are up before their routes go back.
    pub ensure_ports: Vec<HostObject>,
}

pub fn plan(modes: &ModeRegistry, state: &State, kernel: &KernelView) -> Result<ReconcilePlan> {
    let mut plan = ReconcilePlan::default();
    let mut wanted_aliases = BTreeSet::new();
    let mut wanted_parents = BTreeSet::new();
    let mut wanted_routes = BTreeSet::new();
    let mut made: BTreeSet<String> = BTreeSet::new();
    let mut wanted_bridges = BTreeSet::new();
    let mut wanted_ports: BTreeSet<(String, String)> = BTreeSet::new();
    let exists =
        |name: &str, made: &BTreeSet<String>| kernel.links.contains(name) || made.contains(name);
    for network in state.networks.values() {
        let Some(mode) = modes.get(&network.mode) else {
            continue; // refused when the engine loaded
        };
        for object in mode.network_objects(network)? {
            match &object {
                HostObject::Parent(spec) => {
                    wanted_parents.insert(spec.name.clone());
                    if !exists(&spec.name, &made) {
                        made.insert(spec.name.clone());
                        plan.make.push(object);
                    }
                }
                HostObject::SubLink(spec) => {
                    wanted_aliases.insert(spec.alias.clone());
                    if !exists(&spec.name, &made) {
                        made.insert(spec.name.clone());
                        plan.make.push(object);
                    }
                }
                HostObject::Veth(spec) => {
                    wanted_aliases.insert(spec.alias.clone());
                }
                HostObject::Address(address) => {
                    if made.contains(&address.device) {
                        plan.make.push(object);
                    } else if kernel.links.contains(&address.device) {
                        plan.ensure_addresses.push(address.clone());
                    }
                }
                HostObject::Route(route) => {
                    wanted_routes.insert(route.clone());
                    // On a link made again: its routes too, whatever the old link, about to
                    // go (a switch's port replaced), still had.
                    if made.contains(&route.device) {
                        plan.make.push(object);
                    }
                }
                HostObject::Bridge(spec) => {
                    wanted_bridges.insert(spec.name.clone());
                    if kernel.has_bridge(&spec.name) == Some(false)
                        && made.insert(spec.name.clone())
                    {
                        plan.make.push(object);
                    }
                }
                HostObject::SwitchPort(spec) => {
                    wanted_ports.insert((spec.bridge.clone(), spec.name.clone()));
                    // An uplink that is gone cannot be a port again until it is back.
                    let attachable = spec.kind != PortKind::System || exists(&spec.name, &made);
                    let internal = matches!(spec.kind, PortKind::Internal { .. });
                    match kernel.has_port(spec) {
                        Some(false) if attachable => {
                            if internal {
                                made.insert(spec.name.clone());
                            }
                            if !plan.make.contains(&object) {
                                plan.make.push(object);
                            }
                        }
                        Some(true) if internal => plan.ensure_ports.push(object),
                        _ => {}
                    }
                }
            }
        }
        for endpoint in network.endpoints.values() {
            let objects = mode.endpoint_objects(network, endpoint)?;
            let mut lost = false;
            for object in objects {
                match object {
                    // The container side went with a routed host end: never made again.
                    HostObject::Veth(spec) => {
                        if kernel.links.contains(&spec.host_ifname) {
                            wanted_aliases.insert(spec.alias);
                            plan.clear_proxies_on.push(spec.host_ifname);
                        } else {
                            lost = true;
                            plan.endpoints_without_link.push(endpoint.id.clone());
                        }
                    }
                    // A macvlan/ipvlan endpoint's one link is in its sandbox while joined, and
                    // in the host namespace (ours to keep) only before: nothing to restore.
                    HostObject::SubLink(spec) => {
                        wanted_aliases.insert(spec.alias);
                    }
                    HostObject::Parent(spec) => {
                        wanted_parents.insert(spec.name);
                    }
                    HostObject::Bridge(spec) => {
                        wanted_bridges.insert(spec.name);
                    }
                    HostObject::SwitchPort(spec) if !lost => {
                        wanted_ports.insert((spec.bridge.clone(), spec.name.clone()));
                        if kernel.has_port(&spec) == Some(false) {
                            plan.make.push(HostObject::SwitchPort(spec));
                        }
                    }
                    HostObject::Address(address) if !lost => {
                        if kernel.links.contains(&address.device) {
                            plan.ensure_addresses.push(address);
                        }
                    }
                    HostObject::Route(route) if !lost => {
                        wanted_routes.insert(route);
                    }
                    HostObject::Address(_) | HostObject::Route(_) | HostObject::SwitchPort(_) => {}
                }
            }
        }
    }
    plan.delete_links = kernel
        .owned_links
        .iter()
        .filter(|l| !wanted_aliases.contains(&l.alias))
        .filter(|l| !(l.alias == PARENT_ALIAS && wanted_parents.contains(&l.name)))
        .map(|l| l.name.clone())
        .collect();
    for bridge in kernel.switches.iter().flatten() {
        if !wanted_bridges.contains(&bridge.name) {
            plan.delete_bridges.push(bridge.name.clone());
            continue;
        }
        for port in &bridge.ports {
            let key = (bridge.name.clone(), port.name.clone());
            let made_again = plan.make.iter().any(|o| {
                matches!(o, HostObject::SwitchPort(p) if p.bridge == bridge.name && p.name == port.name)
            });
            // A port whose settings differ is deleted and made again.
            if !wanted_ports.contains(&key) || made_again {
                plan.delete_ports.push(key);
            }
        }
    }
    // Links of every network and endpoint the state has, by name, to keep.
    let mut kept: BTreeSet<String> = wanted_parents.clone();
    for network in state.networks.values() {
        let Some(mode) = modes.get(&network.mode) else {
            continue;
        };
        kept.extend(super::intents::links_made(&mode.network_objects(network)?));
        for endpoint in network.endpoints.values() {
            kept.extend(super::intents::links_made(
                &mode.endpoint_objects(network, endpoint)?,
            ));
        }
    }
    for (owner, links) in &state.intents {
        plan.ended_intents.push(owner.clone());
        plan.unfinished_links.extend(
            links
                .iter()
                .filter(|l| kernel.links.contains(*l) && !kept.contains(*l))
                .filter(|l| !plan.delete_links.contains(l))
                .cloned(),
        );
    }
    let doomed: BTreeSet<&str> = plan.delete_links.iter().map(String::as_str).collect();
    let present: BTreeSet<&HostRoute> = kernel.owned_routes.iter().collect();
    plan.restore_routes = wanted_routes
        .iter()
        .filter(|r| !present.contains(r) && exists(&r.device, &made))
        .cloned()
        .collect();
    // Routes on links about to be deleted go with them.
    plan.remove_routes = kernel
        .owned_routes
        .iter()
        .filter(|r| !wanted_routes.contains(*r) && !doomed.contains(r.device.as_str()))
        .cloned()
        .collect();
    Ok(plan)
}

impl Engine {
    /// wharf's Open vSwitch objects, or None when ovsdb-server cannot be asked: a host
    /// without Open vSwitch is normal, and one whose ovsdb-server is down must still serve
    /// its other networks (reported when the state has Open vSwitch networks).
    fn owned_switch_objects(&self, state: &State) -> Option<Vec<OwnedBridge>> {
        match self.dataplane.switches.owned_switch_objects() {
            Ok(owned) => Some(owned),
            Err(error) => {
                let uses_ovs = state.networks.values().any(|n| {
                    self.mode_of(n).is_ok_and(|m| {
                        m.network_objects(n)
                            .is_ok_and(|o| o.iter().any(|o| matches!(o, HostObject::Bridge(_))))
                    })
                });
                if uses_ovs {
                    tracing::error!(%error, "cannot reconcile Open vSwitch bridges and ports");
                } else {
                    tracing::debug!(%error, "no Open vSwitch to reconcile");
                }
                None
            }
        }
    }

    /// Puts wharf's Open vSwitch bridges and ports back as the state has them (after
    /// ovsdb-server came back, its database maybe wiped), with the gateway ports' addresses
    /// and routes, and deletes its rows nothing needs; returns how many objects it made or
    /// deleted. Runs while the daemon serves: endpoints being made or taken away (busy) are
    /// left to the calls doing it, and nothing but Open vSwitch objects is touched.
    pub fn reconcile_switches(&self) -> Result<usize> {
        let _one_at_a_time = self.network_ops.lock().unwrap_or_else(|e| e.into_inner());
        let (mut state, busy) = {
            let core = self.lock();
            (core.state.clone(), core.busy.clone())
        };
        let ids: Vec<String> = state.networks.keys().cloned().collect();
        for id in ids {
            if let Some(network) = state.networks.get_mut(&id) {
                for endpoint in &busy {
                    network.endpoints.remove(endpoint);
                }
            }
        }
        let kernel = KernelView {
            owned_links: Vec::new(),
            links: self.dataplane.links.names()?.into_iter().collect(),
            owned_routes: self.dataplane.routes.owned_routes()?,
            switches: Some(self.dataplane.switches.owned_switch_objects()?),
        };
        let plan = plan(&self.modes, &state, &kernel)?;
        let mut changed = 0;
        for (bridge, port) in plan.delete_ports.iter().filter(|(_, p)| !busy.contains(p)) {
            tracing::warn!(%bridge, %port, "deleting a wharf Open vSwitch port nothing needs");
            self.dataplane.switches.delete_port(bridge, port)?;
            changed += 1;
        }
        for bridge in &plan.delete_bridges {
            tracing::warn!(%bridge, "deleting a wharf Open vSwitch bridge nothing needs");
            self.dataplane.switches.delete_bridge(bridge)?;
            changed += 1;
        }
        // Links the switch makes (internal ports), whose addresses and routes go with them.
        let switch_links: BTreeSet<&str> = plan
            .make
            .iter()
            .filter_map(|o| match o {
                HostObject::SwitchPort(p) if matches!(p.kind, PortKind::Internal { .. }) => {
                    Some(p.name.as_str())
                }
                _ => None,
            })
            .collect();
        let ours = |o: &&HostObject| match o {
            HostObject::Bridge(_) | HostObject::SwitchPort(_) => true,
            HostObject::Address(_) | HostObject::Route(_) => switch_links.contains(o.link()),
            _ => false,
        };
        for object in plan.make.iter().filter(ours) {
            tracing::warn!(object = %object.describe(), "making a missing Open vSwitch object again");
            if let Err(error) = self.dataplane.make(std::slice::from_ref(object)) {
                tracing::error!(object = %object.describe(), %error, "could not make it again");
            }
            changed += 1;
        }
        for object in &plan.ensure_ports {
            if let Err(error) = self.dataplane.make(std::slice::from_ref(object)) {
                tracing::error!(object = %object.describe(), %error, "could not bring it up");
            }
        }
        let routes: Vec<HostRoute> = plan
            .restore_routes
            .into_iter()
            .filter(|r| switch_links.contains(r.device.as_str()))
            .collect();
        if !routes.is_empty() {
            self.dataplane.routes.ensure_routes(&routes)?;
        }
        // A gateway port made again needs its NAT settings (route_localnet) again.
        self.sync_nat(&self.state())?;
        Ok(changed)
    }

    /// Reconciles the kernel with the state; returns what was done, and the extra-address
    /// work of joined endpoints (to redo in the background: it is idempotent).
    pub fn reconcile(&self) -> Result<(ReconcilePlan, Vec<SandboxAddresses>)> {
        let _one_at_a_time = self.network_ops.lock().unwrap_or_else(|e| e.into_inner());
        let state = self.state();
        let moved = self.dataplane.routes.settle_route_table()?;
        if moved > 0 {
            tracing::info!(
                table = self.dataplane.routes.route_table(),
                changed = moved,
                "wharf's routes and rule moved to its route table"
            );
        }
        let kernel = KernelView {
            owned_links: self.dataplane.links.owned_links()?,
            links: self.dataplane.links.names()?.into_iter().collect(),
            owned_routes: self.dataplane.routes.owned_routes()?,
            switches: self.owned_switch_objects(&state),
        };
        let mut plan = plan(&self.modes, &state, &kernel)?;
        plan.forwarding = forwarding_needed(self, &state);
        for (bridge, port) in &plan.delete_ports {
            tracing::warn!(%bridge, %port, "deleting a wharf Open vSwitch port nothing needs");
            self.dataplane.switches.delete_port(bridge, port)?;
        }
        for bridge in &plan.delete_bridges {
            tracing::warn!(%bridge, "deleting a wharf Open vSwitch bridge nothing needs");
            self.dataplane.switches.delete_bridge(bridge)?;
        }
        for link in &plan.delete_links {
            tracing::warn!(link = %link, "deleting a wharf link nothing needs");
            self.dataplane.links.delete_link(link)?;
        }
        for link in &plan.unfinished_links {
            // Made, but not yet marked when wharf stopped: unmarked, or marked as wharf's.
            let ours = self.dataplane.links.link(link)?.is_some_and(|info| {
                info.alias
                    .as_deref()
                    .is_none_or(|alias| alias.starts_with(LINK_ALIAS_PREFIX))
            });
            if ours {
                tracing::warn!(link = %link, "deleting a link an unfinished change made");
                self.dataplane.links.delete_link(link)?;
            }
        }
        if !plan.ended_intents.is_empty() {
            let mut core = self.lock();
            let mut draft = Draft::new(core.state.clone());
            for owner in &plan.ended_intents {
                draft.record(Change::IntentDone {
                    owner: owner.clone(),
                })?;
            }
            self.commit(&mut core, draft, Durability::Synced)?;
        }
        // An object that cannot be made again (its base interface is gone, say) is reported,
        // not fatal: the daemon still serves every other network.
        let mut failed: BTreeMap<String, String> = BTreeMap::new();
        for object in &plan.make {
            if failed.contains_key(object.link()) {
                continue;
            }
            tracing::warn!(object = %object.describe(), "making a missing network object again");
            if let Err(error) = self.dataplane.make(std::slice::from_ref(object)) {
                tracing::error!(object = %object.describe(), %error, "could not make it again");
                failed.insert(object.link().to_owned(), error.to_string());
            }
        }
        for object in &plan.ensure_ports {
            if let Err(error) = self.dataplane.make(std::slice::from_ref(object)) {
                tracing::error!(object = %object.describe(), %error, "could not bring it up");
                failed.insert(object.link().to_owned(), error.to_string());
            }
        }
        plan.restore_routes
            .retain(|r| !failed.contains_key(&r.device));
        plan.ensure_addresses
            .retain(|a| !failed.contains_key(&a.device));
        if !plan.ensure_addresses.is_empty() {
            self.dataplane
                .routes
                .add_addresses(&plan.ensure_addresses)?;
        }
        if !plan.restore_routes.is_empty() {
            tracing::warn!(
                routes = plan.restore_routes.len(),
                "restoring missing host routes"
            );
            // Reported, not fatal, like a network object that cannot be made again: the
            // other networks are still served.
            if let Err(error) = self.dataplane.routes.ensure_routes(&plan.restore_routes) {
                tracing::error!(%error, "could not restore every host route");
            }
        }
        if !plan.remove_routes.is_empty() {
            tracing::warn!(routes = ?plan.remove_routes, "removing wharf routes nothing needs");
            self.dataplane.routes.remove_routes(&plan.remove_routes)?;
        }
        let proxies = self
            .dataplane
            .neighbours
            .proxy_entries(&plan.clear_proxies_on)?;
        if !proxies.is_empty() {
            tracing::info!(
                entries = proxies.len(),
                "removing proxy NDP entries of an earlier wharf"
            );
            self.dataplane.neighbours.remove_proxy_entries(&proxies)?;
        }
        match plan.forwarding {
            Some(ipv6) => self.dataplane.firewall.ensure_forwarding(ipv6)?,
            None => self.dataplane.firewall.release_forwarding()?,
        }
        // The first sync replaces the whole table: whatever a crash or a hand left there goes.
        self.sync_fences(&state)?;
        self.sync_nat(&state)?;
        for id in &plan.endpoints_without_link {
            tracing::warn!(
                endpoint = short_id(id),
                "endpoint's link is gone; keeping its addresses until it is deleted"
            );
        }
        let work = state
            .endpoints()
            .filter(|(_, e)| !plan.endpoints_without_link.contains(&e.id))
            .filter_map(|(n, e)| self.sandbox_work(n, e, e.sandbox.as_deref()?))
            .collect();
        self.publish_snapshot();
        Ok((plan, work))
    }
}
