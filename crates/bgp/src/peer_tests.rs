//! The peer's task through a connection collision, over loopback (no root): the task
//! connects to a listener of the test's, and the test hands it "the peer's" connection the
//! way the speaker's listener would. Every step is the test's, so each run is the same.

use std::net::Ipv4Addr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{channel, unbounded_channel, Receiver};

use super::*;
use crate::fsm::PeerConfig;
use crate::wire::{code, msg_type, Afi, Open, Safi};

const PEER_ID: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 254);

fn session(router_id: Ipv4Addr) -> Session {
    Session::new(PeerConfig {
        local_as: 65001,
        peer_as: 65000,
        router_id,
        hold_time: 90,
        connect_retry: Duration::from_secs(30),
        passive: false,
        families: vec![(Afi::IPV4, Safi::UNICAST)],
        graceful_restart: None,
    })
}

async fn next(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut header = [0u8; 19];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut header));
    read.await.expect("a message in time").expect("read");
    let length = usize::from(u16::from_be_bytes([header[16], header[17]]));
    let mut body = vec![0u8; length - 19];
    stream.read_exact(&mut body).await.expect("read");
    (header[18], body)
}

async fn send(stream: &mut TcpStream, message: Message) {
    let bytes = encode_message(&message, &Codec::default()).unwrap();
    stream.write_all(&bytes).await.unwrap();
}

/// A connected pair over loopback: (the end the task gets, the end the test speaks on).
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap());
    let (client, accepted) = tokio::join!(client, listener.accept());
    (accepted.unwrap().0, client.unwrap())
}

/// What the task told the core so far.
fn told(core: &mut Receiver<(IpAddr, FromPeer)>) -> Vec<FromPeer> {
    std::iter::from_fn(|| core.try_recv().ok().map(|(_, m)| m)).collect()
}

/// Our connection (A) and the peer's (B) both reach OpenSent; the peer's OPEN goes first on
/// A when `first_on_ours`, then on the other. Whether the task kept A.
async fn collide(router_id: Ipv4Addr, first_on_ours: bool) -> bool {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (to_core, mut core) = channel(64);
    let task = PeerTask::new(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        port,
        Transport::default(),
        session(router_id),
        to_core,
    );
    let (to_task, commands) = unbounded_channel();
    let running = tokio::spawn(task.run(commands));

    let (mut ours, _) = listener.accept().await.unwrap();
    assert_eq!(next(&mut ours).await.0, msg_type::OPEN);
    let (given, mut theirs) = pair().await;
    to_task.send(ToPeer::Incoming(given)).unwrap();
    assert_eq!(
        next(&mut theirs).await.0,
        msg_type::OPEN,
        "the peer's connection is answered with an OPEN, not refused"
    );

    let open = || Message::Open(Open::new(65000, 90, PEER_ID, Vec::new()));
    let (first, second) = if first_on_ours {
        (&mut ours, &mut theirs)
    } else {
        (&mut theirs, &mut ours)
    };
    send(first, open()).await;
    assert_eq!(next(first).await.0, msg_type::KEEPALIVE);
    send(second, open()).await;

    // Whichever OPEN came first, the Identifiers decide.
    let keep_ours = router_id > PEER_ID;
    let (mut winner, mut loser) = if keep_ours {
        (ours, theirs)
    } else {
        (theirs, ours)
    };
    let (kind, body) = next(&mut loser).await;
    assert_eq!(
        (kind, &body[..]),
        (
            msg_type::NOTIFICATION,
            &[code::CEASE, cease::CONNECTION_COLLISION_RESOLUTION][..]
        )
    );
    if keep_ours != first_on_ours {
        assert_eq!(next(&mut winner).await.0, msg_type::KEEPALIVE);
    }
    send(&mut winner, Message::Keepalive).await;
    let up = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match core.recv().await {
                Some((_, FromPeer::Up { .. })) => return,
                Some((_, FromPeer::Down { reason, .. })) => panic!("the session ended: {reason}"),
                Some(_) => {}
                None => panic!("the task ended"),
            }
        }
    });
    up.await.expect("Up in time");
    assert_eq!(
        told(&mut core),
        vec![FromPeer::State(State::Established)],
        "the core sees one session: no Down for the closed connection"
    );
    to_task.send(ToPeer::Stop).unwrap();
    running.await.unwrap();
    keep_ours
}

#[tokio::test]
async fn a_collision_keeps_the_connection_opened_by_the_higher_identifier() {
    for router_id in [
        Ipv4Addr::new(198, 51, 100, 1),
        Ipv4Addr::new(198, 51, 101, 1),
    ] {
        for first_on_ours in [true, false] {
            collide(router_id, first_on_ours).await;
        }
    }
}

#[tokio::test]
async fn the_peers_connection_replaces_ours_while_ours_is_not_up_and_is_refused_once_up() {
    // Ours refused (nobody listens there): the peer's connection carries the session.
    let (to_core, mut core) = channel(64);
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let task = PeerTask::new(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        port,
        Transport::default(),
        session(Ipv4Addr::new(198, 51, 100, 1)),
        to_core,
    );
    let (to_task, commands) = unbounded_channel();
    let running = tokio::spawn(task.run(commands));
    let (given, mut theirs) = pair().await;
    to_task.send(ToPeer::Incoming(given)).unwrap();
    assert_eq!(next(&mut theirs).await.0, msg_type::OPEN);
    send(
        &mut theirs,
        Message::Open(Open::new(65000, 90, PEER_ID, vec![])),
    )
    .await;
    assert_eq!(next(&mut theirs).await.0, msg_type::KEEPALIVE);
    send(&mut theirs, Message::Keepalive).await;
    let up = async { while !matches!(core.recv().await, Some((_, FromPeer::Up { .. })) | None) {} };
    tokio::time::timeout(Duration::from_secs(5), up)
        .await
        .expect("Up");
    assert_eq!(told(&mut core), vec![FromPeer::State(State::Established)]);

    // Established: another connection from the peer is a collision with it, and is closed.
    let (given, mut another) = pair().await;
    to_task.send(ToPeer::Incoming(given)).unwrap();
    let (kind, body) = next(&mut another).await;
    assert_eq!((kind, body[1]), (msg_type::NOTIFICATION, 7));
    send(&mut theirs, Message::Keepalive).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(told(&mut core).is_empty(), "the session stayed as it was");
    to_task.send(ToPeer::Stop).unwrap();
    running.await.unwrap();
}
