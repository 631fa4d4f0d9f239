//! One peer's task: the [`Session`] FSM with a TCP connection and timers around it. It turns
//! bytes, connection results and timer expiries into FSM events, carries out the FSM's
//! actions, and tells the speaker's core what it must know (the session came up or went
//! down, routes arrived); the core sends it UPDATEs to pass on. When both sides connect at
//! once, the peer's connection runs a second session beside ours until the OPENs settle
//! which one stays (RFC 4271 section 6.8).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc::{Sender, UnboundedReceiver};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::fsm::{
    collision_keeps_ours, Action, Event, Negotiated, RefreshRefused, Session, State, Timer,
};
use crate::wire::{
    cease, decode_message, encode_message, Afi, Codec, Message, Notification, Safi, Update,
    UpdateClass,
};

/// BGP's TCP port (RFC 4271 section 8.2.1.2).
pub const BGP_PORT: u16 = 179;

/// What the core asks of a peer's task.
#[derive(Debug)]
pub enum ToPeer {
    /// A connection the peer opened to us (the core's listener accepted it).
    Incoming(TcpStream),
    /// UPDATEs to send, once Established (dropped otherwise: the core sends the whole
    /// table again when the session comes up).
    Send(Vec<Update>),
    /// Send Cease and stop for good.
    Stop,
    /// Send a Cease of this subcode, and come back after the ConnectRetry time.
    Cease(u8),
    /// Ask the peer to send its routes again (ROUTE-REFRESH); the answer says for which
    /// families it was sent, or why it was not. The session decides, as it alone knows
    /// its state at that moment.
    Refresh(oneshot::Sender<Result<Vec<(Afi, Safi)>, RefreshRefused>>),
}

/// What a peer's task tells the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromPeer {
    State(State),
    /// Established; `local` is our end of the connection (the next hop we announce).
    Up {
        negotiated: Negotiated,
        local: IpAddr,
    },
    Down {
        reason: String,
        was_established: bool,
        keep_routes: Option<Duration>,
    },
    Update(Update, UpdateClass),
    Refresh,
}

/// How the peer's TCP connections are protected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transport {
    /// TCP MD5 signature password (RFC 2385).
    pub password: Option<String>,
    /// GTSM (RFC 5082): send with TTL 255, accept only 254 and above.
    pub ttl_security: bool,
}

impl Transport {
    /// Applies what concerns one socket toward `peer`, before it connects. Connections the
    /// peer opens get the same from the listener they are accepted on (see the speaker's
    /// `listen`): set after accept() they would come too late for the first segments.
    pub fn prepare(&self, fd: std::os::fd::BorrowedFd<'_>, peer: IpAddr) -> std::io::Result<()> {
        if let Some(password) = &self.password {
            crate::sockopt::set_md5_key(fd, peer, password.as_bytes())?;
        }
        if self.ttl_security {
            crate::sockopt::set_ttl(fd, peer.is_ipv6(), 255)?;
            crate::sockopt::set_min_ttl(fd, peer.is_ipv6(), 254)?;
        }
        Ok(())
    }
}

