//! One peer's task: the [`Session`] FSM with a TCP connection and timers around it. It turns
//! bytes, connection results and timer expiries into FSM events, carries out the FSM's
//! actions, and tells the speaker's core what it must know (the session came up or went
//! down, routes arrived); the core sends it UPDATEs to pass on.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::fsm::{Action, Event, Negotiated, Session, State, Timer};
use crate::wire::{decode_message, encode_message, Codec, Message, Update, UpdateClass};

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

pub struct PeerTask {
    address: IpAddr,
    port: u16,
    transport: Transport,
    session: Session,
    reader: Option<OwnedReadHalf>,
    writer: Option<OwnedWriteHalf>,
    local: Option<IpAddr>,
    buffer: Vec<u8>,
    codec: Codec,
    timers: HashMap<Timer, Instant>,
    connecting: Option<JoinHandle<std::io::Result<TcpStream>>>,
    core: UnboundedSender<(IpAddr, FromPeer)>,
    /// A write failed: the connection is to be treated as lost.
    broken: bool,
}

impl PeerTask {
    pub fn new(
        address: IpAddr,
        port: u16,
        transport: Transport,
        session: Session,
        core: UnboundedSender<(IpAddr, FromPeer)>,
    ) -> PeerTask {
        PeerTask {
            address,
            port,
            transport,
            session,
            reader: None,
            writer: None,
            local: None,
            buffer: Vec::with_capacity(8192),
            codec: Codec::default(),
            timers: HashMap::new(),
            connecting: None,
            core,
            broken: false,
        }
    }

    pub async fn run(mut self, mut commands: UnboundedReceiver<ToPeer>) {
        self.feed(Event::ManualStart).await;
        loop {
            if std::mem::take(&mut self.broken) && self.writer.is_some() {
                self.connection_lost().await;
            }
            let deadline = self.timers.values().min().copied();
            tokio::select! {
                command = commands.recv() => match command {
                    Some(ToPeer::Incoming(stream)) => self.incoming(stream).await,
                    Some(ToPeer::Send(updates)) => self.send_updates(updates).await,
                    Some(ToPeer::Cease(subcode)) => self.feed(Event::Cease(subcode)).await,
                    Some(ToPeer::Stop) | None => {
                        self.feed(Event::ManualStop).await;
                        return;
                    }
                },
                read = read_some(&mut self.reader, &mut self.buffer) => match read {
                    Ok(0) | Err(_) => self.connection_lost().await,
                    Ok(_) => self.frames().await,
                },
                connected = join(&mut self.connecting) => {
                    self.connecting = None;
                    match connected {
                        Ok(stream) => self.attach(stream, Event::TcpConnectionConfirmed).await,
                        Err(error) => {
                            tracing::debug!(peer = %self.address, %error, "connecting failed");
                            self.feed(Event::TcpConnectionFails).await;
                        }
                    }
                },
                () = sleep_until(deadline) => self.fire_timers().await,
            }
        }
    }

    /// A connection the peer opened. One connection per session: while ours is not yet
    /// past OpenSent theirs replaces it; later it is refused (RFC 4271 section 6.8's
    /// outcome when the session is already up).
    async fn incoming(&mut self, stream: TcpStream) {
        match self.session.state() {
            State::Idle | State::Connect | State::Active => {
                if let Some(attempt) = self.connecting.take() {
                    attempt.abort();
                }
                self.attach(stream, Event::TcpConnectionConfirmed).await;
            }
            _ => {
                let mut stream = stream;
                let cease = crate::wire::Notification::cease(
                    crate::wire::cease::CONNECTION_COLLISION_RESOLUTION,
                );
                if let Ok(bytes) = encode_message(&Message::Notification(cease), &self.codec) {
                    let _ = stream.write_all(&bytes).await;
                }
            }
        }
    }

    async fn attach(&mut self, stream: TcpStream, event: Event) {
        if self.session.state() == State::Idle {
            // A connection while Idle (the peer was quicker than our retry timer): start.
            self.feed(Event::ManualStart).await;
            if let Some(attempt) = self.connecting.take() {
                attempt.abort();
            }
        }
        let _ = stream.set_nodelay(true);
        // Through a dual-stack listener an IPv4 session shows IPv4-mapped IPv6 addresses.
        self.local = stream.local_addr().ok().map(|a| a.ip().to_canonical());
        let (reader, writer) = stream.into_split();
        self.reader = Some(reader);
        self.writer = Some(writer);
        self.buffer.clear();
        self.feed(event).await;
    }

