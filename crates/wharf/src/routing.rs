//! Multi-host routing through the embedded BGP speaker (crate `wharf-bgp`, which knows
//! nothing of Docker): the addresses the engine says are reachable here are announced as
//! host prefixes (/32, /128), withdrawn when they go; the routes the speaker chooses among its
//! peers' are installed in the kernel ([`LearnedRoutes`], `proto 88`). Learned routes a
//! previous run left are kept forwarding while the sessions come back, and those no peer
//! sent again go once every peer has sent its whole table (End-of-RIB), or after
//! `STALE_AFTER`. Peers are told of such a restart (graceful restart's Restart and
//! Forwarding State bits), and keep this host's routes meanwhile.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use wharf_bgp::peer::Transport;
use wharf_bgp::policy::{PeerExport, PeerImport};
use wharf_bgp::rib::RouteChange;
use wharf_bgp::speaker::{
    AddressSource, InterfaceAddresses, PeerSpec, RefreshOutcome, RouteSink, Speaker, SpeakerConfig,
};
use wharf_bgp::wire::{Afi, Safi};

use crate::dataplane::{LearnedChange, LearnedRoutes};
use crate::engine::Engine;
use crate::model::{Advertise, Event};

/// How long learned routes of a previous run stay before they must have been learned again.
const STALE_AFTER: Duration = Duration::from_secs(120);

#[derive(Debug, Clone)]
pub struct BgpSettings {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    pub peers: Vec<PeerSettings>,
    pub port: u16,
    pub connect_retry: Duration,
}

/// One neighbour, as `--bgp-peer` or a `[[bgp.peer]]` table gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSettings {
    pub address: IpAddr,
    pub asn: u32,
    pub password: Option<String>,
    pub hold_time: u16,
    pub passive: bool,
    /// The restart time offered (seconds); None: graceful restart not offered.
    pub graceful_restart: Option<u16>,
    pub ttl_security: bool,
    pub allow_default: bool,
    pub import: Vec<wharf_bgp::policy::PrefixFilter>,
    pub export: Vec<wharf_bgp::policy::PrefixFilter>,
    pub communities: Vec<wharf_bgp::wire::Community>,
    pub max_prefixes: Option<usize>,
}

impl PeerSettings {
    /// A peer with every default: hold time 90, graceful restart offered (120 s).
    pub fn new(address: IpAddr, asn: u32) -> PeerSettings {
        PeerSettings {
            address,
            asn,
            password: None,
            hold_time: 90,
            passive: false,
            graceful_restart: Some(STALE_AFTER.as_secs() as u16),
            ttl_security: false,
            allow_default: false,
            import: Vec::new(),
            export: Vec::new(),
            communities: Vec::new(),
            max_prefixes: None,
        }
    }
}

/// Every address a local container uses, as a host prefix, whatever its network announces: a
/// learned route for one must never replace the container's own host route.
type LocalHosts = Arc<std::sync::Mutex<BTreeSet<IpNet>>>;

/// The speaker's choices, into the kernel; the host prefixes among them to the engine,
/// whose IPAM must not give out an address a container elsewhere uses.
struct KernelRoutes {
    learned: Arc<dyn LearnedRoutes>,
    local: LocalHosts,
    engine: Arc<Engine>,
    /// Prefixes whose chosen route was not installed, a local container using the address:
    /// their next change replaces nothing in the kernel, whatever the speaker had chosen.
    withheld: HashSet<IpNet>,
}

impl RouteSink for KernelRoutes {
    fn apply(&mut self, changes: &[RouteChange]) {
        note_remote_hosts(
            &self.engine,
            changes.iter().map(|c| (c.prefix, !c.next_hops.is_empty())),
        );
        let local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        let routes: Vec<LearnedChange> = changes
            .iter()
            .map(|c| {
                let replaced = if self.withheld.remove(&c.prefix) {
                    Vec::new()
                } else {
                    c.replaced.clone()
                };
                let conflict = local.contains(&c.prefix) && !c.next_hops.is_empty();
                let next_hops = if conflict {
                    tracing::warn!(prefix = %c.prefix,
                        "a peer routes an address a local container uses: not installed");
                    self.withheld.insert(c.prefix);
                    Vec::new()
                } else {
                    c.next_hops.clone()
                };
                LearnedChange {
                    prefix: c.prefix,
                    next_hops,
                    replaced,
                }
            })
            .collect();
        drop(local);
        let started = std::time::Instant::now();
        if let Err(error) = self.learned.apply_learned(&routes) {
            tracing::error!(%error, "installing learned routes failed");
        }
        tracing::debug!(routes = routes.len(), took = ?started.elapsed(), "learned routes written");
    }
}