/// Connects to the peer with the transport's options set before the first segment.
async fn connect(target: SocketAddr, transport: Transport) -> std::io::Result<TcpStream> {
    let socket = match target {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    transport.prepare(std::os::fd::AsFd::as_fd(&socket), target.ip())?;
    socket.connect(target).await
}

/// One TCP connection with the peer and the session (FSM) on it. A peer has one; while a
/// connection collision is being resolved (RFC 4271 section 6.8) it has two, each with its
/// own session, until one of them is closed.
struct Link {
    /// Tells the links apart: events queued for one still find it after a promotion.
    id: u64,
    session: Session,
    reader: Option<OwnedReadHalf>,
    writer: Option<OwnedWriteHalf>,
    /// Our end of the connection (the next hop we announce).
    local: Option<IpAddr>,
    /// We opened the connection: a collision keeps the connection opened by the side with
    /// the higher BGP Identifier.
    outbound: bool,
    buffer: Vec<u8>,
    codec: Codec,
    timers: HashMap<Timer, Instant>,
    /// A write failed: the connection is to be treated as lost.
    broken: bool,
}

impl Link {
    fn new(id: u64, session: Session) -> Link {
        Link {
            id,
            session,
            reader: None,
            writer: None,
            local: None,
            outbound: false,
            buffer: Vec::with_capacity(8192),
            codec: Codec::default(),
            timers: HashMap::new(),
            broken: false,
        }
    }

    fn attach(&mut self, stream: TcpStream, outbound: bool) {
        let _ = stream.set_nodelay(true);
        // Through a dual-stack listener an IPv4 session shows IPv4-mapped IPv6 addresses.
        self.local = stream.local_addr().ok().map(|a| a.ip().to_canonical());
        let (reader, writer) = stream.into_split();
        self.reader = Some(reader);
        self.writer = Some(writer);
        self.buffer.clear();
        self.outbound = outbound;
    }

    /// Its session is on a connection (what a collision is between).
    fn connected(&self) -> bool {
        matches!(
            self.session.state(),
            State::OpenSent | State::OpenConfirm | State::Established
        )
    }
}

/// How an OPEN on one of two connections settles their collision.
enum Collision {
    /// Not yet (or no second connection): the OPEN goes to its session.
    Undecided,
    /// This connection stays, the other (of this id) is closed.
    KeepThis(u64),
    /// This connection is closed, its OPEN unread.
    DumpThis,
}

pub struct PeerTask {
    address: IpAddr,
    port: u16,
    transport: Transport,
    /// The connection whose session the core hears about.
    main: Link,
    /// A connection the peer opened while ours was already past Active: it runs a session of
    /// its own until the collision is resolved, and becomes the main one if it wins.
    rival: Option<Link>,
    next_id: u64,
    /// Events for the links' sessions, in order (one session's actions can close another's
    /// connection).
    events: VecDeque<(u64, Event)>,
    /// The main session's state as the core last heard it.
    told: State,
    connecting: Option<JoinHandle<std::io::Result<TcpStream>>>,
    core: Sender<(IpAddr, FromPeer)>,
}

impl PeerTask {
    pub fn new(
        address: IpAddr,
        port: u16,
        transport: Transport,
        session: Session,
        core: Sender<(IpAddr, FromPeer)>,
    ) -> PeerTask {
        let told = session.state();
        PeerTask {
            address,
            port,
            transport,
            main: Link::new(0, session),
            rival: None,
            next_id: 1,
            events: VecDeque::new(),
            told,
            connecting: None,
            core,
        }
    }

    pub async fn run(mut self, mut commands: UnboundedReceiver<ToPeer>) {
        self.feed(self.main.id, Event::ManualStart).await;
        loop {
            for id in self.link_ids() {
                let lost = self
                    .link(id)
                    .is_some_and(|l| std::mem::take(&mut l.broken) && l.writer.is_some());
                if lost {
                    self.connection_lost(id).await;
                }
            }
            let deadline = self
                .main
                .timers
                .values()
                .chain(self.rival.iter().flat_map(|r| r.timers.values()))
                .min()
                .copied();
            let (main_id, rival_id) = (self.main.id, self.rival.as_ref().map(|r| r.id));
            tokio::select! {
                command = commands.recv() => match command {
                    Some(ToPeer::Incoming(stream)) => self.incoming(stream).await,
                    Some(ToPeer::Send(updates)) => self.send_updates(updates).await,
                    Some(ToPeer::Cease(subcode)) => self.feed(main_id, Event::Cease(subcode)).await,
                    Some(ToPeer::Refresh(reply)) => {
                        let _ = reply.send(self.refresh().await);
                    }
                    Some(ToPeer::Stop) | None => {
                        if let Some(rival) = rival_id {
                            self.feed(rival, Event::ManualStop).await;
                        }
                        self.feed(self.main.id, Event::ManualStop).await;
                        return;
                    }
                },
                read = read_some(&mut self.main.reader, &mut self.main.buffer) => {
                    self.received(main_id, read).await
                }
                read = read_rival(&mut self.rival) => {
                    if let Some(rival) = rival_id {
                        self.received(rival, read).await
                    }
                }
                connected = join(&mut self.connecting) => {
                    self.connecting = None;
                    match connected {
                        Ok(stream) => {
                            self.main.attach(stream, true);
                            self.feed(main_id, Event::TcpConnectionConfirmed).await;
                        }
                        Err(error) => {
                            tracing::debug!(peer = %self.address, %error, "connecting failed");
                            self.feed(main_id, Event::TcpConnectionFails).await;
                        }
                    }
                },
                () = sleep_until(deadline) => self.fire_timers().await,
            }
        }
    }

    fn link_ids(&self) -> Vec<u64> {
        std::iter::once(self.main.id)
            .chain(self.rival.as_ref().map(|r| r.id))
            .collect()
    }

    fn link(&mut self, id: u64) -> Option<&mut Link> {
        if self.main.id == id {
            return Some(&mut self.main);
        }
        self.rival.as_mut().filter(|r| r.id == id)
    }

    /// A connection the peer opened. Before ours is up, theirs replaces it. While ours is
    /// opening, it is a collision, which RFC 4271 section 6.8 settles once OPENs are in:
    /// theirs runs a session of its own until then. When the session is up, theirs is
    /// refused (the section's outcome for a collision with an Established session).
    async fn incoming(&mut self, stream: TcpStream) {
        match self.main.session.state() {
            State::Idle | State::Connect | State::Active => {
                let id = self.main.id;
                if self.main.session.state() == State::Idle {
                    // The peer was quicker than our retry timer: start.
                    self.feed(id, Event::ManualStart).await;
                }
                if let Some(attempt) = self.connecting.take() {
                    attempt.abort();
                }
                self.main.attach(stream, false);
                self.feed(id, Event::TcpConnectionConfirmed).await;
            }
            State::OpenSent | State::OpenConfirm => {
                if let Some(older) = self.rival.as_ref().map(|r| r.id) {
                    // The peer gave up on its previous connection, or it would not open
                    // another: the new one takes its place.
                    self.feed(older, Event::OpenCollisionDump).await;
                    self.rival = None;
                }
                let id = self.next_id;
                self.next_id += 1;
                let mut link = Link::new(id, Session::new(self.main.session.config().clone()));
                link.attach(stream, false);
                self.rival = Some(link);
                // Both in one go: a rival without its connection up would be let go.
                self.events.push_back((id, Event::AutomaticStartPassive));
                self.feed(id, Event::TcpConnectionConfirmed).await;
            }
            State::Established => {
                let mut stream = stream;
                let cease = Notification::cease(cease::CONNECTION_COLLISION_RESOLUTION);
                if let Ok(bytes) = encode_message(&Message::Notification(cease), &self.main.codec) {
                    let _ = stream.write_all(&bytes).await;
                }
            }
        }
    }

    async fn received(&mut self, id: u64, read: std::io::Result<usize>) {
        match read {
            Ok(0) | Err(_) => self.connection_lost(id).await,
            Ok(_) => self.frames(id).await,
        }
    }

    async fn connection_lost(&mut self, id: u64) {
        if let Some(link) = self.link(id) {
            link.reader = None;
            link.writer = None;
        }
        self.feed(id, Event::TcpConnectionFails).await;
    }

    /// Decodes every whole message in a link's buffer.
    async fn frames(&mut self, id: u64) {
        loop {
            let Some(link) = self.link(id) else { return };
            if link.reader.is_none() {
                return;
            }
            match decode_message(&link.buffer, &link.codec) {
                Ok(None) => return,
                Ok(Some(frame)) => {
                    link.buffer.drain(..frame.len);
                    self.feed(id, Event::Message(frame.message, frame.class))
                        .await;
                }
                Err(notification) => {
                    link.buffer.clear();
                    self.feed(id, Event::MessageError(notification)).await;
                    return;
                }
            }
        }
    }

    async fn fire_timers(&mut self) {
        let now = Instant::now();
        let mut due = Vec::new();
        for link in std::iter::once(&mut self.main).chain(self.rival.as_mut()) {
            let fired: Vec<Timer> = link
                .timers
                .iter()
                .filter(|(_, at)| **at <= now)
                .map(|(t, _)| *t)
                .collect();
            for timer in fired {
                link.timers.remove(&timer);
                due.push((link.id, timer));
            }
        }
        for (id, timer) in due {
            let event = match timer {
                Timer::ConnectRetry => Event::ConnectRetryTimerExpires,
                Timer::Hold => Event::HoldTimerExpires,
                Timer::Keepalive => Event::KeepaliveTimerExpires,
            };
            self.feed(id, event).await;
        }
    }

    /// Asks the peer for its routes again if the session allows it, and says what was done;
    /// the FSM applies the same rule, so nothing here can send one it would refuse.
    async fn refresh(&mut self) -> Result<Vec<(Afi, Safi)>, RefreshRefused> {
        // The main session's: a second connection in a collision is not Established.
        let families = self.main.session.refresh_families();
        match &families {
            Ok(families) => {
                self.feed(self.main.id, Event::ManualRefresh).await;
                let families: Vec<String> =
                    families.iter().map(|(a, s)| format!("{a} {s}")).collect();
                tracing::info!(peer = %self.address, families = families.join(", "),
                    "ROUTE-REFRESH sent");
            }
            Err(RefreshRefused::NoCapability) => tracing::info!(peer = %self.address,
                "no ROUTE-REFRESH sent: the peer did not offer the capability (RFC 2918)"),
            Err(RefreshRefused::NotEstablished(state)) => tracing::info!(peer = %self.address,
                %state, "no ROUTE-REFRESH sent: the session is not Established"),
        }
        families
    }

    async fn send_updates(&mut self, updates: Vec<Update>) {
        if self.main.session.state() != State::Established {
            return;
        }
        let id = self.main.id;
        for update in updates {
            self.write(id, &Message::Update(update)).await;
        }
    }

    /// Feeds an event to a link's session and carries out its actions, then the events they
    /// raised (one connection winning a collision closes the other), until all is settled.
    async fn feed(&mut self, id: u64, event: Event) {
        self.events.push_back((id, event));
        loop {
            while let Some((id, event)) = self.events.pop_front() {
                self.step(id, event).await;
            }
            if !self.settle() {
                break;
            }
        }
        let now = self.main.session.state();
        if now != self.told {
            tracing::info!(peer = %self.address, from = %self.told, to = %now, "BGP state");
            let _ = self.core.send((self.address, FromPeer::State(now))).await;
            self.told = now;
        }
    }

    async fn step(&mut self, id: u64, event: Event) {
        let mut event = event;
        if let Event::Message(Message::Open(open), _) = &event {
            match self.collision(id, open) {
                Collision::Undecided => {}
                Collision::KeepThis(other) => {
                    self.events.push_back((other, Event::OpenCollisionDump))
                }
                Collision::DumpThis => event = Event::OpenCollisionDump,
            }
        }
        // A connection closed by a collision ends no session: the other one carries it.
        let dumped = event == Event::OpenCollisionDump;
        let Some(link) = self.link(id) else { return };
        let actions = link.session.handle(event);
        for action in actions {
            if dumped && matches!(action, Action::Down { .. }) {
                continue;
            }
            self.act(id, action).await;
        }
    }

    /// RFC 4271 section 6.8, as an OPEN arrives on link `id`: with the other connection in
    /// OpenConfirm, the one opened by the side with the higher BGP Identifier stays; with it
    /// Established, this one goes; otherwise there is nothing to settle yet (the other's
    /// OPEN will settle it).
    fn collision(&self, id: u64, open: &crate::wire::Open) -> Collision {
        let Some(rival) = &self.rival else {
            return Collision::Undecided;
        };
        let (this, other) = if rival.id == id {
            (rival, &self.main)
        } else {
            (&self.main, rival)
        };
        let keep_this = match other.session.state() {
            State::Established => false,
            State::OpenConfirm if this.outbound == other.outbound => {
                // Both opened by the peer: the newer is the one it uses now.
                this.id > other.id
            }
            State::OpenConfirm => {
                let config = this.session.config();
                let ours = collision_keeps_ours(config.router_id, config.local_as, open);
                ours == this.outbound
            }
            _ => return Collision::Undecided,
        };
        let kept = if keep_this { this } else { other };
        tracing::info!(peer = %self.address, peer_id = %open.bgp_id,
            kept = if kept.outbound { "ours" } else { "the peer's" },
            "connection collision: keeping one connection, closing the other");
        if keep_this {
            Collision::KeepThis(other.id)
        } else {
            Collision::DumpThis
        }
    }

    /// Keeps the two links in order after events; whether it queued more.
    fn settle(&mut self) -> bool {
        let Some(rival) = &self.rival else {
            return false;
        };
        if !rival.connected() {
            self.rival = None;
            return false;
        }
        let rival = rival.id;
        match self.main.session.state() {
            // Ours is gone (failed, refused, lost the collision): theirs carries on.
            State::Idle | State::Connect | State::Active => {
                self.promote();
                false
            }
            // A connection still opening beside an Established session: RFC 4271 section
            // 6.8 closes it.
            State::Established => {
                self.events.push_back((rival, Event::OpenCollisionDump));
                true
            }
            State::OpenSent | State::OpenConfirm => false,
        }
    }

    /// The rival's connection becomes the main one; the old main's, if still open, is closed
    /// as a collision's loser.
    fn promote(&mut self) {
        let Some(rival) = self.rival.take() else {
            return;
        };
        if let Some(attempt) = self.connecting.take() {
            attempt.abort();
        }
        let old = std::mem::replace(&mut self.main, rival);
        if old.connected() {
            self.events.push_back((old.id, Event::OpenCollisionDump));
            self.rival = Some(old);
        }
    }

    async fn act(&mut self, id: u64, action: Action) {
        let main = self.main.id == id;
        match action {
            Action::Connect => {
                if main {
                    let target = SocketAddr::new(self.address, self.port);
                    self.connecting = Some(tokio::spawn(connect(target, self.transport.clone())));
                }
            }
            Action::Send(message) => self.write(id, &message).await,
            Action::Close => {
                if main {
                    if let Some(attempt) = self.connecting.take() {
                        attempt.abort();
                    }
                }
                if let Some(link) = self.link(id) {
                    link.reader = None;
                    if let Some(mut writer) = link.writer.take() {
                        let _ = writer.shutdown().await;
                    }
                }
            }
            Action::StartTimer(timer, after) => {
                if let Some(link) = self.link(id) {
                    link.timers.insert(timer, Instant::now() + after);
                }
            }
            Action::StopTimer(timer) => {
                if let Some(link) = self.link(id) {
                    link.timers.remove(&timer);
                }
            }
            Action::Up(negotiated) => {
                if !main {
                    // The peer's connection came up while ours was still opening.
                    self.promote();
                }
                self.main.codec = negotiated.codec;
                let local = self.main.local.unwrap_or(self.address);
                let _ = self
                    .core
                    .send((self.address, FromPeer::Up { negotiated, local }))
                    .await;
            }
            Action::Down {
                reason,
                was_established,
                keep_routes,
            } => {
                if !main {
                    tracing::info!(peer = %self.address, %reason, "the peer's second connection ended");
                    return;
                }
                tracing::warn!(peer = %self.address, %reason, "BGP session ended");
                self.main.codec = Codec::default();
                let _ = self
                    .core
                    .send((
                        self.address,
                        FromPeer::Down {
                            reason,
                            was_established,
                            keep_routes,
                        },
                    ))
                    .await;
            }
            // Established sessions only, which is the main one.
            Action::Update(update, class) => {
                if main {
                    let _ = self
                        .core
                        .send((self.address, FromPeer::Update(*update, class)))
                        .await;
                }
            }
            Action::Refresh(..) => {
                if main {
                    let _ = self.core.send((self.address, FromPeer::Refresh)).await;
                }
            }
        }
    }

    async fn write(&mut self, id: u64, message: &Message) {
        let address = self.address;
        let Some(link) = self.link(id) else { return };
        let Some(writer) = link.writer.as_mut() else {
            return;
        };
        let bytes = match encode_message(message, &link.codec) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::error!(peer = %address, %error, "cannot encode a message; not sent");
                return;
            }
        };
        if let Err(error) = writer.write_all(&bytes).await {
            tracing::debug!(peer = %address, %error, "write failed");
            // The FSM hears of it on the loop's next turn.
            link.broken = true;
        }
    }
}

/// Reads more bytes on the rival connection if there is one; pends forever otherwise.
async fn read_rival(rival: &mut Option<Link>) -> std::io::Result<usize> {
    match rival {
        Some(link) => read_some(&mut link.reader, &mut link.buffer).await,
        None => std::future::pending().await,
    }
}

/// Reads more bytes if there is a connection; pends forever otherwise.
async fn read_some(
    reader: &mut Option<OwnedReadHalf>,
    buffer: &mut Vec<u8>,
) -> std::io::Result<usize> {
    match reader {
        Some(reader) => reader.read_buf(buffer).await,
        None => std::future::pending().await,
    }
}

async fn join(
    attempt: &mut Option<JoinHandle<std::io::Result<TcpStream>>>,
) -> std::io::Result<TcpStream> {
    match attempt {
        Some(handle) => match handle.await {
            Ok(result) => result,
            Err(error) => Err(std::io::Error::other(error)),
        },
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
#[path = "peer_tests.rs"]
mod tests;
