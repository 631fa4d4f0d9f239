//! Connection collisions (RFC 4271 section 6.8) in namespaces: both sides connect, both
//! connections get as far as OpenConfirm, and the one initiated by the side with the higher
//! BGP Identifier must be the one kept. First against a scripted peer that orders every step,
//! then against FRR and BIRD, round after round, with our Identifier below theirs and above.
//!
//! Over a veth the handshake and the OPENs take microseconds, so two sides started "at the
//! same moment" rarely collide: one connection is up before the other exists. The rounds
//! make the collision certain instead: nftables holds back what carries BGP data (TCP
//! segments with PSH) and the peer's SYNs; our connection comes up, then theirs, with every
//! OPEN still waiting in retransmission; then one direction is let through first, so that
//! one side gets the OPENs of both connections and must choose (we, or the peer, by turns),
//! and then the other. Each round starts the peer daemon and the speaker afresh and ends
//! with one session, on one TCP connection, seen from both namespaces. Needs root:
//! `cargo test -p wharf-bgp --test collision -- --include-ignored`.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use support::speaker::*;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wharf_bgp::fsm::State;
use wharf_bgp::speaker::{Speaker, SpeakerConfig};
use wharf_bgp::wire::{cease, code, encode_message, msg_type, Codec, Message, Open};
use wharf_netlink::netns::run_in_netns;

/// The peers' BGP Identifier, and ours below or above it.
const PEER_ID: &str = PEER_V4;
const OURS_LOWER: &str = SPEAKER_V4;
const OURS_HIGHER: &str = "198.51.101.1";

const OPEN: u8 = msg_type::OPEN;
const NOTIFICATION: u8 = msg_type::NOTIFICATION;
const KEEPALIVE: u8 = msg_type::KEEPALIVE;

fn speaker(router_id: &str) -> SpeakerConfig {
    let mut config = speaker_config(false, 65000);
    config.router_id = router_id.parse().unwrap();
    config
}

/// For each established connection in namespace `ns` (the speaker's or the peer's),
/// whether the speaker opened it.
fn opened_by_speaker(lab: &Lab, ns: &str) -> Vec<bool> {
    let speaker_side = ns == lab.speaker;
    lab.connections(ns)
        .iter()
        .map(|(local, remote)| {
            let (speaker_end, peer_end) = if speaker_side {
                (local, remote)
            } else {
                (remote, local)
            };
            // The side that opened it used a free port; the other answered on 179.
            peer_end.ends_with(":179") && !speaker_end.ends_with(":179")
        })
        .collect()
}

/// The next BGP message on `stream`: its type and body.
async fn next_message(stream: &mut TcpStream) -> Result<(u8, Vec<u8>), String> {
    let mut header = [0u8; 19];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut header));
    read.await
        .map_err(|_| "no message in 5 s".to_string())?
        .map_err(|e| format!("read: {e}"))?;
    let length = usize::from(u16::from_be_bytes([header[16], header[17]]));
    let mut body = vec![0u8; length.saturating_sub(19)];
    stream
        .read_exact(&mut body)
        .await
        .map_err(|e| format!("read: {e}"))?;
    Ok((header[18], body))
}

async fn expect(stream: &mut TcpStream, kind: u8, what: &str) -> Result<Vec<u8>, String> {
    match next_message(stream).await {
        Ok((k, body)) if k == kind => Ok(body),
        Ok((k, body)) => Err(format!("{what}: message type {k} {body:?}")),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

async fn expect_collision_cease(stream: &mut TcpStream, what: &str) -> Result<(), String> {
    let body = expect(stream, NOTIFICATION, what).await?;
    if body[..] != [code::CEASE, cease::CONNECTION_COLLISION_RESOLUTION] {
        return Err(format!("{what}: NOTIFICATION {body:?}"));
    }
    let mut rest = [0u8; 1];
    match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut rest)).await {
        Ok(Ok(0)) | Ok(Err(_)) => Ok(()),
        other => Err(format!("{what}: not closed after the Cease: {other:?}")),
    }
}

