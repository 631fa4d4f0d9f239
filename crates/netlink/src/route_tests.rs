//! Multipath, metric, nexthop-id and table requests, byte for byte, and route dumps captured
//! from kernel 6.18 (`strace -e read=3 ip route show ...`). The multipath part of the
//! expected bytes is what iproute2 6.1 sends for the same `ip route add ... nexthop ...`
//! (seen with `strace -x -e trace=sendmsg`); iproute2 orders the other attributes
//! differently, which the kernel does not mind. Little-endian machines.
#![cfg(target_endian = "little")]

use crate::codec_tests::{assert_cuts_refused, decode_captured, ip, request, Mangler};

use crate::batch::fill_batch_body;
use crate::route::{check_route, delete_key};
use crate::route_codec::{decode_route, encode_route, encode_route_dump};
use crate::uapi::*;
use crate::{Error, Family, MultipathHop, Route, RouteFilter};

/// `10.46.7.0/24 proto 87 table 1000 metric 20 nexthop via 10.46.0.1 dev wa weight 2
/// nexthop via 10.46.0.3 dev wa` (wa = index 3).
fn multipath_in_table_1000() -> Route {
    Route {
        table: 1000,
        metric: Some(20),
        ..Route::multipath(
            ip("10.46.7.0"),
            24,
            vec![
                MultipathHop {
                    weight: 2,
                    ..MultipathHop::via(ip("10.46.0.1"), Some(3))
                },
                MultipathHop::via(ip("10.46.0.3"), Some(3)),
            ],
            87,
        )
    }
}

#[test]
fn multipath_route_with_metric_in_table_1000_is_byte_exact() {
    let bytes = request(RTM_NEWROUTE, NLM_F_REQUEST, |m| {
        encode_route(m, &multipath_in_table_1000())
    });
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[88, 0, 0, 0, 24, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0][..],
        &[2, 24, 0, 0, 0, 87, 0, 1, 0, 0, 0, 0],   // rtmsg: table in RTA_TABLE only
        &[8, 0, 15, 0, 0xe8, 0x03, 0, 0],          // RTA_TABLE 1000
        &[8, 0, 1, 0, 10, 46, 7, 0],               // RTA_DST
        &[8, 0, 6, 0, 20, 0, 0, 0],                // RTA_PRIORITY 20
        &[36, 0, 9, 0],                            // RTA_MULTIPATH
        &[16, 0, 0, 1, 3, 0, 0, 0],                //   rtnexthop: hops = weight - 1, ifindex 3
        &[8, 0, 5, 0, 10, 46, 0, 1],               //     RTA_GATEWAY
        &[16, 0, 0, 0, 3, 0, 0, 0],
        &[8, 0, 5, 0, 10, 46, 0, 3],
    ]
    .concat();
    assert_eq!(bytes, expected);
}

#[test]
fn route_through_a_nexthop_object_is_byte_exact() {
    let route = Route::with_nexthop(ip("10.46.8.0"), 24, 7, 87);
    let bytes = request(RTM_NEWROUTE, NLM_F_REQUEST, |m| encode_route(m, &route));
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[52, 0, 0, 0, 24, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0][..],
        &[2, 24, 0, 0, 254, 87, 0, 1, 0, 0, 0, 0],
        &[8, 0, 15, 0, 254, 0, 0, 0],
        &[8, 0, 1, 0, 10, 46, 8, 0],
        &[8, 0, 30, 0, 7, 0, 0, 0],                // RTA_NH_ID 7
    ]
    .concat();
    assert_eq!(bytes, expected);
}