/// The host's addresses beside a session's own, from the kernel: the next hop of the other
/// family's prefixes on that session.
struct KernelAddresses(Arc<dyn LearnedRoutes>);

impl InterfaceAddresses for KernelAddresses {
    fn beside(&self, local: IpAddr) -> Vec<IpAddr> {
        self.0.addresses_beside(local).unwrap_or_else(|error| {
            tracing::warn!(%local, %error, "cannot read the addresses beside a session's");
            Vec::new()
        })
    }
}

/// How often the kernel is asked whether it dropped learned routes (it removes the nexthop
/// objects of a device that goes down, and the routes through them, without a word to
/// wharf); the speaker then gives every route again.
const LOST_ROUTES_CHECK: Duration = Duration::from_secs(2);

async fn restore_lost_routes(learned: Arc<dyn LearnedRoutes>, speaker: Speaker) {
    let mut ticks = tokio::time::interval(LOST_ROUTES_CHECK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let learned = learned.clone();
        match tokio::task::spawn_blocking(move || learned.learned_routes_lost()).await {
            Ok(Ok(true)) => speaker.reapply_routes(),
            Ok(Ok(false)) => {}
            Ok(Err(error)) => tracing::warn!(%error, "checking the learned routes' next hops"),
            Err(_) => return,
        }
    }
}

/// Starts the speaker and the tasks that feed it; call inside the runtime.
pub async fn start(
    settings: &BgpSettings,
    engine: &Arc<Engine>,
    learned: Arc<dyn LearnedRoutes>,
) -> Result<Speaker, String> {
    let mut protected = learned
        .host_addresses()
        .map_err(|e| format!("reading the host's addresses: {e}"))?;
    protected.push(IpAddr::V4(settings.router_id));
    let kept = learned.learned_routes().unwrap_or_default();
    // A restart, not a fresh start, when the kernel still forwards what the last run set
    // up: its learned routes, or (reconciled by now) its containers' routes. Peers are told
    // so, and keep this host's routes until it has sent them again.
    let has_endpoints = engine
        .state()
        .networks
        .values()
        .any(|n| !n.endpoints.is_empty());
    let restarted = !kept.is_empty() || has_endpoints;
    let config = SpeakerConfig {
        asn: settings.asn,
        router_id: settings.router_id,
        port: settings.port,
        listen: true,
        peers: settings
            .peers
            .iter()
            .map(|peer| PeerSpec {
                address: peer.address,
                asn: peer.asn,
                passive: peer.passive,
                hold_time: peer.hold_time,
                connect_retry: settings.connect_retry,
                graceful_restart: peer.graceful_restart,
                import: PeerImport {
                    allow_default: peer.allow_default,
                    only: peer.import.clone(),
                },
                export: PeerExport {
                    only: peer.export.clone(),
                    communities: peer.communities.clone(),
                },
                transport: Transport {
                    password: peer.password.clone(),
                    ttl_security: peer.ttl_security,
                },
                max_prefixes: peer.max_prefixes,
            })
            .collect(),
        protected,
        restarted,
        interface_addresses: Some(AddressSource(Arc::new(KernelAddresses(learned.clone())))),
    };
    // Routes kept from a previous run still lead to containers elsewhere.
    note_remote_hosts(engine, kept.iter().map(|r| (r.prefix, true)));
    let local = LocalHosts::default();
    let sink = KernelRoutes {
        learned: learned.clone(),
        local: local.clone(),
        engine: engine.clone(),
        withheld: HashSet::new(),
    };
    let speaker = Speaker::start(config, Box::new(sink))
        .await
        .map_err(|e| format!("starting BGP on port {}: {e}", settings.port))?;
    tracing::info!(asn = settings.asn, router_id = %settings.router_id,
        peers = settings.peers.len(), kept = kept.len(), restarted, "BGP speaker started");
    tokio::spawn(announce(engine.subscribe(), speaker.clone(), local));
    tokio::spawn(restore_lost_routes(learned.clone(), speaker.clone()));
    if !kept.is_empty() {
        speaker.keep_until_relearned(kept.into_iter().map(|r| r.prefix).collect(), STALE_AFTER);
    }
    Ok(speaker)
}

