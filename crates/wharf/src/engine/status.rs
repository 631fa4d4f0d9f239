//! `wharf status`: networks, endpoints, addresses and host routes, from the running daemon
//! (with each route checked against the kernel) or from the state file.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::state::{Attachment, ParentOrigin, State};
use crate::dataplane::{HostRoute, KernelSnapshot};
use crate::modes::{routed, sublink};

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
    pub mode: String,
    pub mtu: u32,
    pub internal: bool,
    pub ipv6: bool,
    pub subnets: Vec<String>,
    /// macvlan/ipvlan: the parent, and whether wharf made it (`eth1.30 (VLAN 30 on eth1,
    /// made by wharf)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// macvlan/ipvlan: the links' kind and mode (`ipvlan l3 bridge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<String>,
    /// The host shim and its addresses, if the network has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shim: Option<String>,
    pub endpoints: Vec<EndpointStatus>,
}

fn describe_parent(attachment: &Attachment) -> String {
    match &attachment.origin {
        ParentOrigin::Host => attachment.parent.clone(),
        ParentOrigin::Vlan { base, id } => {
            format!("{} (VLAN {id} on {base}, made by wharf)", attachment.parent)
        }
        ParentOrigin::Dummy => format!("{} (dummy, made by wharf)", attachment.parent),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointStatus {
    pub id: String,
    pub link: String,
    pub addresses: Vec<String>,
    pub sandbox: Option<String>,
    pub routes: Vec<RouteStatus>,
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
    pub allocated: Vec<String>,
}

pub fn report(state: &State, source: &str, kernel: Option<&KernelSnapshot>) -> StatusReport {
    let present: Option<BTreeSet<&HostRoute>> = kernel.map(|k| k.owned_routes.iter().collect());
    let networks = state
        .networks
        .values()
        .map(|n| NetworkStatus {
            id: n.id.clone(),
            mode: n.mode.name().into(),
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
            parent: n.attachment.as_ref().map(describe_parent),
            links: n.attachment.as_ref().map(|a| a.kind.describe()),
            shim: n
                .attachment
                .as_ref()
                .and_then(|a| a.shim.as_ref())
                .map(|shim| {
                    let addresses: Vec<String> = shim
                        .addresses
                        .iter()
                        .map(|a| a.address.to_string())
                        .collect();
                    format!("{} {}", shim.name, addresses.join(", "))
                }),
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
                    routes: match &n.attachment {
                        Some(attachment) => sublink::shim_routes(attachment, e),
                        None => routed::host_routes(e),
                    }
                    .into_iter()
                    .map(|r| RouteStatus {
                        route: match r.source {
                            Some(source) => {
                                format!("{} dev {} src {source}", r.destination, r.device)
                            }
                            None => format!("{} dev {}", r.destination, r.device),
                        },
                        present: present.as_ref().map(|p| p.contains(&r)),
                    })
                    .collect(),
                })
                .collect(),
        })
        .collect();
    let pools = state
        .pools
        .values()
        .map(|p| PoolStatus {
            id: p.id.clone(),
            subnet: p.subnet.to_string(),
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
            "network {} mode {} mtu {}{flags}",
            super::state::short_id(&n.id),
            n.mode,
            n.mtu
        );
        for s in &n.subnets {
            let _ = writeln!(out, "  subnet {s}");
        }
        if let (Some(parent), Some(links)) = (&n.parent, &n.links) {
            let _ = writeln!(out, "  parent {parent}, {links} links");
        }
        if let Some(shim) = &n.shim {
            let _ = writeln!(out, "  host shim {shim}");
        }
        for e in &n.endpoints {
            let _ = writeln!(
                out,
                "  endpoint {} link {} addresses {}{}",
                super::state::short_id(&e.id),
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
        }
    }
    for p in &report.pools {
        let _ = writeln!(
            out,
            "pool {} allocated: {}",
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
