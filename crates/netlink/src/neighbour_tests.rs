//! Proxy neighbour requests compared with what iproute2 6.1 sends (`strace -x -e
//! trace=sendmsg ip -6 neigh add proxy fd4e:1::b dev wa`), and a proxy dump captured from
//! kernel 6.18 (`strace -e read=3 ip neigh show proxy`). Little-endian machines.
#![cfg(target_endian = "little")]

use crate::codec_tests::{assert_cuts_refused, decode_captured, ip, Mangler};

use crate::message::MessageWriter;
use crate::neighbour::{decode_proxy_neighbour, encode_proxy_dump, encode_proxy_neighbour};
use crate::uapi::*;
use crate::ProxyNeighbour;

#[test]
fn proxy_add_is_what_ip_neigh_add_proxy_sends() {
    let mut bytes = Vec::new();
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    let mut message = MessageWriter::begin(&mut bytes, RTM_NEWNEIGH, flags, 1);
    encode_proxy_neighbour(&mut message, 3, ip("fd4e:1::b"));
    message.finish();
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[48, 0, 0, 0, 28, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0][..],
        // ndmsg: AF_INET6, ifindex 3, NUD_PERMANENT, NTF_PROXY, RTN_UNSPEC
        &[10, 0, 0, 0, 3, 0, 0, 0, 0x80, 0, 0x08, 0],
        &[20, 0, 1, 0, 0xfd, 0x4e, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b], // NDA_DST
    ]
    .concat();
    assert_eq!(bytes, expected);
}

#[test]
fn proxy_dump_request_sets_only_the_proxy_flag() {
    let mut bytes = Vec::new();
    let mut message = MessageWriter::begin(&mut bytes, RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, 1);
    encode_proxy_dump(&mut message, AF_INET6);
    message.finish();
    assert_eq!(&bytes[16..], &[10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0]);
}

/// `ip neigh show proxy` with 10.46.0.9 and fd4e:1::b proxied on wa (index 3), then DONE.
#[rustfmt::skip]
const CAPTURED_PROXY_DUMP: [u8; 0x68] = [
    0x24, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x02, 0x00, 0xa4, 0xf7, 0x0c, 0x6b, 0xea, 0x5d, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x01, 0x08, 0x00, 0x01, 0x00,
    0x0a, 0x2e, 0x00, 0x09, 0x30, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x02, 0x00, 0xa4, 0xf7, 0x0c, 0x6b,
    0xea, 0x5d, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x01,
    0x14, 0x00, 0x01, 0x00, 0xfd, 0x4e, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x0b, 0x14, 0x00, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0xa4, 0xf7, 0x0c, 0x6b,
    0xea, 0x5d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

fn decode_dump(datagram: &[u8]) -> crate::Result<Option<Vec<ProxyNeighbour>>> {
    decode_captured(datagram, 0x6b0c_f7a4, decode_proxy_neighbour)
}

#[test]
fn decodes_a_captured_proxy_dump() {
    let entries = decode_dump(&CAPTURED_PROXY_DUMP).unwrap().unwrap();
    assert_eq!(
        entries,
        [
            ProxyNeighbour {
                index: 3,
                address: ip("10.46.0.9")
            },
            ProxyNeighbour {
                index: 3,
                address: ip("fd4e:1::b")
            },
        ]
    );
}

#[test]
fn mangled_proxy_dumps_never_panic() {
    assert_cuts_refused(&[&CAPTURED_PROXY_DUMP[..]], decode_dump);
    Mangler::new(0x9e37_79b9_7f4a_7c15).corrupt(&[&CAPTURED_PROXY_DUMP[..]], 20_000, |bytes| {
        let _ = decode_dump(bytes);
    });
}