async fn send(stream: &mut TcpStream, message: Message) -> Result<(), String> {
    let bytes = encode_message(&message, &Codec::default()).map_err(|e| format!("{e:?}"))?;
    stream.write_all(&bytes).await.map_err(|e| e.to_string())
}

/// A scripted peer in the peer's namespace that makes a collision happen one step at a time:
/// it takes the speaker's connection (A), opens its own (B), and only then sends its OPEN on
/// one of them (`first_on_ours`: on A), then on the other. The speaker must answer each
/// connection with its OPEN, then close the loser with Cease/Connection Collision Resolution
/// and complete the session on the winner; a third connection after that is refused the same
/// way. Whether the kept connection is the speaker's (A).
async fn scripted_peer(
    listener: std::net::TcpListener,
    peer_id: Ipv4Addr,
    speaker_id: Ipv4Addr,
    first_on_ours: bool,
    hold: Duration,
) -> Result<bool, String> {
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
    let accepted = tokio::time::timeout(Duration::from_secs(10), listener.accept());
    let (mut ours, _) = accepted
        .await
        .map_err(|_| "the speaker never connected".to_string())?
        .map_err(|e| e.to_string())?;
    expect(&mut ours, OPEN, "the speaker's OPEN on its connection").await?;
    let speaker: SocketAddr = format!("{SPEAKER_V4}:179").parse().unwrap();
    let mut theirs = TcpStream::connect(speaker)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    expect(
        &mut theirs,
        OPEN,
        "the speaker's OPEN on the peer's connection",
    )
    .await?;

    let open = || Message::Open(Open::new(65000, 9, peer_id, Vec::new()));
    let (first, second) = if first_on_ours {
        (&mut ours, &mut theirs)
    } else {
        (&mut theirs, &mut ours)
    };
    send(first, open()).await?;
    expect(
        first,
        KEEPALIVE,
        "the speaker's KEEPALIVE for the first OPEN",
    )
    .await?;
    send(second, open()).await?;

    // RFC 4271 section 6.8: the connection initiated by the higher Identifier stays.
    let keep_ours = speaker_id > peer_id;
    let (mut winner, mut loser) = if keep_ours {
        (ours, theirs)
    } else {
        (theirs, ours)
    };
    expect_collision_cease(&mut loser, "the losing connection").await?;
    if keep_ours != first_on_ours {
        expect(
            &mut winner,
            KEEPALIVE,
            "the speaker's KEEPALIVE for the second OPEN",
        )
        .await?;
    }
    send(&mut winner, Message::Keepalive).await?;

    // Established: a new connection is a collision with it, and is the one closed.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut third = TcpStream::connect(speaker)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    expect_collision_cease(&mut third, "a connection while Established").await?;
    // Keeps the session up while the speaker's side looks.
    let end = tokio::time::Instant::now() + hold;
    while tokio::time::Instant::now() < end {
        send(&mut winner, Message::Keepalive).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(keep_ours)
}

fn scripted_collision(speaker_id: &str, first_on_ours: bool) {
    let lab = Lab::new(&format!("collide-script-{first_on_ours}"));
    let address: SocketAddr = format!("{PEER_V4}:179").parse().unwrap();
    let listener = run_in_netns(&lab.peer_netns(), || std::net::TcpListener::bind(address))
        .expect("peer namespace")
        .expect("the scripted peer listens");
    let peer_id: Ipv4Addr = PEER_ID.parse().unwrap();
    let ours: Ipv4Addr = speaker_id.parse().unwrap();
    run_in_netns(&lab.speaker_netns(), || {
        runtime().block_on(async {
            let speaker = Speaker::start(speaker(speaker_id), Box::new(Collect::default()))
                .await
                .expect("speaker starts");
            let namespace = lab.peer_netns();
            let script = tokio::task::spawn_blocking(move || {
                run_in_netns(&namespace, || {
                    runtime().block_on(scripted_peer(
                        listener,
                        peer_id,
                        ours,
                        first_on_ours,
                        Duration::from_secs(4),
                    ))
                })
                .expect("peer namespace")
            });
            let up = async || state(&speaker).await == State::Established;
            if !wait_for(Duration::from_secs(15), up).await {
                panic!(
                    "not Established: {:?}; the scripted peer: {:?}",
                    speaker.neighbors().await,
                    script.await
                );
            }
            // Past the refused third connection, while the scripted peer keeps the session.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let kept = opened_by_speaker(&lab, &lab.speaker);
            let still = state(&speaker).await;
            let script = script.await.expect("script");
            let keep_ours = script.expect("the scripted peer saw what RFC 4271 6.8 says");
            assert_eq!(kept, vec![keep_ours], "the one connection kept");
            assert_eq!(still, State::Established);
            speaker.shutdown().await;
        })
    })
    .expect("speaker namespace");
}

#[test]
#[ignore = "needs root; run by scripts/test"]
fn a_collision_keeps_the_connection_of_the_higher_identifier_whichever_open_comes_first() {
    for speaker_id in [OURS_LOWER, OURS_HIGHER] {
        for first_on_ours in [true, false] {
            scripted_collision(speaker_id, first_on_ours);
        }
    }
}

/// Traffic held back with nftables while a round sets up its collision. Each is a table of
/// its own in the namespace whose input it filters, deleted to let the traffic through (and
/// gone with the namespace in any case).
#[derive(Clone, Copy)]
enum Hold {
    /// BGP data from the speaker, at the peer's input.
    ToPeer,
    /// BGP data from the peer, at the speaker's input.
    ToSpeaker,
    /// The peer's SYNs to the speaker, so that our connection comes up first.
    PeerSyns,
}

impl Hold {
    fn table(self) -> &'static str {
        match self {
            Hold::ToPeer => "wharf_hold_to_peer",
            Hold::ToSpeaker => "wharf_hold_to_speaker",
            Hold::PeerSyns => "wharf_hold_peer_syns",
        }
    }

    fn namespace(self, lab: &Lab) -> &str {
        match self {
            Hold::ToPeer => &lab.peer,
            Hold::ToSpeaker | Hold::PeerSyns => &lab.speaker,
        }
    }

    fn set(self, lab: &Lab) {
        let rule = match self {
            Hold::ToPeer => format!("ip saddr {SPEAKER_V4} tcp flags & psh == psh drop"),
            Hold::ToSpeaker => format!("ip saddr {PEER_V4} tcp flags & psh == psh drop"),
            Hold::PeerSyns => {
                format!("ip saddr {PEER_V4} tcp dport 179 tcp flags & (syn | ack) == syn drop")
            }
        };
        let table = self.table();
        let script = lab.dir.join(format!("{table}.nft"));
        std::fs::write(
            &script,
            format!(
                "table inet {table} {{\n chain input {{\n  type filter hook input priority 0;\n  {rule}\n }}\n}}\n"
            ),
        )
        .expect("nft script");
        let script = script.display().to_string();
        run(
            "ip",
            &["netns", "exec", self.namespace(lab), "nft", "-f", &script],
        );
    }

    /// Lets one connection's held traffic through: segments from `source` port to
    /// `destination` port.
    fn let_through(self, lab: &Lab, source: &str, destination: &str) {
        let rule = format!("tcp sport {source} tcp dport {destination} accept");
        run(
            "ip",
            &[
                "netns",
                "exec",
                self.namespace(lab),
                "nft",
                "insert",
                "rule",
                "inet",
                self.table(),
                "input",
                &rule,
            ],
        );
    }

    fn release(self, lab: &Lab) {
        let table = self.table();
        run(
            "ip",
            &[
                "netns",
                "exec",
                self.namespace(lab),
                "nft",
                "delete",
                "table",
                "inet",
                table,
            ],
        );
    }
}

