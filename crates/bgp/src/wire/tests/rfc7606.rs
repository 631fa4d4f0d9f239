//! RFC 7606 classification, one test per rule (section numbers in the names' comments).

use super::*;

const ORIGIN: &[u8] = &[0x40, 0x01, 0x01, 0x00]; // IGP
const AS_PATH: &[u8] = &[0x40, 0x02, 0x04, 0x02, 0x01, 0xfd, 0xe9]; // AS_SEQUENCE 65001 (2-octet)
const NEXT_HOP: &[u8] = &[0x40, 0x03, 0x04, 192, 0, 2, 1];
const NLRI: &[u8] = &[0x18, 10, 2, 0]; // 10.2.0.0/24
/// MP_REACH_NLRI, IPv6 unicast, next hop 2001:db8::1, 2001:db8:1::/48.
const MP_REACH: &[u8] = &[
    0x80, 0x0e, 0x1c, 0x00, 0x02, 0x01, 0x10, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 1, 0x00, 0x30, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01,
];
const MP_UNREACH: &[u8] = &[0x80, 0x0f, 0x03, 0x00, 0x02, 0x01];

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// The three mandatory attributes plus `extra`, with one IPv4 prefix.
fn with(extra: &[u8]) -> (Update, UpdateClass) {
    classify(&cat(&[ORIGIN, AS_PATH, NEXT_HOP, extra]), NLRI, &TWO)
}

#[track_caller]
fn assert_withdraw(got: &(Update, UpdateClass), type_code: u8) {
    match &got.1 {
        UpdateClass::TreatAsWithdraw(r) => {
            assert!(r.iter().any(|m| m.type_code == type_code), "{r:?}")
        }
        other => panic!("expected treat-as-withdraw for {type_code}, got {other:?}"),
    }
    // The NLRI are still known, so they can be withdrawn.
    assert!(!got.0.announced().is_empty());
}

#[track_caller]
fn assert_discard(got: &(Update, UpdateClass), type_code: u8) {
    match &got.1 {
        UpdateClass::AttributeDiscard(r) => {
            assert!(r.iter().any(|m| m.type_code == type_code), "{r:?}")
        }
        other => panic!("expected attribute discard for {type_code}, got {other:?}"),
    }
    assert!(
        got.0.attribute(type_code).is_none()
            || got
                .0
                .attributes
                .iter()
                .filter(|a| a.type_code() == type_code)
                .count()
                == 1
    );
}

#[track_caller]
fn assert_reset(got: &(Update, UpdateClass), subcode: u8) -> Notification {
    match &got.1 {
        UpdateClass::SessionReset(n) if n.code == 3 && n.subcode == subcode => n.clone(),
        other => panic!("expected session reset 3/{subcode}, got {other:?}"),
    }
}

#[test]
fn well_formed_is_ok() {
    let (u, class) = with(&[]);
    assert_eq!(class, UpdateClass::Ok);
    assert_eq!(u.attributes.len(), 3);
}

#[test]
fn origin_malformed_withdraws() {
    // 7.1: undefined value, or length other than 1.
    let got = classify(
        &cat(&[&[0x40, 0x01, 0x01, 0x03], AS_PATH, NEXT_HOP]),
        NLRI,
        &TWO,
    );
    assert_withdraw(&got, 1);
    assert!(got.0.attribute(1).is_none());
    assert_withdraw(
        &classify(
            &cat(&[&[0x40, 0x01, 0x02, 0x00, 0x00], AS_PATH, NEXT_HOP]),
            NLRI,
            &TWO,
        ),
        1,
    );
}

