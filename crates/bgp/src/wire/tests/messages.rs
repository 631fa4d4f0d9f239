//! Header and framing (RFC 4271 section 4.1, 6.1), KEEPALIVE, NOTIFICATION,
//! ROUTE-REFRESH (RFC 2918, 7313) and OPEN with capabilities (RFC 4271 4.2, RFC 5492).

use super::*;
use std::net::Ipv4Addr;

#[test]
fn keepalive_exact() {
    // Marker, length 19, type 4; nothing else.
    let mut bytes = vec![0xff; 16];
    bytes.extend_from_slice(&[0x00, 0x13, 0x04]);
    exact(&Message::Keepalive, &TWO, &bytes);
}

#[test]
fn notification_exact() {
    let n = Notification::new(code::CEASE, cease::ADMINISTRATIVE_SHUTDOWN, b"bye".to_vec());
    // Error code 6 (Cease), subcode 2 (Administrative Shutdown), data "bye".
    exact(
        &Message::Notification(n),
        &TWO,
        &frame(3, &[0x06, 0x02, b'b', b'y', b'e']),
    );
    // No data at all: 21 octets.
    let n = Notification::new(code::HOLD_TIMER_EXPIRED, 0, Vec::new());
    exact(&Message::Notification(n), &TWO, &frame(3, &[0x04, 0x00]));
}

#[test]
fn route_refresh_exact() {
    let rr = RouteRefresh {
        afi: Afi::IPV6,
        safi: Safi::UNICAST,
        subtype: refresh_subtype::NORMAL,
    };
    // AFI 2, reserved/subtype 0, SAFI 1.
    exact(
        &Message::RouteRefresh(rr),
        &TWO,
        &frame(5, &[0x00, 0x02, 0x00, 0x01]),
    );
    // RFC 7313 Begin-of-RIB-Refresh for IPv4 unicast: subtype 1.
    let borr = RouteRefresh {
        afi: Afi::IPV4,
        safi: Safi::UNICAST,
        subtype: refresh_subtype::BEGIN_OF_RIB,
    };
    exact(
        &Message::RouteRefresh(borr),
        &TWO,
        &frame(5, &[0x00, 0x01, 0x01, 0x01]),
    );
    // An unknown subtype decodes (the speaker ignores it, RFC 7313 section 5).
    let f = decode_all(&frame(5, &[0x00, 0x01, 0x07, 0x01]), &TWO).unwrap();
    assert!(matches!(
        f.message,
        Message::RouteRefresh(RouteRefresh { subtype: 7, .. })
    ));
}

#[test]
fn route_refresh_bad_length() {
    // 24 octets: RFC 7313 section 5, ROUTE-REFRESH Message Error / Invalid Message Length,
    // data = the whole message.
    let long = frame(5, &[0x00, 0x01, 0x01, 0x01, 0x00]);
    let n = decode_message(&long, &TWO).unwrap_err();
    assert_eq!(n, Notification::new(7, 1, long.clone()));
    // 22 octets: shorter than any ROUTE-REFRESH, a header Bad Message Length.
    let n = decode_message(&frame(5, &[0x00, 0x01, 0x01]), &TWO).unwrap_err();
    assert_eq!(n, Notification::new(1, 2, vec![0x00, 22]));
}

#[test]
fn framing_waits_for_whole_message() {
    let bytes = frame(3, &[0x06, 0x02]);
    for cut in 0..bytes.len() {
        assert_eq!(
            decode_message(&bytes[..cut], &TWO),
            Ok(None),
            "cut at {cut}"
        );
    }
    // Two messages back to back: the first is returned with its length.
    let mut two = bytes.clone();
    two.extend_from_slice(&frame(4, &[]));
    let f = decode_message(&two, &TWO).unwrap().unwrap();
    assert_eq!(f.len, 21);
    let f = decode_message(&two[21..], &TWO).unwrap().unwrap();
    assert_eq!((f.message, f.len), (Message::Keepalive, 19));
}

