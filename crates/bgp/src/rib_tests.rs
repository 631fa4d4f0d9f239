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

#[test]
fn prefixes_share_their_attributes_and_next_hops_and_leave_nothing_behind() {
    let mut rib = Rib::default();
    let (one, two) = (ip("198.51.100.2"), ip("198.51.100.3"));
    let prefixes: Vec<IpNet> = (0..10_000u32)
        .map(|i| IpNet::from(IpAddr::from(Ipv4Addr::from(0x0a40_0000 + i))))
        .collect();
    for prefix in &prefixes {
        rib.insert(one, *prefix, path("198.51.100.2", 1, 2));
        rib.insert(two, *prefix, path("198.51.100.3", 1, 3));
    }
    assert_eq!(rib.attributes.len(), 2, "one attribute set per peer");
    assert_eq!(rib.prefix_count(one), 10_000);
    rib.mark_stale(one);
    rib.insert(one, prefixes[0], path("198.51.100.2", 1, 2));
    let changes = rib.remove_peer(one, true);
    assert_eq!(
        changes.len(),
        9_999,
        "the stale paths went, each leaving one hop"
    );
    assert!(changes.iter().all(|c| c.next_hops == vec![two]));
    assert_eq!(rib.prefix_count(one), 1);
    let changes = rib.remove_peer(two, false);
    assert_eq!(changes.len(), 10_000);
    rib.remove(one, prefixes[0]);
    assert!(rib.v4.is_empty() && rib.attributes.is_empty());
    assert_eq!(
        rib.sets.held(),
        0,
        "every prefix's set of two paths was freed"
    );
    assert_eq!((rib.prefix_count(one), rib.prefix_count(two)), (0, 0));
}

#[test]
fn a_prefix_costs_the_rib_a_few_bytes() {
    // The map's bucket: the prefix and its paths. Guards against a field that would grow
    // every one of 100,000 entries.
    assert_eq!(std::mem::size_of::<Paths>(), 8);
    assert_eq!(std::mem::size_of::<(Ipv4Net, Paths)>(), 16);
}

mod model {
    //! The RIB against the plainest model of it: per prefix, each peer's last path.
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Op {
        Insert { peer: u8, prefix: u8, hop: u8 },
        Remove { peer: u8, prefix: u8 },
        DropPeer { peer: u8 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..4u8, 0..24u8, 1..4u8).prop_map(|(peer, prefix, hop)| Op::Insert { peer, prefix, hop }),
            2 => (0..4u8, 0..24u8).prop_map(|(peer, prefix)| Op::Remove { peer, prefix }),
            1 => (0..4u8).prop_map(|peer| Op::DropPeer { peer }),
        ]
    }

    fn peer(n: u8) -> IpAddr {
        IpAddr::from([198, 51, 100, n + 1])
    }

    /// Half the prefixes IPv4, half IPv6, so both tables and their parts are used.
    fn prefix(n: u8) -> IpNet {
        if n.is_multiple_of(2) {
            IpNet::V4(Ipv4Net::new(Ipv4Addr::new(10, 9, n, 1), 32).unwrap())
        } else {
            format!("2001:db8:{n:x}::1/128").parse().unwrap()
        }
    }

    proptest! {
        #[test]
        fn the_rib_holds_what_each_peer_last_said(ops in proptest::collection::vec(op(), 1..120)) {
            let mut rib = Rib::default();
            let mut model: BTreeMap<IpNet, BTreeMap<IpAddr, Path>> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert { peer: p, prefix: n, hop } => {
                        let hop_address = format!("198.51.100.{hop}");
                        let path = path(&hop_address, usize::from(hop), p + 1);
                        rib.insert(peer(p), prefix(n), path);
                        model.entry(prefix(n)).or_default().insert(peer(p), path);
                    }
                    Op::Remove { peer: p, prefix: n } => {
                        rib.remove(peer(p), prefix(n));
                        if let Some(paths) = model.get_mut(&prefix(n)) {
                            paths.remove(&peer(p));
                        }
                    }
                    Op::DropPeer { peer: p } => {
                        rib.remove_peer(peer(p), false);
                        for paths in model.values_mut() {
                            paths.remove(&peer(p));
                        }
                    }
                }
                model.retain(|_, paths| !paths.is_empty());
                let held: Vec<(IpNet, Vec<(IpAddr, Path)>)> = rib
                    .entries()
                    .into_iter()
                    .map(|e| (e.prefix, e.paths))
                    .collect();
                let expected: Vec<(IpNet, Vec<(IpAddr, Path)>)> = model
                    .iter()
                    .map(|(prefix, paths)| (*prefix, paths.iter().map(|(a, p)| (*a, *p)).collect()))
                    .collect();
                prop_assert_eq!(held, expected);
                let many = model.values().filter(|paths| paths.len() > 1).count();
                prop_assert_eq!(rib.sets.held(), many, "one set per prefix with several paths");
            }
        }
    }
}
