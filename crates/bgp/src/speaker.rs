//! The speaker: its peers' tasks, the listener, the prefixes this host announces, and the
//! RIB whose choices go to a [`RouteSink`] (the kernel, in wharf). One task owns all of it;
//! [`Speaker`] is the handle the embedding program talks to.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio::sync::mpsc::{
    channel, unbounded_channel, Receiver, Sender, UnboundedReceiver, UnboundedSender,
};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::changes::{ChangeBatch, FULL_BATCH};
use crate::export::{updates_for, SelfNextHop};
use crate::fsm::{GracefulOffer, Negotiated, PeerConfig, RefreshRefused, Session, State};
use crate::peer::{FromPeer, PeerTask, ToPeer, Transport};
use crate::policy::{ImportContext, PeerExport, PeerImport};
use crate::rib::{Rib, RouteChange};
use crate::wire::{Afi, Safi, Update, UpdateClass};

/// Messages from the peers' tasks the core has not taken yet. Bounded, so that while the core
/// writes a batch to the kernel a peer's task stops reading its socket and TCP slows the
/// sender, rather than decoded UPDATEs piling up in memory.
const INBOX: usize = 64;

/// Where the chosen routes go.
pub trait RouteSink: Send + 'static {
    fn apply(&mut self, changes: &[RouteChange]);
}

/// The host's addresses on the interface that carries a session's own address (that
/// address excluded or not): where this host is reached in the family the session is not
/// of, for the next hop of that family's prefixes.
pub trait InterfaceAddresses: Send + Sync {
    fn beside(&self, local: IpAddr) -> Vec<IpAddr>;
}

/// An [`InterfaceAddresses`] in a configuration.
#[derive(Clone)]
pub struct AddressSource(pub std::sync::Arc<dyn InterfaceAddresses>);

impl std::fmt::Debug for AddressSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AddressSource")
    }
}

#[derive(Debug, Clone)]
pub struct SpeakerConfig {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    /// The port peers are reached at and we listen on (179; tests use others).
    pub port: u16,
    /// Listen for peers' connections (on every address, IPv4 and IPv6).
    pub listen: bool,
    pub peers: Vec<PeerSpec>,
    /// The host's own addresses: no learned prefix may cover one.
    pub protected: Vec<IpAddr>,
    /// This speaker restarted and its forwarding state was kept (the kernel still has the
    /// routes it announced and learned): the first OPEN to each peer says so (Restart
    /// State and Forwarding State bits, RFC 4724), and the peers keep its routes meanwhile.
    pub restarted: bool,
    /// Where to find the host's other addresses beside a session's (none: each session
    /// carries only its own family's prefixes).
    pub interface_addresses: Option<AddressSource>,
}

#[derive(Debug, Clone)]
pub struct PeerSpec {
    pub address: IpAddr,
    pub asn: u32,
    pub passive: bool,
    pub hold_time: u16,
    pub connect_retry: Duration,
    /// Offer graceful restart with this restart time (seconds).
    pub graceful_restart: Option<u16>,
    pub import: PeerImport,
    pub export: PeerExport,
    /// TCP MD5 password and GTSM.
    pub transport: Transport,
    /// More accepted prefixes than this end the session (Cease, RFC 4486); None: no limit.
    pub max_prefixes: Option<usize>,
}

/// One line of `wharf bgp neighbors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighborStatus {
    pub address: IpAddr,
    pub asn: u32,
    pub state: State,
    /// How long the session has been Established.
    pub uptime: Option<Duration>,
    pub received: usize,
    pub accepted: usize,
    pub advertised: usize,
    pub last_error: Option<String>,
}

/// One prefix of `wharf bgp routes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteStatus {
    pub prefix: IpNet,
    /// (peer, next hop) of every path.
    pub paths: Vec<(IpAddr, IpAddr)>,
    /// The next hops chosen (installed).
    pub chosen: Vec<IpAddr>,
}

/// What became of asking one peer to send its routes again ([`Speaker::refresh`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshReport {
    pub peer: IpAddr,
    pub outcome: RefreshOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// A ROUTE-REFRESH went for each of these families; the peer's answer goes through
    /// import policy like any UPDATE.
    Sent(Vec<(Afi, Safi)>),
    /// The session is in this state: nothing was sent (its routes come whole when it is up).
    NotEstablished(State),
    /// The peer did not offer the Route Refresh capability, so it must not be sent one
    /// (RFC 2918 section 4): only a new session brings its routes again.
    NoCapability,
    /// No peer with this address is configured.
    UnknownPeer,
}

