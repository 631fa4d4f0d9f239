use super::*;

const RETRY: Duration = Duration::from_secs(5);

fn config(passive: bool) -> PeerConfig {
    PeerConfig {
        local_as: 65001,
        peer_as: 65000,
        router_id: Ipv4Addr::new(198, 51, 100, 1),
        hold_time: 90,
        connect_retry: RETRY,
        passive,
        families: vec![(Afi::IPV4, Safi::UNICAST), (Afi::IPV6, Safi::UNICAST)],
        graceful_restart: None,
    }
}

fn peer_open(asn: u32, hold: u16, capabilities: Vec<Capability>) -> Open {
    Open::new(asn, hold, Ipv4Addr::new(198, 51, 100, 254), capabilities)
}

fn message(m: Message) -> Event {
    Event::Message(m, UpdateClass::Ok)
}

fn sent(actions: &[Action]) -> Vec<&Message> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn notification(actions: &[Action]) -> Option<(u8, u8)> {
    sent(actions).into_iter().find_map(|m| match m {
        Message::Notification(n) => Some((n.code, n.subcode)),
        _ => None,
    })
}

/// Start -> connected -> OPEN exchanged -> KEEPALIVE: Established.
fn established(peer: Open) -> (Session, Vec<Action>) {
    let mut s = Session::new(config(false));
    assert_eq!(
        s.handle(Event::ManualStart),
        vec![
            Action::StartTimer(Timer::ConnectRetry, RETRY),
            Action::Connect
        ]
    );
    assert_eq!(s.state(), State::Connect);
    let out = s.handle(Event::TcpConnectionConfirmed);
    assert!(matches!(sent(&out)[..], [Message::Open(_)]), "{out:?}");
    assert_eq!(s.state(), State::OpenSent);
    let out = s.handle(message(Message::Open(peer)));
    assert_eq!(sent(&out), vec![&Message::Keepalive]);
    assert_eq!(s.state(), State::OpenConfirm);
    let out = s.handle(message(Message::Keepalive));
    assert_eq!(s.state(), State::Established);
    (s, out)
}

#[test]
fn an_active_session_reaches_established_and_settles_the_terms() {
    let (s, out) = established(peer_open(65000, 30, vec![Capability::RouteRefresh]));
    let up = out
        .iter()
        .find_map(|a| match a {
            Action::Up(n) => Some(n.clone()),
            _ => None,
        })
        .expect("Up");
    assert_eq!(up.peer_as, 65000);
    assert_eq!(
        up.hold_time,
        Duration::from_secs(30),
        "the smaller hold time"
    );
    assert!(
        up.codec.four_octet_as,
        "both sides offer 4-octet AS (Open::new does)"
    );
    assert_eq!(
        up.families,
        vec![(Afi::IPV4, Safi::UNICAST)],
        "no multiprotocol capability: IPv4 unicast only"
    );
    assert!(up.route_refresh);
    assert_eq!(s.negotiated(), Some(&up));
}

#[test]
fn keepalives_go_at_a_third_of_the_hold_time_and_each_message_restarts_hold() {
    let mut s = established(peer_open(65000, 90, vec![])).0;
    assert_eq!(
        s.handle(Event::KeepaliveTimerExpires),
        vec![
            Action::Send(Message::Keepalive),
            Action::StartTimer(Timer::Keepalive, Duration::from_secs(30))
        ]
    );
    assert_eq!(
        s.handle(message(Message::Keepalive)),
        vec![Action::StartTimer(Timer::Hold, Duration::from_secs(90))]
    );
    let out = s.handle(message(Message::Update(Update::default())));
    assert!(matches!(out[1], Action::Update(..)), "{out:?}");
}

#[test]
fn a_passive_session_waits_and_never_connects() {
    let mut s = Session::new(config(true));
    let out = s.handle(Event::ManualStart);
    assert!(!out.contains(&Action::Connect), "{out:?}");
    assert_eq!(s.state(), State::Active);
    assert!(!s
        .handle(Event::ConnectRetryTimerExpires)
        .contains(&Action::Connect));
    s.handle(Event::TcpConnectionConfirmed);
    assert_eq!(s.state(), State::OpenSent);
}