#[test]
fn header_errors() {
    // Marker not all ones: Connection Not Synchronized, no data.
    let mut bad = frame(4, &[]);
    bad[3] = 0xfe;
    assert_eq!(
        decode_message(&bad, &TWO),
        Err(Notification::new(1, 1, vec![]))
    );
    // Length below 19 / above 4096: Bad Message Length, data = the length field.
    let mut short = frame(4, &[]);
    short[16..18].copy_from_slice(&18u16.to_be_bytes());
    assert_eq!(
        decode_message(&short, &TWO),
        Err(Notification::new(1, 2, vec![0x00, 0x12]))
    );
    let mut huge = frame(4, &[]);
    huge[16..18].copy_from_slice(&4097u16.to_be_bytes());
    assert_eq!(
        decode_message(&huge, &TWO),
        Err(Notification::new(1, 2, vec![0x10, 0x01]))
    );
    // Judged on the header alone: the 4096 octets announced never need to arrive.
    let mut later = frame(9, &[]);
    later[16..18].copy_from_slice(&4096u16.to_be_bytes());
    // Unknown type 9: Bad Message Type, data = the type.
    assert_eq!(
        decode_message(&later, &TWO),
        Err(Notification::new(1, 3, vec![9]))
    );
    // KEEPALIVE must be exactly 19.
    assert_eq!(
        decode_message(&frame(4, &[0]), &TWO),
        Err(Notification::new(1, 2, vec![0, 20]))
    );
    // OPEN below 29, UPDATE below 23, NOTIFICATION below 21.
    assert_eq!(
        decode_message(&frame(1, &[4; 9]), &TWO),
        Err(Notification::new(1, 2, vec![0, 28]))
    );
    assert_eq!(
        decode_message(&frame(2, &[0; 3]), &TWO),
        Err(Notification::new(1, 2, vec![0, 22]))
    );
    assert_eq!(
        decode_message(&frame(3, &[6]), &TWO),
        Err(Notification::new(1, 2, vec![0, 20]))
    );
}

fn sample_open() -> (Open, Vec<u8>) {
    let open = Open {
        version: 4,
        my_as: 65001,
        hold_time: 90,
        bgp_id: Ipv4Addr::new(10, 0, 0, 1),
        capabilities: vec![
            Capability::Multiprotocol(Afi::IPV4, Safi::UNICAST),
            Capability::Multiprotocol(Afi::IPV6, Safi::UNICAST),
            Capability::RouteRefresh,
            Capability::EnhancedRouteRefresh,
            Capability::FourOctetAs(65001),
            Capability::GracefulRestart(GracefulRestart {
                restart_state: true,
                restart_time: 120,
                families: vec![GrFamily {
                    afi: Afi::IPV4,
                    safi: Safi::UNICAST,
                    forwarding_state: true,
                }],
            }),
            Capability::Unknown {
                code: 73,
                value: vec![1, 2],
            },
        ],
    };
    let body = [
        0x04, // version
        0xfd, 0xe9, // my AS 65001
        0x00, 0x5a, // hold time 90
        10, 0, 0, 1,    // BGP identifier
        0x24, // optional parameters length 36
        0x02, 0x22, // parameter type 2 (capabilities), length 34
        0x01, 0x04, 0x00, 0x01, 0x00, 0x01, // multiprotocol: AFI 1, reserved, SAFI 1
        0x01, 0x04, 0x00, 0x02, 0x00, 0x01, // multiprotocol: AFI 2, reserved, SAFI 1
        0x02, 0x00, // route refresh
        0x46, 0x00, // enhanced route refresh (70)
        0x41, 0x04, 0x00, 0x00, 0xfd, 0xe9, // 4-octet AS (65): 65001
        0x40, 0x06, // graceful restart (64), length 6
        0x80, 0x78, // R bit set, restart time 120
        0x00, 0x01, 0x01, 0x80, // AFI 1, SAFI 1, forwarding state preserved
        0x49, 0x02, 0x01, 0x02, // unknown capability 73, two octets
    ];
    (open, frame(1, &body))
}

#[test]
fn open_exact() {
    let (open, bytes) = sample_open();
    exact(&Message::Open(open), &TWO, &bytes);
}

#[test]
fn open_capabilities_in_several_parameters() {
    let body = [
        0x04, 0xfd, 0xe9, 0x00, 0xb4, 192, 0, 2, 1,    // version, AS, hold 180, identifier
        0x0c, // optional parameters length 12
        0x02, 0x06, 0x01, 0x04, 0x00, 0x02, 0x00, 0x01, // param: multiprotocol IPv6 unicast
        0x02, 0x02, 0x02, 0x00, // param: route refresh
    ];
    let f = decode_all(&frame(1, &body), &TWO).unwrap();
    let Message::Open(o) = f.message else {
        panic!("not an OPEN")
    };
    assert_eq!(
        o.capabilities,
        vec![
            Capability::Multiprotocol(Afi::IPV6, Safi::UNICAST),
            Capability::RouteRefresh
        ]
    );
    assert_eq!(o.asn(), 65001);
}