impl From<Result<Vec<(Afi, Safi)>, RefreshRefused>> for RefreshOutcome {
    fn from(result: Result<Vec<(Afi, Safi)>, RefreshRefused>) -> RefreshOutcome {
        match result {
            Ok(families) => RefreshOutcome::Sent(families),
            Err(RefreshRefused::NotEstablished(state)) => RefreshOutcome::NotEstablished(state),
            Err(RefreshRefused::NoCapability) => RefreshOutcome::NoCapability,
        }
    }
}

enum Command {
    Announce(Vec<IpNet>),
    Withdraw(Vec<IpNet>),
    Neighbors(oneshot::Sender<Vec<NeighborStatus>>),
    Routes(oneshot::Sender<Vec<RouteStatus>>),
    KeepUntilRelearned(Vec<IpNet>, Duration),
    Reapply,
    Refresh(Option<IpAddr>, oneshot::Sender<Vec<RefreshReport>>),
    Shutdown(oneshot::Sender<()>),
}

/// The handle: cheap to clone, every call goes to the speaker's task.
#[derive(Clone)]
pub struct Speaker {
    commands: UnboundedSender<Command>,
}

impl Speaker {
    /// Binds the listener (if asked), starts every peer and the core task.
    pub async fn start(
        config: SpeakerConfig,
        sink: Box<dyn RouteSink>,
    ) -> std::io::Result<Speaker> {
        let listener = if config.listen {
            Some(listen(&config)?)
        } else {
            None
        };
        let (commands, receiver) = unbounded_channel();
        let core = Core::new(config, sink);
        tokio::spawn(core.run(receiver, listener));
        Ok(Speaker { commands })
    }

    pub fn announce(&self, prefixes: Vec<IpNet>) {
        let _ = self.commands.send(Command::Announce(prefixes));
    }

    pub fn withdraw(&self, prefixes: Vec<IpNet>) {
        let _ = self.commands.send(Command::Withdraw(prefixes));
    }

    pub async fn neighbors(&self) -> Vec<NeighborStatus> {
        let (tx, rx) = oneshot::channel();
        let _ = self.commands.send(Command::Neighbors(tx));
        rx.await.unwrap_or_default()
    }

    pub async fn routes(&self) -> Vec<RouteStatus> {
        let (tx, rx) = oneshot::channel();
        let _ = self.commands.send(Command::Routes(tx));
        rx.await.unwrap_or_default()
    }

    /// Asks `peer`, or every configured peer, to send its routes again (RFC 2918), so they
    /// pass the import policy anew; a path that comes back unchanged changes nothing in the
    /// sink. One report per peer, in address order; a peer not configured gets
    /// [`RefreshOutcome::UnknownPeer`].
    pub async fn refresh(&self, peer: Option<IpAddr>) -> Vec<RefreshReport> {
        let (tx, rx) = oneshot::channel();
        let _ = self.commands.send(Command::Refresh(peer, tx));
        rx.await.unwrap_or_default()
    }

    /// Routes a previous run left in the kernel: those no peer sends again are removed
    /// (through the sink) once every peer has sent its whole table (End-of-RIB for each of
    /// its families), or after `at_most`, whichever comes first. Done by the speaker's task,
    /// in order with its other changes, so it cannot remove a route chosen just now.
    pub fn keep_until_relearned(&self, prefixes: Vec<IpNet>, at_most: Duration) {
        let _ = self
            .commands
            .send(Command::KeepUntilRelearned(prefixes, at_most));
    }

    /// Gives the sink every chosen route again, each as replacing its own next hops: for a
    /// sink that lost routes behind the speaker's back (a device went down in the kernel).
    pub fn reapply_routes(&self) {
        let _ = self.commands.send(Command::Reapply);
    }

