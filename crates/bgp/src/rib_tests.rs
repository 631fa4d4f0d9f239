use super::*;

fn path(next_hop: &str, as_path_len: usize, peer_id: u8) -> Path {
    Path {
        next_hop: next_hop.parse().unwrap(),
        local_pref: 100,
        as_path_len,
        origin: Origin::Igp,
        med: 0,
        neighbor_as: Some(65000 + u32::from(peer_id)),
        ebgp: true,
        peer_id: Ipv4Addr::new(198, 51, 100, peer_id),
        stale: false,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const P: &str = "10.60.0.7/32";

#[test]
fn the_shorter_path_wins_and_equal_ones_share_the_route() {
    let mut rib = Rib::default();
    let prefix: IpNet = P.parse().unwrap();
    let first = rib.insert(ip("198.51.100.2"), prefix, path("198.51.100.2", 2, 2));
    assert_eq!(first.unwrap().next_hops, vec![ip("198.51.100.2")]);
    let shorter = rib.insert(ip("198.51.100.3"), prefix, path("198.51.100.3", 1, 3));
    assert_eq!(shorter.unwrap().next_hops, vec![ip("198.51.100.3")]);
    let equal = rib.insert(ip("198.51.100.4"), prefix, path("198.51.100.4", 1, 4));
    assert_eq!(
        equal.unwrap().next_hops,
        vec![ip("198.51.100.3"), ip("198.51.100.4")],
        "ECMP"
    );
    assert_eq!(
        rib.insert(ip("198.51.100.4"), prefix, path("198.51.100.4", 1, 4)),
        None,
        "the same path again changes nothing"
    );
    let gone = rib.remove_peer(ip("198.51.100.3"), false);
    assert_eq!(gone[0].next_hops, vec![ip("198.51.100.4")]);
    rib.remove(ip("198.51.100.4"), prefix);
    let last = rib.remove(ip("198.51.100.2"), prefix).unwrap();
    assert!(last.next_hops.is_empty(), "no path: no route");
    assert!(rib.entries().is_empty());
}

#[test]
fn local_pref_beats_path_length_and_ebgp_beats_ibgp() {
    let mut rib = Rib::default();
    let prefix: IpNet = P.parse().unwrap();
    let mut preferred = path("198.51.100.5", 3, 5);
    preferred.local_pref = 200;
    rib.insert(ip("198.51.100.2"), prefix, path("198.51.100.2", 1, 2));
    let change = rib.insert(ip("198.51.100.5"), prefix, preferred).unwrap();
    assert_eq!(change.next_hops, vec![ip("198.51.100.5")]);
    let mut rib = Rib::default();
    let mut ibgp = path("198.51.100.6", 1, 1);
    ibgp.ebgp = false;
    rib.insert(ip("198.51.100.6"), prefix, ibgp);
    let change = rib
        .insert(ip("198.51.100.2"), prefix, path("198.51.100.2", 1, 2))
        .unwrap();
    assert_eq!(change.next_hops, vec![ip("198.51.100.2")]);
}

#[test]
fn stale_paths_go_when_the_restart_ends_unless_sent_again() {
    let mut rib = Rib::default();
    let peer = ip("198.51.100.2");
    let a: IpNet = "10.60.0.1/32".parse().unwrap();
    let b: IpNet = "10.60.0.2/32".parse().unwrap();
    rib.insert(peer, a, path("198.51.100.2", 1, 2));
    rib.insert(peer, b, path("198.51.100.2", 1, 2));
    rib.mark_stale(peer);
    // The peer came back and sent a again.
    rib.insert(peer, a, path("198.51.100.2", 1, 2));
    let gone = rib.remove_peer(peer, true);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].prefix, b);
    assert_eq!(rib.prefix_count(peer), 1);
}
