//! Nexthop objects: requests compared byte for byte with what iproute2 6.1 sends for the same
//! `ip nexthop` command (seen with `strace -x -e trace=sendmsg`), and a dump reply captured
//! from kernel 6.18 (`strace -e read=3 ip nexthop show`). Little-endian machines.
#![cfg(target_endian = "little")]

use crate::codec_tests::{assert_cuts_refused, decode_captured, request, Mangler};
use std::net::{IpAddr, Ipv4Addr};

use crate::nexthop_codec::{decode_nexthop, encode_nexthop, encode_nexthop_id};
use crate::uapi::*;
use crate::{Family, GroupMember, Nexthop, NexthopTarget};

const CREATE: u16 = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;

fn nexthop(id: u32, target: NexthopTarget) -> Nexthop {
    Nexthop {
        id,
        protocol: 87,
        target,
    }
}

fn gateway_nexthop() -> Nexthop {
    let gateway = IpAddr::V4(Ipv4Addr::new(10, 46, 0, 1));
    nexthop(7, NexthopTarget::Gateway { gateway, oif: 3 })
}

#[test]
fn gateway_nexthop_is_what_ip_nexthop_add_sends() {
    // ip nexthop add id 7 via 10.46.0.1 dev wa proto 87 (wa = index 3)
    let bytes = request(RTM_NEWNEXTHOP, CREATE, |m| {
        encode_nexthop(m, &gateway_nexthop())
    });
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[48, 0, 0, 0, 104, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0][..],
        &[2, 0, 87, 0, 0, 0, 0, 0],          // nhmsg: AF_INET, universe, proto 87
        &[8, 0, 1, 0, 7, 0, 0, 0],           // NHA_ID 7
        &[8, 0, 6, 0, 10, 46, 0, 1],         // NHA_GATEWAY
        &[8, 0, 5, 0, 3, 0, 0, 0],           // NHA_OIF 3
    ]
    .concat();
    assert_eq!(bytes, expected);
}

#[test]
fn device_nexthop_group_and_delete_are_what_iproute2_sends() {
    // ip nexthop add id 8 dev wa proto 87
    let device = nexthop(
        8,
        NexthopTarget::Device {
            family: Family::V4,
            oif: 3,
        },
    );
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[40, 0, 0, 0, 104, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0][..],
        &[2, 0, 87, 0, 0, 0, 0, 0],
        &[8, 0, 1, 0, 8, 0, 0, 0],           // NHA_ID 8
        &[8, 0, 5, 0, 3, 0, 0, 0],           // NHA_OIF 3
    ]
    .concat();
    assert_eq!(
        request(RTM_NEWNEXTHOP, CREATE, |m| encode_nexthop(m, &device)),
        expected
    );

    // ip nexthop add id 10 group 7,3/9 proto 87: weight 3 travels as 2.
    let group = nexthop(
        10,
        NexthopTarget::Group(vec![
            GroupMember { id: 7, weight: 3 },
            GroupMember { id: 9, weight: 1 },
        ]),
    );
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[52, 0, 0, 0, 104, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0][..],
        &[0, 0, 87, 0, 0, 0, 0, 0],          // nhmsg: AF_UNSPEC for a group
        &[8, 0, 1, 0, 10, 0, 0, 0],          // NHA_ID 10
        &[20, 0, 2, 0],                      // NHA_GROUP: two struct nexthop_grp
        &[7, 0, 0, 0, 2, 0, 0, 0],
        &[9, 0, 0, 0, 0, 0, 0, 0],
    ]
    .concat();
    assert_eq!(
        request(RTM_NEWNEXTHOP, CREATE, |m| encode_nexthop(m, &group)),
        expected
    );

    // ip nexthop del id 10
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[32, 0, 0, 0, 105, 0, 0x05, 0, 1, 0, 0, 0, 0, 0, 0, 0][..],
        &[0; 8],
        &[8, 0, 1, 0, 10, 0, 0, 0],
    ]
    .concat();
    let delete = request(RTM_DELNEXTHOP, NLM_F_REQUEST | NLM_F_ACK, |m| {
        encode_nexthop_id(m, 10)
    });
    assert_eq!(delete, expected);
}