    async fn connection_lost(&mut self) {
        self.reader = None;
        self.writer = None;
        self.feed(Event::TcpConnectionFails).await;
    }

    /// Decodes every whole message in the buffer.
    async fn frames(&mut self) {
        loop {
            match decode_message(&self.buffer, &self.codec) {
                Ok(None) => return,
                Ok(Some(frame)) => {
                    self.buffer.drain(..frame.len);
                    self.feed(Event::Message(frame.message, frame.class)).await;
                }
                Err(notification) => {
                    self.buffer.clear();
                    self.feed(Event::MessageError(notification)).await;
                    return;
                }
            }
            if self.reader.is_none() {
                return;
            }
        }
    }

    async fn fire_timers(&mut self) {
        let now = Instant::now();
        let due: Vec<Timer> = self
            .timers
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(t, _)| *t)
            .collect();
        for timer in due {
            self.timers.remove(&timer);
            let event = match timer {
                Timer::ConnectRetry => Event::ConnectRetryTimerExpires,
                Timer::Hold => Event::HoldTimerExpires,
                Timer::Keepalive => Event::KeepaliveTimerExpires,
            };
            self.feed(event).await;
        }
    }

    async fn send_updates(&mut self, updates: Vec<Update>) {
        if self.session.state() != State::Established {
            return;
        }
        for update in updates {
            self.write(&Message::Update(update)).await;
        }
    }

    /// Feeds an event to the FSM and carries out its actions.
    async fn feed(&mut self, event: Event) {
        let before = self.session.state();
        let actions = self.session.handle(event);
        for action in actions {
            self.act(action).await;
        }
        let after = self.session.state();
        if after != before {
            tracing::info!(peer = %self.address, from = %before, to = %after, "BGP state");
            let _ = self.core.send((self.address, FromPeer::State(after)));
        }
    }

    async fn act(&mut self, action: Action) {
        match action {
            Action::Connect => {
                let target = SocketAddr::new(self.address, self.port);
                self.connecting = Some(tokio::spawn(connect(target, self.transport.clone())));
            }
            Action::Send(message) => self.write(&message).await,
            Action::Close => {
                if let Some(attempt) = self.connecting.take() {
                    attempt.abort();
                }
                if let Some(mut writer) = self.writer.take() {
                    let _ = writer.shutdown().await;
                }
                self.reader = None;
            }
            Action::StartTimer(timer, after) => {
                self.timers.insert(timer, Instant::now() + after);
            }
            Action::StopTimer(timer) => {
                self.timers.remove(&timer);
            }
            Action::Up(negotiated) => {
                self.codec = negotiated.codec;
                let local = self.local.unwrap_or(self.address);
                let _ = self
                    .core
                    .send((self.address, FromPeer::Up { negotiated, local }));
            }
            Action::Down {
                reason,
                was_established,
                keep_routes,
            } => {
                tracing::warn!(peer = %self.address, %reason, "BGP session ended");
                self.codec = Codec::default();
                let _ = self.core.send((
                    self.address,
                    FromPeer::Down {
                        reason,
                        was_established,
                        keep_routes,
                    },
                ));
            }
            Action::Update(update, class) => {
                let _ = self
                    .core
                    .send((self.address, FromPeer::Update(*update, class)));
            }
            Action::Refresh(..) => {
                let _ = self.core.send((self.address, FromPeer::Refresh));
            }
        }
    }

    async fn write(&mut self, message: &Message) {
        let Some(writer) = self.writer.as_mut() else {
            return;
        };
        let bytes = match encode_message(message, &self.codec) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::error!(peer = %self.address, %error, "cannot encode a message; not sent");
                return;
            }
        };
        if let Err(error) = writer.write_all(&bytes).await {
            tracing::debug!(peer = %self.address, %error, "write failed");
            // The FSM hears of it on the loop's next turn.
            self.broken = true;
        }
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
