use super::*;
use crate::sockopt::{min_ttl, ttl};

fn peer(address: &str, ttl_security: bool) -> PeerSpec {
    PeerSpec {
        address: address.parse().unwrap(),
        asn: 65000,
        passive: false,
        hold_time: 90,
        connect_retry: Duration::from_secs(5),
        graceful_restart: None,
        import: PeerImport::default(),
        export: PeerExport::default(),
        transport: Transport {
            password: None,
            ttl_security,
        },
        max_prefixes: None,
    }
}

fn config(peers: Vec<PeerSpec>) -> SpeakerConfig {
    SpeakerConfig {
        asn: 65001,
        router_id: Ipv4Addr::new(198, 51, 100, 1),
        // Any free port: only the socket's options are looked at, nothing connects.
        port: 0,
        listen: true,
        peers,
        protected: Vec::new(),
        restarted: false,
        interface_addresses: None,
    }
}

/// (TTL sent, minimum TTL accepted) of the listener, for IPv4 and IPv6 packets.
fn listener_ttls(peers: Vec<PeerSpec>) -> [(i32, i32); 2] {
    let listener = listen(&config(peers)).expect("listener");
    let fd = std::os::fd::AsFd::as_fd(&listener);
    [false, true].map(|ipv6| (ttl(fd, ipv6).unwrap(), min_ttl(fd, ipv6).unwrap()))
}

#[tokio::test]
async fn an_ipv4_gtsm_peer_puts_the_ipv4_ttl_options_on_the_dual_stack_listener() {
    // IPv4 connections to an IPv6 socket are checked against IP_MINTTL, never against
    // IPV6_MINHOPCOUNT: with only the latter, an IPv4 peer sending TTL 64 got in.
    let [v4, v6] = listener_ttls(vec![peer("198.51.100.254", true)]);
    assert_eq!(v4, (255, 254), "IPv4: send 255, accept 254 and above");
    assert_eq!(
        v6.1, 0,
        "no IPv6 peer uses GTSM: IPv6 peers are not held to it"
    );
}

#[tokio::test]
async fn an_ipv6_gtsm_peer_puts_the_ipv6_hop_limit_options_on_the_listener() {
    let [v4, v6] = listener_ttls(vec![peer("fd5f::fe", true), peer("198.51.100.254", false)]);
    assert_eq!(v6, (255, 254));
    assert_eq!(v4.1, 0, "the IPv4 peer does not use GTSM");
}

#[tokio::test]
async fn without_gtsm_the_listener_checks_no_ttl() {
    let [v4, v6] = listener_ttls(vec![peer("198.51.100.254", false)]);
    assert_eq!((v4.1, v6.1), (0, 0));
}
