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
    /// How routes spread, from the kernel's view (the running daemon only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<RoutingStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingStatus {
    /// `bgp` (wharf's speaker) or `external` (a daemon beside wharf).
    pub routing: String,
    /// The table of wharf's routes: `main` or its number.
    pub table: String,
    /// wharf's routes the kernel has, which a daemon exporting kernel routes announces.
    pub exported: usize,
    /// Endpoint routes wharf should have in the kernel and does not.
    pub missing: usize,
    /// Programs listening to the kernel's route changes: a routing daemon among them has
    /// seen every exported route (it reads the table when it starts, then each change).
    /// None when they could not be read.
    pub readers: Option<Vec<crate::dataplane::RouteReader>>,
    /// Routes of others into wharf's networks' subnets: containers on other hosts, as a
    /// routing daemon (or a hand) installed them.
    pub learned: Vec<LearnedRouteStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearnedRouteStatus {
    pub route: String,
    /// Its protocol's name (ospf, bgp, bird, ...) or number.
    pub protocol: String,
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
    /// Addresses of the endpoint that routes learned from a peer or a daemon lead elsewhere
    /// too: another host uses them.
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
        routing: None,
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
                    "    CONFLICT {address}: a route leads to it on another host too (a routing peer or daemon learned it there)"
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
    if let Some(routing) = &report.routing {
        render_routing(&mut out, routing);
    }
    out
}

/// Learned routes listed one per line; more are counted (`--json` has them all).
const LEARNED_SHOWN: usize = 20;

fn render_routing(out: &mut String, routing: &RoutingStatus) {
    use std::fmt::Write;
    let who = match routing.routing.as_str() {
        "bgp" => "wharf's BGP speaker announces this host's containers (`wharf bgp routes`)",
        _ => "a routing daemon beside wharf exports wharf's kernel routes",
    };
    let _ = writeln!(out, "routing {}: {who}", routing.routing);
    let missing = match routing.missing {
        0 => String::new(),
        n => format!(", {n} MISSING"),
    };
    let _ = writeln!(
        out,
        "  exported {} routes in table {}{missing}",
        routing.exported, routing.table
    );
    match routing.readers.as_deref() {
        None => {}
        Some([]) => {
            let _ = writeln!(
                out,
                "  read by no program: nothing listens to the kernel's route changes, so no \
                 routing daemon has these routes"
            );
        }
        Some(readers) => {
            let names: Vec<String> = readers
                .iter()
                .map(|r| format!("{} (pid {})", r.program, r.pid))
                .collect();
            let _ = writeln!(
                out,
                "  read by {} (listening to the kernel's route changes)",
                names.join(", ")
            );
        }
    }
    if routing.learned.is_empty() {
        let _ = writeln!(out, "  learned no routes into wharf's subnets");
        return;
    }
    let _ = writeln!(
        out,
        "  learned {} routes into wharf's subnets (containers elsewhere):",
        routing.learned.len()
    );
    for route in routing.learned.iter().take(LEARNED_SHOWN) {
        let _ = writeln!(out, "    {} ({})", route.route, route.protocol);
    }
    if routing.learned.len() > LEARNED_SHOWN {
        let _ = writeln!(
            out,
            "    and {} more (wharf status --json lists them all)",
            routing.learned.len() - LEARNED_SHOWN
        );
    }
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
        report.routing = Some(self.routing_status(&state, &report, kernel.as_deref()));
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

    fn routing_status(
        &self,
        state: &State,
        report: &StatusReport,
        kernel: Option<&[HostRoute]>,
    ) -> RoutingStatus {
        let routes = &self.dataplane.routes;
        let table = match routes.route_table() {
            254 => "main".to_owned(),
            other => other.to_string(),
        };
        let readers = routes
            .route_readers()
            .inspect_err(|error| tracing::warn!(%error, "status: could not read route listeners"))
            .ok();
        let subnets: Vec<ipnet::IpNet> =
            state.networks.values().flat_map(|n| n.prefixes()).collect();
        let learned = routes
            .foreign_routes(&subnets)
            .inspect_err(|error| tracing::warn!(%error, "status: could not read learned routes"))
            .unwrap_or_default()
            .into_iter()
            .map(|r| {
                let mut route = r.destination.to_string();
                if let Some(via) = r.via {
                    route.push_str(&format!(" via {via}"));
                }
                if let Some(device) = &r.device {
                    route.push_str(&format!(" dev {device}"));
                }
                let protocol = match r.protocol {
                    crate::dataplane::DEFAULT_LEARNED_PROTOCOL => "wharf bgp".to_owned(),
                    other => crate::dataplane::route_protocol_name(other)
                        .map_or_else(|| other.to_string(), str::to_owned),
                };
                LearnedRouteStatus { route, protocol }
            })
            .collect();
        let missing = report
            .networks
            .iter()
            .flat_map(|n| &n.endpoints)
            .flat_map(|e| &e.routes)
            .filter(|r| r.present == Some(false))
            .count();
        RoutingStatus {
            routing: self.config.routing.name().to_owned(),
            table,
            exported: kernel.map_or(0, <[HostRoute]>::len),
            missing,
            readers,
            learned,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::RouteReader;

    fn routing(readers: Option<Vec<RouteReader>>, learned: usize) -> StatusReport {
        StatusReport {
            source: "daemon".into(),
            networks: Vec::new(),
            pools: Vec::new(),
            routing: Some(RoutingStatus {
                routing: "external".into(),
                table: "main".into(),
                exported: 3,
                missing: 1,
                readers,
                learned: (0..learned)
                    .map(|i| LearnedRouteStatus {
                        route: format!("10.90.2.{i}/32 via 198.51.100.12 dev eth0"),
                        protocol: "ospf".into(),
                    })
                    .collect(),
            }),
        }
    }

    #[test]
    fn the_routing_lines_say_what_is_exported_who_reads_it_and_what_came_from_elsewhere() {
        let zebra = RouteReader {
            pid: 41,
            program: "zebra".into(),
        };
        let text = render(&routing(Some(vec![zebra]), 2));
        for line in [
            "routing external: a routing daemon beside wharf exports wharf's kernel routes",
            "  exported 3 routes in table main, 1 MISSING",
            "  read by zebra (pid 41) (listening to the kernel's route changes)",
            "  learned 2 routes into wharf's subnets (containers elsewhere):",
            "    10.90.2.1/32 via 198.51.100.12 dev eth0 (ospf)",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
        }
        let text = render(&routing(Some(Vec::new()), 0));
        assert!(text.contains("read by no program"), "{text}");
        assert!(text.contains("learned no routes"), "{text}");
        let text = render(&routing(None, LEARNED_SHOWN + 5));
        assert!(
            !text.contains("read by"),
            "unknown readers say nothing: {text}"
        );
        assert!(text.contains("and 5 more"), "{text}");
    }
}
