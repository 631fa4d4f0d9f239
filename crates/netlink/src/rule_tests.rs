//! Rule requests, byte for byte, and rule dumps captured from kernel 6.18 (`strace -e read=3
//! ip rule show`, `ip -6 rule show`). The expected requests are what iproute2 6.1 sends for
//! the same `ip rule add` (seen with `strace -x -e trace=sendmsg`), but that iproute2 leaves
//! FRA_TABLE out for a table below 256, which the kernel then takes from the header.
//! Little-endian machines.
#![cfg(target_endian = "little")]

use crate::codec_tests::{assert_cuts_refused, decode_captured, ip, request, Mangler};

use crate::message::MessageWriter;
use crate::parse::RawMessage;
use crate::rule::check_rule;
use crate::rule_codec::{decode_rule, encode_rule, encode_rule_dump};
use crate::uapi::*;
use crate::{Error, Family, Rule};

/// `pref 32000 from 10.46.0.0/16 to 198.18.0.0/15 lookup 1000 proto 87`.
fn prefixes_to_table_1000() -> Rule {
    Rule {
        source: Some((ip("10.46.0.0"), 16)),
        destination: Some((ip("198.18.0.0"), 15)),
        ..Rule::lookup(Family::V4, 32000, 1000, 87)
    }
}

/// `pref 32001 lookup 100 suppress_prefixlength 0 proto 87`.
fn suppressing_rule() -> Rule {
    Rule {
        suppress_prefixlen: Some(0),
        ..Rule::lookup(Family::V4, 32001, 100, 87)
    }
}

/// A kernel rule (protocol 2) of `family`, `pref priority lookup table`.
fn kernel_rule(family: Family, priority: u32, table: u32) -> Rule {
    Rule::lookup(family, priority, table, RTPROT_KERNEL)
}

#[test]
fn rule_with_prefixes_in_table_1000_is_what_iproute2_sends() {
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE;
    let bytes = request(RTM_NEWRULE, flags, |m| {
        encode_rule(m, &prefixes_to_table_1000())
    });
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[68, 0, 0, 0, 32, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0][..],
        &[2, 15, 16, 0, 0, 0, 0, 1, 0, 0, 0, 0],   // fib_rule_hdr: table in FRA_TABLE only
        &[8, 0, 6, 0, 0x00, 0x7d, 0, 0],           // FRA_PRIORITY 32000
        &[8, 0, 2, 0, 10, 46, 0, 0],               // FRA_SRC
        &[8, 0, 1, 0, 198, 18, 0, 0],              // FRA_DST
        &[8, 0, 15, 0, 0xe8, 0x03, 0, 0],          // FRA_TABLE 1000
        &[5, 0, 21, 0, 87, 0, 0, 0],               // FRA_PROTOCOL 87
    ]
    .concat();
    assert_eq!(bytes, expected);
    // A delete names the same fields.
    let delete = request(RTM_DELRULE, NLM_F_REQUEST | NLM_F_ACK, |m| {
        encode_rule(m, &prefixes_to_table_1000())
    });
    assert_eq!(&delete[16..], &expected[16..]);
}

#[test]
fn a_table_below_256_rides_in_the_header_too_and_suppress_prefixlen_is_sent() {
    let bytes = request(RTM_NEWRULE, NLM_F_REQUEST, |m| {
        encode_rule(m, &suppressing_rule())
    });
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[60, 0, 0, 0, 32, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0][..],
        &[2, 0, 0, 0, 100, 0, 0, 1, 0, 0, 0, 0],   // fib_rule_hdr: table 100
        &[8, 0, 6, 0, 0x01, 0x7d, 0, 0],           // FRA_PRIORITY 32001
        &[8, 0, 15, 0, 100, 0, 0, 0],              // FRA_TABLE 100
        &[5, 0, 21, 0, 87, 0, 0, 0],               // FRA_PROTOCOL 87
        &[8, 0, 14, 0, 0, 0, 0, 0],                // FRA_SUPPRESS_PREFIXLEN 0
    ]
    .concat();
    assert_eq!(bytes, expected);

    // IPv6, no priority, no protocol, a /0 prefix: only the family, the table and the action.
    let bare = Rule {
        priority: None,
        protocol: None,
        source: Some((ip("::"), 0)),
        ..Rule::lookup(Family::V6, 0, RT_TABLE_MAIN, 0)
    };
    let bytes = request(RTM_NEWRULE, NLM_F_REQUEST, |m| encode_rule(m, &bare));
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[36, 0, 0, 0, 32, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0][..],
        &[10, 0, 0, 0, 254, 0, 0, 1, 0, 0, 0, 0],
        &[8, 0, 15, 0, 254, 0, 0, 0],
    ]
    .concat();
    assert_eq!(bytes, expected);
}