    /// Sends Cease to every peer and stops.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Shutdown(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

struct PeerEntry {
    spec: PeerSpec,
    to: UnboundedSender<ToPeer>,
    state: State,
    up: Option<(Negotiated, SelfNextHop, Instant)>,
    received: usize,
    advertised: usize,
    last_error: Option<String>,
    /// Its restart time ends then: stale paths it has not sent again go.
    restart_deadline: Option<Instant>,
    /// End-of-RIB markers received since the session came up (one per family).
    end_of_ribs: usize,
}

struct Core {
    config: SpeakerConfig,
    peers: HashMap<IpAddr, PeerEntry>,
    local: BTreeSet<IpNet>,
    rib: Rib,
    /// Changes not yet given to the sink: see [`ChangeBatch`].
    pending: ChangeBatch,
    sink: Box<dyn RouteSink>,
    from_peers: Sender<(IpAddr, FromPeer)>,
    inbox: Option<Receiver<(IpAddr, FromPeer)>>,
    /// Routes a previous run left, until every peer has sent its table or the time is up.
    kept: Option<(Vec<IpNet>, Instant)>,
}

impl Core {
    fn new(config: SpeakerConfig, sink: Box<dyn RouteSink>) -> Core {
        let (from_peers, inbox) = channel(INBOX);
        Core {
            config,
            peers: HashMap::new(),
            local: BTreeSet::new(),
            rib: Rib::default(),
            pending: ChangeBatch::default(),
            sink,
            from_peers,
            inbox: Some(inbox),
            kept: None,
        }
    }

