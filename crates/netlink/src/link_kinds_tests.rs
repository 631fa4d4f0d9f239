//! Byte-exact create requests for the stacked link kinds, written out by hand from
//! linux/if_link.h (host-endian; little-endian machines).
#![cfg(target_endian = "little")]

use crate::link_codec::encode_create_link;
use crate::message::MessageWriter;
use crate::uapi::*;
use crate::{IpvlanFlag, IpvlanMode, LinkKind, MacvlanMode, Netlink, NewLink};

fn request(link: &NewLink) -> Vec<u8> {
    let mut buffer = Vec::new();
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    let mut message = MessageWriter::begin(&mut buffer, RTM_NEWLINK, flags, 7);
    encode_create_link(&mut message, link);
    message.finish();
    buffer
}

fn link(kind: LinkKind, parent: Option<u32>) -> NewLink {
    NewLink {
        name: "wc0123456789".into(),
        kind,
        parent,
        mtu: Some(1400),
        mac: None,
        up: false,
    }
}

/// nlmsghdr + empty ifinfomsg + IFLA_IFNAME "wc0123456789", for a message of `len` bytes.
fn head(len: u8) -> Vec<u8> {
    [
        &[len, 0, 0, 0, 16, 0, 0x05, 0x06, 7, 0, 0, 0, 0, 0, 0, 0][..],
        &[0; 16],
        &[17, 0, 3, 0],
        b"wc0123456789\0",
        &[0, 0, 0],
    ]
    .concat()
}

#[test]
fn macvlan_request_is_byte_exact() {
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &head(96)[..],
        &[8, 0, 5, 0, 3, 0, 0, 0],                 // IFLA_LINK 3
        &[8, 0, 4, 0, 0x78, 0x05, 0, 0],           // IFLA_MTU 1400
        &[28, 0, 18, 0],                           // IFLA_LINKINFO
        &[12, 0, 1, 0], b"macvlan\0",              //   IFLA_INFO_KIND
        &[12, 0, 2, 0],                            //   IFLA_INFO_DATA
        &[8, 0, 1, 0, 4, 0, 0, 0],                 //     IFLA_MACVLAN_MODE bridge
    ]
    .concat();
    assert_eq!(
        request(&link(LinkKind::Macvlan(MacvlanMode::Bridge), Some(3))),
        expected
    );
}

#[test]
fn ipvlan_request_is_byte_exact() {
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &head(104)[..],
        &[8, 0, 5, 0, 3, 0, 0, 0],                 // IFLA_LINK 3
        &[8, 0, 4, 0, 0x78, 0x05, 0, 0],           // IFLA_MTU 1400
        &[36, 0, 18, 0],                           // IFLA_LINKINFO
        &[11, 0, 1, 0], b"ipvlan\0", &[0],         //   IFLA_INFO_KIND
        &[20, 0, 2, 0],                            //   IFLA_INFO_DATA
        &[6, 0, 1, 0, 1, 0, 0, 0],                 //     IFLA_IPVLAN_MODE l3 (u16, padded)
        &[6, 0, 2, 0, 1, 0, 0, 0],                 //     IFLA_IPVLAN_FLAGS private
    ]
    .concat();
    let l3 = LinkKind::Ipvlan(IpvlanMode::L3, IpvlanFlag::Private);
    assert_eq!(request(&link(l3, Some(3))), expected);
}

#[test]
fn vlan_and_dummy_requests_are_byte_exact() {
    #[rustfmt::skip]
    let vlan: Vec<u8> = [
        &head(96)[..],
        &[8, 0, 5, 0, 2, 0, 0, 0],                 // IFLA_LINK 2
        &[8, 0, 4, 0, 0x78, 0x05, 0, 0],           // IFLA_MTU 1400
        &[28, 0, 18, 0],                           // IFLA_LINKINFO
        &[9, 0, 1, 0], b"vlan\0", &[0, 0, 0],      //   IFLA_INFO_KIND
        &[12, 0, 2, 0],                            //   IFLA_INFO_DATA
        &[6, 0, 1, 0, 30, 0, 0, 0],                //     IFLA_VLAN_ID 30
    ]
    .concat();
    assert_eq!(request(&link(LinkKind::Vlan(30), Some(2))), vlan);
    #[rustfmt::skip]
    let dummy: Vec<u8> = [
        &head(76)[..],
        &[8, 0, 4, 0, 0x78, 0x05, 0, 0],           // IFLA_MTU 1400
        &[16, 0, 18, 0],                           // IFLA_LINKINFO
        &[10, 0, 1, 0], b"dummy\0", &[0, 0],       //   IFLA_INFO_KIND
    ]
    .concat();
    assert_eq!(request(&link(LinkKind::Dummy, None)), dummy);
}

#[test]
fn bad_links_are_refused_before_anything_is_sent() {
    // No socket is needed to see these refused: the checks run before the request.
    let mut netlink = match Netlink::open() {
        Ok(n) => n,
        Err(_) => return, // no netlink at all (a sandbox): the checks below need a client
    };
    for (kind, parent) in [
        (LinkKind::Vlan(0), Some(2)),
        (LinkKind::Vlan(5000), Some(2)),
        (LinkKind::Macvlan(MacvlanMode::Bridge), None),
        (LinkKind::Dummy, Some(2)),
    ] {
        let err = netlink.create_link(&link(kind, parent)).unwrap_err();
        assert!(matches!(err, crate::Error::Invalid(_)), "{err}");
    }
}
