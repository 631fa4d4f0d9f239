//! Property tests.
//!
//! Case counts (see [`ROUNDTRIP_CASES`] etc.): `decode(encode(x)) == x` for 2,000
//! arbitrary valid messages on each codec context (4,000); 4,000 arbitrary byte strings,
//! 4,000 arbitrary bodies behind a valid header and 4,000 arbitrary UPDATE bodies,
//! each decoded with both contexts; 4,000 mutated valid messages (bytes flipped,
//! inserted, removed, cut), also decoded with both contexts. 20,000 cases in all.
//! Decoding must not panic, must not claim more bytes than it was given, and whatever
//! it accepts must re-encode into something that decodes to the same message.

use super::*;
use ipnet::{Ipv4Net, Ipv6Net};
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

const ROUNDTRIP_CASES: u32 = 2000;
const BYTES_CASES: u32 = 4000;
const MUTATION_CASES: u32 = 4000;

fn v4net() -> impl Strategy<Value = Ipv4Net> {
    (any::<u32>(), 0u8..=32).prop_map(|(a, l)| Ipv4Net::new(Ipv4Addr::from(a), l).unwrap().trunc())
}

fn v6net() -> impl Strategy<Value = Ipv6Net> {
    (any::<u128>(), 0u8..=128)
        .prop_map(|(a, l)| Ipv6Net::new(Ipv6Addr::from(a), l).unwrap().trunc())
}

fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn ipv6() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from)
}

/// An AS_PATH; `max_asn` bounds the numbers (65535 on a 2-octet session), `confed`
/// allows confederation segments (not in AS4_PATH).
fn as_path(max_asn: u32, confed: bool) -> impl Strategy<Value = AsPath> {
    let kinds = if confed {
        vec![
            SegmentType::Set,
            SegmentType::Sequence,
            SegmentType::ConfedSequence,
            SegmentType::ConfedSet,
        ]
    } else {
        vec![SegmentType::Set, SegmentType::Sequence]
    };
    let seg = (
        prop::sample::select(kinds),
        prop::collection::vec(0..=max_asn, 1..8),
    )
        .prop_map(|(kind, asns)| AsSegment { kind, asns });
    prop::collection::vec(seg, 0..4).prop_map(|segments| AsPath { segments })
}

fn other_family() -> impl Strategy<Value = (Afi, Safi)> {
    (any::<u16>(), any::<u8>())
        .prop_filter("not a parsed family", |(a, s)| {
            !((*a == 1 || *a == 2) && *s == 1)
        })
        .prop_map(|(a, s)| (Afi(a), Safi(s)))
}

fn nlri() -> impl Strategy<Value = Nlri> {
    prop_oneof![
        prop::collection::vec(v4net(), 0..6).prop_map(Nlri::V4),
        prop::collection::vec(v6net(), 0..6).prop_map(Nlri::V6),
        (other_family(), prop::collection::vec(any::<u8>(), 0..20))
            .prop_map(|((afi, safi), data)| Nlri::Other { afi, safi, data }),
    ]
}

fn v6_next_hop() -> impl Strategy<Value = MpNextHop> {
    (ipv6(), prop::option::of(ipv6()))
        .prop_map(|(global, link_local)| MpNextHop::V6 { global, link_local })
}

fn mp_reach() -> impl Strategy<Value = MpReach> {
    nlri().prop_flat_map(|nlri| {
        let nh = match &nlri {
            Nlri::V4(_) => prop_oneof![ipv4().prop_map(MpNextHop::V4), v6_next_hop()].boxed(),
            Nlri::V6(_) => v6_next_hop().boxed(),
            Nlri::Other { .. } => prop::collection::vec(any::<u8>(), 0..20)
                .prop_map(MpNextHop::Other)
                .boxed(),
        };
        nh.prop_map(move |next_hop| MpReach {
            next_hop,
            nlri: nlri.clone(),
        })
    })
}

fn aggregator(max_asn: u32) -> impl Strategy<Value = Aggregator> {
    (0..=max_asn, ipv4()).prop_map(|(asn, address)| Aggregator { asn, address })
}

fn unknown() -> impl Strategy<Value = std::collections::BTreeMap<u8, (u8, Vec<u8>)>> {
    let code = any::<u8>().prop_filter("not a known type", |c| {
        super::super::attr::expected_flags(*c).is_none()
    });
    let flags = prop::sample::select(vec![0x80u8, 0xa0, 0xc0, 0xe0]);
    prop::collection::btree_map(
        code,
        (flags, prop::collection::vec(any::<u8>(), 0..40)),
        0..3,
    )
}