/// Tells the engine which host prefixes (/32, /128) peers now route here (true) or no
/// longer do (false).
fn note_remote_hosts(engine: &Engine, changes: impl Iterator<Item = (IpNet, bool)>) {
    let (mut learned, mut gone) = (Vec::new(), Vec::new());
    for (prefix, routed) in changes {
        if prefix.prefix_len() != prefix.max_prefix_len() {
            continue;
        }
        if routed {
            learned.push(prefix.addr());
        } else {
            gone.push(prefix.addr());
        }
    }
    if !learned.is_empty() || !gone.is_empty() {
        engine.note_remote_hosts(&learned, &gone);
    }
}

/// Host prefixes of addresses.
fn host_prefixes(addresses: &[IpNet]) -> Vec<IpNet> {
    addresses.iter().map(|a| IpNet::from(a.addr())).collect()
}

/// What this host announces, kept from the engine's events: each network's `advertise`
/// (host: its endpoints' addresses; subnet: its prefixes; none: nothing).
#[derive(Debug, Default)]
struct Announcements {
    advertise: HashMap<String, Advertise>,
    /// The blocks each advertise=subnet network announced: withdrawn as they were, since
    /// a network's pool (and so its block) can be gone before the network is.
    blocks: HashMap<String, Vec<IpNet>>,
    announced: BTreeSet<IpNet>,
}

impl Announcements {
    /// What to withdraw and what to announce for one event.
    fn apply(&mut self, event: Event) -> (Vec<IpNet>, Vec<IpNet>) {
        match event {
            Event::Snapshot {
                networks,
                endpoints,
            } => {
                self.advertise = networks
                    .iter()
                    .map(|n| (n.network.clone(), n.advertise))
                    .collect();
                self.blocks = networks
                    .iter()
                    .filter(|n| n.advertise == Advertise::Subnet)
                    .map(|n| (n.network.clone(), n.blocks.clone()))
                    .collect();
                let mut now: BTreeSet<IpNet> = networks
                    .iter()
                    .filter(|n| n.advertise == Advertise::Subnet)
                    .flat_map(|n| n.blocks.iter().copied())
                    .collect();
                now.extend(
                    endpoints
                        .iter()
                        .filter(|e| self.advertised_per_host(&e.network))
                        .flat_map(|e| host_prefixes(&e.addresses)),
                );
                let gone = self.announced.difference(&now).copied().collect();
                let fresh = now.difference(&self.announced).copied().collect();
                self.announced = now;
                (gone, fresh)
            }
            Event::NetworkAdded(network) => {
                self.advertise
                    .insert(network.network.clone(), network.advertise);
                if network.advertise != Advertise::Subnet {
                    return (Vec::new(), Vec::new());
                }
                let fresh: Vec<IpNet> = network.blocks.clone();
                self.blocks.insert(network.network.clone(), fresh.clone());
                self.announced.extend(fresh.iter().copied());
                (Vec::new(), fresh)
            }
            Event::NetworkRemoved(network) => {
                self.advertise.remove(&network.network);
                if network.advertise != Advertise::Subnet {
                    return (Vec::new(), Vec::new());
                }
                let gone = self.blocks.remove(&network.network).unwrap_or_default();
                for prefix in &gone {
                    self.announced.remove(prefix);
                }
                (gone, Vec::new())
            }
            Event::AddressesAdded(endpoint) if self.advertised_per_host(&endpoint.network) => {
                let fresh = host_prefixes(&endpoint.addresses);
                self.announced.extend(fresh.iter().copied());
                (Vec::new(), fresh)
            }
            Event::AddressesRemoved(endpoint) if self.advertised_per_host(&endpoint.network) => {
                let gone = host_prefixes(&endpoint.addresses);
                for prefix in &gone {
                    self.announced.remove(prefix);
                }
                (gone, Vec::new())
            }
            Event::AddressesAdded(_) | Event::AddressesRemoved(_) => (Vec::new(), Vec::new()),
        }
    }

