//! Address requests compared with what iproute2 6.1 sends for `ip addr add` (`strace -x -e
//! trace=sendmsg`), and an address dump captured from kernel 6.18. Little-endian machines.
#![cfg(target_endian = "little")]

use crate::codec_tests::{assert_cuts_refused, decode_captured, ip, Mangler};

use crate::address::{decode_address, encode_address};
use crate::message::MessageWriter;
use crate::uapi::*;
use crate::{Address, AddressOptions};

fn request(address: &str, prefix_len: u8, options: AddressOptions) -> Vec<u8> {
    let mut bytes = Vec::new();
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    let mut message = MessageWriter::begin(&mut bytes, RTM_NEWADDR, flags, 1);
    encode_address(&mut message, 3, ip(address), prefix_len, options);
    message.finish();
    bytes
}

#[test]
fn ipv4_address_is_what_ip_addr_add_sends() {
    // ip addr add 10.46.0.1/32 dev wa (index 3)
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[40, 0, 0, 0, 20, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0][..],
        &[2, 32, 0, 0, 3, 0, 0, 0],                 // ifaddrmsg
        &[8, 0, 2, 0, 10, 46, 0, 1],                // IFA_LOCAL
        &[8, 0, 1, 0, 10, 46, 0, 1],                // IFA_ADDRESS
    ]
    .concat();
    assert_eq!(
        request("10.46.0.1", 32, AddressOptions::default()),
        expected
    );
}

#[test]
fn ipv6_address_without_dad_or_prefix_route_carries_ifa_flags() {
    // ip -6 addr add fd4e:1::1/128 dev wa nodad noprefixroute. iproute2 leaves the header's
    // flags 0 and puts IFA_FLAGS between the addresses; here the header also carries the low
    // 8 bits (IFA_F_NODAD) for kernels older than IFA_FLAGS, which the kernel accepts.
    let options = AddressOptions {
        nodad: true,
        no_prefix_route: true,
    };
    let v6 = [0xfd, 0x4e, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[72, 0, 0, 0, 20, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0][..],
        &[10, 128, 0x02, 0, 3, 0, 0, 0],            // ifaddrmsg, IFA_F_NODAD
        &[20, 0, 2, 0], &v6,                        // IFA_LOCAL
        &[20, 0, 1, 0], &v6,                        // IFA_ADDRESS
        &[8, 0, 8, 0, 0x02, 0x02, 0, 0],            // IFA_FLAGS NODAD | NOPREFIXROUTE
    ]
    .concat();
    assert_eq!(request("fd4e:1::1", 128, options), expected);
}

/// `ip -6 addr show dev wa` after the add above: the address, then NLMSG_DONE.
#[rustfmt::skip]
const CAPTURED_ADDRESS_DUMP: [u8; 0x5c] = [
    0x48, 0x00, 0x00, 0x00, 0x14, 0x00, 0x22, 0x00, 0xd5, 0xfb, 0x0c, 0x6b, 0x02, 0x24, 0x00, 0x00,
    0x0a, 0x80, 0x82, 0x00, 0x03, 0x00, 0x00, 0x00, 0x14, 0x00, 0x01, 0x00, 0xfd, 0x4e, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x14, 0x00, 0x06, 0x00,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xdb, 0xb7, 0x06, 0x00, 0xdb, 0xb7, 0x06, 0x00,
    0x08, 0x00, 0x08, 0x00, 0x82, 0x02, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x03, 0x00, 0x22, 0x00,
    0xd5, 0xfb, 0x0c, 0x6b, 0x02, 0x24, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

fn decode_dump(datagram: &[u8]) -> crate::Result<Option<Vec<Address>>> {
    decode_captured(datagram, 0x6b0c_fbd5, |m| decode_address(m).map(Some))
}

#[test]
fn decodes_a_captured_address_dump() {
    let addresses = decode_dump(&CAPTURED_ADDRESS_DUMP).unwrap().unwrap();
    assert_eq!(
        addresses,
        [Address {
            index: 3,
            address: ip("fd4e:1::1"),
            prefix_len: 128,
            // IFA_FLAGS: NODAD | PERMANENT | NOPREFIXROUTE (the header's 8 bits lack the last).
            flags: 0x0282,
            scope: 0,
        }]
    );
}

#[test]
fn mangled_address_dumps_never_panic() {
    assert_cuts_refused(&[&CAPTURED_ADDRESS_DUMP[..]], decode_dump);
    Mangler::new(0xbb67_ae85_84ca_a73b).corrupt(&[&CAPTURED_ADDRESS_DUMP[..]], 20_000, |bytes| {
        let _ = decode_dump(bytes);
    });
}
