//! GTSM (RFC 5082) against FRR 8.4 (`neighbor X ttl-security hops 1`) and BIRD 2.0.12
//! (`ttl security yes`), and the speaker's own check, in namespaces. Needs root:
//! `cargo test -p wharf-bgp --test gtsm -- --include-ignored`.
//!
//! Where each peer applies its minimum TTL (seen here with strace and tcpdump; the tests
//! below hold them to what follows from it):
//! - FRR, connecting: IP_TTL 255 and IP_MINTTL 255 are set before connect(). A speaker
//!   without GTSM answers the SYN with TTL 64; FRR drops the SYN-ACK and its connection never
//!   completes. Enforced from the first segment.
//! - FRR, accepting: its listener sends with TTL 255 but checks nothing; IP_MINTTL is set on
//!   the accepted socket after accept() returns. BIRD does the same when it accepts, and when
//!   it connects sets IP_MINTTL only after connect() has returned EINPROGRESS, by which time
//!   the handshake over a veth is already done. In these three cases what arrives before the
//!   setsockopt passes unchecked: the handshake, and most of the time the OPEN that a speaker
//!   sends at once. The peer then sends its OPEN and KEEPALIVE with TTL 255, which is all our
//!   FSM needs: a speaker without GTSM reaches Established, alone. Everything it sends after
//!   that, its KEEPALIVE first, is dropped, so the peer sits in OpenConfirm until its hold
//!   timer expires; our side goes down within its own hold time (the peer, never hearing our
//!   ACKs, only retransmits what it sent first). So the peer never establishes in any
//!   direction, but a look at the speaker's state alone sees "Established" for a hold time
//!   at a time: that is what made GTSM on one side look like it did not matter. These tests
//!   look at the peer's own CLI, and at how long our side stays up.
//!
//! The speaker sets GTSM's options on its own socket before connect(), and on its listener,
//! from which every accepted socket starts: nothing with a TTL below 254 gets in, not even a
//! SYN, and its SYN-ACK goes with TTL 255.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::Duration;

use support::speaker::*;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use wharf_bgp::fsm::State;
use wharf_bgp::sockopt;
use wharf_bgp::speaker::{Speaker, SpeakerConfig};
use wharf_bgp::wire::{encode_message, Codec, Message, Open};
use wharf_netlink::netns::run_in_netns;

/// Hold time on both sides: short, so that the checks can outlast several of them.
const HOLD: u16 = 3;
const HOLD_TIME: Duration = Duration::from_secs(HOLD as u64);

#[derive(Clone, Copy, Debug)]
enum Daemon {
    Frr,
    Bird,
}

/// The lab's peer daemon, started with or without GTSM, passive or not.
struct Peer {
    daemon: Daemon,
    bird_socket: String,
}

impl Peer {
    fn start(lab: &mut Lab, daemon: Daemon, gtsm: bool, passive: bool) -> Peer {
        let mut bird_socket = String::new();
        match daemon {
            Daemon::Frr => {
                let mut extra = String::new();
                if gtsm {
                    extra += &format!(" neighbor {SPEAKER_V4} ttl-security hops 1\n");
                }
                if passive {
                    extra += &format!(" neighbor {SPEAKER_V4} passive\n");
                }
                lab.frr(&format!(
                    "frr defaults traditional
hostname peer
log stdout
router bgp 65000
 bgp router-id {PEER_V4}
 no bgp ebgp-requires-policy
 timers bgp 1 {HOLD}
 neighbor {SPEAKER_V4} remote-as 65001
 neighbor {SPEAKER_V4} timers connect 1
{extra}"
                ));
            }
            Daemon::Bird => {
                let ttl = if gtsm { "ttl security yes;" } else { "" };
                let passive = if passive { "passive yes;" } else { "" };
                bird_socket = lab.bird(&format!(
                    "router id {PEER_V4};
protocol device {{}}
protocol bgp wharf {{
  local {PEER_V4} as 65000;
  neighbor {SPEAKER_V4} as 65001;
  hold time {HOLD}; keepalive time 1;
  connect delay time 1; connect retry time 1; error wait time 1, 2;
  {ttl} {passive}
  ipv4 {{ import all; export none; }};
}}
"
                ));
            }
        }
        Peer {
            daemon,
            bird_socket,
        }
    }

