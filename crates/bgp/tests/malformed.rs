//! A test peer that sends malformed UPDATEs, over loopback TCP (no root): RFC 7606's
//! treat-as-withdraw keeps the session and withdraws the routes; an UPDATE that cannot be
//! parsed at all ends the session with an UPDATE Message Error NOTIFICATION; the speaker
//! never panics.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipnet::IpNet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wharf_bgp::fsm::State;
use wharf_bgp::policy::PeerImport;
use wharf_bgp::rib::RouteChange;
use wharf_bgp::speaker::{PeerSpec, RouteSink, Speaker, SpeakerConfig};
use wharf_bgp::wire::{
    decode_message, encode_message, AsPath, AsSegment, Capability, Codec, Message, Open, Origin,
    PathAttribute, SegmentType, Update, UpdateClass,
};

const PEER_AS: u32 = 65000;
const PREFIX: &str = "10.70.0.1/32";

#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<RouteChange>>>);

impl RouteSink for Collect {
    fn apply(&mut self, changes: &[RouteChange]) {
        self.0.lock().unwrap().extend_from_slice(changes);
    }
}

impl Collect {
    /// The last next hops given for PREFIX; None if it was never given.
    fn hops(&self) -> Option<Vec<IpAddr>> {
        let prefix: IpNet = PREFIX.parse().unwrap();
        let changes = self.0.lock().unwrap();
        changes
            .iter()
            .rev()
            .find(|c| c.prefix == prefix)
            .map(|c| c.next_hops.clone())
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

async fn start(port: u16, sink: Collect) -> Speaker {
    let config = SpeakerConfig {
        asn: 65001,
        router_id: Ipv4Addr::new(198, 51, 100, 1),
        port,
        listen: true,
        peers: vec![PeerSpec {
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            asn: PEER_AS,
            passive: true,
            hold_time: 90,
            connect_retry: Duration::from_secs(1),
            graceful_restart: None,
            import: PeerImport::default(),
            export: Default::default(),
            transport: Default::default(),
            max_prefixes: None,
        }],
        protected: vec![],
        restarted: false,
        interface_addresses: None,
    };
    Speaker::start(config, Box::new(sink)).await.unwrap()
}

async fn state(speaker: &Speaker) -> State {
    let neighbors = speaker.neighbors().await;
    neighbors.first().map_or(State::Idle, |n| n.state)
}

async fn eventually(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..100 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The test peer's end of the session.
struct TestPeer {
    stream: TcpStream,
    buffer: Vec<u8>,
    codec: Codec,
}

impl TestPeer {
    async fn establish(port: u16) -> TestPeer {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut peer = TestPeer {
            stream,
            buffer: Vec::new(),
            codec: Codec::default(),
        };
        let ours = Open::new(
            PEER_AS,
            90,
            Ipv4Addr::new(198, 51, 100, 254),
            vec![Capability::Multiprotocol(
                wharf_bgp::wire::Afi::IPV4,
                wharf_bgp::wire::Safi::UNICAST,
            )],
        );
        peer.send(&Message::Open(ours.clone())).await;
        let Message::Open(theirs) = peer.receive().await else {
            panic!("the speaker did not answer with an OPEN");
        };
        peer.codec = Codec::negotiated(&ours, &theirs);
        peer.send(&Message::Keepalive).await;
        assert_eq!(peer.receive().await, Message::Keepalive);
        peer
    }

    async fn send(&mut self, message: &Message) {
        let bytes = encode_message(message, &self.codec).unwrap();
        self.send_raw(&bytes).await;
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// The next message that is not an UPDATE (the speaker's own table and End-of-RIB).
    async fn receive(&mut self) -> Message {
        loop {
            if let Some(frame) = decode_message(&self.buffer, &self.codec).unwrap() {
                self.buffer.drain(..frame.len);
                if !matches!(frame.message, Message::Update(_)) {
                    return frame.message;
                }
                continue;
            }
            let mut chunk = [0u8; 4096];
            let read = tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut chunk))
                .await
                .expect("the speaker said nothing for 5 s")
                .unwrap();
            assert!(read > 0, "the speaker closed the connection");
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }
}

fn announcement() -> Update {
    Update {
        withdrawn: vec![],
        attributes: vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(AsPath {
                segments: vec![AsSegment {
                    kind: SegmentType::Sequence,
                    asns: vec![PEER_AS],
                }],
            }),
            PathAttribute::NextHop(Ipv4Addr::new(198, 51, 100, 254)),
        ],
        nlri: vec![PREFIX.parse().unwrap()],
    }
}

#[tokio::test]
async fn a_malformed_update_withdraws_its_routes_and_an_unparsable_one_ends_the_session() {
    let port = free_port();
    let sink = Collect::default();
    let speaker = start(port, sink.clone()).await;
    let mut peer = TestPeer::establish(port).await;
    assert!(eventually(async || state(&speaker).await == State::Established).await);

    peer.send(&Message::Update(announcement())).await;
    let via = vec![IpAddr::V4(Ipv4Addr::new(198, 51, 100, 254))];
    assert!(eventually(async || sink.hops() == Some(via.clone())).await);

    // ORIGIN 7 does not exist: RFC 7606 section 7.1 says treat-as-withdraw.
    let mut bad_origin = encode_message(&Message::Update(announcement()), &peer.codec).unwrap();
    let origin_value = 19 + 2 + 2 + 3; // header, withdrawn length, attributes length, ORIGIN's flags/type/length
    assert_eq!(&bad_origin[origin_value - 3..origin_value], &[0x40, 1, 1]);
    bad_origin[origin_value] = 7;
    let frame = decode_message(&bad_origin, &peer.codec).unwrap().unwrap();
    assert!(
        matches!(frame.class, UpdateClass::TreatAsWithdraw(_)),
        "{:?}",
        frame.class
    );
    peer.send_raw(&bad_origin).await;
    assert!(
        eventually(async || sink.hops() == Some(vec![])).await,
        "the route is withdrawn"
    );
    assert_eq!(
        state(&speaker).await,
        State::Established,
        "the session stays"
    );

    // A Withdrawn Routes Length past the end of the message: nothing in it can be trusted.
    let mut unparsable = encode_message(&Message::Update(announcement()), &peer.codec).unwrap();
    unparsable[19..21].copy_from_slice(&1000u16.to_be_bytes());
    peer.send_raw(&unparsable).await;
    let Message::Notification(notification) = peer.receive().await else {
        panic!("no NOTIFICATION");
    };
    assert_eq!(
        notification.code, 3,
        "UPDATE Message Error: {notification:?}"
    );
    assert!(eventually(async || state(&speaker).await != State::Established).await);
    let neighbors = speaker.neighbors().await;
    let error = neighbors[0].last_error.clone().unwrap_or_default();
    assert!(error.to_lowercase().contains("update"), "{error}");
    speaker.shutdown().await;
}
