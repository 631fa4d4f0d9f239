//! Every path attribute, byte for byte (RFC 4271 section 4.3 and 5, RFC 1997, 4456,
//! 4760, 2545, 6793), and End-of-RIB (RFC 4724 section 2).

use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};

/// An UPDATE holding only `attr` encodes to an UPDATE holding only `bytes`, and back.
fn attr_exact(attr: PathAttribute, ctx: &Codec, bytes: &[u8]) {
    let msg = Message::Update(Update {
        attributes: vec![attr],
        ..Update::default()
    });
    exact(&msg, ctx, &frame(2, &update_body(bytes, &[])));
}

/// Like [`attr_exact`] for MP_REACH_NLRI, after the ORIGIN (IGP) and empty AS_PATH an
/// UPDATE announcing something must carry.
fn reach_exact(reach: MpReach, bytes: &[u8]) {
    let attributes = vec![
        PathAttribute::Origin(Origin::Igp),
        PathAttribute::AsPath(AsPath::default()),
        PathAttribute::MpReach(reach),
    ];
    let mut all = vec![0x40, 0x01, 0x01, 0x00, 0x40, 0x02, 0x00];
    all.extend_from_slice(bytes);
    let msg = Message::Update(Update {
        attributes,
        ..Update::default()
    });
    exact(&msg, &TWO, &frame(2, &update_body(&all, &[])));
}

fn only_attr(bytes: &[u8], ctx: &Codec) -> PathAttribute {
    let (u, class) = classify(bytes, &[], ctx);
    assert_eq!(class, UpdateClass::Ok);
    assert_eq!(u.attributes.len(), 1);
    u.attributes[0].clone()
}

fn seq(asns: &[u32]) -> AsSegment {
    AsSegment {
        kind: SegmentType::Sequence,
        asns: asns.to_vec(),
    }
}

const NH: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

#[test]
fn full_update_exact() {
    let update = Update {
        withdrawn: vec![net4("10.1.0.0/16")],
        attributes: vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(AsPath {
                segments: vec![seq(&[65001, 4_200_000_000])],
            }),
            PathAttribute::NextHop(NH),
            PathAttribute::MultiExitDisc(100),
            PathAttribute::LocalPref(200),
        ],
        nlri: vec![
            net4("10.2.0.0/24"),
            net4("10.3.128.0/17"),
            net4("0.0.0.0/0"),
        ],
    };
    let body = [
        0x00, 0x03, // withdrawn routes length
        0x10, 10, 1, // 10.1.0.0/16
        0x00, 0x26, // total path attribute length 38
        0x40, 0x01, 0x01, 0x00, // ORIGIN (well-known transitive) IGP
        0x40, 0x02, 0x0a, 0x02, 0x02, // AS_PATH, length 10: AS_SEQUENCE of 2
        0x00, 0x00, 0xfd, 0xe9, 0xfa, 0x56, 0xea, 0x00, // 65001, 4200000000
        0x40, 0x03, 0x04, 192, 0, 2, 1, // NEXT_HOP
        0x80, 0x04, 0x04, 0, 0, 0, 100, // MULTI_EXIT_DISC (optional non-transitive)
        0x40, 0x05, 0x04, 0, 0, 0, 200, // LOCAL_PREF
        0x18, 10, 2, 0, // 10.2.0.0/24
        0x11, 10, 3, 0x80, // 10.3.128.0/17
        0x00, // 0.0.0.0/0
    ];
    exact(&Message::Update(update), &FOUR, &frame(2, &body));
}

#[test]
fn origin() {
    attr_exact(
        PathAttribute::Origin(Origin::Igp),
        &TWO,
        &[0x40, 0x01, 0x01, 0x00],
    );
    attr_exact(
        PathAttribute::Origin(Origin::Egp),
        &TWO,
        &[0x40, 0x01, 0x01, 0x01],
    );
    attr_exact(
        PathAttribute::Origin(Origin::Incomplete),
        &TWO,
        &[0x40, 0x01, 0x01, 0x02],
    );
}

#[test]
fn as_path_two_octet() {
    let path = AsPath {
        segments: vec![
            AsSegment {
                kind: SegmentType::Set,
                asns: vec![1, 2],
            },
            seq(&[65001]),
        ],
    };
    #[rustfmt::skip]
    let bytes = [
        0x40, 0x02, 0x0a, // AS_PATH, length 10
        0x01, 0x02, 0x00, 0x01, 0x00, 0x02, // AS_SET of 2: 1, 2
        0x02, 0x01, 0xfd, 0xe9, // AS_SEQUENCE of 1: 65001
    ];
    attr_exact(PathAttribute::AsPath(path), &TWO, &bytes);
}