    /// Its BGP state as its own CLI shows it.
    fn state(&self, lab: &Lab) -> String {
        match self.daemon {
            Daemon::Frr => lab.frr_state(SPEAKER_V4),
            Daemon::Bird => lab.bird_state(&self.bird_socket),
        }
    }

    /// How many times its session came up, when its CLI says (FRR does).
    fn times_established(&self, lab: &Lab) -> Option<u64> {
        match self.daemon {
            Daemon::Frr => json_number(
                &lab.vtysh(&format!("show bgp neighbors {SPEAKER_V4} json")),
                "connectionsEstablished",
            ),
            Daemon::Bird => None,
        }
    }
}

fn speaker(passive: bool, gtsm: bool) -> SpeakerConfig {
    let mut config = speaker_config(passive, 65000);
    config.peers[0].hold_time = HOLD;
    config.peers[0].transport.ttl_security = gtsm;
    config
}

/// GTSM on both sides: Established on both, and still so after two hold times (the
/// keepalives pass the check both ways); one connection, in the direction asked.
fn with_gtsm_on_both_sides(daemon: Daemon, speaker_connects: bool) {
    let mut lab = Lab::new(&format!("gtsm-both-{daemon:?}-{speaker_connects}"));
    let peer = Peer::start(&mut lab, daemon, true, speaker_connects);
    run_in_netns(&lab.speaker_netns(), || {
        runtime().block_on(async {
            let config = speaker(!speaker_connects, true);
            let speaker = Speaker::start(config, Box::new(Collect::default()))
                .await
                .expect("speaker starts");
            let both = async || {
                state(&speaker).await == State::Established && peer.state(&lab) == "Established"
            };
            assert!(
                wait_for(Duration::from_secs(20), both).await,
                "{daemon:?}: Established on both sides; ours: {:?}, the peer's: {}",
                speaker.neighbors().await,
                peer.state(&lab)
            );
            tokio::time::sleep(HOLD_TIME * 2 + Duration::from_secs(1)).await;
            let ours = speaker.neighbors().await;
            assert!(
                ours[0].state == State::Established
                    && ours[0].uptime.is_some_and(|up| up > HOLD_TIME * 2),
                "{daemon:?}: still up after two hold times: {ours:?}"
            );
            assert_eq!(peer.state(&lab), "Established", "{daemon:?}");
            if let Some(times) = peer.times_established(&lab) {
                assert_eq!(times, 1, "{daemon:?}: the session never flapped");
            }
            let connections = lab.connections(&lab.speaker);
            assert_eq!(connections.len(), 1, "one connection: {connections:?}");
            let (local, remote) = &connections[0];
            let ours_on_179 = local.ends_with(":179");
            assert_eq!(
                (ours_on_179, remote.ends_with(":179")),
                (!speaker_connects, speaker_connects),
                "{daemon:?}: the connection went the asked way: {connections:?}"
            );
            speaker.shutdown().await;
        })
    })
    .expect("speaker namespace");
}

/// What was seen while a session was watched: every state of ours, the longest our side
/// stayed Established, and every state the peer's CLI showed.
#[derive(Debug, Default)]
struct Watched {
    ours: Vec<State>,
    longest_up: Duration,
    peers: Vec<String>,
}