    fn advertised_per_host(&self, network: &str) -> bool {
        self.advertise.get(network).copied().unwrap_or_default() == Advertise::Host
    }
}

/// Follows the engine's events into announcements and withdrawals.
async fn announce(
    mut events: tokio::sync::mpsc::UnboundedReceiver<Event>,
    speaker: Speaker,
    local: LocalHosts,
) {
    let mut state = Announcements::default();
    while let Some(event) = events.recv().await {
        track_local(&local, &event);
        let (gone, fresh) = state.apply(event);
        if !gone.is_empty() {
            speaker.withdraw(gone);
        }
        if !fresh.is_empty() {
            speaker.announce(fresh);
        }
    }
}

/// Keeps the set of local containers' host prefixes in step with the events.
fn track_local(local: &LocalHosts, event: &Event) {
    let mut local = local.lock().unwrap_or_else(|e| e.into_inner());
    match event {
        Event::Snapshot { endpoints, .. } => {
            *local = endpoints
                .iter()
                .flat_map(|e| host_prefixes(&e.addresses))
                .collect();
        }
        Event::AddressesAdded(e) => local.extend(host_prefixes(&e.addresses)),
        Event::AddressesRemoved(e) => {
            for prefix in host_prefixes(&e.addresses) {
                local.remove(&prefix);
            }
        }
        Event::NetworkAdded(_) | Event::NetworkRemoved(_) => {}
    }
}

/// One line of `wharf bgp neighbors`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NeighborReport {
    pub address: IpAddr,
    pub asn: u32,
    /// RFC 4271's name of the session's state (`Established`, `Active`, ...).
    pub state: String,
    pub uptime_secs: Option<u64>,
    pub received: usize,
    pub accepted: usize,
    pub advertised: usize,
    pub last_error: Option<String>,
}

/// One prefix of `wharf bgp routes`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RouteReport {
    pub prefix: IpNet,
    /// (peer, next hop) of each path.
    pub paths: Vec<(IpAddr, IpAddr)>,
    /// The next hops installed in the kernel (the best paths).
    pub installed: Vec<IpAddr>,
    /// A local container uses this address: the route is not installed, and one of the two
    /// hosts is misconfigured.
    #[serde(default)]
    pub conflict: bool,
}

pub async fn neighbors(speaker: &Speaker) -> Vec<NeighborReport> {
    speaker
        .neighbors()
        .await
        .into_iter()
        .map(|n| NeighborReport {
            address: n.address,
            asn: n.asn,
            state: n.state.to_string(),
            uptime_secs: n.uptime.map(|u| u.as_secs()),
            received: n.received,
            accepted: n.accepted,
            advertised: n.advertised,
            last_error: n.last_error,
        })
        .collect()
}

pub async fn routes(speaker: &Speaker, engine: &Engine) -> Vec<RouteReport> {
    speaker
        .routes()
        .await
        .into_iter()
        .map(|r| {
            let host = r.prefix.prefix_len() == r.prefix.max_prefix_len();
            let conflict = host && engine.uses_address(r.prefix.addr());
            RouteReport {
                prefix: r.prefix,
                paths: r.paths,
                installed: if conflict { Vec::new() } else { r.chosen },
                conflict,
            }
        })
        .collect()
}

/// What `wharf bgp refresh` asks for: one peer, or (none) every peer.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefreshRequest {
    #[serde(default)]
    pub peer: Option<IpAddr>,
}

/// One line of `wharf bgp refresh`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefreshLine {
    pub peer: IpAddr,
    pub outcome: RefreshResult,
    /// The families a ROUTE-REFRESH went for ("IPv4 unicast", ...), when sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub families: Vec<String>,
    /// The session's state, when it is not Established.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefreshResult {
    Sent,
    NotEstablished,
    /// The peer did not offer the Route Refresh capability: it must not be sent one.
    NoCapability,
}