#[test]
fn as_path_four_octet_and_as_trans() {
    let path = AsPath {
        segments: vec![seq(&[4_200_000_000, 65001])],
    };
    // 4-octet session: AS_SEQUENCE of 2, four octets each.
    let four = [
        0x40, 0x02, 0x0a, 0x02, 0x02, 0xfa, 0x56, 0xea, 0x00, 0x00, 0x00, 0xfd, 0xe9,
    ];
    attr_exact(PathAttribute::AsPath(path.clone()), &FOUR, &four);
    // 2-octet session: the big AS goes out as AS_TRANS (0x5ba0), and comes back as that.
    let two = [0x40, 0x02, 0x06, 0x02, 0x02, 0x5b, 0xa0, 0xfd, 0xe9];
    let msg = Message::Update(Update {
        attributes: vec![PathAttribute::AsPath(path)],
        ..Update::default()
    });
    assert_eq!(
        encode_message(&msg, &TWO).unwrap(),
        frame(2, &update_body(&two, &[]))
    );
    let expect = AsPath {
        segments: vec![seq(&[23456, 65001])],
    };
    assert_eq!(only_attr(&two, &TWO), PathAttribute::AsPath(expect));
    // Confederation segments (RFC 5065) are read too.
    let confed = [0x40, 0x02, 0x04, 0x03, 0x01, 0x00, 0x07];
    let p = AsPath {
        segments: vec![AsSegment {
            kind: SegmentType::ConfedSequence,
            asns: vec![7],
        }],
    };
    attr_exact(PathAttribute::AsPath(p), &TWO, &confed);
    // An empty AS_PATH (iBGP-originated) is an attribute of length 0.
    attr_exact(
        PathAttribute::AsPath(AsPath::default()),
        &FOUR,
        &[0x40, 0x02, 0x00],
    );
}

#[test]
fn next_hop_med_local_pref() {
    attr_exact(
        PathAttribute::NextHop(NH),
        &TWO,
        &[0x40, 0x03, 0x04, 192, 0, 2, 1],
    );
    attr_exact(
        PathAttribute::MultiExitDisc(0x01020304),
        &TWO,
        &[0x80, 0x04, 0x04, 1, 2, 3, 4],
    );
    attr_exact(
        PathAttribute::LocalPref(100),
        &TWO,
        &[0x40, 0x05, 0x04, 0, 0, 0, 100],
    );
}

#[test]
fn atomic_aggregate_and_aggregator() {
    attr_exact(PathAttribute::AtomicAggregate, &TWO, &[0x40, 0x06, 0x00]);
    let agg = Aggregator {
        asn: 65001,
        address: NH,
    };
    // Optional transitive; 2-octet AS then address (6 octets) ...
    attr_exact(
        PathAttribute::Aggregator(agg),
        &TWO,
        &[0xc0, 0x07, 0x06, 0xfd, 0xe9, 192, 0, 2, 1],
    );
    // ... or 4-octet AS then address (8 octets) on a 4-octet session.
    let bytes = [0xc0, 0x07, 0x08, 0x00, 0x00, 0xfd, 0xe9, 192, 0, 2, 1];
    attr_exact(PathAttribute::Aggregator(agg), &FOUR, &bytes);
}

#[test]
fn communities() {
    let cs = vec![Community(65001 << 16 | 100), Community::NO_EXPORT];
    #[rustfmt::skip]
    let bytes = [
        0xc0, 0x08, 0x08, // COMMUNITIES, optional transitive, length 8
        0xfd, 0xe9, 0x00, 0x64, // 65001:100
        0xff, 0xff, 0xff, 0x01, // NO_EXPORT
    ];
    attr_exact(PathAttribute::Communities(cs), &TWO, &bytes);
}

#[test]
fn extended_length_when_needed() {
    // 64 communities = 256 octets: Extended Length bit (0x10) and a 2-octet length.
    let cs: Vec<Community> = (0..64).map(Community).collect();
    let mut bytes = vec![0xd0, 0x08, 0x01, 0x00];
    (0..64u32).for_each(|c| bytes.extend_from_slice(&c.to_be_bytes()));
    attr_exact(PathAttribute::Communities(cs), &TWO, &bytes);
    // A short attribute sent with Extended Length is read the same.
    assert_eq!(
        only_attr(&[0x50, 0x01, 0x00, 0x01, 0x02], &TWO),
        PathAttribute::Origin(Origin::Incomplete)
    );
}

#[test]
fn route_reflection() {
    let id = Ipv4Addr::new(10, 0, 0, 9);
    attr_exact(
        PathAttribute::OriginatorId(id),
        &TWO,
        &[0x80, 0x09, 0x04, 10, 0, 0, 9],
    );
    let list = vec![Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)];
    let bytes = [0x80, 0x0a, 0x08, 10, 0, 0, 1, 10, 0, 0, 2];
    attr_exact(PathAttribute::ClusterList(list), &TWO, &bytes);
}