#[test]
fn a_wrong_peer_as_is_refused_with_bad_peer_as() {
    let mut s = Session::new(config(false));
    s.handle(Event::ManualStart);
    s.handle(Event::TcpConnectionConfirmed);
    let out = s.handle(message(Message::Open(peer_open(65099, 90, vec![]))));
    assert_eq!(
        notification(&out),
        Some((code::OPEN_MESSAGE, open_error::BAD_PEER_AS))
    );
    assert!(out.contains(&Action::Close));
    assert!(out.contains(&Action::StartTimer(Timer::ConnectRetry, RETRY)));
    assert!(
        out.iter().any(
            |a| matches!(a, Action::Down { reason, was_established: false, .. }
        if reason.contains("bad peer AS"))
        ),
        "{out:?}"
    );
    assert_eq!(s.state(), State::Idle);
    // The retry timer brings it back.
    assert!(s
        .handle(Event::ConnectRetryTimerExpires)
        .contains(&Action::Connect));
}

#[test]
fn unacceptable_hold_times_and_identifiers_are_refused() {
    for (open, subcode) in [
        (
            peer_open(65000, 2, vec![]),
            open_error::UNACCEPTABLE_HOLD_TIME,
        ),
        (
            Open::new(65000, 90, Ipv4Addr::UNSPECIFIED, vec![]),
            open_error::BAD_BGP_IDENTIFIER,
        ),
    ] {
        let mut s = Session::new(config(false));
        s.handle(Event::ManualStart);
        s.handle(Event::TcpConnectionConfirmed);
        let out = s.handle(message(Message::Open(open)));
        assert_eq!(notification(&out), Some((code::OPEN_MESSAGE, subcode)));
    }
}

#[test]
fn an_ibgp_peer_with_our_own_identifier_is_refused() {
    let mut c = config(false);
    c.peer_as = c.local_as;
    let mut s = Session::new(c);
    s.handle(Event::ManualStart);
    s.handle(Event::TcpConnectionConfirmed);
    let ours = Open::new(65001, 90, Ipv4Addr::new(198, 51, 100, 1), vec![]);
    let out = s.handle(message(Message::Open(ours)));
    assert_eq!(
        notification(&out),
        Some((code::OPEN_MESSAGE, open_error::BAD_BGP_IDENTIFIER))
    );
}