/// `ip nexthop show` after adding ids 7 (via 10.46.0.1 dev wa), 9 (dev wa) and 10 (group
/// 7,3/9), all proto 87: one datagram from kernel 6.18, NLMSG_DONE included.
#[rustfmt::skip]
const CAPTURED_NEXTHOP_DUMP: [u8; 0xb0] = [
    0x30, 0x00, 0x00, 0x00, 0x68, 0x00, 0x02, 0x00, 0xc8, 0xf3, 0x0c, 0x6b, 0xad, 0x70, 0x00, 0x00,
    0x02, 0xfd, 0x57, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x01, 0x00, 0x07, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x05, 0x00, 0x03, 0x00, 0x00, 0x00, 0x08, 0x00, 0x06, 0x00, 0x0a, 0x2e, 0x00, 0x01,
    0x28, 0x00, 0x00, 0x00, 0x68, 0x00, 0x02, 0x00, 0xc8, 0xf3, 0x0c, 0x6b, 0xad, 0x70, 0x00, 0x00,
    0x02, 0xfe, 0x57, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x01, 0x00, 0x09, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x05, 0x00, 0x03, 0x00, 0x00, 0x00, 0x44, 0x00, 0x00, 0x00, 0x68, 0x00, 0x02, 0x00,
    0xc8, 0xf3, 0x0c, 0x6b, 0xad, 0x70, 0x00, 0x00, 0x00, 0x00, 0x57, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x01, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x06, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x14, 0x00, 0x02, 0x00, 0x07, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x80, 0x14, 0x00, 0x00, 0x00,
    0x03, 0x00, 0x02, 0x00, 0xc8, 0xf3, 0x0c, 0x6b, 0xad, 0x70, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];
const CAPTURED_SEQ: u32 = 0x6b0c_f3c8;

fn decode_dump(datagram: &[u8]) -> crate::Result<Option<Vec<Nexthop>>> {
    decode_captured(datagram, CAPTURED_SEQ, decode_nexthop)
}

#[test]
fn decodes_a_captured_nexthop_dump() {
    let nexthops = decode_dump(&CAPTURED_NEXTHOP_DUMP).unwrap().unwrap();
    assert_eq!(
        nexthops,
        [
            gateway_nexthop(),
            nexthop(
                9,
                NexthopTarget::Device {
                    family: Family::V4,
                    oif: 3
                }
            ),
            nexthop(
                10,
                NexthopTarget::Group(vec![
                    GroupMember { id: 7, weight: 3 },
                    GroupMember { id: 9, weight: 1 },
                ])
            ),
        ]
    );
}

#[test]
fn encoded_nexthops_decode_to_themselves() {
    let v6 = nexthop(
        11,
        NexthopTarget::Gateway {
            gateway: "fd4e::1".parse().unwrap(),
            oif: 4,
        },
    );
    let blackhole = nexthop(12, NexthopTarget::Blackhole { family: Family::V6 });
    for original in [v6, blackhole] {
        let bytes = request(RTM_NEWNEXTHOP, 0, |m| encode_nexthop(m, &original));
        let raw = crate::parse::messages(&bytes).next().unwrap().unwrap();
        assert_eq!(decode_nexthop(&raw).unwrap(), Some(original));
    }
}

#[test]
fn truncated_or_mangled_nexthop_dumps_never_panic() {
    assert_cuts_refused(&[&CAPTURED_NEXTHOP_DUMP[..]], decode_dump);
    Mangler::new(0x2545_f491_4f6c_dd1d).corrupt(&[&CAPTURED_NEXTHOP_DUMP[..]], 20_000, |bytes| {
        let _ = decode_dump(bytes);
    });
}