#[test]
fn a_dump_request_names_only_the_family() {
    for (family, code) in [(Family::V4, AF_INET), (Family::V6, AF_INET6)] {
        let bytes = request(RTM_GETRULE, NLM_F_REQUEST | NLM_F_DUMP, |m| {
            encode_rule_dump(m, family)
        });
        #[rustfmt::skip]
        let expected: Vec<u8> = [
            &[28, 0, 0, 0, 34, 0, 0x01, 0x03, 1, 0, 0, 0, 0, 0, 0, 0][..],
            &[code, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ]
        .concat();
        assert_eq!(bytes, expected);
    }
}

const CAPTURED_SEQ: u32 = 0x6b0d_e6a5;

/// `ip rule show` after `ip rule add` of the two rules above: the kernel's local rule (no
/// FRA_PRIORITY: its priority is 0), the two, main and default, then NLMSG_DONE. The rule in
/// table 1000 has RT_TABLE_COMPAT (252) in its header; every rule FRA_SUPPRESS_PREFIXLEN,
/// u32::MAX when unset.
#[rustfmt::skip]
const CAPTURED_V4: [u8; 0x148] = [
    0x34, 0x00, 0x00, 0x00, 0x20, 0x00, 0x02, 0x00, 0xa5, 0xe6, 0x0d, 0x6b, 0x23, 0x23, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x0f, 0x00,
    0xff, 0x00, 0x00, 0x00, 0x08, 0x00, 0x0e, 0x00, 0xff, 0xff, 0xff, 0xff, 0x05, 0x00, 0x15, 0x00,
    0x02, 0x00, 0x00, 0x00, 0x4c, 0x00, 0x00, 0x00, 0x20, 0x00, 0x02, 0x00, 0xa5, 0xe6, 0x0d, 0x6b,
    0x23, 0x23, 0x00, 0x00, 0x02, 0x0f, 0x10, 0x00, 0xfc, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x0f, 0x00, 0xe8, 0x03, 0x00, 0x00, 0x08, 0x00, 0x0e, 0x00, 0xff, 0xff, 0xff, 0xff,
    0x05, 0x00, 0x15, 0x00, 0x57, 0x00, 0x00, 0x00, 0x08, 0x00, 0x06, 0x00, 0x00, 0x7d, 0x00, 0x00,
    0x08, 0x00, 0x01, 0x00, 0xc6, 0x12, 0x00, 0x00, 0x08, 0x00, 0x02, 0x00, 0x0a, 0x2e, 0x00, 0x00,
    0x3c, 0x00, 0x00, 0x00, 0x20, 0x00, 0x02, 0x00, 0xa5, 0xe6, 0x0d, 0x6b, 0x23, 0x23, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x0f, 0x00,
    0x64, 0x00, 0x00, 0x00, 0x08, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x15, 0x00,
    0x57, 0x00, 0x00, 0x00, 0x08, 0x00, 0x06, 0x00, 0x01, 0x7d, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x00,
    0x20, 0x00, 0x02, 0x00, 0xa5, 0xe6, 0x0d, 0x6b, 0x23, 0x23, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
    0xfe, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x0f, 0x00, 0xfe, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x0e, 0x00, 0xff, 0xff, 0xff, 0xff, 0x05, 0x00, 0x15, 0x00, 0x02, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x06, 0x00, 0xfe, 0x7f, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x00, 0x20, 0x00, 0x02, 0x00,
    0xa5, 0xe6, 0x0d, 0x6b, 0x23, 0x23, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0xfd, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x0f, 0x00, 0xfd, 0x00, 0x00, 0x00, 0x08, 0x00, 0x0e, 0x00,
    0xff, 0xff, 0xff, 0xff, 0x05, 0x00, 0x15, 0x00, 0x02, 0x00, 0x00, 0x00, 0x08, 0x00, 0x06, 0x00,
    0xff, 0x7f, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0xa5, 0xe6, 0x0d, 0x6b,
    0x23, 0x23, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

/// `ip -6 rule show` after `ip -6 rule add pref 32000 from fd4e:a::/48 lookup 100 proto 87`:
/// local, that rule, main (IPv6 has no default rule), NLMSG_DONE.
#[rustfmt::skip]
const CAPTURED_V6: [u8; 0xd4] = [
    0x34, 0x00, 0x00, 0x00, 0x20, 0x00, 0x02, 0x00, 0xa5, 0xe6, 0x0d, 0x6b, 0x28, 0x23, 0x00, 0x00,
    0x0a, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x0f, 0x00,
    0xff, 0x00, 0x00, 0x00, 0x08, 0x00, 0x0e, 0x00, 0xff, 0xff, 0xff, 0xff, 0x05, 0x00, 0x15, 0x00,
    0x02, 0x00, 0x00, 0x00, 0x50, 0x00, 0x00, 0x00, 0x20, 0x00, 0x02, 0x00, 0xa5, 0xe6, 0x0d, 0x6b,
    0x28, 0x23, 0x00, 0x00, 0x0a, 0x00, 0x30, 0x00, 0x64, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x0f, 0x00, 0x64, 0x00, 0x00, 0x00, 0x08, 0x00, 0x0e, 0x00, 0xff, 0xff, 0xff, 0xff,
    0x05, 0x00, 0x15, 0x00, 0x57, 0x00, 0x00, 0x00, 0x08, 0x00, 0x06, 0x00, 0x00, 0x7d, 0x00, 0x00,
    0x14, 0x00, 0x02, 0x00, 0xfd, 0x4e, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x00, 0x20, 0x00, 0x02, 0x00, 0xa5, 0xe6, 0x0d, 0x6b,
    0x28, 0x23, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0xfe, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x0f, 0x00, 0xfe, 0x00, 0x00, 0x00, 0x08, 0x00, 0x0e, 0x00, 0xff, 0xff, 0xff, 0xff,
    0x05, 0x00, 0x15, 0x00, 0x02, 0x00, 0x00, 0x00, 0x08, 0x00, 0x06, 0x00, 0xfe, 0x7f, 0x00, 0x00,
    0x14, 0x00, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0xa5, 0xe6, 0x0d, 0x6b, 0x28, 0x23, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
];

fn decode_dump(datagram: &[u8]) -> crate::Result<Option<Vec<Rule>>> {
    decode_captured(datagram, CAPTURED_SEQ, decode_rule)
}

#[test]
fn decodes_a_captured_ipv4_rule_dump() {
    let rules = decode_dump(&CAPTURED_V4).unwrap().unwrap();
    assert_eq!(
        rules,
        [
            kernel_rule(Family::V4, 0, RT_TABLE_LOCAL),
            prefixes_to_table_1000(),
            suppressing_rule(),
            kernel_rule(Family::V4, 32766, RT_TABLE_MAIN),
            kernel_rule(Family::V4, 32767, RT_TABLE_DEFAULT),
        ]
    );
    // The rule in table 1000 says RT_TABLE_COMPAT in its header; FRA_TABLE wins.
    assert_eq!(CAPTURED_V4[0x48], RT_TABLE_COMPAT);
}

#[test]
fn decodes_a_captured_ipv6_rule_dump() {
    let rules = decode_dump(&CAPTURED_V6).unwrap().unwrap();
    let ours = Rule {
        source: Some((ip("fd4e:a::"), 48)),
        ..Rule::lookup(Family::V6, 32000, 100, 87)
    };
    assert_eq!(
        rules,
        [
            kernel_rule(Family::V6, 0, RT_TABLE_LOCAL),
            ours,
            kernel_rule(Family::V6, 32766, RT_TABLE_MAIN),
        ]
    );
}

/// One rule message's payload: `header` (fib_rule_hdr) then attributes `attributes` writes.
fn rule_payload(header: [u8; 12], attributes: impl FnOnce(&mut MessageWriter<'_>)) -> Vec<u8> {
    let bytes = request(RTM_NEWRULE, 0, |m| {
        m.header(&header);
        attributes(m);
    });
    bytes[16..].to_vec()
}

fn decode_payload(payload: &[u8]) -> crate::Result<Option<Rule>> {
    decode_rule(&RawMessage {
        kind: RTM_NEWRULE,
        flags: 0,
        seq: 1,
        payload,
    })
}

const V4_HEADER: [u8; 12] = [2, 0, 0, 0, 100, 0, 0, 1, 0, 0, 0, 0];

#[test]
fn unknown_attributes_are_skipped_and_other_families_ignored() {
    let payload = rule_payload(V4_HEADER, |m| {
        m.attr_u32(FRA_PRIORITY, 7);
        m.attr(10, &0x57u32.to_ne_bytes()); // FRA_FWMARK: not represented
        m.attr(200, &[1, 2, 3]); // unknown to everyone
        m.attr(FRA_PROTOCOL, &[87]);
    });
    let rule = decode_payload(&payload).unwrap().unwrap();
    assert_eq!(rule, Rule::lookup(Family::V4, 7, 100, 87));

    let mut bridge = V4_HEADER;
    bridge[0] = 7; // AF_BRIDGE
    let payload = rule_payload(bridge, |m| m.attr_u32(FRA_TABLE, 5));
    assert_eq!(decode_payload(&payload).unwrap(), None);
}

#[test]
fn truncated_and_garbage_rules_are_errors_not_panics() {
    // A header cut short.
    for cut in 0..12 {
        assert!(decode_payload(&V4_HEADER[..cut]).is_err(), "cut {cut}");
    }
    // Attributes of the wrong size, or cut short.
    let wrong_sizes: [(u16, &[u8]); 6] = [
        (FRA_PRIORITY, &[1, 2]),
        (FRA_TABLE, &[1, 2, 3, 4, 5]),
        (FRA_SUPPRESS_PREFIXLEN, &[]),
        (FRA_PROTOCOL, &[]),
        (FRA_DST, &[10, 46, 0]),
        (FRA_SRC, &[1; 7]),
    ];
    for (kind, value) in wrong_sizes {
        let payload = rule_payload(V4_HEADER, |m| m.attr(kind, value));
        assert!(
            decode_payload(&payload).is_err(),
            "attribute {kind} {value:?}"
        );
    }
    let good = rule_payload(V4_HEADER, |m| {
        m.attr_u32(FRA_TABLE, 1000);
        m.attr_u32(FRA_PRIORITY, 5);
    });
    // Every cut but the one between the two attributes leaves a partial attribute.
    for cut in (13..good.len()).filter(|&cut| cut != 12 + 8) {
        assert!(decode_payload(&good[..cut]).is_err(), "cut {cut}");
    }
    assert!(decode_payload(&good[..20]).is_ok());
    // Prefixes that cannot be: too long, of the other family, or with no address.
    let mut too_long = V4_HEADER;
    too_long[1] = 33;
    let payload = rule_payload(too_long, |m| m.attr(FRA_DST, &[10, 46, 0, 0]));
    assert!(decode_payload(&payload).is_err());
    let mut v6_source = V4_HEADER;
    v6_source[2] = 16;
    let payload = rule_payload(v6_source, |m| m.attr(FRA_SRC, &[0xfd; 16]));
    assert!(decode_payload(&payload).is_err());
    let no_address = rule_payload(v6_source, |_| {});
    assert!(decode_payload(&no_address).is_err());
    // Every attribute length prefix, followed by noise.
    for len in 0..=u16::MAX {
        let mut payload = V4_HEADER.to_vec();
        payload.extend_from_slice(&len.to_ne_bytes());
        payload.extend_from_slice(&[6, 0, 0xde, 0xad, 0xbe, 0xef, 0x01]);
        let _ = decode_payload(&payload);
    }
}

#[test]
fn mangled_rule_dumps_never_panic() {
    let captures = [&CAPTURED_V4[..], &CAPTURED_V6[..]];
    assert_cuts_refused(&captures, decode_dump);
    Mangler::new(0x9e37_79b9_7f4a_7c15).corrupt(&captures, 40_000, |bytes| {
        let _ = decode_dump(bytes);
    });
}

#[test]
fn a_dump_status_of_i32_min_is_an_error_not_an_overflow() {
    // NLMSG_DONE's payload is the dump's status, a negative errno: -i32::MIN does not exist.
    let mut bytes = CAPTURED_V6.to_vec();
    let at = bytes.len() - 4;
    bytes[at..].copy_from_slice(&i32::MIN.to_ne_bytes());
    assert!(decode_dump(&bytes).is_err());
    bytes[at..].copy_from_slice(&(-libc::EPERM).to_ne_bytes());
    let error = decode_dump(&bytes).unwrap_err();
    assert_eq!(error.errno(), Some(libc::EPERM), "{error}");
}

#[test]
fn impossible_rules_are_refused_before_sending() {
    let v4 = Rule::lookup(Family::V4, 32000, 100, 87);
    let bad = [
        Rule {
            destination: Some((ip("10.46.0.0"), 33)),
            ..v4.clone()
        },
        Rule {
            source: Some((ip("fd4e::"), 64)),
            ..v4.clone()
        },
        Rule {
            destination: Some((ip("10.46.0.0"), 16)),
            ..Rule::lookup(Family::V6, 32000, 100, 87)
        },
    ];
    for rule in bad {
        assert!(
            matches!(check_rule(&rule), Err(Error::Invalid(_))),
            "{rule:?}"
        );
    }
    assert!(check_rule(&prefixes_to_table_1000()).is_ok());
    assert!(check_rule(&v4).is_ok());
}