    async fn run(
        mut self,
        mut commands: UnboundedReceiver<Command>,
        listener: Option<TcpListener>,
    ) {
        for spec in self.config.peers.clone() {
            self.spawn_peer(spec);
        }
        let Some(mut inbox) = self.inbox.take() else {
            return;
        };
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Shutdown(done)) => {
                        // A peer's task waiting for room in the inbox gets an error at once
                        // and goes on to its Stop.
                        inbox.close();
                        self.stop_all().await;
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        inbox.close();
                        return self.stop_all().await;
                    }
                    Some(command) => self.command(command),
                },
                message = inbox.recv() => {
                    if let Some((peer, message)) = message {
                        self.peer_said(peer, message);
                    }
                    // What else the peers have sent meanwhile joins the same batch.
                    while !self.pending.is_full() {
                        let Ok((peer, message)) = inbox.try_recv() else { break };
                        self.peer_said(peer, message);
                    }
                }
                accepted = accept(&listener) => {
                    if let Ok((stream, remote)) = accepted {
                        // A dual-stack listener sees IPv4 peers as IPv4-mapped IPv6.
                        match self.peers.get(&remote.ip().to_canonical()) {
                            Some(peer) => { let _ = peer.to.send(ToPeer::Incoming(stream)); }
                            None => tracing::info!(%remote, "refusing a BGP connection from an unconfigured address"),
                        }
                    }
                }
                _ = tick.tick() => {
                    self.restart_deadlines();
                    self.forget_kept_if_relearned();
                }
            }
            if !self.pending.is_empty() {
                self.sink.apply(&self.pending.take());
            }
        }
    }

    async fn stop_all(&mut self) {
        for peer in self.peers.values() {
            let _ = peer.to.send(ToPeer::Stop);
        }
        // The peers' tasks send their Cease before the runtime goes.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    fn spawn_peer(&mut self, spec: PeerSpec) {
        let (to, receiver) = unbounded_channel();
        let session = Session::new(PeerConfig {
            local_as: self.config.asn,
            peer_as: spec.asn,
            router_id: self.config.router_id,
            hold_time: spec.hold_time,
            connect_retry: spec.connect_retry,
            passive: spec.passive,
            families: vec![(Afi::IPV4, Safi::UNICAST), (Afi::IPV6, Safi::UNICAST)],
            graceful_restart: spec.graceful_restart.map(|restart_time| GracefulOffer {
                restart_time,
                restarting: self.config.restarted,
                forwarding: self.config.restarted,
            }),
        });
        let task = PeerTask::new(
            spec.address,
            self.config.port,
            spec.transport.clone(),
            session,
            self.from_peers.clone(),
        );
        tokio::spawn(task.run(receiver));
        self.peers.insert(
            spec.address,
            PeerEntry {
                spec,
                to,
                state: State::Idle,
                up: None,
                received: 0,
                advertised: 0,
                last_error: None,
                restart_deadline: None,
                end_of_ribs: 0,
            },
        );
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Announce(prefixes) => {
                let fresh: Vec<IpNet> = prefixes
                    .into_iter()
                    .filter(|p| self.local.insert(*p))
                    .collect();
                self.send_all(&fresh, &[]);
            }
            Command::Withdraw(prefixes) => {
                let gone: Vec<IpNet> = prefixes
                    .into_iter()
                    .filter(|p| self.local.remove(p))
                    .collect();
                self.send_all(&[], &gone);
            }
            Command::Neighbors(reply) => {
                let _ = reply.send(self.neighbors());
            }
            Command::Routes(reply) => {
                let routes = self
                    .rib
                    .entries()
                    .into_iter()
                    .map(|e| RouteStatus {
                        prefix: e.prefix,
                        paths: e
                            .paths
                            .into_iter()
                            .map(|(peer, p)| (peer, p.next_hop))
                            .collect(),
                        chosen: e.chosen,
                    })
                    .collect();
                let _ = reply.send(routes);
            }
            Command::KeepUntilRelearned(prefixes, at_most) => {
                self.kept = Some((prefixes, Instant::now() + at_most));
                self.forget_kept_if_relearned();
            }
            Command::Reapply => {
                for chunk in self.rib.chosen_routes().chunks(FULL_BATCH) {
                    self.pending.extend(chunk.iter().cloned());
                    self.sink.apply(&self.pending.take());
                }
            }
            Command::Refresh(peer, reply) => self.refresh(peer, reply),
            Command::Shutdown(_) => {}
        }
    }

    /// Hands the request to each peer's task, which knows its session's state, and answers
    /// from a task of its own: the core does not wait for a peer busy writing.
    fn refresh(&self, peer: Option<IpAddr>, reply: oneshot::Sender<Vec<RefreshReport>>) {
        let targets: Vec<&PeerEntry> = match peer {
            None => self.peers.values().collect(),
            Some(address) => match self.peers.get(&address) {
                Some(entry) => vec![entry],
                None => {
                    let unknown = RefreshReport {
                        peer: address,
                        outcome: RefreshOutcome::UnknownPeer,
                    };
                    let _ = reply.send(vec![unknown]);
                    return;
                }
            },
        };
        let asked: Vec<_> = targets
            .into_iter()
            .map(|entry| {
                let (tx, rx) = oneshot::channel();
                let _ = entry.to.send(ToPeer::Refresh(tx));
                (entry.spec.address, rx)
            })
            .collect();
        tokio::spawn(async move {
            let mut reports = Vec::with_capacity(asked.len());
            for (peer, answer) in asked {
                // A peer's task ends only when the speaker stops.
                let outcome = match answer.await {
                    Ok(result) => result.into(),
                    Err(_) => RefreshOutcome::NotEstablished(State::Idle),
                };
                reports.push(RefreshReport { peer, outcome });
            }
            reports.sort_by_key(|r| r.peer);
            let _ = reply.send(reports);
        });
    }

    /// Sends announcements and withdrawals to every Established peer.
    fn send_all(&mut self, announce: &[IpNet], withdraw: &[IpNet]) {
        if announce.is_empty() && withdraw.is_empty() {
            return;
        }
        let (asn, peers) = (self.config.asn, &mut self.peers);
        for peer in peers.values_mut() {
            if let Some((negotiated, local, _)) = &peer.up {
                let export = &peer.spec.export;
                let updates = updates_for(asn, negotiated, local, export, announce, withdraw);
                peer.advertised += export.count_allowed(announce);
                peer.advertised = peer
                    .advertised
                    .saturating_sub(export.count_allowed(withdraw));
                let _ = peer.to.send(ToPeer::Send(updates));
            }
        }
    }

    fn neighbors(&self) -> Vec<NeighborStatus> {
        let mut out: Vec<NeighborStatus> = self
            .peers
            .values()
            .map(|p| NeighborStatus {
                address: p.spec.address,
                asn: p.spec.asn,
                state: p.state,
                uptime: p.up.as_ref().map(|(_, _, since)| since.elapsed()),
                received: p.received,
                accepted: self.rib.prefix_count(p.spec.address),
                advertised: p.advertised,
                last_error: p.last_error.clone(),
            })
            .collect();
        out.sort_by_key(|n| n.address);
        out
    }

    fn peer_said(&mut self, address: IpAddr, message: FromPeer) {
        let Some(peer) = self.peers.get_mut(&address) else {
            return;
        };
        match message {
            FromPeer::State(state) => peer.state = state,
            FromPeer::Up { negotiated, local } => {
                let local = unmapped(local);
                let beside = match &self.config.interface_addresses {
                    Some(AddressSource(source)) => source.beside(local),
                    None => Vec::new(),
                };
                let local = SelfNextHop::new(local, &beside);
                let (mut updates, advertised) =
                    whole_table(self.config.asn, &self.local, &negotiated, &local, peer);
                for (afi, safi) in &negotiated.families {
                    updates.push(Update::end_of_rib(*afi, *safi));
                }
                peer.advertised = advertised;
                peer.received = 0;
                peer.end_of_ribs = 0;
                peer.up = Some((negotiated, local, Instant::now()));
                let _ = peer.to.send(ToPeer::Send(updates));
            }
            FromPeer::Down {
                reason,
                was_established,
                keep_routes,
            } => {
                peer.up = None;
                peer.last_error = Some(reason);
                if !was_established {
                    return;
                }
                match keep_routes {
                    Some(time) => {
                        peer.restart_deadline = Some(Instant::now() + time);
                        self.rib.mark_stale(address);
                    }
                    None => {
                        let changes = self.rib.remove_peer(address, false);
                        self.pending.extend(changes);
                    }
                }
            }
            FromPeer::Update(update, class) => self.update(address, update, class),
            FromPeer::Refresh => {
                if let Some((negotiated, local, _)) = &peer.up {
                    let (updates, _) =
                        whole_table(self.config.asn, &self.local, negotiated, local, peer);
                    let _ = peer.to.send(ToPeer::Send(updates));
                }
            }
        }
    }

    fn update(&mut self, address: IpAddr, update: Update, class: UpdateClass) {
        let Some(peer) = self.peers.get_mut(&address) else {
            return;
        };
        let Some((negotiated, _, _)) = &peer.up else {
            return;
        };
        let ctx = ImportContext {
            local_as: self.config.asn,
            router_id: self.config.router_id,
            protected: &self.config.protected,
            local: &self.local,
        };
        let outcome = crate::import::apply(
            &ctx,
            &peer.spec.import,
            negotiated,
            address,
            &mut self.rib,
            &update,
            &class,
        );
        peer.received += outcome.received;
        let mut changes = outcome.changes;
        if let Some(limit) = peer.spec.max_prefixes {
            if self.rib.prefix_count(address) > limit {
                tracing::warn!(peer = %address, limit, "the peer sent more prefixes than allowed: ending the session");
                let _ = peer
                    .to
                    .send(ToPeer::Cease(crate::wire::cease::MAX_PREFIXES_REACHED));
            }
        }
        if outcome.end_of_rib {
            tracing::info!(peer = %address, prefixes = self.rib.prefix_count(address),
                "End-of-RIB: the peer has sent its whole table");
            peer.end_of_ribs += 1;
        }
        if outcome.end_of_rib && peer.restart_deadline.take().is_some() {
            // The restarted peer has sent everything again: what it did not is gone.
            changes.extend(self.rib.remove_peer(address, true));
        }
        self.pending.extend(changes);
        if outcome.end_of_rib {
            self.forget_kept_if_relearned();
        }
    }

    /// Removes the kept routes no peer sent again, once every peer has sent its whole table
    /// (or the time for it is over).
    fn forget_kept_if_relearned(&mut self) {
        let Some((_, deadline)) = &self.kept else {
            return;
        };
        let all_sent = self.peers.values().all(|p| {
            p.up.as_ref()
                .is_some_and(|(negotiated, _, _)| p.end_of_ribs >= negotiated.families.len())
        });
        if !all_sent && Instant::now() < *deadline {
            return;
        }
        let Some((prefixes, _)) = self.kept.take() else {
            return;
        };
        let unrouted: Vec<IpNet> = prefixes
            .into_iter()
            .filter(|p| !self.rib.is_routed(p))
            .collect();
        tracing::info!(
            routes = unrouted.len(),
            every_peer_sent_its_table = all_sent,
            "removing the routes kept from before the restart that no peer sent again"
        );
        // The speaker never gave these to its sink: what they replace is known only to
        // the sink, from the kernel.
        self.pending
            .extend(unrouted.into_iter().map(|prefix| RouteChange {
                prefix,
                next_hops: Vec::new(),
                replaced: Vec::new(),
            }));
    }

    fn restart_deadlines(&mut self) {
        let now = Instant::now();
        let over: Vec<IpAddr> = self
            .peers
            .iter_mut()
            .filter(|(_, p)| p.restart_deadline.is_some_and(|d| d <= now))
            .map(|(a, p)| {
                p.restart_deadline = None;
                *a
            })
            .collect();
        for address in over {
            tracing::info!(peer = %address, "graceful restart time over: removing its stale routes");
            let changes = self.rib.remove_peer(address, true);
            self.pending.extend(changes);
        }
    }
}