#[test]
fn hold_timer_expiry_sends_its_notification_and_takes_the_routes_down() {
    let mut s = established(peer_open(65000, 90, vec![])).0;
    let out = s.handle(Event::HoldTimerExpires);
    assert_eq!(notification(&out), Some((code::HOLD_TIMER_EXPIRED, 0)));
    assert!(out.iter().any(|a| matches!(
        a,
        Action::Down {
            keep_routes: None,
            was_established: true,
            ..
        }
    )));
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn a_lost_connection_keeps_a_graceful_peers_routes_for_its_restart_time() {
    let gr = Capability::GracefulRestart(GracefulRestart {
        restart_state: false,
        restart_time: 120,
        families: vec![GrFamily {
            afi: Afi::IPV4,
            safi: Safi::UNICAST,
            forwarding_state: true,
        }],
    });
    let mut s = established(peer_open(65000, 90, vec![gr.clone()])).0;
    let out = s.handle(Event::TcpConnectionFails);
    assert!(
        out.contains(&Action::Down {
            reason: "the connection was lost".into(),
            was_established: true,
            keep_routes: Some(Duration::from_secs(120))
        }),
        "{out:?}"
    );
    // A NOTIFICATION ends it the ordinary way, graceful restart or not.
    let mut s = established(peer_open(65000, 90, vec![gr])).0;
    let cease = Notification::cease(cease::ADMINISTRATIVE_RESET);
    let out = s.handle(message(Message::Notification(cease)));
    assert!(out.iter().any(|a| matches!(
        a,
        Action::Down {
            keep_routes: None,
            was_established: true,
            ..
        }
    )));
    assert_eq!(
        notification(&out),
        None,
        "no NOTIFICATION answers a NOTIFICATION"
    );
}

#[test]
fn messages_out_of_turn_are_fsm_errors_with_rfc_6608_subcodes() {
    let mut s = Session::new(config(false));
    s.handle(Event::ManualStart);
    s.handle(Event::TcpConnectionConfirmed);
    let out = s.handle(message(Message::Keepalive));
    assert_eq!(
        notification(&out),
        Some((code::FSM, fsm_error::UNEXPECTED_IN_OPEN_SENT))
    );
    let mut s = established(peer_open(65000, 90, vec![])).0;
    let out = s.handle(message(Message::Open(peer_open(65000, 90, vec![]))));
    assert_eq!(
        notification(&out),
        Some((code::FSM, fsm_error::UNEXPECTED_IN_ESTABLISHED))
    );
}

#[test]
fn a_malformed_message_is_answered_with_the_codecs_notification() {
    let mut s = established(peer_open(65000, 90, vec![])).0;
    let bad = Notification::new(code::UPDATE_MESSAGE, 1, Vec::new());
    let out = s.handle(Event::MessageError(bad));
    assert_eq!(notification(&out), Some((code::UPDATE_MESSAGE, 1)));
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn manual_stop_sends_cease_and_does_not_come_back() {
    let mut s = established(peer_open(65000, 90, vec![])).0;
    let out = s.handle(Event::ManualStop);
    assert_eq!(
        notification(&out),
        Some((code::CEASE, cease::ADMINISTRATIVE_SHUTDOWN))
    );
    assert!(!out.contains(&Action::StartTimer(Timer::ConnectRetry, RETRY)));
    assert!(out.contains(&Action::StopTimer(Timer::ConnectRetry)));
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn our_open_offers_the_families_route_refresh_and_graceful_restart() {
    let mut c = config(false);
    c.local_as = 4_200_000_000;
    c.graceful_restart = Some(GracefulOffer {
        restart_time: 120,
        restarting: true,
        forwarding: true,
    });
    let open = Session::new(c).open();
    assert_eq!(open.my_as, AS_TRANS, "a 4-octet AS goes as AS_TRANS");
    assert_eq!(open.asn(), 4_200_000_000);
    assert!(open
        .capabilities
        .contains(&Capability::Multiprotocol(Afi::IPV6, Safi::UNICAST)));
    assert!(open.capabilities.contains(&Capability::RouteRefresh));
    assert!(open.capabilities.iter().any(|c| matches!(c,
        Capability::GracefulRestart(gr) if gr.restart_state && gr.restart_time == 120
            && gr.families.iter().all(|f| f.forwarding_state))));
}

#[test]
fn a_collision_keeps_the_connection_of_the_higher_identifier_then_the_larger_as() {
    // Ours: 198.51.100.1 in AS 65001.
    let local = Ipv4Addr::new(198, 51, 100, 1);
    let with = |id: [u8; 4], asn: u32| Open::new(asn, 90, Ipv4Addr::from(id), Vec::new());
    assert!(!collision_keeps_ours(
        local,
        65001,
        &with([198, 51, 100, 254], 65000)
    ));
    assert!(collision_keeps_ours(
        local,
        65001,
        &with([198, 51, 100, 0], 65000)
    ));
    // Compared as numbers, not as text or by their last octet.
    assert!(!collision_keeps_ours(
        local,
        65001,
        &with([198, 51, 101, 0], 65000)
    ));
    assert!(collision_keeps_ours(
        local,
        65001,
        &with([10, 255, 255, 255], 65000)
    ));
    // The same Identifier (allowed between ASes, RFC 6286): the larger AS number wins.
    assert!(collision_keeps_ours(
        local,
        65001,
        &with([198, 51, 100, 1], 65000)
    ));
    assert!(!collision_keeps_ours(
        local,
        65001,
        &with([198, 51, 100, 1], 65002)
    ));
}

#[test]
fn a_session_started_on_the_peers_connection_never_connects_but_later_does() {
    // Not passive: only this start is.
    let mut s = Session::new(config(false));
    let out = s.handle(Event::AutomaticStartPassive);
    assert_eq!(out, vec![Action::StartTimer(Timer::ConnectRetry, RETRY)]);
    assert_eq!(s.state(), State::Active);
    let out = s.handle(Event::TcpConnectionConfirmed);
    assert!(matches!(sent(&out)[..], [Message::Open(_)]), "{out:?}");
    assert_eq!(s.state(), State::OpenSent);
    // Once that connection is gone, the session comes back as configured: connecting.
    s.handle(Event::TcpConnectionFails);
    s.handle(message(Message::Notification(Notification::cease(2))));
    assert_eq!(s.state(), State::Idle);
    let out = s.handle(Event::ConnectRetryTimerExpires);
    assert!(out.contains(&Action::Connect), "{out:?}");
}

#[test]
fn the_losing_connection_of_a_collision_is_closed_with_its_cease() {
    for opened in [false, true] {
        let mut s = Session::new(config(false));
        s.handle(Event::ManualStart);
        s.handle(Event::TcpConnectionConfirmed);
        if opened {
            s.handle(message(Message::Open(peer_open(65000, 90, vec![]))));
            assert_eq!(s.state(), State::OpenConfirm);
        }
        let out = s.handle(Event::OpenCollisionDump);
        assert_eq!(notification(&out), Some((code::CEASE, 7)), "{out:?}");
        assert!(out.contains(&Action::Close), "{out:?}");
        assert_eq!(s.state(), State::Idle);
    }
    // Nothing to close before a connection.
    let mut s = Session::new(config(false));
    assert_eq!(s.handle(Event::OpenCollisionDump), vec![]);
}

fn refresh(afi: Afi) -> Action {
    Action::Send(Message::RouteRefresh(RouteRefresh {
        afi,
        safi: Safi::UNICAST,
        subtype: refresh_subtype::NORMAL,
    }))
}

#[test]
fn a_manual_refresh_asks_for_every_negotiated_family_and_only_of_a_capable_peer() {
    let both = vec![
        Capability::Multiprotocol(Afi::IPV4, Safi::UNICAST),
        Capability::Multiprotocol(Afi::IPV6, Safi::UNICAST),
    ];
    let mut capable = both.clone();
    capable.push(Capability::RouteRefresh);
    let mut s = established(peer_open(65000, 90, capable)).0;
    assert_eq!(
        s.refresh_families(),
        Ok(vec![(Afi::IPV4, Safi::UNICAST), (Afi::IPV6, Safi::UNICAST)])
    );
    assert_eq!(
        s.handle(Event::ManualRefresh),
        vec![refresh(Afi::IPV4), refresh(Afi::IPV6)]
    );
    assert_eq!(s.state(), State::Established, "the session goes on");

    // Only the families of this session: no multiprotocol capability, IPv4 alone.
    let mut s = established(peer_open(65000, 90, vec![Capability::RouteRefresh])).0;
    assert_eq!(s.handle(Event::ManualRefresh), vec![refresh(Afi::IPV4)]);

    // RFC 2918 section 4: never to a peer that did not offer the capability.
    let mut s = established(peer_open(65000, 90, both)).0;
    assert_eq!(s.refresh_families(), Err(RefreshRefused::NoCapability));
    assert_eq!(s.handle(Event::ManualRefresh), vec![]);
    assert_eq!(s.state(), State::Established);

    // Nor before the session is up (OpenConfirm already knows the capability).
    let mut s = Session::new(config(false));
    assert_eq!(s.handle(Event::ManualRefresh), vec![]);
    s.handle(Event::ManualStart);
    s.handle(Event::TcpConnectionConfirmed);
    let open = peer_open(65000, 90, vec![Capability::RouteRefresh]);
    s.handle(message(Message::Open(open)));
    assert_eq!(s.state(), State::OpenConfirm);
    assert_eq!(
        s.refresh_families(),
        Err(RefreshRefused::NotEstablished(State::OpenConfirm))
    );
    assert_eq!(s.handle(Event::ManualRefresh), vec![]);
    assert_eq!(s.state(), State::OpenConfirm);
}

#[test]
fn after_a_session_came_up_the_restart_is_over_and_forwarding_outlives_a_session() {
    let mut c = config(false);
    c.graceful_restart = Some(GracefulOffer {
        restart_time: 120,
        restarting: false,
        forwarding: false,
    });
    let mut s = Session::new(c);
    let bits = |open: Open| {
        open.capabilities.iter().find_map(|c| match c {
            Capability::GracefulRestart(gr) => Some((
                gr.restart_state,
                gr.families.iter().all(|f| f.forwarding_state),
            )),
            _ => None,
        })
    };
    assert_eq!(
        bits(s.open()),
        Some((false, false)),
        "a fresh start keeps nothing"
    );
    s.handle(Event::ManualStart);
    s.handle(Event::TcpConnectionConfirmed);
    s.handle(message(Message::Open(peer_open(65000, 90, vec![]))));
    s.handle(message(Message::Keepalive));
    assert_eq!(s.state(), State::Established);
    assert_eq!(bits(s.open()), Some((false, true)));
}