#[derive(Clone, Copy, Debug)]
enum Daemon {
    Frr,
    Bird,
}

/// Starts the peer daemon: not passive, retrying every second, with a hold time long enough
/// for the OPENs held back in a round (FRR times OpenSent out after its configured hold
/// time). BIRD's control socket.
fn start_peer(lab: &mut Lab, daemon: Daemon) -> String {
    match daemon {
        Daemon::Frr => {
            lab.frr(&format!(
                "frr defaults traditional
hostname peer
log stdout
router bgp 65000
 bgp router-id {PEER_ID}
 no bgp ebgp-requires-policy
 timers bgp 30 90
 neighbor {SPEAKER_V4} remote-as 65001
 neighbor {SPEAKER_V4} timers connect 1
"
            ));
            String::new()
        }
        Daemon::Bird => lab.bird(&format!(
            "router id {PEER_ID};
protocol device {{}}
protocol bgp wharf {{
  local {PEER_V4} as 65000;
  neighbor {SPEAKER_V4} as 65001;
  hold time 90;
  connect delay time 1; connect retry time 1; error wait time 1, 2;
  ipv4 {{ import all; export none; }};
}}
"
        )),
    }
}

fn restart_peer(lab: &Lab, daemon: Daemon) {
    match daemon {
        Daemon::Frr => lab.restart_frr(),
        Daemon::Bird => lab.restart_bird(),
    }
}