#[test]
fn as_path_malformed_withdraws() {
    // 7.2: unknown segment type, empty segment, segment overrun, a lone octet left.
    for bad in [
        &[0x40, 0x02, 0x04, 0x05, 0x01, 0xfd, 0xe9][..],
        &[0x40, 0x02, 0x02, 0x02, 0x00],
        &[0x40, 0x02, 0x04, 0x02, 0x02, 0xfd, 0xe9],
        &[0x40, 0x02, 0x05, 0x02, 0x01, 0xfd, 0xe9, 0x02],
    ] {
        assert_withdraw(&classify(&cat(&[ORIGIN, bad, NEXT_HOP]), NLRI, &TWO), 2);
    }
    // A 2-octet path read on a 4-octet session does not fit: also malformed.
    assert_withdraw(
        &classify(&cat(&[ORIGIN, AS_PATH, NEXT_HOP]), NLRI, &FOUR),
        2,
    );
}

#[test]
fn next_hop_med_local_pref_malformed_withdraw() {
    // 7.3, 7.4, 7.5: lengths other than 4.
    let got = classify(
        &cat(&[ORIGIN, AS_PATH, &[0x40, 0x03, 0x05, 1, 2, 3, 4, 5]]),
        NLRI,
        &TWO,
    );
    assert_withdraw(&got, 3);
    assert_withdraw(&with(&[0x80, 0x04, 0x03, 0, 0, 1]), 4);
    assert_withdraw(&with(&[0x40, 0x05, 0x05, 0, 0, 0, 0, 1]), 5);
}

#[test]
fn atomic_aggregate_and_aggregator_malformed_are_discarded() {
    // 7.6: length not 0.
    let got = with(&[0x40, 0x06, 0x01, 0x00]);
    assert_discard(&got, 6);
    assert_eq!(got.0.attributes.len(), 3, "the rest is used");
    // 7.7: length not 6 on a 2-octet session, not 8 on a 4-octet one.
    let agg8 = [0xc0, 0x07, 0x08, 0, 0, 0xfd, 0xe9, 192, 0, 2, 1];
    assert_discard(&with(&agg8), 7);
    let four_path = [0x40, 0x02, 0x06, 0x02, 0x01, 0, 0, 0xfd, 0xe9];
    let agg6 = [0xc0, 0x07, 0x06, 0xfd, 0xe9, 192, 0, 2, 1];
    let got = classify(&cat(&[ORIGIN, &four_path, NEXT_HOP, &agg6]), NLRI, &FOUR);
    assert_discard(&got, 7);
    assert!(got.0.attribute(7).is_none());
}

#[test]
fn as4_attributes_malformed_are_discarded() {
    // RFC 6793 section 6: AS4_PATH with a confederation segment, AS4_AGGREGATOR not 8 octets.
    assert_discard(&with(&[0xc0, 0x11, 0x06, 0x03, 0x01, 0, 0, 0, 7]), 17);
    assert_discard(&with(&[0xc0, 0x12, 0x06, 0xfd, 0xe9, 192, 0, 2, 1]), 18);
}

#[test]
fn communities_malformed_withdraw() {
    // 7.8: length not a multiple of 4, or zero.
    assert_withdraw(&with(&[0xc0, 0x08, 0x06, 0, 1, 0, 2, 0, 3]), 8);
    assert_withdraw(&with(&[0xc0, 0x08, 0x00]), 8);
}

#[test]
fn route_reflection_malformed_withdraw() {
    // 7.9 ORIGINATOR_ID not 4 octets, 7.10 CLUSTER_LIST zero or not a multiple of 4.
    assert_withdraw(&with(&[0x80, 0x09, 0x05, 10, 0, 0, 1, 0]), 9);
    assert_withdraw(&with(&[0x80, 0x0a, 0x06, 10, 0, 0, 1, 0, 0]), 10);
    assert_withdraw(&with(&[0x80, 0x0a, 0x00]), 10);
}

#[test]
fn flag_conflicts_take_the_attributes_action() {
    // Section 3: ORIGIN marked optional -> withdraw; MED marked transitive -> withdraw;
    // AGGREGATOR marked well-known -> its own action, discard.
    let got = classify(
        &cat(&[&[0xc0, 0x01, 0x01, 0x00], AS_PATH, NEXT_HOP]),
        NLRI,
        &TWO,
    );
    assert_withdraw(&got, 1);
    assert_withdraw(&with(&[0xc0, 0x04, 0x04, 0, 0, 0, 1]), 4);
    assert_discard(&with(&[0x40, 0x07, 0x06, 0xfd, 0xe9, 192, 0, 2, 1]), 7);
}

