//! One peer's session: the finite state machine of RFC 4271 section 8, deterministic and
//! without I/O. It takes [`Event`]s (timers fired, the connection came or went, a message
//! arrived) and answers [`Action`]s (connect, send, close, arm a timer, the session came up
//! or went down, routes arrived); the speaker around it owns sockets and clocks. Tests drive
//! it with event sequences and compare the actions.
//!
//! States and events keep the RFC's names. Simplifications, each a choice the RFC allows:
//! no DelayOpen, no damping of peer oscillations (the IdleHoldTimer is the ConnectRetry
//! timer, so a failing peer is retried at that pace), and connection collisions are resolved
//! by the peer's task, which runs one session per connection while they last and chooses
//! with [`collision_keeps_ours`] (RFC 4271 section 6.8).

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::wire::{
    cease, code, fsm as fsm_error, open_error, refresh_subtype, Afi, Capability, Codec, GrFamily,
    GracefulRestart, Message, Notification, Open, RouteRefresh, Safi, Update, UpdateClass,
    AS_TRANS,
};

/// RFC 4271 section 8.2.2's states, with their names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    ConnectRetry,
    Hold,
    Keepalive,
}

/// What the FSM is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Event 1 (ManualStart; with `passive`, Event 5).
    ManualStart,
    /// Event 5 whatever `passive` says: the session starts on a connection the peer opened
    /// while another was already on its way (a collision), and must not open one itself.
    AutomaticStartPassive,
    /// Event 2: the operator or the speaker's shutdown.
    ManualStop,
    /// The operator wants the peer's routes again (after an import policy change): a
    /// ROUTE-REFRESH per negotiated family, in Established and only if the peer offered the
    /// capability (RFC 2918 section 4); otherwise nothing.
    ManualRefresh,
    /// The speaker ends the session with a Cease of this subcode (the peer sent more prefixes
    /// than allowed, RFC 4486) and tries again after the ConnectRetry time.
    Cease(u8),
    /// Event 9.
    ConnectRetryTimerExpires,
    /// Event 10.
    HoldTimerExpires,
    /// Event 11.
    KeepaliveTimerExpires,
    /// Events 16/17: a TCP connection to the peer is up (ours or theirs).
    TcpConnectionConfirmed,
    /// Event 18.
    TcpConnectionFails,
    /// Event 23: this connection lost a collision (RFC 4271 section 6.8) and is closed.
    OpenCollisionDump,
    /// Events 19, 25, 26, 27 and ROUTE-REFRESH: a message decoded without error.
    Message(Message, UpdateClass),
    /// Events 21, 22, 28: a message that must close the session, with the NOTIFICATION the
    /// codec chose.
    MessageError(Notification),
}

/// What the FSM asks of the speaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a TCP connection to the peer.
    Connect,
    Send(Message),
    /// Drop the TCP connection (after what was sent).
    Close,
    StartTimer(Timer, Duration),
    StopTimer(Timer),
    /// The session reached Established with these terms.
    Up(Negotiated),
    /// The session ended (from any state but Idle), and why. `was_established`: its
    /// routes are affected; `keep_routes`: the peer can restart gracefully, so its routes
    /// stay (stale) for `restart_time` (RFC 4724 section 4.2).
    Down {
        reason: String,
        was_established: bool,
        keep_routes: Option<Duration>,
    },
    /// Routes from the peer (Established only).
    Update(Box<Update>, UpdateClass),
    /// The peer asks for our routes of a family again (RFC 2918).
    Refresh(Afi, Safi),
}

/// How the session was settled by the two OPENs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub peer_as: u32,
    pub peer_id: Ipv4Addr,
    pub hold_time: Duration,
    pub codec: Codec,
    /// Families both sides offered.
    pub families: Vec<(Afi, Safi)>,
    /// The peer's graceful restart capability, if it sent one.
    pub peer_restart: Option<GracefulRestart>,
    pub route_refresh: bool,
}

