//! Bytes captured from FRR 8.4.4 (Debian 12's `frr`): bgpd in AS 65001 (router id
//! 10.201.0.1, no zebra) in one network namespace, peering over IPv4 with a plain socket
//! in another that answered OPEN (AS 65002, multiprotocol IPv4+IPv6, route refresh,
//! 4-octet AS) and KEEPALIVE and recorded what bgpd sent: its OPEN, a KEEPALIVE, and one
//! UPDATE each for `network 10.77.0.0/24` and `network 2001:db8:77::/48`.

use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};

const OPEN: &str = "ffffffffffffffffffffffffffffffff00710104fde900b40ac900015402060104000100010206010400020001020280000202020002024600020641040000fde902020600020a450800010101000201010206490402766d0002044002c0780210470e0001018000000000020180000000";
const KEEPALIVE: &str = "ffffffffffffffffffffffffffffffff001304";
const UPDATE_V4: &str = "ffffffffffffffffffffffffffffffff0037020000001c400101005002000602010000fde94003040ac9000180040400000000180a4d00";
const UPDATE_V6: &str = "ffffffffffffffffffffffffffffffff004c0200000035900e001c0002011000000000000000000000ffff0ac90001003020010db80077400101005002000602010000fde980040400000000";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn frr_path() -> PathAttribute {
    PathAttribute::AsPath(AsPath {
        segments: vec![AsSegment {
            kind: SegmentType::Sequence,
            asns: vec![65001],
        }],
    })
}

#[test]
fn frr_open() {
    let Message::Open(o) = decode_all(&hex(OPEN), &TWO).unwrap().message else {
        panic!("not an OPEN")
    };
    assert_eq!((o.version, o.my_as, o.hold_time), (4, 65001, 180));
    assert_eq!(o.bgp_id, Ipv4Addr::new(10, 201, 0, 1));
    // One capability per optional parameter, FRR's way.
    let unknown = |code: u8, value: &[u8]| Capability::Unknown {
        code,
        value: value.to_vec(),
    };
    assert_eq!(
        o.capabilities,
        vec![
            Capability::Multiprotocol(Afi::IPV4, Safi::UNICAST),
            Capability::Multiprotocol(Afi::IPV6, Safi::UNICAST),
            unknown(128, &[]), // pre-standard route refresh
            Capability::RouteRefresh,
            Capability::EnhancedRouteRefresh,
            Capability::FourOctetAs(65001),
            unknown(6, &[]),                        // extended message (RFC 8654)
            unknown(69, &[0, 1, 1, 1, 0, 2, 1, 1]), // add-path: receive, IPv4 and IPv6 unicast
            unknown(73, &[2, b'v', b'm', 0]),       // FQDN: host name "vm"
            // Restart flags 0xc: R and N (RFC 8538, not kept), time 120, no family.
            Capability::GracefulRestart(GracefulRestart {
                restart_state: true,
                restart_time: 120,
                families: vec![]
            }),
            // Long-lived GR: per family AFI, SAFI, flags, 3-octet stale time.
            unknown(71, &[0, 1, 1, 0x80, 0, 0, 0, 0, 2, 1, 0x80, 0, 0, 0]),
        ]
    );
    assert_eq!(Codec::negotiated(&o, &o), FOUR);
}

#[test]
fn frr_keepalive() {
    assert_eq!(
        decode_all(&hex(KEEPALIVE), &FOUR).unwrap().message,
        Message::Keepalive
    );
}

#[test]
fn frr_update_ipv4() {
    // AS_PATH arrives with Extended Length set though it is 6 octets.
    let f = decode_all(&hex(UPDATE_V4), &FOUR).unwrap();
    assert_eq!(f.class, UpdateClass::Ok);
    let expect = Update {
        withdrawn: vec![],
        attributes: vec![
            PathAttribute::Origin(Origin::Igp),
            frr_path(),
            PathAttribute::NextHop(Ipv4Addr::new(10, 201, 0, 1)),
            PathAttribute::MultiExitDisc(0),
        ],
        nlri: vec![net4("10.77.0.0/24")],
    };
    assert_eq!(f.message, Message::Update(expect));
}

#[test]
fn frr_update_ipv6() {
    // MP_REACH_NLRI first, with Extended Length; over an IPv4 session FRR's next hop is
    // the IPv4-mapped ::ffff:10.201.0.1.
    let f = decode_all(&hex(UPDATE_V6), &FOUR).unwrap();
    assert_eq!(f.class, UpdateClass::Ok);
    let global: Ipv6Addr = "::ffff:10.201.0.1".parse().unwrap();
    let reach = MpReach {
        next_hop: MpNextHop::V6 {
            global,
            link_local: None,
        },
        nlri: Nlri::V6(vec![net6("2001:db8:77::/48")]),
    };
    let expect = Update {
        withdrawn: vec![],
        attributes: vec![
            PathAttribute::MpReach(reach),
            PathAttribute::Origin(Origin::Igp),
            frr_path(),
            PathAttribute::MultiExitDisc(0),
        ],
        nlri: vec![],
    };
    assert_eq!(f.message, Message::Update(expect));
}