#[test]
fn repeated_attribute_keeps_the_first() {
    // Section 3: ORIGIN IGP then ORIGIN EGP: the first stays, the second is dropped.
    let got = with(&[0x40, 0x01, 0x01, 0x01]);
    assert_discard(&got, 1);
    assert_eq!(
        got.0.attribute(1),
        Some(&PathAttribute::Origin(Origin::Igp))
    );
}

#[test]
fn repeated_mp_attributes_reset() {
    // Section 3: MP_REACH_NLRI or MP_UNREACH_NLRI twice: Malformed Attribute List.
    assert_reset(
        &classify(&cat(&[ORIGIN, AS_PATH, MP_REACH, MP_REACH]), &[], &TWO),
        1,
    );
    assert_reset(&classify(&cat(&[MP_UNREACH, MP_UNREACH]), &[], &TWO), 1);
}

#[test]
fn missing_mandatory_withdraws() {
    // Section 3: ORIGIN missing with IPv4 NLRI; NEXT_HOP missing with IPv4 NLRI.
    assert_withdraw(&classify(&cat(&[AS_PATH, NEXT_HOP]), NLRI, &TWO), 1);
    assert_withdraw(&classify(&cat(&[ORIGIN, NEXT_HOP]), NLRI, &TWO), 2);
    assert_withdraw(&classify(&cat(&[ORIGIN, AS_PATH]), NLRI, &TWO), 3);
    // MP_REACH_NLRI carries its own next hop: no NEXT_HOP needed ...
    let (_, class) = classify(&cat(&[ORIGIN, AS_PATH, MP_REACH]), &[], &TWO);
    assert_eq!(class, UpdateClass::Ok);
    // ... but ORIGIN still is.
    assert_withdraw(&classify(&cat(&[AS_PATH, MP_REACH]), &[], &TWO), 1);
    // Nothing announced (a pure withdrawal): nothing is mandatory.
    let (_, class) = decode_update(&[0x00, 0x04, 0x18, 10, 2, 0, 0x00, 0x00], &TWO);
    assert_eq!(class, UpdateClass::Ok);
}

#[test]
fn attribute_overrun_withdraws_with_nlri_known() {
    // Section 4: the last attribute claims 8 octets, 4 remain; the Total Attribute
    // Length still locates the NLRI.
    let got = with(&[0xc0, 0x08, 0x08, 0, 1, 0, 2]);
    assert_withdraw(&got, 8);
    assert_eq!(got.0.nlri, vec![net4("10.2.0.0/24")]);
    // Fewer than three octets left for an attribute header.
    assert_withdraw(&with(&[0x40, 0x01]), 1);
    // Extended Length set and only three octets left.
    assert_withdraw(&with(&[0x50, 0x01, 0x00]), 1);
}

#[test]
fn mp_overrun_resets() {
    // The overrunning attribute is MP_REACH_NLRI: its NLRI are lost, so reset.
    assert_reset(
        &classify(&cat(&[ORIGIN, AS_PATH, &MP_REACH[..20]]), &[], &TWO),
        5,
    );
}

#[test]
fn field_lengths_and_nlri_syntax_reset() {
    // Withdrawn Routes Length past the message; Total Attribute Length past the message.
    assert_reset(
        &(
            Update::default(),
            decode_update(&[0x00, 0x09, 0x00, 0x00], &TWO).1,
        ),
        1,
    );
    assert_reset(
        &(
            Update::default(),
            decode_update(&[0x00, 0x00, 0x00, 0x09], &TWO).1,
        ),
        1,
    );
    // NLRI: prefix length 33; prefix running past the end. Withdrawn: length 40.
    assert_reset(
        &classify(
            &cat(&[ORIGIN, AS_PATH, NEXT_HOP]),
            &[33, 10, 0, 0, 0, 0],
            &TWO,
        ),
        10,
    );
    assert_reset(
        &classify(&cat(&[ORIGIN, AS_PATH, NEXT_HOP]), &[24, 10, 0], &TWO),
        10,
    );
    assert_reset(
        &(
            Update::default(),
            decode_update(&[0x00, 0x02, 40, 10, 0x00, 0x00], &TWO).1,
        ),
        10,
    );
}