#[test]
fn open_new_uses_as_trans() {
    let o = Open::new(
        4_200_000_000,
        90,
        Ipv4Addr::new(1, 1, 1, 1),
        vec![Capability::RouteRefresh],
    );
    assert_eq!(o.my_as, AS_TRANS);
    assert_eq!(o.capabilities[0], Capability::FourOctetAs(4_200_000_000));
    assert_eq!(o.asn(), 4_200_000_000);
    let bytes = encode_message(&Message::Open(o.clone()), &TWO).unwrap();
    // My AS field: 23456 = 0x5ba0.
    assert_eq!(&bytes[20..22], &[0x5b, 0xa0]);
    assert_eq!(
        decode_all(&bytes, &TWO).unwrap().message,
        Message::Open(o.clone())
    );
    assert!(Codec::negotiated(&o, &o).four_octet_as);
}

#[test]
fn malformed_known_capability_is_kept_raw() {
    // Multiprotocol with 3 octets instead of 4: not understood, kept, not an error.
    let body = [
        0x04, 0xfd, 0xe9, 0x00, 0x5a, 10, 0, 0, 1, 0x07, 0x02, 0x05, 0x01, 0x03, 0x00, 0x01, 0x00,
    ];
    let Message::Open(o) = decode_all(&frame(1, &body), &TWO).unwrap().message else {
        panic!()
    };
    assert_eq!(
        o.capabilities,
        vec![Capability::Unknown {
            code: 1,
            value: vec![0, 1, 0]
        }]
    );
}

fn open_with(version: u8, hold: [u8; 2], id: [u8; 4], params: &[u8]) -> Vec<u8> {
    let mut body = vec![version, 0xfd, 0xe9, hold[0], hold[1]];
    body.extend_from_slice(&id);
    body.extend_from_slice(params);
    frame(1, &body)
}

#[test]
fn open_errors() {
    let ok_id = [10, 0, 0, 1];
    // Version 3: Unsupported Version Number, data = 4 as two octets.
    let n = decode_message(&open_with(3, [0, 90], ok_id, &[0]), &TWO).unwrap_err();
    assert_eq!(n, Notification::new(2, 1, vec![0, 4]));
    // Hold time 1 and 2: Unacceptable Hold Time. 0 and 3 are fine.
    for h in [1u8, 2] {
        let n = decode_message(&open_with(4, [0, h], ok_id, &[0]), &TWO).unwrap_err();
        assert_eq!(n, Notification::new(2, 6, vec![]));
    }
    for h in [0u8, 3] {
        assert!(decode_message(&open_with(4, [0, h], ok_id, &[0]), &TWO).is_ok());
    }
    // Identifier 0.0.0.0: Bad BGP Identifier.
    let n = decode_message(&open_with(4, [0, 90], [0; 4], &[0]), &TWO).unwrap_err();
    assert_eq!(n, Notification::new(2, 3, vec![]));
    // Optional parameter type 1 (the withdrawn authentication one): Unsupported Optional Parameter.
    let n = decode_message(&open_with(4, [0, 90], ok_id, &[3, 1, 1, 0]), &TWO).unwrap_err();
    assert_eq!(n, Notification::new(2, 4, vec![]));
    // Parameters length says 5, 3 octets follow; a parameter overrunning: unspecific.
    let n = decode_message(&open_with(4, [0, 90], ok_id, &[5, 2, 1, 2]), &TWO).unwrap_err();
    assert_eq!(n, Notification::new(2, 0, vec![]));
    let n = decode_message(&open_with(4, [0, 90], ok_id, &[3, 2, 4, 2]), &TWO).unwrap_err();
    assert_eq!(n, Notification::new(2, 0, vec![]));
}

#[test]
fn encode_refuses_what_does_not_fit() {
    let big = Notification::new(6, 2, vec![0; 4096 - 20]);
    assert_eq!(
        encode_message(&Message::Notification(big), &TWO),
        Err(EncodeError::MessageTooLong)
    );
    let cap = Capability::Unknown {
        code: 99,
        value: vec![0; 254],
    };
    let o = Open {
        version: 4,
        my_as: 1,
        hold_time: 90,
        bgp_id: Ipv4Addr::new(1, 1, 1, 1),
        capabilities: vec![cap],
    };
    assert_eq!(
        encode_message(&Message::Open(o), &TWO),
        Err(EncodeError::CapabilityTooLong)
    );
}