#[test]
fn mp_reach_ipv6_global_and_link_local() {
    let global: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let ll: Ipv6Addr = "fe80::1".parse().unwrap();
    let nlri = Nlri::V6(vec![net6("2001:db8:1::/48")]);
    let prefix = [0x30, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01]; // /48, six octets
    let mut bytes = vec![
        0x80, 0x0e, 0x1c, // MP_REACH_NLRI, optional non-transitive, length 28
        0x00, 0x02, 0x01, // AFI 2, SAFI 1
        0x10, // next hop length 16
    ];
    bytes.extend_from_slice(&global.octets());
    bytes.push(0x00); // reserved
    bytes.extend_from_slice(&prefix);
    let one = MpReach {
        next_hop: MpNextHop::V6 {
            global,
            link_local: None,
        },
        nlri: nlri.clone(),
    };
    reach_exact(one, &bytes);

    // 32-octet next hop: global then link-local (RFC 2545 section 3).
    let mut bytes = vec![0x80, 0x0e, 0x2c, 0x00, 0x02, 0x01, 0x20];
    bytes.extend_from_slice(&global.octets());
    bytes.extend_from_slice(&ll.octets());
    bytes.push(0x00);
    bytes.extend_from_slice(&prefix);
    let two = MpReach {
        next_hop: MpNextHop::V6 {
            global,
            link_local: Some(ll),
        },
        nlri,
    };
    reach_exact(two, &bytes);
}

#[test]
fn mp_reach_ipv4_and_other_family() {
    // AFI 1, SAFI 1, next hop length 4, 192.0.2.1, reserved, 10.0.0.0/8.
    let bytes = [
        0x80, 0x0e, 0x0b, 0x00, 0x01, 0x01, 0x04, 192, 0, 2, 1, 0x00, 0x08, 10,
    ];
    let r = MpReach {
        next_hop: MpNextHop::V4(NH),
        nlri: Nlri::V4(vec![net4("10.0.0.0/8")]),
    };
    reach_exact(r, &bytes);
    // AFI 2, SAFI 128 (L3VPN): not parsed, kept raw.
    let bytes = [
        0x80, 0x0e, 0x08, 0x00, 0x02, 0x80, 0x02, 0xaa, 0xbb, 0x00, 0xcc,
    ];
    let r = MpReach {
        next_hop: MpNextHop::Other(vec![0xaa, 0xbb]),
        nlri: Nlri::Other {
            afi: Afi::IPV6,
            safi: Safi(128),
            data: vec![0xcc],
        },
    };
    reach_exact(r, &bytes);
}

#[test]
fn mp_unreach() {
    // AFI 2, SAFI 1, 2001:db8:1::/48.
    let bytes = [
        0x80, 0x0f, 0x0a, 0x00, 0x02, 0x01, 0x30, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01,
    ];
    let u = MpUnreach {
        withdrawn: Nlri::V6(vec![net6("2001:db8:1::/48")]),
    };
    attr_exact(PathAttribute::MpUnreach(u), &TWO, &bytes);
}

#[test]
fn as4_path_and_as4_aggregator() {
    let p = AsPath {
        segments: vec![seq(&[4_200_000_000])],
    };
    // Optional transitive, always 4-octet, whatever the session.
    attr_exact(
        PathAttribute::As4Path(p),
        &TWO,
        &[0xc0, 0x11, 0x06, 0x02, 0x01, 0xfa, 0x56, 0xea, 0x00],
    );
    let a = Aggregator {
        asn: 4_200_000_000,
        address: NH,
    };
    let bytes = [0xc0, 0x12, 0x08, 0xfa, 0x56, 0xea, 0x00, 192, 0, 2, 1];
    attr_exact(PathAttribute::As4Aggregator(a), &TWO, &bytes);
}

#[test]
fn unknown_attributes() {
    // Type 99, optional transitive partial, two octets: kept with its flags.
    let u = UnknownAttribute {
        flags: 0xe0,
        type_code: 99,
        value: vec![0xab, 0xcd],
    };
    attr_exact(
        PathAttribute::Unknown(u.clone()),
        &TWO,
        &[0xe0, 0x63, 0x02, 0xab, 0xcd],
    );
    // The unused low flag bits are ignored.
    let got = only_attr(&[0xc3, 0x63, 0x00], &TWO);
    assert_eq!(
        got,
        PathAttribute::Unknown(UnknownAttribute {
            flags: 0xc0,
            type_code: 99,
            value: vec![]
        })
    );
    // Passed on: optional transitive with Partial; optional non-transitive dropped.
    let fresh = UnknownAttribute {
        flags: 0xc0,
        type_code: 99,
        value: vec![1],
    };
    assert_eq!(fresh.propagated().unwrap().flags, 0xe0);
    assert_eq!(
        UnknownAttribute {
            flags: 0x80,
            ..fresh
        }
        .propagated(),
        None
    );
}