/// Asks the speaker to refresh `peer` (or every peer). A peer it does not have is an
/// error that names the ones it has.
pub async fn refresh(speaker: &Speaker, peer: Option<IpAddr>) -> Result<Vec<RefreshLine>, String> {
    let mut lines = Vec::new();
    for report in speaker.refresh(peer).await {
        let (outcome, families, state) = match report.outcome {
            RefreshOutcome::Sent(families) => (
                RefreshResult::Sent,
                families.iter().map(family_name).collect(),
                None,
            ),
            RefreshOutcome::NotEstablished(state) => (
                RefreshResult::NotEstablished,
                Vec::new(),
                Some(state.to_string()),
            ),
            RefreshOutcome::NoCapability => (RefreshResult::NoCapability, Vec::new(), None),
            RefreshOutcome::UnknownPeer => {
                let known: Vec<String> = speaker
                    .neighbors()
                    .await
                    .iter()
                    .map(|n| n.address.to_string())
                    .collect();
                return Err(format!(
                    "{} is not a BGP peer of this wharf (its peers: {}): name one of those, or \
                     add it (--bgp-peer ADDRESS@ASN or a [[bgp.peer]] table) and restart wharf serve",
                    report.peer,
                    known.join(", ")
                ));
            }
        };
        lines.push(RefreshLine {
            peer: report.peer,
            outcome,
            families,
            state,
        });
    }
    Ok(lines)
}

fn family_name(&(afi, safi): &(Afi, Safi)) -> String {
    format!("{afi} {safi}")
}

pub fn render_refresh(lines: &[RefreshLine]) -> String {
    let mut out = String::new();
    for line in lines {
        let what = match line.outcome {
            RefreshResult::Sent if line.families.is_empty() => {
                "nothing to ask: the session carries neither IPv4 nor IPv6 unicast".to_string()
            }
            RefreshResult::Sent => format!("ROUTE-REFRESH sent for {}", line.families.join(", ")),
            RefreshResult::NotEstablished => format!(
                "not sent: the session is {}, not Established (a new session brings every route)",
                line.state.as_deref().unwrap_or("down")
            ),
            RefreshResult::NoCapability => "not sent: the peer did not offer the Route Refresh \
                capability (RFC 2918); only a new session brings its routes again"
                .to_string(),
        };
        out.push_str(&format!("{:<40} {what}\n", line.peer));
    }
    if lines.is_empty() {
        out.push_str("no BGP peers configured\n");
    }
    out
}

pub fn render_neighbors(neighbors: &[NeighborReport]) -> String {
    let mut out = format!(
        "{:<40} {:>10} {:<12} {:>9} {:>8} {:>8} {:>10}  {}\n",
        "neighbor", "AS", "state", "up", "received", "accepted", "advertised", "last error"
    );
    for n in neighbors {
        let up = n
            .uptime_secs
            .map(|s| format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60))
            .unwrap_or_else(|| "never".into());
        out.push_str(&format!(
            "{:<40} {:>10} {:<12} {:>9} {:>8} {:>8} {:>10}  {}\n",
            n.address,
            n.asn,
            n.state,
            up,
            n.received,
            n.accepted,
            n.advertised,
            n.last_error.as_deref().unwrap_or("-")
        ));
    }
    out
}