fn peer_state(lab: &Lab, daemon: Daemon, bird: &str) -> String {
    match daemon {
        Daemon::Frr => lab.frr_state(SPEAKER_V4),
        Daemon::Bird => lab.bird_state(bird),
    }
}

/// One round: both connections up with every OPEN held back; the OPENs of both reach
/// `settles_first` (the speaker, or the peer) before the other side hears anything. Which
/// connection the session kept, as the speaker's namespace and the peer's see it.
async fn collision_round(
    lab: &Lab,
    daemon: Daemon,
    bird: &str,
    speaker_id: &str,
    speaker_settles: bool,
) -> Result<bool, String> {
    for hold in [Hold::ToPeer, Hold::ToSpeaker, Hold::PeerSyns] {
        hold.set(lab);
    }
    restart_peer(lab, daemon);
    let speaker = Speaker::start(speaker(speaker_id), Box::new(Collect::default()))
        .await
        .map_err(|e| format!("speaker: {e}"))?;
    let result = collide_live(lab, daemon, bird, &speaker, speaker_settles).await;
    speaker.shutdown().await;
    result
}

async fn collide_live(
    lab: &Lab,
    daemon: Daemon,
    bird: &str,
    speaker: &Speaker,
    speaker_settles: bool,
) -> Result<bool, String> {
    let within = Duration::from_secs(15);
    let ours_up = async || opened_by_speaker(lab, &lab.speaker) == vec![true];
    if !wait_for(within, ours_up).await {
        return Err(format!(
            "our connection: {:?}",
            lab.connections(&lab.speaker)
        ));
    }
    Hold::PeerSyns.release(lab);
    let both_up = async || {
        let mut both = opened_by_speaker(lab, &lab.speaker);
        both.sort();
        both == vec![false, true]
    };
    if !wait_for(within, both_up).await {
        return Err(format!(
            "both connections: {:?}",
            lab.connections(&lab.speaker)
        ));
    }
    let (first, second, chooser) = if speaker_settles {
        (Hold::ToSpeaker, Hold::ToPeer, &lab.speaker)
    } else {
        (Hold::ToPeer, Hold::ToSpeaker, &lab.peer)
    };
    let both = lab.connections(chooser);
    first.release(lab);
    // The side that has both OPENs closes one connection (its Cease still held back).
    let chosen = async || lab.connections(chooser).len() == 1;
    if !wait_for(within, chosen).await {
        return Err(format!("no choice made: {:?}", lab.connections(chooser)));
    }
    let port = |end: &str| end.rsplit(':').next().unwrap_or_default().to_string();
    let kept = lab.connections(chooser).pop().unwrap_or_default();
    let closed = both.into_iter().find(|c| *c != kept).unwrap_or_default();
    // What the chooser sent is held back in one piece per connection: on the losing one its
    // OPEN, the KEEPALIVE it sent if that OPEN came first, then its Cease. Let through at
    // once, that is a race no real network makes certain, and each peer meets it in its own
    // way, so the other side hears one connection first:
    // - BIRD completes a connection on OPEN and KEEPALIVE without looking at the other one
    //   in OpenSent, so hearing the losing one first it comes up there, and the Cease behind
    //   takes its whole session down: BIRD (and the speaker, which does the same) hears the
    //   kept connection first.
    // - FRR settles on the first OPEN (it looks at OpenSent connections too); when it keeps
    //   the connection it accepted, it moves it into its own, and if its own connection is
    //   reset meanwhile (ours, closed, answers its Cease with a RST) the move fails
    //   ("bgp_getsockname() failed") and it stops the new session: FRR hears the losing
    //   connection first, and closes it itself.
    let (early, what) = match (daemon, speaker_settles) {
        (Daemon::Frr, true) => (closed, "the closed connection"),
        _ => (kept.clone(), "the kept connection"),
    };
    second.let_through(lab, &port(&early.0), &port(&early.1));
    let heard = async || match early == kept {
        true => {
            state(speaker).await == State::Established
                && peer_state(lab, daemon, bird) == "Established"
        }
        false => lab.connections(&lab.peer).len() == 1,
    };
    if !wait_for(within, heard).await {
        return Err(format!(
            "after {what} was let through: ours {:?}, the peer's {}, its connections {:?}",
            speaker.neighbors().await,
            peer_state(lab, daemon, bird),
            lab.connections(&lab.peer)
        ));
    }
    second.release(lab);
    let up = async || {
        state(speaker).await == State::Established && peer_state(lab, daemon, bird) == "Established"
    };
    if !wait_for(within, up).await {
        return Err(format!(
            "not Established: ours {:?}, the peer's {}",
            speaker.neighbors().await,
            peer_state(lab, daemon, bird)
        ));
    }
    // Whatever was closed has had the time to go; one session stays.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ours = opened_by_speaker(lab, &lab.speaker);
    let theirs = opened_by_speaker(lab, &lab.peer);
    let state_now = (state(speaker).await, peer_state(lab, daemon, bird));
    match (&ours[..], &theirs[..]) {
        ([a], [b]) if a == b && state_now == (State::Established, "Established".into()) => Ok(*a),
        _ => Err(format!(
            "one session on one connection: ours {ours:?}, the peer's {theirs:?}, {state_now:?}"
        )),
    }
}