fn update(four: bool) -> impl Strategy<Value = Update> {
    let max_asn = if four { u32::MAX } else { u32::from(u16::MAX) };
    let origin = prop::sample::select(vec![Origin::Igp, Origin::Egp, Origin::Incomplete]);
    let head = (
        prop::option::of(origin),
        prop::option::of(as_path(max_asn, true)),
        prop::option::of(ipv4()),
        prop::option::of(any::<u32>()),
        prop::option::of(any::<u32>()),
        any::<bool>(),
        prop::option::of(aggregator(max_asn)),
        prop::option::of(prop::collection::vec(
            any::<u32>().prop_map(Community),
            1..8,
        )),
    );
    let tail = (
        prop::option::of(ipv4()),
        prop::option::of(prop::collection::vec(ipv4(), 1..5)),
        prop::option::of(mp_reach()),
        prop::option::of(nlri().prop_map(|withdrawn| MpUnreach { withdrawn })),
        prop::option::of(as_path(u32::MAX, false)),
        prop::option::of(aggregator(u32::MAX)),
        unknown(),
    );
    let withdrawn = prop::collection::vec(v4net(), 0..8);
    let announced = prop::collection::vec(v4net(), 0..8);
    (head, tail, withdrawn, announced).prop_flat_map(|(h, t, withdrawn, nlri)| {
        let (origin, path, nh, med, lp, atomic, agg, comm) = h;
        let (orig_id, clusters, reach, unreach, as4, as4agg, unknown) = t;
        let announces = !nlri.is_empty() || reach.as_ref().is_some_and(|r| !r.nlri.is_empty());
        // An UPDATE that announces carries the mandatory attributes (else it is, rightly,
        // treat-as-withdraw, which the classification tests cover).
        let origin = origin.or(announces.then_some(Origin::Igp));
        let path = path.or(announces.then(AsPath::default));
        let nh = nh.or((!nlri.is_empty()).then_some(Ipv4Addr::new(192, 0, 2, 1)));
        let mut attrs: Vec<PathAttribute> = [
            origin.map(PathAttribute::Origin),
            path.map(PathAttribute::AsPath),
            nh.map(PathAttribute::NextHop),
            med.map(PathAttribute::MultiExitDisc),
            lp.map(PathAttribute::LocalPref),
            atomic.then_some(PathAttribute::AtomicAggregate),
            agg.map(PathAttribute::Aggregator),
            comm.map(PathAttribute::Communities),
            orig_id.map(PathAttribute::OriginatorId),
            clusters.map(PathAttribute::ClusterList),
            reach.map(PathAttribute::MpReach),
            unreach.map(PathAttribute::MpUnreach),
            as4.map(PathAttribute::As4Path),
            as4agg.map(PathAttribute::As4Aggregator),
        ]
        .into_iter()
        .flatten()
        .collect();
        attrs.extend(unknown.into_iter().map(|(type_code, (flags, value))| {
            PathAttribute::Unknown(UnknownAttribute {
                flags,
                type_code,
                value,
            })
        }));
        Just(attrs)
            .prop_shuffle()
            .prop_map(move |attributes| Update {
                withdrawn: withdrawn.clone(),
                attributes,
                nlri: nlri.clone(),
            })
    })
}

fn capability() -> impl Strategy<Value = Capability> {
    let family = (any::<u16>(), any::<u8>(), any::<bool>()).prop_map(|(a, s, f)| GrFamily {
        afi: Afi(a),
        safi: Safi(s),
        forwarding_state: f,
    });
    let known = [1u8, 2, 64, 65, 70];
    prop_oneof![
        (any::<u16>(), any::<u8>()).prop_map(|(a, s)| Capability::Multiprotocol(Afi(a), Safi(s))),
        Just(Capability::RouteRefresh),
        Just(Capability::EnhancedRouteRefresh),
        any::<u32>().prop_map(Capability::FourOctetAs),
        (
            any::<bool>(),
            0u16..4096,
            prop::collection::vec(family, 0..4)
        )
            .prop_map(|(restart_state, restart_time, families)| {
                Capability::GracefulRestart(GracefulRestart {
                    restart_state,
                    restart_time,
                    families,
                })
            }),
        (
            any::<u8>().prop_filter("unknown code", move |c| !known.contains(c)),
            prop::collection::vec(any::<u8>(), 0..16)
        )
            .prop_map(|(code, value)| Capability::Unknown { code, value }),
    ]
}