/// An IPv4 address as itself, not as the IPv4-mapped IPv6 address a dual-stack socket shows.
fn unmapped(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// Everything this host announces, as UPDATEs for `peer`'s session (at its start, or when
/// it asks again), and how many prefixes its export policy lets through.
fn whole_table(
    asn: u32,
    announced: &BTreeSet<IpNet>,
    negotiated: &Negotiated,
    local: &SelfNextHop,
    peer: &PeerEntry,
) -> (Vec<Update>, usize) {
    let all: Vec<IpNet> = announced.iter().copied().collect();
    let export = &peer.spec.export;
    let updates = updates_for(asn, negotiated, local, export, &all, &[]);
    (updates, export.count_allowed(&all))
}

/// The dual-stack listener, with every peer's MD5 key and GTSM set on it (IPv4 peers by
/// their IPv4-mapped address, which is how such a socket sees them).
fn listen(config: &SpeakerConfig) -> std::io::Result<TcpListener> {
    let socket = tokio::net::TcpSocket::new_v6()?;
    socket.set_reuseaddr(true)?;
    for peer in &config.peers {
        let seen_as = match peer.address {
            IpAddr::V4(v4) => IpAddr::V6(v4.to_ipv6_mapped()),
            v6 => v6,
        };
        let transport = Transport {
            ttl_security: false,
            ..peer.transport.clone()
        };
        transport.prepare(std::os::fd::AsFd::as_fd(&socket), seen_as)?;
    }
    gtsm_on_listener(std::os::fd::AsFd::as_fd(&socket), &config.peers)?;
    socket.bind(SocketAddr::from(([0u16; 8], config.port)))?;
    socket.listen(64)
}

/// GTSM (RFC 5082) for the connections peers open to us, set on the listener: an accepted
/// socket starts with its listener's options, so the TTL check covers the SYN and every
/// segment after it, even those that arrive before accept() returns (set after accept(), as
/// FRR and BIRD do, it lets the peer's OPEN through unchecked). The same copy makes our
/// SYN-ACK and what follows go with TTL 255, without which a GTSM peer cannot connect to us.
/// Per address family: on this dual-stack socket IPv4 peers are held to the IPv4 options
/// only, IPv6 peers to the IPv6 ones. A listener has no per-peer minimum, so once one peer of
/// a family uses GTSM, every peer of that family connecting to us must send with 254 or more.
fn gtsm_on_listener(fd: std::os::fd::BorrowedFd<'_>, peers: &[PeerSpec]) -> std::io::Result<()> {
    for ipv6 in [false, true] {
        let (gtsm, plain): (Vec<&PeerSpec>, Vec<&PeerSpec>) = peers
            .iter()
            .filter(|p| p.address.is_ipv6() == ipv6)
            .partition(|p| p.transport.ttl_security);
        if gtsm.is_empty() {
            continue;
        }
        crate::sockopt::set_ttl(fd, ipv6, 255)?;
        crate::sockopt::set_min_ttl(fd, ipv6, 254)?;
        for peer in plain.iter().filter(|p| p.passive) {
            tracing::warn!(peer = %peer.address,
                "this passive peer has no ttl_security but another peer of its address family has: \
                 its connections are dropped unless it sends with TTL 254 or more");
        }
    }
    Ok(())
}

async fn accept(
    listener: &Option<TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
#[path = "speaker_tests.rs"]
mod tests;
