//! Byte-exact encodings of whole requests, and decoding of hand-made dump datagrams
//! (including broken ones). The expected bytes are written out from the uapi structs by
//! hand, not produced by the code under test. Netlink is host-endian; these run on
//! little-endian machines.
#![cfg(target_endian = "little")]

use crate::codec_tests::Mangler;
use std::net::{IpAddr, Ipv4Addr};

use crate::client::DumpCollector;
use crate::link_codec::{decode_link, encode_create_veth};
use crate::message::MessageWriter;
use crate::parse::RawMessage;
use crate::route_codec::{decode_route, encode_route};
use crate::uapi::*;
use crate::{Error, Link, Route, VethPair};

fn request(kind: u16, flags: u16, seq: u32, body: impl FnOnce(&mut MessageWriter<'_>)) -> Vec<u8> {
    let mut buffer = Vec::new();
    let mut message = MessageWriter::begin(&mut buffer, kind, flags, seq);
    body(&mut message);
    message.finish();
    buffer
}

#[test]
fn veth_create_request_is_byte_exact() {
    let veth = VethPair {
        name: "wh0123456789".into(),
        peer_name: "wc0123456789".into(),
        mtu: 1500,
        alias: Some("wharf:ab".into()),
        peer_mac: Some([0x02, 0x42, 0xac, 0x11, 0x00, 0x02]),
        up: true,
    };
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    let bytes = request(RTM_NEWLINK, flags, 1, |m| encode_create_veth(m, &veth));
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[140, 0, 0, 0, 16, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0][..], // nlmsghdr
        &[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0],  // ifinfomsg: flags = change = IFF_UP
        &[17, 0, 3, 0], b"wh0123456789\0", &[0, 0, 0],        // IFLA_IFNAME
        &[8, 0, 4, 0, 0xdc, 0x05, 0, 0],                      // IFLA_MTU 1500
        &[80, 0, 18, 0],                                      // IFLA_LINKINFO
        &[9, 0, 1, 0], b"veth\0", &[0, 0, 0],                 //   IFLA_INFO_KIND
        &[64, 0, 2, 0],                                       //   IFLA_INFO_DATA
        &[60, 0, 1, 0],                                       //     VETH_INFO_PEER
        &[0; 16],                                             //       peer ifinfomsg
        &[17, 0, 3, 0], b"wc0123456789\0", &[0, 0, 0],        //       IFLA_IFNAME
        &[8, 0, 4, 0, 0xdc, 0x05, 0, 0],                      //       IFLA_MTU
        &[10, 0, 1, 0, 0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 0, 0], //   IFLA_ADDRESS
    ]
    .concat();
    assert_eq!(bytes, expected);
}

#[test]
fn route_request_is_byte_exact() {
    let route = Route::connected(IpAddr::V4(Ipv4Addr::new(10, 46, 1, 7)), 32, 5, 87);
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
    let bytes = request(RTM_NEWROUTE, flags, 0x01020304, |m| encode_route(m, &route));
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[52, 0, 0, 0, 24, 0, 0x05, 0x05, 4, 3, 2, 1, 0, 0, 0, 0][..], // nlmsghdr
        &[2, 32, 0, 0, 254, 87, 253, 1, 0, 0, 0, 0],   // rtmsg: inet /32 main proto 87 link unicast
        &[8, 0, 15, 0, 254, 0, 0, 0],                  // RTA_TABLE 254
        &[8, 0, 1, 0, 10, 46, 1, 7],                   // RTA_DST
        &[8, 0, 4, 0, 5, 0, 0, 0],                     // RTA_OIF 5
    ]
    .concat();
    assert_eq!(bytes, expected);
}

#[test]
fn route_with_source_ends_with_prefsrc() {
    let mut route = Route::connected(IpAddr::V4(Ipv4Addr::new(10, 46, 1, 7)), 32, 5, 87);
    route.source = Some(IpAddr::V4(Ipv4Addr::new(10, 46, 1, 2)));
    let bytes = request(RTM_NEWROUTE, NLM_F_REQUEST, 1, |m| encode_route(m, &route));
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[60, 0, 0, 0, 24, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0][..],
        &[2, 32, 0, 0, 254, 87, 253, 1, 0, 0, 0, 0],
        &[8, 0, 15, 0, 254, 0, 0, 0],
        &[8, 0, 1, 0, 10, 46, 1, 7],
        &[8, 0, 4, 0, 5, 0, 0, 0],
        &[8, 0, 7, 0, 10, 46, 1, 2],                   // RTA_PREFSRC
    ]
    .concat();
    assert_eq!(bytes, expected);
    let decoded = decode_route(&RawMessage {
        kind: RTM_NEWROUTE,
        flags: 0,
        seq: 1,
        payload: &bytes[16..],
    })
    .unwrap();
    assert_eq!(decoded, Some(route));
}

#[test]
fn default_route_via_gateway_has_no_destination_attribute() {
    let gateway = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));
    let route = Route::via(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0, gateway, None);
    let bytes = request(RTM_NEWROUTE, NLM_F_REQUEST, 1, |m| encode_route(m, &route));
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[44, 0, 0, 0, 24, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0][..],
        &[2, 0, 0, 0, 254, 4, 0, 1, 0, 0, 0, 0],
        &[8, 0, 15, 0, 254, 0, 0, 0],
        &[8, 0, 5, 0, 203, 0, 113, 1],                 // RTA_GATEWAY
    ]
    .concat();
    assert_eq!(bytes, expected);
}

