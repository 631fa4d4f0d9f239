//! `wharf status`: networks, endpoints, addresses and host routes, from what the engine knows
//! (with each route checked against the kernel when the daemon answers), or from the state
//! file.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::dataplane::{HostObject, HostRoute};
use crate::model::{short_id, State};
use crate::modes::ModeRegistry;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// "daemon" when answered by the running daemon, "state file" otherwise.
    pub source: String,
    pub networks: Vec<NetworkStatus>,
    pub pools: Vec<PoolStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkStatus {
    pub id: String,
    /// The runtime's name for it, once learned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub mode: String,
    pub mtu: u32,
    pub internal: bool,
    pub ipv6: bool,
    pub subnets: Vec<String>,
    /// What the mode says of the network: macvlan/ipvlan networks name their `parent` (and
    /// whether wharf made it), their `links` (`ipvlan l3 bridge`) and their `shim`.
    #[serde(flatten)]
    pub details: BTreeMap<String, String>,
    pub endpoints: Vec<EndpointStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointStatus {
    pub id: String,
    pub link: String,
    pub addresses: Vec<String>,
    pub sandbox: Option<String>,
    pub routes: Vec<RouteStatus>,
    /// Addresses of the endpoint that a routing peer announces too: another host uses them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteStatus {
    pub route: String,
    /// Whether the kernel has it; None when the kernel was not asked.
    pub present: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolStatus {
    pub id: String,
    pub subnet: String,
    /// The part of the subnet this host hands out (`--ip-range`, or its `--host-block`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    pub allocated: Vec<String>,
}

fn route_text(route: &HostRoute) -> String {
    match route.source {
        Some(source) => format!("{} dev {} src {source}", route.destination, route.device),
        None => format!("{} dev {}", route.destination, route.device),
    }
}

/// The report on `state`. `kernel_routes`: wharf's routes the kernel has, when it was asked.
pub fn report(
    state: &State,
    modes: &ModeRegistry,
    source: &str,
    kernel_routes: Option<&[HostRoute]>,
) -> StatusReport {
    let present: Option<BTreeSet<&HostRoute>> = kernel_routes.map(|r| r.iter().collect());
    let networks = state
        .networks
        .values()
        .map(|n| {
            let mode = modes.get(&n.mode);
            NetworkStatus {
                id: n.id.clone(),
                mode: n.mode.clone(),
                name: n.name.clone(),
                mtu: n.mtu,
                internal: n.internal,
                ipv6: n.ipv6,
                subnets: n
                    .subnets
                    .iter()
                    .map(|s| match s.gateway {
                        Some(gw) => format!("{} gateway {gw}", s.prefix),
                        None => s.prefix.to_string(),
                    })
                    .collect(),
                details: mode.map(|m| m.describe(n)).unwrap_or_default(),
                endpoints: n
                    .endpoints
                    .values()
                    .map(|e| EndpointStatus {
                        id: e.id.clone(),
                        link: e.host_ifname.clone(),
                        addresses: e
                            .primary
                            .iter()
                            .map(ToString::to_string)
                            .chain(e.extra.iter().map(|x| format!("{} (extra)", x.address)))
                            .collect(),
                        sandbox: e.sandbox.clone(),
                        routes: mode
                            .and_then(|m| m.endpoint_objects(n, e).ok())
                            .unwrap_or_default()
                            .into_iter()
                            .filter_map(|o| match o {
                                HostObject::Route(r) => Some(RouteStatus {
                                    route: route_text(&r),
                                    present: present.as_ref().map(|p| p.contains(&r)),
                                }),
                                _ => None,
                            })
                            .collect(),
                        conflicts: Vec::new(),
                    })
                    .collect(),
            }
        })
        .collect();
    let pools = state
        .pools
        .values()
        .map(|p| PoolStatus {
            id: p.id.clone(),
            subnet: p.subnet.to_string(),
            range: p.range.map(|r| r.to_string()),
            allocated: p.allocations.keys().map(ToString::to_string).collect(),
        })
        .collect();
    StatusReport {
        source: source.into(),
        networks,
        pools,
    }
}

/// The human-readable form `wharf status` prints.
pub fn render(report: &StatusReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "wharf status (from the {})", report.source);
    if report.networks.is_empty() {
        let _ = writeln!(out, "no networks");
    }
    for n in &report.networks {
        let flags = [(n.internal, " internal"), (n.ipv6, " ipv6")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, f)| *f)
            .collect::<String>();
        let _ = writeln!(
            out,
            "network {}{} mode {} mtu {}{flags}",
            short_id(&n.id),
            n.name
                .as_ref()
                .map(|name| format!(" ({name})"))
                .unwrap_or_default(),
            n.mode,
            n.mtu
        );
        for s in &n.subnets {
            let _ = writeln!(out, "  subnet {s}");
        }
        if let (Some(parent), Some(links)) = (n.details.get("parent"), n.details.get("links")) {
            let _ = writeln!(out, "  parent {parent}, {links} links");
        }
        if let Some(shim) = n.details.get("shim") {
            let _ = writeln!(out, "  host shim {shim}");
        }
        if let Some(ovs) = n.details.get("ovs") {
            let _ = writeln!(out, "  ovs {ovs}");
        }
        if let Some(accepts) = n.details.get("accepts") {
            let _ = writeln!(out, "  accepts {accepts}");
        }
        for e in &n.endpoints {
            let _ = writeln!(
                out,
                "  endpoint {} link {} addresses {}{}",
                short_id(&e.id),
                e.link,
                e.addresses.join(", "),
                if e.sandbox.is_some() { " (joined)" } else { "" }
            );
            for r in &e.routes {
                let mark = match r.present {
                    Some(true) => "",
                    Some(false) => " MISSING",
                    None => "",
                };
                let _ = writeln!(out, "    route {}{mark}", r.route);
            }
            for address in &e.conflicts {
                let _ = writeln!(
                    out,
                    "    CONFLICT {address}: a routing peer announces it too (another host uses it)"
                );
            }
        }
    }
    for p in &report.pools {
        let range = p
            .range
            .as_ref()
            .map(|r| format!(" (this host gives out {r})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "pool {}{range} allocated: {}",
            p.subnet,
            if p.allocated.is_empty() {
                "none".into()
            } else {
                p.allocated.join(", ")
            }
        );
    }
    out
}

impl super::Engine {
    /// The report on what the engine knows now, each route checked against the kernel. Reads
    /// a copy of the state (O(1)) and the kernel on a socket of its own: Docker's calls do
    /// not wait for it.
    pub fn status(&self) -> StatusReport {
        let state = self.state();
        let kernel = match self.dataplane.routes.owned_routes() {
            Ok(routes) => Some(routes),
            Err(error) => {
                tracing::warn!(%error, "status: could not read the kernel's routes");
                None
            }
        };
        let mut report = report(&state, &self.modes, "daemon", kernel.as_deref());
        let remote = self.remote_hosts();
        for network in &mut report.networks {
            let state_network = state.networks.get(&network.id);
            for endpoint in &mut network.endpoints {
                let Some(e) = state_network.and_then(|n| n.endpoints.get(&endpoint.id)) else {
                    continue;
                };
                let addresses = e.primary.iter().map(|a| a.addr());
                endpoint.conflicts = addresses
                    .chain(e.extra.iter().map(|x| x.address))
                    .filter(|a| remote.contains(*a))
                    .map(|a| a.to_string())
                    .collect();
            }
        }
        report
    }
}