/// Why a session does not ask its peer for a refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshRefused {
    /// The session is in this state: its routes come whole when it is up.
    NotEstablished(State),
    /// The peer did not offer the Route Refresh capability (RFC 2918 section 4).
    NoCapability,
}

/// The peer as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    pub local_as: u32,
    pub peer_as: u32,
    pub router_id: Ipv4Addr,
    /// Proposed hold time (0: no keepalives, no hold timer).
    pub hold_time: u16,
    pub connect_retry: Duration,
    /// Wait for the peer to connect; never connect ourselves.
    pub passive: bool,
    pub families: Vec<(Afi, Safi)>,
    /// Offer graceful restart with this restart time; `restarting` sets its Restart State
    /// bit and `forwarding` the families' Forwarding State bits (RFC 4724 section 3).
    pub graceful_restart: Option<GracefulOffer>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GracefulOffer {
    pub restart_time: u16,
    /// The Restart State bit: this speaker has just restarted (first OPEN only).
    pub restarting: bool,
    /// The Forwarding State bit of every family: the routes exchanged with the peer before
    /// still forward (the kernel kept them). False on the first OPEN after a start that
    /// found nothing kept, so the peer drops what it had from this speaker at once.
    pub forwarding: bool,
}

/// RFC 4271 section 8's suggested hold time for OpenSent (4 minutes).
const OPEN_SENT_HOLD: Duration = Duration::from_secs(240);

pub struct Session {
    config: PeerConfig,
    state: State,
    negotiated: Option<Negotiated>,
}

