//! After a restart (or a crash), make the kernel match the state: restore the parents, shims
//! and host routes wharf's networks and endpoints need, delete wharf-owned links and routes
//! nothing needs, and redo the host-wide settings. Only objects carrying wharf's marks (link
//! alias, route protocol) are ever removed.

use std::collections::BTreeSet;

use super::state::{short_id, Mode, State};
use super::{Engine, Result};
use crate::dataplane::{
    HostRoute, KernelSnapshot, ParentSpec, ProxyNeighbour, SandboxAddresses, SubLinkSpec,
    LINK_ALIAS_PREFIX, PARENT_ALIAS,
};
use crate::modes::{routed, sublink};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReconcilePlan {
    pub delete_links: Vec<String>,
    /// Parents wharf made that are gone (after a reboot, say), to make again.
    pub create_parents: Vec<ParentSpec>,
    /// Shims that are gone, to make again (after the parents).
    pub create_shims: Vec<SubLinkSpec>,
    pub restore_routes: Vec<HostRoute>,
    pub remove_routes: Vec<HostRoute>,
    pub ensure_proxies: Vec<ProxyNeighbour>,
    /// Endpoints whose host link is gone (their container side went with it); they stay in
    /// the state until Docker deletes them, so their addresses are not handed out again.
    pub endpoints_without_link: Vec<String>,
    /// Host-wide forwarding: None when no network exists, else whether IPv6 is needed.
    pub forwarding: Option<bool>,
}

pub fn plan(state: &State, kernel: &KernelSnapshot) -> ReconcilePlan {
    let mut plan = ReconcilePlan::default();
    let existing_links: BTreeSet<&str> =
        kernel.owned_links.iter().map(|l| l.name.as_str()).collect();
    let mut wanted_links = BTreeSet::new();
    let mut wanted_parents = BTreeSet::new();
    let mut wanted_routes = BTreeSet::new();
    let mut create_parents = BTreeSet::new();
    for network in state.networks.values() {
        if let Some(attachment) = &network.attachment {
            // A wharf-marked parent a network uses is kept, whatever the network recorded.
            wanted_parents.insert(attachment.parent.as_str());
            if let Some(spec) = sublink::parent_spec(network, attachment) {
                if !existing_links.contains(spec.name.as_str()) {
                    create_parents.insert(spec);
                }
            }
            if let Some(shim) = &attachment.shim {
                let spec = sublink::shim_spec(network, attachment, shim);
                if !existing_links.contains(spec.name.as_str()) {
                    plan.create_shims.push(spec.clone());
                }
                wanted_links.insert(spec.alias);
                for endpoint in network.endpoints.values() {
                    wanted_routes.extend(sublink::shim_routes(attachment, endpoint));
                }
            }
        }
        for endpoint in network.endpoints.values() {
            let alias = format!("{LINK_ALIAS_PREFIX}{}", endpoint.id);
            if network.mode != Mode::Routed {
                // A macvlan endpoint's one link is in its sandbox while joined, and in the
                // host namespace (ours to keep) only before: nothing to restore either way.
                wanted_links.insert(alias);
                continue;
            }
            if !existing_links.contains(endpoint.host_ifname.as_str()) {
                plan.endpoints_without_link.push(endpoint.id.clone());
                continue;
            }
            wanted_links.insert(alias);
            wanted_routes.extend(routed::host_routes(endpoint));
            plan.ensure_proxies
                .extend(routed::proxy_neighbours(network, endpoint).0);
        }
    }
    plan.create_parents = create_parents.into_iter().collect();
    plan.delete_links = kernel
        .owned_links
        .iter()
        .filter(|l| !wanted_links.contains(&l.alias))
        .filter(|l| !(l.alias == PARENT_ALIAS && wanted_parents.contains(l.name.as_str())))
        .map(|l| l.name.clone())
        .collect();
    let doomed: BTreeSet<&str> = plan.delete_links.iter().map(String::as_str).collect();
    let present: BTreeSet<&HostRoute> = kernel.owned_routes.iter().collect();
    plan.restore_routes = wanted_routes
        .iter()
        .filter(|r| !present.contains(r))
        .cloned()
        .collect();
    // Routes on links about to be deleted go with them.
    plan.remove_routes = kernel
        .owned_routes
        .iter()
        .filter(|r| !wanted_routes.contains(*r) && !doomed.contains(r.device.as_str()))
        .cloned()
        .collect();
    let mut routed = state
        .networks
        .values()
        .filter(|n| n.mode == Mode::Routed)
        .peekable();
    if routed.peek().is_some() {
        plan.forwarding = Some(routed.any(|n| n.ipv6));
    }
    plan
}

impl Engine {
    /// Reconciles the kernel with the state; returns what was done, and the extra-address
    /// work of joined endpoints (to redo in the background: it is idempotent).
    pub fn reconcile(&self) -> Result<(ReconcilePlan, Vec<SandboxAddresses>)> {
        let state = self.snapshot_state();
        let kernel = self.dataplane.snapshot()?;
        let mut plan = plan(&state, &kernel);
        for link in &plan.delete_links {
            tracing::warn!(link = %link, "deleting a wharf link no endpoint needs");
            self.dataplane.delete_link(link)?;
        }
        // A parent or shim that cannot be made again (its base interface is gone, say) is
        // reported, not fatal: the daemon still serves every other network.
        for parent in &plan.create_parents {
            tracing::warn!(link = %parent.name, "making the missing parent again");
            if let Err(e) = self.dataplane.create_parent(parent) {
                tracing::error!(link = %parent.name, error = %e, "could not make the parent again");
            }
        }
        for shim in &plan.create_shims {
            tracing::warn!(link = %shim.name, "making the missing host shim again");
            if let Err(e) = self.dataplane.create_sub_link(shim) {
                tracing::error!(link = %shim.name, error = %e, "could not make the shim again");
                plan.restore_routes.retain(|r| r.device != shim.name);
            }
        }
        if !plan.restore_routes.is_empty() {
            tracing::warn!(routes = ?plan.restore_routes, "restoring missing host routes");
            self.dataplane.ensure_routes(&plan.restore_routes)?;
        }
        if !plan.remove_routes.is_empty() {
            tracing::warn!(routes = ?plan.remove_routes, "removing wharf routes no endpoint needs");
            self.dataplane.remove_routes(&plan.remove_routes)?;
        }
        self.dataplane
            .ensure_proxy_neighbours(&plan.ensure_proxies)?;
        match plan.forwarding {
            Some(ipv6) => self.dataplane.ensure_forwarding(ipv6)?,
            None => self.dataplane.release_forwarding()?,
        }
        for id in &plan.endpoints_without_link {
            tracing::warn!(
                endpoint = short_id(id),
                "endpoint's link is gone; keeping its addresses until Docker deletes it"
            );
        }
        let work = state
            .networks
            .values()
            .flat_map(|n| n.endpoints.values().map(move |e| (n, e)))
            .filter(|(_, e)| !plan.endpoints_without_link.contains(&e.id))
            .filter_map(|(n, e)| self.sandbox_work(n, e, e.sandbox.as_deref()?))
            .collect();
        Ok((plan, work))
    }
}