fn message(four: bool) -> impl Strategy<Value = Message> {
    let open = (
        any::<u16>(),
        any::<u16>().prop_filter("hold time 1, 2", |h| *h != 1 && *h != 2),
        1..=u32::MAX,
        prop::collection::vec(capability(), 0..8),
    )
        .prop_map(|(my_as, hold_time, id, capabilities)| {
            Message::Open(Open {
                version: 4,
                my_as,
                hold_time,
                bgp_id: Ipv4Addr::from(id),
                capabilities,
            })
        });
    let notification = (
        any::<u8>(),
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(code, subcode, data)| {
            Message::Notification(Notification {
                code,
                subcode,
                data,
            })
        });
    let refresh = (any::<u16>(), any::<u8>(), any::<u8>()).prop_map(|(a, s, subtype)| {
        Message::RouteRefresh(RouteRefresh {
            afi: Afi(a),
            safi: Safi(s),
            subtype,
        })
    });
    prop_oneof![
        1 => Just(Message::Keepalive),
        1 => open,
        1 => notification,
        1 => refresh,
        4 => update(four).prop_map(Message::Update),
    ]
}

/// Decodes with both contexts; checks the invariants that hold for any input.
fn decode_checked(bytes: &[u8]) {
    for ctx in [TWO, FOUR] {
        if let Ok(Some(f)) = decode_message(bytes, &ctx) {
            assert!(f.len <= bytes.len() && f.len >= HEADER_LEN);
            assert!(!matches!(f.class, UpdateClass::SessionReset(_)));
            // What was accepted re-encodes into the same message.
            let again = encode_message(&f.message, &ctx).expect("a decoded message re-encodes");
            let f2 = decode_message(&again, &ctx).unwrap().unwrap();
            assert_eq!(f2.message, f.message);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(ROUNDTRIP_CASES))]

    #[test]
    fn roundtrip_two_octet(msg in message(false)) {
        let bytes = encode_message(&msg, &TWO).unwrap();
        let f = decode_message(&bytes, &TWO).unwrap().unwrap();
        prop_assert_eq!(f.len, bytes.len());
        prop_assert_eq!(f.class, UpdateClass::Ok);
        prop_assert_eq!(f.message, msg);
    }

    #[test]
    fn roundtrip_four_octet(msg in message(true)) {
        let bytes = encode_message(&msg, &FOUR).unwrap();
        let f = decode_message(&bytes, &FOUR).unwrap().unwrap();
        prop_assert_eq!(f.len, bytes.len());
        prop_assert_eq!(f.class, UpdateClass::Ok);
        prop_assert_eq!(f.message, msg);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(BYTES_CASES))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        decode_checked(&bytes);
    }

    #[test]
    fn arbitrary_bodies_never_panic(kind in 1u8..=5, body in prop::collection::vec(any::<u8>(), 0..600)) {
        decode_checked(&frame(kind, &body));
    }

    #[test]
    fn arbitrary_update_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..600)) {
        for ctx in [TWO, FOUR] {
            let _ = decode_update(&body, &ctx);
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Cut(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => any::<usize>().prop_map(Mutation::Remove),
        1 => any::<usize>().prop_map(Mutation::Cut),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(MUTATION_CASES))]

    #[test]
    fn mutated_messages_never_panic(
        msg in message(true),
        four in any::<bool>(),
        muts in prop::collection::vec(mutation(), 1..6),
        fix_length in any::<bool>(),
    ) {
        let ctx = if four { FOUR } else { TWO };
        let Ok(mut bytes) = encode_message(&msg, &ctx) else { return Ok(()) };
        for m in muts {
            let n = bytes.len();
            match m {
                Mutation::Set(i, b) => bytes[i % n] = b,
                Mutation::Insert(i, b) => bytes.insert(i % (n + 1), b),
                Mutation::Remove(i) if n > 0 => { bytes.remove(i % n); }
                Mutation::Cut(i) => bytes.truncate(i % (n + 1)),
                Mutation::Remove(_) => {}
            }
            if bytes.is_empty() {
                break;
            }
        }
        // Often keep the marker and length right so the body parsers are reached.
        if fix_length && bytes.len() >= 19 {
            bytes[..16].fill(0xff);
            let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
            bytes[16..18].copy_from_slice(&len.to_be_bytes());
        }
        decode_checked(&bytes);
    }
}