#[test]
fn mp_reach_next_hop_length_withdraws() {
    // 7.11: next hop length 5 for IPv6: treat-as-withdraw, the prefixes still known.
    let mut bad = vec![
        0x80, 0x0e, 0x11, 0x00, 0x02, 0x01, 0x05, 1, 2, 3, 4, 5, 0x00,
    ];
    bad.extend_from_slice(&[0x30, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01]);
    let got = classify(&cat(&[ORIGIN, AS_PATH, &bad]), &[], &TWO);
    assert_withdraw(&got, 14);
    assert_eq!(
        got.0.announced(),
        vec![Nlri::V6(vec![net6("2001:db8:1::/48")])]
    );
}

#[test]
fn mp_structure_errors_reset() {
    // Too short for AFI/SAFI/next hop length: Optional Attribute Error, data = the attribute.
    let short = [0x80, 0x0e, 0x02, 0x00, 0x02];
    let n = assert_reset(&classify(&cat(&[ORIGIN, AS_PATH, &short]), &[], &TWO), 9);
    assert_eq!(n.data, short);
    // IPv6 prefix length 129 inside MP_REACH_NLRI / MP_UNREACH_NLRI.
    let mut bad = MP_REACH.to_vec();
    bad[24] = 129;
    assert_reset(&classify(&cat(&[ORIGIN, AS_PATH, &bad]), &[], &TWO), 9);
    assert_reset(
        &classify(&[0x80, 0x0f, 0x05, 0x00, 0x02, 0x01, 0x81, 0x20], &[], &TWO),
        9,
    );
    // Marked transitive: the flags conflict on an MP attribute resets too.
    let mut flagged = MP_UNREACH.to_vec();
    flagged[0] = 0xc0;
    assert_reset(&classify(&flagged, &[], &TWO), 9);
}

#[test]
fn unrecognized_well_known_resets() {
    // RFC 4271 6.3: type 99 without the Optional bit; data = the attribute.
    let n = assert_reset(&with(&[0x40, 0x63, 0x01, 0x07]), 2);
    assert_eq!(n.data, vec![0x40, 0x63, 0x01, 0x07]);
}

#[test]
fn strongest_action_wins() {
    // Section 3: a discard and a withdraw together: withdraw, both listed.
    let got = classify(
        &cat(&[
            &[0x40, 0x06, 0x01, 0x00],
            &[0x40, 0x01, 0x01, 0x09],
            AS_PATH,
            NEXT_HOP,
        ]),
        NLRI,
        &TWO,
    );
    let UpdateClass::TreatAsWithdraw(r) = &got.1 else {
        panic!("{:?}", got.1)
    };
    assert_eq!(
        r.iter().map(|m| m.type_code).collect::<Vec<_>>(),
        vec![6, 1]
    );
    // With a reset among them: reset.
    assert_reset(
        &classify(
            &cat(&[&[0x40, 0x01, 0x01, 0x09], MP_UNREACH, MP_UNREACH]),
            &[],
            &TWO,
        ),
        1,
    );
}

#[test]
fn decode_message_carries_the_class() {
    let body = update_body(&cat(&[&[0x40, 0x01, 0x01, 0x09], AS_PATH, NEXT_HOP]), NLRI);
    let f = decode_all(&frame(2, &body), &TWO).unwrap();
    assert!(matches!(f.class, UpdateClass::TreatAsWithdraw(_)));
    let body = update_body(&cat(&[MP_UNREACH, MP_UNREACH]), &[]);
    assert_eq!(
        decode_message(&frame(2, &body), &TWO),
        Err(Notification::new(3, 1, vec![]))
    );
}