/// A link as the kernel would send it in a dump (NLM_F_MULTI), built by hand.
fn link_message(seq: u32, index: u8, name: &str) -> Vec<u8> {
    request(RTM_NEWLINK, NLM_F_MULTI, seq, |m| {
        m.header(&[0, 0, 1, 0, index, 0, 0, 0, 0x43, 0x10, 0x01, 0, 0, 0, 0, 0]);
        m.attr_str(IFLA_IFNAME, name);
        m.attr_u32(IFLA_MTU, 1400);
        m.attr(IFLA_ADDRESS, &[2, 0, 0, 0, 0, index]);
        m.attr(IFLA_IFALIAS, b"wharf:e1");
        m.attr(77, &[1, 2, 3]); // an attribute this client does not know
        let info = m.begin_nested(IFLA_LINKINFO | NLA_F_NESTED);
        m.attr_str(IFLA_INFO_KIND, "veth");
        m.end_nested(info);
    })
}

fn done(seq: u32) -> Vec<u8> {
    request(NLMSG_DONE, NLM_F_MULTI, seq, |m| {
        m.header(&0i32.to_ne_bytes())
    })
}

fn decode_all(seq: u32, datagrams: &[Vec<u8>]) -> crate::Result<Option<Vec<Link>>> {
    let decode = |m: &RawMessage<'_>| decode_link(m).map(Some);
    let mut dump = DumpCollector::new(seq, &decode);
    for datagram in datagrams {
        if dump.absorb(datagram)? {
            return dump.finish();
        }
    }
    Err(Error::malformed("no NLMSG_DONE"))
}

#[test]
fn decodes_a_multipart_link_dump_and_skips_stale_replies() {
    let first = [link_message(9, 1, "stale"), link_message(42, 7, "wh1")].concat();
    let second = [link_message(42, 8, "wh2"), done(42)].concat();
    let links = decode_all(42, &[first, second]).unwrap().unwrap();
    assert_eq!(links.len(), 2);
    assert_eq!(
        links[0],
        Link {
            index: 7,
            name: "wh1".into(),
            alias: Some("wharf:e1".into()),
            mac: Some([2, 0, 0, 0, 0, 7]),
            mtu: 1400,
            up: true,
            kind: Some("veth".into()),
        }
    );
    assert_eq!(links[1].name, "wh2");
}

#[test]
fn interrupted_dump_asks_for_a_retry() {
    let mut message = link_message(5, 7, "wh1");
    message[6..8].copy_from_slice(&(NLM_F_MULTI | NLM_F_DUMP_INTR).to_ne_bytes());
    assert_eq!(decode_all(5, &[message, done(5)]).unwrap(), None);
}

#[test]
fn truncated_link_dumps_are_errors_never_panics() {
    let whole = [link_message(3, 7, "wh1"), done(3)].concat();
    for cut in 0..whole.len() {
        let result = decode_all(3, &[whole[..cut].to_vec()]);
        assert!(result.is_err(), "cut at {cut} decoded as {result:?}");
    }
}

#[test]
fn corrupt_attribute_lengths_are_errors() {
    let mut message = link_message(3, 7, "wh1");
    // The first attribute (IFLA_IFNAME) starts after nlmsghdr + ifinfomsg; claim 200 bytes.
    message[32..34].copy_from_slice(&200u16.to_ne_bytes());
    assert!(decode_all(3, &[message.clone(), done(3)]).is_err());
    // A 1-byte MTU attribute.
    let mut short_mtu = link_message(3, 7, "wh1");
    short_mtu[40..42].copy_from_slice(&5u16.to_ne_bytes());
    assert!(decode_all(3, &[short_mtu, done(3)]).is_err());
}

#[test]
fn random_garbage_never_panics() {
    let template = [link_message(3, 7, "wh1"), done(3)].concat();
    Mangler::new(0x9e37_79b9_7f4a_7c15).corrupt(&[&template[..]], 20_000, |bytes| {
        let _ = decode_all(3, &[bytes.to_vec()]);
        let decode = |m: &RawMessage<'_>| decode_route(m);
        let _ = DumpCollector::new(3, &decode).absorb(bytes);
    });
}

#[test]
fn dump_ending_with_a_kernel_error_reports_it() {
    let error = request(NLMSG_DONE, NLM_F_MULTI, 4, |m| {
        m.header(&(-16i32).to_ne_bytes())
    });
    match decode_all(4, &[error]) {
        Err(Error::Kernel { errno, .. }) => assert_eq!(errno, 16),
        other => panic!("expected EBUSY, got {other:?}"),
    }
}

#[test]
fn decodes_an_ipv6_route_and_skips_other_families() {
    let message = request(RTM_NEWROUTE, NLM_F_MULTI, 1, |m| {
        m.header(&[10, 128, 0, 0, 254, 87, 253, 1, 0, 0, 0, 0]);
        m.attr_u32(RTA_TABLE, 254);
        m.attr(
            RTA_DST,
            &[0xfd, 0x4e, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xb],
        );
        m.attr_u32(RTA_OIF, 9);
    });
    let raw = crate::parse::messages(&message).next().unwrap().unwrap();
    let route = decode_route(&raw).unwrap().unwrap();
    assert_eq!(route.destination, "fd4e:1::b".parse::<IpAddr>().unwrap());
    assert_eq!(
        (route.prefix_len, route.oif, route.protocol, route.table),
        (128, Some(9), 87, 254)
    );

    let bridge = request(RTM_NEWROUTE, NLM_F_MULTI, 1, |m| m.header(&[7; 12]));
    let raw = crate::parse::messages(&bridge).next().unwrap().unwrap();
    assert_eq!(decode_route(&raw).unwrap(), None);
}

#[test]
fn names_are_checked_before_sending() {
    assert!(crate::check_name("wh0123456789abc").is_ok());
    for bad in ["", "wh0123456789abcd", "a/b", "a b", ".", "eth0:1"] {
        assert!(
            matches!(crate::check_name(bad), Err(Error::Invalid(_))),
            "{bad:?}"
        );
    }
}
