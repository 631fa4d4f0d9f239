//! Decoding notifications: route ones captured from kernel 6.18 (`strace -e read=3 ip monitor
//! route` while `ip route add/del 198.18.20.0/24 dev lo proto 87` ran), link ones built by
//! hand from `struct ifinfomsg`. Little-endian machines.
#![cfg(target_endian = "little")]

use crate::codec_tests::Mangler;
use crate::message::MessageWriter;
use crate::monitor::decode_events;
use crate::uapi::*;
use crate::{MonitorEvent, Route};

#[rustfmt::skip]
const CAPTURED_ROUTE_ADDED: [u8; 0x34] = [
    0x34, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x06, 0x3f, 0xf9, 0x0c, 0x6b, 0x90, 0x6b, 0x00, 0x00,
    0x02, 0x18, 0x00, 0x00, 0xfe, 0x57, 0xfd, 0x01, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x0f, 0x00,
    0xfe, 0x00, 0x00, 0x00, 0x08, 0x00, 0x01, 0x00, 0xc6, 0x12, 0x14, 0x00, 0x08, 0x00, 0x04, 0x00,
    0x01, 0x00, 0x00, 0x00,
];

/// The same route's RTM_DELROUTE (type 25, no flags).
fn captured_route_removed() -> Vec<u8> {
    let mut bytes = CAPTURED_ROUTE_ADDED.to_vec();
    bytes[4..8].copy_from_slice(&[0x19, 0, 0, 0]);
    bytes
}

fn link_notification(kind: u16, change: u32, name: &str) -> Vec<u8> {
    let mut buffer = Vec::new();
    let mut message = MessageWriter::begin(&mut buffer, kind, 0, 0);
    let mut header = [0u8; 16];
    header[4..8].copy_from_slice(&7i32.to_ne_bytes()); // index 7
    header[8..12].copy_from_slice(&1u32.to_ne_bytes()); // IFF_UP
    header[12..16].copy_from_slice(&change.to_ne_bytes());
    message.header(&header);
    message.attr_str(IFLA_IFNAME, name);
    message.attr_u32(IFLA_MTU, 1500);
    message.attr(IFLA_IFALIAS, b"wharf:e1");
    message.finish();
    buffer
}

#[test]
fn decodes_captured_route_notifications() {
    let route = Route::connected("198.18.20.0".parse().unwrap(), 24, 1, 87);
    let datagram = [CAPTURED_ROUTE_ADDED.to_vec(), captured_route_removed()].concat();
    let events: Vec<_> = decode_events(&datagram)
        .into_iter()
        .collect::<crate::Result<_>>()
        .unwrap();
    assert_eq!(
        events,
        [
            MonitorEvent::RouteAdded(route.clone()),
            MonitorEvent::RouteRemoved(route)
        ]
    );
}

#[test]
fn a_new_link_is_told_from_a_changed_one_by_ifi_change() {
    let datagram = [
        link_notification(RTM_NEWLINK, u32::MAX, "wh1"),
        link_notification(RTM_NEWLINK, 1, "wh1"),
        link_notification(RTM_DELLINK, 0, "wh1"),
    ]
    .concat();
    let events: Vec<_> = decode_events(&datagram)
        .into_iter()
        .collect::<crate::Result<_>>()
        .unwrap();
    let names: Vec<(&str, &str, bool)> = events
        .iter()
        .map(|event| match event {
            MonitorEvent::LinkAdded(l) => ("added", l.name.as_str(), l.up),
            MonitorEvent::LinkChanged(l) => ("changed", l.name.as_str(), l.up),
            MonitorEvent::LinkRemoved(l) => ("removed", l.name.as_str(), l.up),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        [
            ("added", "wh1", true),
            ("changed", "wh1", true),
            ("removed", "wh1", true)
        ]
    );
    if let MonitorEvent::LinkChanged(link) = &events[1] {
        assert_eq!((link.index, link.alias.as_deref()), (7, Some("wharf:e1")));
    }
}

#[test]
fn mangled_notifications_are_errors_never_panics() {
    let datagram = [
        CAPTURED_ROUTE_ADDED.to_vec(),
        link_notification(RTM_NEWLINK, u32::MAX, "wh1"),
    ]
    .concat();
    for cut in 0..datagram.len() {
        let _ = decode_events(&datagram[..cut]);
    }
    Mangler::new(0x6a09_e667_f3bc_c908).corrupt(&[&datagram[..]], 20_000, |bytes| {
        let _ = decode_events(bytes);
    });
}