pub fn render_routes(routes: &[RouteReport]) -> String {
    let mut out = String::new();
    for r in routes {
        let conflict = if r.conflict {
            "  CONFLICT: a local container uses this address; not installed"
        } else {
            ""
        };
        out.push_str(&format!("{}{conflict}\n", r.prefix));
        for (peer, hop) in &r.paths {
            let mark = if r.installed.contains(hop) { "*" } else { " " };
            out.push_str(&format!("  {mark} via {hop} from {peer}\n"));
        }
    }
    if routes.is_empty() {
        out.push_str("no routes learned\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EndpointAddresses, NetworkPrefixes};

    fn network(id: &str, prefix: &str, advertise: Advertise) -> NetworkPrefixes {
        NetworkPrefixes {
            network: id.into(),
            mode: "routed".into(),
            prefixes: vec![prefix.parse().unwrap()],
            blocks: vec![prefix.parse().unwrap()],
            advertise,
        }
    }

    fn endpoint(network: &str, address: &str) -> EndpointAddresses {
        EndpointAddresses {
            network: network.into(),
            endpoint: format!("ep-{address}"),
            addresses: vec![address.parse().unwrap()],
            link: "wh0".into(),
        }
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|p| p.parse().unwrap()).collect()
    }

    #[test]
    fn each_network_is_announced_as_it_asks() {
        let mut a = Announcements::default();
        let (gone, fresh) = a.apply(Event::Snapshot {
            networks: vec![
                network("h", "10.60.0.0/24", Advertise::Host),
                network("s", "10.61.0.0/24", Advertise::Subnet),
                network("n", "10.65.0.0/24", Advertise::None),
            ],
            endpoints: vec![
                endpoint("h", "10.60.0.7/24"),
                endpoint("s", "10.61.0.7/24"),
                endpoint("n", "10.65.0.7/24"),
            ],
        });
        assert!(gone.is_empty());
        assert_eq!(fresh, nets(&["10.60.0.7/32", "10.61.0.0/24"]));
        assert_eq!(
            a.apply(Event::AddressesAdded(endpoint("n", "10.65.0.8/24"))),
            (vec![], vec![]),
            "advertise=none announces nothing"
        );
        assert_eq!(
            a.apply(Event::AddressesAdded(endpoint("s", "10.61.0.8/24"))),
            (vec![], vec![]),
            "a subnet is announced once, not per container"
        );
        assert_eq!(
            a.apply(Event::AddressesRemoved(endpoint("h", "10.60.0.7/24"))),
            (nets(&["10.60.0.7/32"]), vec![])
        );
        assert_eq!(
            a.apply(Event::NetworkRemoved(network(
                "s",
                "10.61.0.0/24",
                Advertise::Subnet
            ))),
            (nets(&["10.61.0.0/24"]), vec![])
        );
        // A new snapshot (after reconciliation) withdraws what is no longer there.
        let (gone, fresh) = a.apply(Event::Snapshot {
            networks: vec![network("h", "10.60.0.0/24", Advertise::Host)],
            endpoints: vec![],
        });
        assert!(gone.is_empty() && fresh.is_empty(), "{gone:?} {fresh:?}");
    }

    #[test]
    fn refresh_lines_say_what_happened_to_each_peer() {
        let line = |peer: &str, outcome, families: &[&str], state: Option<&str>| RefreshLine {
            peer: peer.parse().unwrap(),
            outcome,
            families: families.iter().map(|f| f.to_string()).collect(),
            state: state.map(String::from),
        };
        let text = render_refresh(&[
            line(
                "198.51.100.254",
                RefreshResult::Sent,
                &["IPv4 unicast", "IPv6 unicast"],
                None,
            ),
            line(
                "198.51.100.253",
                RefreshResult::NotEstablished,
                &[],
                Some("Active"),
            ),
            line("198.51.100.252", RefreshResult::NoCapability, &[], None),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("198.51.100.254 ")
                && lines[0].ends_with("ROUTE-REFRESH sent for IPv4 unicast, IPv6 unicast"),
            "{text}"
        );
        assert!(
            lines[1].contains("not sent: the session is Active"),
            "{text}"
        );
        assert!(
            lines[2].contains("did not offer the Route Refresh capability"),
            "{text}"
        );
        assert_eq!(render_refresh(&[]), "no BGP peers configured\n");
        assert_eq!(family_name(&(Afi::IPV6, Safi::UNICAST)), "IPv6 unicast");
        assert_eq!(family_name(&(Afi(25), Safi(70))), "AFI 25 SAFI 70");
    }

    #[test]
    fn a_subnet_spanning_hosts_is_announced_as_this_hosts_block() {
        let mut a = Announcements::default();
        let mut spanning = network("s", "10.61.0.0/16", Advertise::Subnet);
        spanning.blocks = nets(&["10.61.2.0/24"]);
        assert_eq!(
            a.apply(Event::NetworkAdded(spanning.clone())),
            (vec![], nets(&["10.61.2.0/24"]))
        );
        // Docker released the pool first: the event no longer knows the block.
        spanning.blocks = nets(&["10.61.0.0/16"]);
        assert_eq!(
            a.apply(Event::NetworkRemoved(spanning)),
            (nets(&["10.61.2.0/24"]), vec![])
        );
    }
}