impl Session {
    pub fn new(config: PeerConfig) -> Session {
        Session {
            config,
            state: State::Idle,
            negotiated: None,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn config(&self) -> &PeerConfig {
        &self.config
    }

    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// The OPEN this session sends.
    pub fn open(&self) -> Open {
        let mut capabilities: Vec<Capability> = self
            .config
            .families
            .iter()
            .map(|(afi, safi)| Capability::Multiprotocol(*afi, *safi))
            .collect();
        capabilities.push(Capability::RouteRefresh);
        if let Some(gr) = self.config.graceful_restart {
            capabilities.push(Capability::GracefulRestart(GracefulRestart {
                restart_state: gr.restarting,
                restart_time: gr.restart_time,
                families: self
                    .config
                    .families
                    .iter()
                    .map(|(afi, safi)| GrFamily {
                        afi: *afi,
                        safi: *safi,
                        forwarding_state: gr.forwarding,
                    })
                    .collect(),
            }));
        }
        Open::new(
            self.config.local_as,
            self.config.hold_time,
            self.config.router_id,
            capabilities,
        )
    }

    /// Feeds one event; returns what to do, in order.
    pub fn handle(&mut self, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        match (self.state, event) {
            (State::Idle, Event::ManualStart | Event::ConnectRetryTimerExpires) => {
                self.start(&mut out)
            }
            (State::Idle, Event::AutomaticStartPassive) => self.start_passive(&mut out),
            (State::Idle, _) => {}
            (_, Event::ManualStart | Event::AutomaticStartPassive) => {}
            (_, Event::OpenCollisionDump) => {
                let cease = Notification::cease(cease::CONNECTION_COLLISION_RESOLUTION);
                self.stop(&mut out, End::Sent(cease), true)
            }
            (_, Event::ManualStop) => {
                let cease = Notification::cease(cease::ADMINISTRATIVE_SHUTDOWN);
                self.stop(&mut out, End::Sent(cease), false);
                out.push(Action::StopTimer(Timer::ConnectRetry));
            }
            (_, Event::Cease(subcode)) => {
                self.stop(&mut out, End::Sent(Notification::cease(subcode)), true)
            }
            (State::Connect | State::Active, Event::ConnectRetryTimerExpires) => {
                if self.state == State::Connect {
                    out.push(Action::Close);
                }
                self.start(&mut out);
            }
            (State::Connect | State::Active, Event::TcpConnectionConfirmed) => {
                out.push(Action::StopTimer(Timer::ConnectRetry));
                out.push(Action::Send(Message::Open(self.open())));
                out.push(Action::StartTimer(Timer::Hold, OPEN_SENT_HOLD));
                self.state = State::OpenSent;
            }
            (State::Connect, Event::TcpConnectionFails) => {
                out.push(Action::StartTimer(
                    Timer::ConnectRetry,
                    self.config.connect_retry,
                ));
                self.state = State::Active;
            }
            (State::OpenSent, Event::TcpConnectionFails) => {
                out.push(Action::Close);
                out.push(Action::StopTimer(Timer::Hold));
                out.push(Action::StartTimer(
                    Timer::ConnectRetry,
                    self.config.connect_retry,
                ));
                self.state = State::Active;
            }
            (State::OpenSent, Event::Message(Message::Open(open), _)) => {
                self.received_open(&mut out, &open)
            }
            (State::OpenConfirm, Event::Message(Message::Keepalive, _)) => {
                let Some(negotiated) = self.negotiated.clone() else {
                    return self.fsm_error(State::OpenConfirm);
                };
                self.restart_hold(&mut out);
                out.push(Action::Up(negotiated));
                self.state = State::Established;
                // This speaker's restart (if it was one) is over for this peer; and from
                // now on its forwarding state outlives a session that goes down: later
                // OPENs say so (RFC 4724 section 3), and the peer keeps its routes.
                if let Some(gr) = &mut self.config.graceful_restart {
                    gr.restarting = false;
                    gr.forwarding = true;
                }
            }
            (State::Established, Event::Message(Message::Keepalive, _)) => {
                self.restart_hold(&mut out)
            }
            (State::Established, Event::Message(Message::Update(update), class)) => {
                self.restart_hold(&mut out);
                out.push(Action::Update(Box::new(update), class));
            }
            (State::Established, Event::ManualRefresh) => self.request_refresh(&mut out),
            (State::Established, Event::Message(Message::RouteRefresh(refresh), _)) => {
                let RouteRefresh { afi, safi, .. } = refresh;
                out.push(Action::Refresh(afi, safi));
            }
            (State::OpenConfirm | State::Established, Event::KeepaliveTimerExpires) => {
                out.push(Action::Send(Message::Keepalive));
                if let Some(n) = &self.negotiated {
                    out.push(Action::StartTimer(Timer::Keepalive, n.hold_time / 3));
                }
            }
            (_, Event::HoldTimerExpires) => {
                let expired = Notification::new(code::HOLD_TIMER_EXPIRED, 0, Vec::new());
                self.stop(&mut out, End::Sent(expired), true)
            }
            // After an administrative Cease the peer comes back when it wants to; we keep
            // retrying at the ConnectRetry pace all the same, as routers do.
            (_, Event::Message(Message::Notification(n), _)) => {
                self.stop(&mut out, End::Received(n), true)
            }
            (_, Event::MessageError(n)) => self.stop(&mut out, End::Sent(n), true),
            (State::OpenConfirm | State::Established, Event::TcpConnectionFails) => {
                self.stop(&mut out, End::ConnectionLost, true)
            }
            // A message before our OPEN went out: the speaker hands over no such connection.
            (State::Connect | State::Active, Event::Message(..)) => {
                self.stop(&mut out, End::ConnectionLost, true)
            }
            (state, Event::Message(..)) => return self.fsm_error(state),
            (_, _) => {}
        }
        out
    }

    /// The families a ROUTE-REFRESH may ask for now, or why none may be sent: only in
    /// Established, and only to a peer that offered the capability (RFC 2918 section 4).
    pub fn refresh_families(&self) -> Result<Vec<(Afi, Safi)>, RefreshRefused> {
        let n = match (&self.negotiated, self.state) {
            (Some(n), State::Established) => n,
            (_, state) => return Err(RefreshRefused::NotEstablished(state)),
        };
        if !n.route_refresh {
            return Err(RefreshRefused::NoCapability);
        }
        Ok(n.families.clone())
    }

    fn request_refresh(&self, out: &mut Vec<Action>) {
        let Ok(families) = self.refresh_families() else {
            return;
        };
        // Subtype 0: a plain RFC 2918 request. The enhanced form (RFC 7313) needs a
        // capability we do not offer.
        out.extend(families.into_iter().map(|(afi, safi)| {
            Action::Send(Message::RouteRefresh(RouteRefresh {
                afi,
                safi,
                subtype: refresh_subtype::NORMAL,
            }))
        }));
    }

    fn start(&mut self, out: &mut Vec<Action>) {
        out.push(Action::StartTimer(
            Timer::ConnectRetry,
            self.config.connect_retry,
        ));
        if self.config.passive {
            self.state = State::Active;
        } else {
            out.push(Action::Connect);
            self.state = State::Connect;
        }
    }

    fn start_passive(&mut self, out: &mut Vec<Action>) {
        out.push(Action::StartTimer(
            Timer::ConnectRetry,
            self.config.connect_retry,
        ));
        self.state = State::Active;
    }

    /// Leaves whatever state for Idle, telling the peer why when `end` says so; the
    /// ConnectRetry timer brings the session back (automatic restart) when `retry`.
    fn stop(&mut self, out: &mut Vec<Action>, end: End, retry: bool) {
        let connected = matches!(
            self.state,
            State::OpenSent | State::OpenConfirm | State::Established
        );
        if let (true, End::Sent(n)) = (connected, &end) {
            out.push(Action::Send(Message::Notification(n.clone())));
        }
        if self.state != State::Idle {
            out.push(Action::Close);
        }
        out.push(Action::StopTimer(Timer::Hold));
        out.push(Action::StopTimer(Timer::Keepalive));
        let was_established = self.state == State::Established;
        if self.state != State::Idle {
            // A peer's routes are kept through its restart only when the connection just
            // went away (RFC 4724 section 4.2): a NOTIFICATION, sent or received, ends the
            // session the ordinary way.
            let keep_routes = self
                .negotiated
                .as_ref()
                .and_then(|n| n.peer_restart.as_ref())
                .filter(|gr| {
                    was_established && matches!(end, End::ConnectionLost) && !gr.families.is_empty()
                })
                .map(|gr| Duration::from_secs(u64::from(gr.restart_time)));
            out.push(Action::Down {
                reason: end.describe(),
                was_established,
                keep_routes,
            });
        }
        self.negotiated = None;
        self.state = State::Idle;
        if retry {
            out.push(Action::StartTimer(
                Timer::ConnectRetry,
                self.config.connect_retry,
            ));
        }
    }

    fn fsm_error(&mut self, state: State) -> Vec<Action> {
        let subcode = match state {
            State::OpenSent => fsm_error::UNEXPECTED_IN_OPEN_SENT,
            State::OpenConfirm => fsm_error::UNEXPECTED_IN_OPEN_CONFIRM,
            State::Established => fsm_error::UNEXPECTED_IN_ESTABLISHED,
            _ => fsm_error::UNSPECIFIED,
        };
        let mut out = Vec::new();
        let error = Notification::new(code::FSM, subcode, Vec::new());
        self.stop(&mut out, End::Sent(error), true);
        out
    }

    fn received_open(&mut self, out: &mut Vec<Action>, open: &Open) {
        if let Err(notification) = self.check_open(open) {
            self.stop(out, End::Sent(notification), true);
            return;
        }
        let ours = self.open();
        let hold = self.config.hold_time.min(open.hold_time);
        let families: Vec<(Afi, Safi)> = self
            .config
            .families
            .iter()
            .copied()
            .filter(|f| offers(open, *f))
            .collect();
        let negotiated = Negotiated {
            peer_as: open.asn(),
            peer_id: open.bgp_id,
            hold_time: Duration::from_secs(u64::from(hold)),
            codec: Codec::negotiated(&ours, open),
            families,
            peer_restart: open.capabilities.iter().find_map(|c| match c {
                Capability::GracefulRestart(gr) => Some(gr.clone()),
                _ => None,
            }),
            route_refresh: open
                .capabilities
                .iter()
                .any(|c| matches!(c, Capability::RouteRefresh)),
        };
        out.push(Action::Send(Message::Keepalive));
        if hold > 0 {
            out.push(Action::StartTimer(Timer::Hold, negotiated.hold_time));
            out.push(Action::StartTimer(
                Timer::Keepalive,
                negotiated.hold_time / 3,
            ));
        } else {
            out.push(Action::StopTimer(Timer::Hold));
        }
        self.negotiated = Some(negotiated);
        self.state = State::OpenConfirm;
    }

    /// RFC 4271 section 6.2's checks that need the configuration.
    fn check_open(&self, open: &Open) -> Result<(), Notification> {
        if open.asn() != self.config.peer_as {
            return Err(Notification::new(
                code::OPEN_MESSAGE,
                open_error::BAD_PEER_AS,
                open.my_as.to_be_bytes().to_vec(),
            ));
        }
        if open.my_as == AS_TRANS
            && open.four_octet_as().is_none()
            && self.config.peer_as != u32::from(AS_TRANS)
        {
            return Err(Notification::new(
                code::OPEN_MESSAGE,
                open_error::BAD_PEER_AS,
                open.my_as.to_be_bytes().to_vec(),
            ));
        }
        let ibgp = self.config.peer_as == self.config.local_as;
        if open.bgp_id.is_unspecified() || (ibgp && open.bgp_id == self.config.router_id) {
            return Err(Notification::new(
                code::OPEN_MESSAGE,
                open_error::BAD_BGP_IDENTIFIER,
                open.bgp_id.octets().to_vec(),
            ));
        }
        if open.hold_time == 1 || open.hold_time == 2 {
            return Err(Notification::new(
                code::OPEN_MESSAGE,
                open_error::UNACCEPTABLE_HOLD_TIME,
                Vec::new(),
            ));
        }
        Ok(())
    }

    fn restart_hold(&self, out: &mut Vec<Action>) {
        if let Some(n) = &self.negotiated {
            if !n.hold_time.is_zero() {
                out.push(Action::StartTimer(Timer::Hold, n.hold_time));
            }
        }
    }
}

/// RFC 4271 section 6.8: of two connections with a peer, both in OpenConfirm, the one
/// initiated by the speaker with the higher BGP Identifier is kept; with equal Identifiers,
/// the one initiated by the speaker with the larger AS number (RFC 6286 section 2.3).
/// Whether that is ours: the connection we opened.
pub fn collision_keeps_ours(local_id: Ipv4Addr, local_as: u32, open: &Open) -> bool {
    (u32::from(local_id), local_as) > (u32::from(open.bgp_id), open.asn())
}

/// Whether the peer's OPEN offers a family. A peer that sends no multiprotocol capability
/// at all speaks IPv4 unicast only (RFC 4760 section 8).
fn offers(open: &Open, family: (Afi, Safi)) -> bool {
    let mut any = false;
    for c in &open.capabilities {
        if let Capability::Multiprotocol(afi, safi) = c {
            any = true;
            if (*afi, *safi) == family {
                return true;
            }
        }
    }
    !any && family == (Afi::IPV4, Safi::UNICAST)
}

/// Why a session ends.
enum End {
    /// We send this NOTIFICATION.
    Sent(Notification),
    /// The peer sent this one.
    Received(Notification),
    ConnectionLost,
}

impl End {
    fn describe(&self) -> String {
        match self {
            End::Sent(n) => format!(
                "sent NOTIFICATION {}/{} ({})",
                n.code,
                n.subcode,
                n.describe()
            ),
            End::Received(n) => {
                format!(
                    "received NOTIFICATION {}/{} ({})",
                    n.code,
                    n.subcode,
                    n.describe()
                )
            }
            End::ConnectionLost => "the connection was lost".into(),
        }
    }
}

#[cfg(test)]
#[path = "fsm_tests.rs"]
mod tests;
