//! Tests of the wire codec. Byte strings are assembled by hand from the RFC layouts,
//! with a comment per field; they are the reference the codec is checked against.

mod attrs;
mod end_of_rib;
mod frr;
mod messages;
mod properties;
mod rfc7606;

use super::*;

pub(super) const TWO: Codec = Codec {
    four_octet_as: false,
};
pub(super) const FOUR: Codec = Codec {
    four_octet_as: true,
};

/// A whole message: 16-octet marker, 2-octet length, 1-octet type, then `body`.
pub(super) fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![0xff; 16];
    v.extend_from_slice(&u16::try_from(19 + body.len()).unwrap().to_be_bytes());
    v.push(kind);
    v.extend_from_slice(body);
    v
}

/// An UPDATE body with no withdrawn routes, the given attribute bytes and NLRI bytes.
pub(super) fn update_body(attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0]; // Withdrawn Routes Length
    v.extend_from_slice(&u16::try_from(attrs.len()).unwrap().to_be_bytes()); // Total Path Attribute Length
    v.extend_from_slice(attrs);
    v.extend_from_slice(nlri);
    v
}

/// Decodes `bytes`, which must hold exactly one message.
pub(super) fn decode_all(bytes: &[u8], ctx: &Codec) -> Result<Frame, Notification> {
    let frame = decode_message(bytes, ctx)?.expect("a whole message");
    assert_eq!(frame.len, bytes.len(), "the whole buffer is one message");
    Ok(frame)
}

/// `msg` encodes to exactly `bytes`, and `bytes` decode to exactly `msg` with class Ok.
pub(super) fn exact(msg: &Message, ctx: &Codec, bytes: &[u8]) {
    assert_eq!(
        encode_message(msg, ctx).unwrap(),
        bytes,
        "encoding of {msg:?}"
    );
    let f = decode_all(bytes, ctx).unwrap();
    assert_eq!(&f.message, msg);
    assert_eq!(f.class, UpdateClass::Ok);
}

/// Decodes an UPDATE body and returns the update and its class.
pub(super) fn classify(attrs: &[u8], nlri: &[u8], ctx: &Codec) -> (Update, UpdateClass) {
    decode_update(&update_body(attrs, nlri), ctx)
}

pub(super) fn net4(s: &str) -> ipnet::Ipv4Net {
    s.parse().unwrap()
}

pub(super) fn net6(s: &str) -> ipnet::Ipv6Net {
    s.parse().unwrap()
}
