//! End-of-RIB (RFC 4724 section 2) and prefix normalisation.

use super::*;

#[test]
fn end_of_rib() {
    // IPv4 unicast: an UPDATE with nothing in it, 23 octets.
    let eor = Update::end_of_rib(Afi::IPV4, Safi::UNICAST);
    exact(
        &Message::Update(eor.clone()),
        &TWO,
        &frame(2, &[0, 0, 0, 0]),
    );
    assert_eq!(eor.is_end_of_rib(), Some((Afi::IPV4, Safi::UNICAST)));
    // IPv6 unicast: only an MP_UNREACH_NLRI with AFI 2 / SAFI 1 and no prefixes.
    let eor = Update::end_of_rib(Afi::IPV6, Safi::UNICAST);
    let bytes = frame(2, &update_body(&[0x80, 0x0f, 0x03, 0x00, 0x02, 0x01], &[]));
    exact(&Message::Update(eor.clone()), &TWO, &bytes);
    assert_eq!(eor.is_end_of_rib(), Some((Afi::IPV6, Safi::UNICAST)));
    // Any other family.
    let eor = Update::end_of_rib(Afi::IPV4, Safi(128));
    assert_eq!(eor.is_end_of_rib(), Some((Afi::IPV4, Safi(128))));
    // Not markers: a withdrawal, or an MP_UNREACH with prefixes.
    let w = Update {
        withdrawn: vec![net4("10.0.0.0/8")],
        ..Update::default()
    };
    assert_eq!(w.is_end_of_rib(), None);
    let u = MpUnreach {
        withdrawn: Nlri::V6(vec![net6("2001:db8::/32")]),
    };
    let w = Update {
        attributes: vec![PathAttribute::MpUnreach(u)],
        ..Update::default()
    };
    assert_eq!(w.is_end_of_rib(), None);
}

#[test]
fn prefixes_host_bits_cleared() {
    // 10.31.0.0 with length 12 on the wire: bits past the length are irrelevant
    // (RFC 4271 section 4.3), so it reads as 10.16.0.0/12.
    let (u, _) = decode_update(&[0, 0, 0, 0, 0x0c, 10, 0x1f], &TWO);
    assert_eq!(u.nlri, vec![net4("10.16.0.0/12")]);
}