#[test]
fn filtered_dump_request_names_table_and_protocol() {
    let filter = RouteFilter {
        table: Some(1000),
        protocol: Some(87),
        ..RouteFilter::all(Family::V4)
    };
    let bytes = request(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, |m| {
        encode_route_dump(m, &filter)
    });
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[36, 0, 0, 0, 26, 0, 0x01, 0x03, 1, 0, 0, 0, 0, 0, 0, 0][..],
        &[2, 0, 0, 0, 0, 87, 0, 0, 0, 0, 0, 0],    // rtmsg: AF_INET, protocol 87
        &[8, 0, 15, 0, 0xe8, 0x03, 0, 0],          // RTA_TABLE 1000
    ]
    .concat();
    assert_eq!(bytes, expected);
    let main_v6 = RouteFilter {
        table: Some(254),
        ..RouteFilter::all(Family::V6)
    };
    let bytes = request(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, |m| {
        encode_route_dump(m, &main_v6)
    });
    assert_eq!(&bytes[16..], &[10, 0, 0, 0, 254, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn a_delete_names_scope_nowhere_alone_or_in_a_batch() {
    let route = multipath_in_table_1000();
    let single = request(RTM_DELROUTE, NLM_F_REQUEST, |m| {
        encode_route(m, &delete_key(&route))
    });
    // rtmsg: as the add, but scope RT_SCOPE_NOWHERE (255), which matches any scope.
    assert_eq!(&single[16..28], &[2, 24, 0, 0, 0, 87, 255, 1, 0, 0, 0, 0]);
    let mut body = netlink_packet_route::route::RouteMessage::default();
    fill_batch_body(&mut body, &route, RTM_DELROUTE);
    let batched = request(RTM_DELROUTE, NLM_F_REQUEST, |m| m.emit(&body));
    assert_eq!(batched, single);
    fill_batch_body(&mut body, &route, RTM_NEWROUTE);
    let added = request(RTM_DELROUTE, NLM_F_REQUEST, |m| m.emit(&body));
    let direct = request(RTM_DELROUTE, NLM_F_REQUEST, |m| encode_route(m, &route));
    assert_eq!(added, direct);
}

const CAPTURED_SEQ: u32 = 0x6b0c_f3c8;

/// `ip route show table 1000` holding only the multipath route above: the route, then
/// NLMSG_DONE (two datagrams from kernel 6.18, back to back here).
#[rustfmt::skip]
const CAPTURED_TABLE_1000: [u8; 0x6c] = [
    0x58, 0x00, 0x00, 0x00, 0x18, 0x00, 0x22, 0x00, 0xc8, 0xf3, 0x0c, 0x6b, 0xb2, 0x70, 0x00, 0x00,
    0x02, 0x18, 0x00, 0x00, 0xfc, 0x57, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x0f, 0x00,
    0xe8, 0x03, 0x00, 0x00, 0x08, 0x00, 0x01, 0x00, 0x0a, 0x2e, 0x07, 0x00, 0x08, 0x00, 0x06, 0x00,
    0x14, 0x00, 0x00, 0x00, 0x24, 0x00, 0x09, 0x00, 0x10, 0x00, 0x00, 0x01, 0x03, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x05, 0x00, 0x0a, 0x2e, 0x00, 0x01, 0x10, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x05, 0x00, 0x0a, 0x2e, 0x00, 0x03,
    0x14, 0x00, 0x00, 0x00, 0x03, 0x00, 0x22, 0x00, 0xc8, 0xf3, 0x0c, 0x6b, 0xb2, 0x70, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
];

/// `ip route show` of the main table: the kernel's prefix route for 10.46.0.2/24 on wa, and
/// `10.46.8.0/24 nhid 10 proto 87` (10 a group of a gateway and a device nexthop), which the
/// kernel also lists expanded into RTA_MULTIPATH; then NLMSG_DONE.
#[rustfmt::skip]
const CAPTURED_MAIN: [u8; 0xa0] = [
    0x3c, 0x00, 0x00, 0x00, 0x18, 0x00, 0x22, 0x00, 0xc8, 0xf3, 0x0c, 0x6b, 0xb7, 0x70, 0x00, 0x00,
    0x02, 0x18, 0x00, 0x00, 0xfe, 0x02, 0xfd, 0x01, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x0f, 0x00,
    0xfe, 0x00, 0x00, 0x00, 0x08, 0x00, 0x01, 0x00, 0x0a, 0x2e, 0x00, 0x00, 0x08, 0x00, 0x07, 0x00,
    0x0a, 0x2e, 0x00, 0x02, 0x08, 0x00, 0x04, 0x00, 0x03, 0x00, 0x00, 0x00, 0x50, 0x00, 0x00, 0x00,
    0x18, 0x00, 0x22, 0x00, 0xc8, 0xf3, 0x0c, 0x6b, 0xb7, 0x70, 0x00, 0x00, 0x02, 0x18, 0x00, 0x00,
    0xfe, 0x57, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x0f, 0x00, 0xfe, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x01, 0x00, 0x0a, 0x2e, 0x08, 0x00, 0x08, 0x00, 0x1e, 0x00, 0x0a, 0x00, 0x00, 0x00,
    0x1c, 0x00, 0x09, 0x00, 0x10, 0x00, 0x00, 0x02, 0x03, 0x00, 0x00, 0x00, 0x08, 0x00, 0x05, 0x00,
    0x0a, 0x2e, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
    0x14, 0x00, 0x00, 0x00, 0x03, 0x00, 0x22, 0x00, 0xc8, 0xf3, 0x0c, 0x6b, 0xb7, 0x70, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
];

fn decode_dump(datagram: &[u8]) -> crate::Result<Option<Vec<Route>>> {
    decode_captured(datagram, CAPTURED_SEQ, decode_route)
}

#[test]
fn decodes_a_captured_multipath_route_in_table_1000() {
    let routes = decode_dump(&CAPTURED_TABLE_1000).unwrap().unwrap();
    assert_eq!(routes, [multipath_in_table_1000()]);
}

#[test]
fn decodes_a_captured_route_through_a_nexthop_group_without_its_expansion() {
    let routes = decode_dump(&CAPTURED_MAIN).unwrap().unwrap();
    let prefix_route = Route {
        source: Some(ip("10.46.0.2")),
        ..Route::connected(ip("10.46.0.0"), 24, 3, 2)
    };
    let through_group = Route::with_nexthop(ip("10.46.8.0"), 24, 10, 87);
    assert_eq!(routes, [prefix_route, through_group]);
}

#[test]
fn mangled_route_dumps_never_panic() {
    let captures = [&CAPTURED_TABLE_1000[..], &CAPTURED_MAIN[..]];
    assert_cuts_refused(&captures, decode_dump);
    Mangler::new(0x853c_49e6_748f_ea9b).corrupt(&captures, 40_000, |bytes| {
        let _ = decode_dump(bytes);
    });
}

#[test]
fn impossible_routes_are_refused_before_sending() {
    let connected = Route::connected(ip("10.46.9.0"), 24, 3, 87);
    let bad = [
        Route {
            nexthop_id: Some(4),
            ..connected.clone()
        },
        Route {
            next_hops: vec![MultipathHop::device(4)],
            ..connected.clone()
        },
        Route::multipath(
            ip("10.46.9.0"),
            24,
            vec![MultipathHop {
                weight: 0,
                ..MultipathHop::device(3)
            }],
            87,
        ),
        Route::multipath(
            ip("10.46.9.0"),
            24,
            vec![MultipathHop::via(ip("fd4e::1"), None)],
            87,
        ),
        Route::via(ip("10.46.9.0"), 24, ip("fd4e::1"), None),
        Route {
            prefix_len: 33,
            ..connected.clone()
        },
    ];
    for route in bad {
        assert!(
            matches!(check_route(&route), Err(Error::Invalid(_))),
            "{route:?}"
        );
    }
    assert!(check_route(&multipath_in_table_1000()).is_ok());
}