/// Rounds of collisions with `daemon`, the speaker and the peer choosing by turns.
fn collisions_with(daemon: Daemon, rounds: usize) {
    for speaker_id in [OURS_LOWER, OURS_HIGHER] {
        let mut lab = Lab::new(&format!("collide-{daemon:?}"));
        let bird = start_peer(&mut lab, daemon);
        let keep_ours =
            speaker_id.parse::<Ipv4Addr>().unwrap() > PEER_ID.parse::<Ipv4Addr>().unwrap();
        run_in_netns(&lab.speaker_netns(), || {
            runtime().block_on(async {
                for round in 0..rounds {
                    let speaker_settles = round % 2 == 0;
                    let kept =
                        collision_round(&lab, daemon, &bird, speaker_id, speaker_settles).await;
                    eprintln!(
                        "{daemon:?}, our Identifier {speaker_id}, round {round}, chosen by {}: kept ours: {kept:?}",
                        if speaker_settles { "us" } else { "the peer" }
                    );
                    assert_eq!(
                        kept,
                        Ok(keep_ours),
                        "{daemon:?} round {round}: the connection opened by the higher Identifier"
                    );
                }
            })
        })
        .expect("speaker namespace");
    }
}

#[test]
#[ignore = "needs root and FRR; run by scripts/test"]
fn collisions_with_frr_keep_the_connection_of_the_higher_identifier() {
    collisions_with(Daemon::Frr, 10);
}

#[test]
#[ignore = "needs root and BIRD; run by scripts/test"]
fn collisions_with_bird_keep_the_connection_of_the_higher_identifier() {
    collisions_with(Daemon::Bird, 10);
}