async fn watch(speaker: &Speaker, lab: &Lab, peer: &Peer, duration: Duration) -> Watched {
    let mut seen = Watched::default();
    let end = tokio::time::Instant::now() + duration;
    while tokio::time::Instant::now() < end {
        let ours = speaker.neighbors().await;
        if let Some(n) = ours.first() {
            if !seen.ours.contains(&n.state) {
                seen.ours.push(n.state);
            }
            seen.longest_up = seen.longest_up.max(n.uptime.unwrap_or_default());
        }
        let theirs = peer.state(lab);
        if !seen.peers.contains(&theirs) {
            seen.peers.push(theirs);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen
}

/// GTSM on one side only, watched for three hold times and more; what was seen.
fn with_gtsm_on_one_side(
    daemon: Daemon,
    gtsm_on_speaker: bool,
    speaker_connects: bool,
) -> (Watched, u64, u64) {
    let mut lab = Lab::new(&format!(
        "gtsm-one-{daemon:?}-{gtsm_on_speaker}-{speaker_connects}"
    ));
    let peer = Peer::start(&mut lab, daemon, !gtsm_on_speaker, speaker_connects);
    let seen = run_in_netns(&lab.speaker_netns(), || {
        runtime().block_on(async {
            let config = speaker(!speaker_connects, gtsm_on_speaker);
            let speaker = Speaker::start(config, Box::new(Collect::default()))
                .await
                .expect("speaker starts");
            let seen = watch(
                &speaker,
                &lab,
                &peer,
                HOLD_TIME * 3 + Duration::from_secs(3),
            )
            .await;
            speaker.shutdown().await;
            seen
        })
    })
    .expect("speaker namespace");
    eprintln!("{daemon:?}, GTSM on the speaker: {gtsm_on_speaker}, the speaker connects: {speaker_connects}: {seen:?}");
    let drops = (
        lab.min_ttl_drops(&lab.speaker),
        lab.min_ttl_drops(&lab.peer),
    );
    (seen, drops.0, drops.1)
}

#[test]
#[ignore = "needs root and FRR; run by scripts/test"]
fn with_gtsm_on_both_sides_frr_establishes_whichever_side_connects() {
    with_gtsm_on_both_sides(Daemon::Frr, true);
    with_gtsm_on_both_sides(Daemon::Frr, false);
}

#[test]
#[ignore = "needs root and BIRD; run by scripts/test"]
fn with_gtsm_on_both_sides_bird_establishes_whichever_side_connects() {
    with_gtsm_on_both_sides(Daemon::Bird, true);
    with_gtsm_on_both_sides(Daemon::Bird, false);
}

#[test]
#[ignore = "needs root and FRR; run by scripts/test"]
fn frr_with_gtsm_never_establishes_with_a_speaker_without_it() {
    // FRR connects: it drops our SYN-ACK (TTL 64), so we never even get a connection.
    let (seen, _, frr_drops) = with_gtsm_on_one_side(Daemon::Frr, false, false);
    assert!(
        seen.ours
            .iter()
            .all(|s| matches!(s, State::Idle | State::Active)),
        "{seen:?}"
    );
    assert!(!seen.peers.iter().any(|s| s == "Established"), "{seen:?}");
    assert!(frr_drops > 0, "FRR's kernel dropped our segments");

    // We connect: FRR checks only once it has accepted, our OPEN gets in and our side may
    // be Established for a hold time (see the top of this file), FRR never is.
    let (seen, _, frr_drops) = with_gtsm_on_one_side(Daemon::Frr, false, true);
    assert!(!seen.peers.iter().any(|s| s == "Established"), "{seen:?}");
    assert!(
        seen.longest_up <= HOLD_TIME + Duration::from_secs(1),
        "up on our side for a hold time at most: {seen:?}"
    );
    assert!(frr_drops > 0, "FRR's kernel dropped our segments");
}

#[test]
#[ignore = "needs root and BIRD; run by scripts/test"]
fn bird_with_gtsm_never_establishes_with_a_speaker_without_it() {
    // BIRD checks only after the handshake in both directions (see the top of this file).
    for speaker_connects in [true, false] {
        let (seen, _, bird_drops) = with_gtsm_on_one_side(Daemon::Bird, false, speaker_connects);
        assert!(!seen.peers.iter().any(|s| s == "Established"), "{seen:?}");
        assert!(
            seen.longest_up <= HOLD_TIME + Duration::from_secs(1),
            "up on our side for a hold time at most: {seen:?}"
        );
        assert!(bird_drops > 0, "BIRD's kernel dropped our segments");
    }
}

#[test]
#[ignore = "needs root and FRR; run by scripts/test"]
fn frr_without_gtsm_never_gets_a_session_with_a_speaker_that_has_it() {
    // FRR connects with TTL 1 (its eBGP default): our listener drops the SYN.
    let (seen, our_drops, _) = with_gtsm_on_one_side(Daemon::Frr, true, false);
    assert!(
        seen.ours
            .iter()
            .all(|s| matches!(s, State::Idle | State::Active)),
        "never OpenSent: {seen:?}"
    );
    assert!(!seen.peers.iter().any(|s| s == "Established"), "{seen:?}");
    assert!(our_drops > 0, "our kernel dropped FRR's segments");

    // We connect: FRR's listener sends with TTL 255 for every peer, so the handshake
    // completes and our OPEN goes out; the socket FRR accepted sends with TTL 1, and its
    // OPEN never reaches us.
    let (seen, our_drops, _) = with_gtsm_on_one_side(Daemon::Frr, true, true);
    assert!(
        !seen
            .ours
            .iter()
            .any(|s| matches!(s, State::OpenConfirm | State::Established)),
        "never past OpenSent: {seen:?}"
    );
    assert!(!seen.peers.iter().any(|s| s == "Established"), "{seen:?}");
    assert!(our_drops > 0, "our kernel dropped FRR's segments");
}

/// A TCP connection from the peer's namespace to the speaker, sent with `ttl` and, like a
/// GTSM peer's, refusing what arrives below `min_ttl`. Two seconds to connect.
async fn dial(target: SocketAddr, ttl: u8, min_ttl: Option<u8>) -> std::io::Result<TcpStream> {
    let socket = match target {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    sockopt::set_ttl(socket.as_fd(), target.is_ipv6(), ttl)?;
    if let Some(min) = min_ttl {
        sockopt::set_min_ttl(socket.as_fd(), target.is_ipv6(), min)?;
    }
    match tokio::time::timeout(Duration::from_secs(2), socket.connect(target)).await {
        Ok(connected) => connected,
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}

/// The speaker's address for each family.
fn targets() -> [SocketAddr; 2] {
    [SPEAKER_V4, SPEAKER_V6].map(|a| SocketAddr::new(a.parse().unwrap(), 179))
}

/// Runs `work` in the peer's namespace on a thread of its own, so that the speaker's
/// runtime goes on meanwhile.
async fn from_peer<T: Send + 'static>(lab: &Lab, work: impl FnOnce() -> T + Send + 'static) -> T {
    let namespace: PathBuf = lab.peer_netns();
    tokio::task::spawn_blocking(move || run_in_netns(&namespace, work).expect("peer namespace"))
        .await
        .expect("peer thread")
}

/// Connections from TTL 1 to 253, for both families at once: whether each connected.
fn low_ttl_connections() -> Vec<(SocketAddr, u8, bool)> {
    runtime().block_on(async {
        let mut attempts = Vec::new();
        for target in targets() {
            for ttl in [1, 64, 253] {
                attempts.push((target, ttl, tokio::spawn(dial(target, ttl, None))));
            }
        }
        let mut out = Vec::new();
        for (target, ttl, attempt) in attempts {
            out.push((target, ttl, attempt.await.is_ok_and(|r| r.is_ok())));
        }
        out
    })
}

/// The first message the speaker sends on a connection made with TTL 255 by a client that
/// takes nothing below 255 (the speaker's SYN-ACK and OPEN must come with 255).
fn first_message_at_ttl_255(target: SocketAddr) -> Result<u8, String> {
    runtime().block_on(async {
        let mut stream = dial(target, 255, Some(255))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let mut header = [0u8; 19];
        tokio::time::timeout(Duration::from_secs(3), stream.read_exact(&mut header))
            .await
            .map_err(|_| "nothing came".to_string())?
            .map_err(|e| format!("read: {e}"))?;
        Ok(header[18])
    })
}

/// Connects with TTL `ttl`; whether it connected.
fn connects_with(target: SocketAddr, ttl: u8) -> bool {
    runtime().block_on(async { dial(target, ttl, None).await.is_ok() })
}

/// Connects with TTL 255, then sends an OPEN and a KEEPALIVE with TTL 64 and keeps the
/// connection for `hold`.
async fn open_at_ttl_64_after_the_handshake(
    target: SocketAddr,
    hold: Duration,
) -> Result<(), String> {
    let mut stream = dial(target, 255, None)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    sockopt::set_ttl(stream.as_fd(), target.is_ipv6(), 64).map_err(|e| e.to_string())?;
    let codec = Codec::default();
    let open = Open::new(65000, HOLD, PEER_V4.parse().unwrap(), Vec::new());
    for message in [Message::Open(open), Message::Keepalive] {
        let bytes = encode_message(&message, &codec).map_err(|e| format!("{e:?}"))?;
        stream.write_all(&bytes).await.map_err(|e| e.to_string())?;
    }
    tokio::time::sleep(hold).await;
    Ok(())
}

/// [`open_at_ttl_64_after_the_handshake`] for both families at once.
fn opens_at_ttl_64_after_the_handshake(hold: Duration) -> Vec<Result<(), String>> {
    runtime().block_on(async {
        let attempts =
            targets().map(|target| tokio::spawn(open_at_ttl_64_after_the_handshake(target, hold)));
        let mut out = Vec::new();
        for attempt in attempts {
            out.push(attempt.await.unwrap_or_else(|e| Err(e.to_string())));
        }
        out
    })
}

#[test]
#[ignore = "needs root; run by scripts/test"]
fn the_speaker_takes_nothing_below_ttl_254_from_a_gtsm_peer() {
    let lab = Lab::new("gtsm-own");
    run_in_netns(&lab.speaker_netns(), || {
        runtime().block_on(async {
            // Passive, so that only the clients below make connections; one peer per family.
            let mut config = speaker(true, true);
            let mut v6 = config.peers[0].clone();
            v6.address = PEER_V6.parse().unwrap();
            config.peers.push(v6);
            let speaker = Speaker::start(config, Box::new(Collect::default()))
                .await
                .expect("speaker starts");
            let v4: IpAddr = PEER_V4.parse().unwrap();
            let v6: IpAddr = PEER_V6.parse().unwrap();

            // TTL 1 to 253: the SYN is dropped, no connection, no session gets anywhere.
            let drops_before = lab.min_ttl_drops(&lab.speaker);
            let (seen, attempts) = tokio::join!(
                states_seen(&speaker, Duration::from_secs(3)),
                from_peer(&lab, low_ttl_connections)
            );
            for (target, ttl, connected) in &attempts {
                assert!(!connected, "{target} with TTL {ttl} connected");
            }
            for (peer, states) in &seen {
                assert!(
                    states
                        .iter()
                        .all(|s| matches!(s, State::Idle | State::Active)),
                    "{peer} never left Active: {states:?}"
                );
            }
            assert!(
                lab.min_ttl_drops(&lab.speaker) > drops_before,
                "our kernel dropped them"
            );

            // TTL 255 from a client that takes nothing below 255: our SYN-ACK and our OPEN
            // come with 255. TTL 254, the lowest a peer one hop away can send with, connects.
            for target in targets() {
                let first = from_peer(&lab, move || first_message_at_ttl_255(target)).await;
                assert_eq!(first, Ok(1), "{target}: our OPEN, at TTL 255");
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            for target in targets() {
                let connected = from_peer(&lab, move || connects_with(target, 254)).await;
                assert!(connected, "{target} with TTL 254");
            }

            // The handshake at 255, then the OPEN at 64: the accepted socket drops it as the
            // listener would have, so we stay in OpenSent.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let drops_before = lab.min_ttl_drops(&lab.speaker);
            let hold = Duration::from_secs(3);
            let (seen, sent) = tokio::join!(
                states_seen(&speaker, hold),
                from_peer(&lab, move || opens_at_ttl_64_after_the_handshake(hold))
            );
            for result in sent {
                assert_eq!(result, Ok(()));
            }
            for (peer, states) in &seen {
                assert!(
                    [v4, v6].contains(peer)
                        && states.contains(&State::OpenSent)
                        && !states
                            .iter()
                            .any(|s| matches!(s, State::OpenConfirm | State::Established)),
                    "{peer}: connected, never took the OPEN: {states:?}"
                );
            }
            assert!(lab.min_ttl_drops(&lab.speaker) > drops_before);
            speaker.shutdown().await;
        })
    })
    .expect("speaker namespace");
}
