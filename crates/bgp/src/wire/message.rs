//! The message header (RFC 4271 section 4.1), framing, and the two small messages:
//! KEEPALIVE and ROUTE-REFRESH (RFC 2918, subtypes of RFC 7313).

use super::notification::{code, header, route_refresh, Notification};
use super::open::{decode_open, encode_open, Open};
use super::reader::Reader;
use super::update::{decode_update, encode_update, Update, UpdateClass};
use super::{Afi, Codec, EncodeError, Safi};

pub const HEADER_LEN: usize = 19;
pub const MAX_MESSAGE_LEN: usize = 4096;
const MARKER: [u8; 16] = [0xff; 16];

/// Message type codes.
pub mod msg_type {
    pub const OPEN: u8 = 1;
    pub const UPDATE: u8 = 2;
    pub const NOTIFICATION: u8 = 3;
    pub const KEEPALIVE: u8 = 4;
    pub const ROUTE_REFRESH: u8 = 5;
}

/// ROUTE-REFRESH subtypes (RFC 7313 section 3). A speaker ignores the others.
pub mod refresh_subtype {
    pub const NORMAL: u8 = 0;
    pub const BEGIN_OF_RIB: u8 = 1;
    pub const END_OF_RIB: u8 = 2;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

/// ROUTE-REFRESH: AFI (2), subtype (1; "reserved" in RFC 2918), SAFI (1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRefresh {
    pub afi: Afi,
    pub safi: Safi,
    pub subtype: u8,
}

/// One decoded message, how many bytes it took, and for an UPDATE its RFC 7606 class
/// (never [`UpdateClass::SessionReset`]: that is returned as the error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub message: Message,
    pub len: usize,
    pub class: UpdateClass,
}

fn header_error(subcode: u8, data: Vec<u8>) -> Notification {
    Notification::new(code::MESSAGE_HEADER, subcode, data)
}

/// Decodes the first message in `buf`. `Ok(None)`: not all of it has arrived yet.
/// `Err`: the NOTIFICATION to send before closing the session (RFC 4271 section 6,
/// RFC 7606 for UPDATE). The header is checked as soon as its 19 octets are in, so a bad
/// length never makes us wait for bytes that will not come.
pub fn decode_message(buf: &[u8], ctx: &Codec) -> Result<Option<Frame>, Notification> {
    let mut r = Reader::new(buf);
    let (Some(marker), Some(len_field), Some(kind)) = (r.take(16), r.u16(), r.u8()) else {
        return Ok(None);
    };
    if marker != MARKER {
        return Err(header_error(
            header::CONNECTION_NOT_SYNCHRONIZED,
            Vec::new(),
        ));
    }
    let len = usize::from(len_field);
    let bad_length = || header_error(header::BAD_MESSAGE_LENGTH, len_field.to_be_bytes().to_vec());
    if !(HEADER_LEN..=MAX_MESSAGE_LEN).contains(&len) {
        return Err(bad_length());
    }
    // The smallest length of each type (RFC 4271 section 6.1), and the exact ones.
    let fits = match kind {
        msg_type::OPEN => len >= 29,
        msg_type::UPDATE => len >= 23,
        msg_type::NOTIFICATION => len >= 21,
        msg_type::KEEPALIVE => len == HEADER_LEN,
        msg_type::ROUTE_REFRESH => len >= 23,
        _ => return Err(header_error(header::BAD_MESSAGE_TYPE, vec![kind])),
    };
    if !fits {
        return Err(bad_length());
    }
    let Some(body) = buf.get(HEADER_LEN..len) else {
        return Ok(None);
    };
    let mut class = UpdateClass::Ok;
    let message = match kind {
        msg_type::OPEN => Message::Open(decode_open(body)?),
        msg_type::UPDATE => {
            let (update, c) = decode_update(body, ctx);
            if let UpdateClass::SessionReset(n) = c {
                return Err(n);
            }
            class = c;
            Message::Update(update)
        }
        msg_type::NOTIFICATION => {
            let mut b = Reader::new(body);
            let (Some(code), Some(subcode)) = (b.u8(), b.u8()) else {
                return Err(bad_length());
            };
            Message::Notification(Notification {
                code,
                subcode,
                data: b.rest().to_vec(),
            })
        }
        msg_type::KEEPALIVE => Message::Keepalive,
        _ => {
            // RFC 7313 section 5: a ROUTE-REFRESH of the wrong length is answered with
            // the whole message as data.
            let Ok(b) = <[u8; 4]>::try_from(body) else {
                let data = buf.get(..len).unwrap_or(&[]).to_vec();
                return Err(Notification::new(
                    code::ROUTE_REFRESH_MESSAGE,
                    route_refresh::INVALID_MESSAGE_LENGTH,
                    data,
                ));
            };
            Message::RouteRefresh(RouteRefresh {
                afi: Afi(u16::from_be_bytes([b[0], b[1]])),
                subtype: b[2],
                safi: Safi(b[3]),
            })
        }
    };
    Ok(Some(Frame {
        message,
        len,
        class,
    }))
}

/// Encodes a message with its header. Fails when the result would exceed 4096 octets
/// or a field cannot hold what it is given; the speaker then splits its UPDATE.
pub fn encode_message(msg: &Message, ctx: &Codec) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&MARKER);
    out.extend_from_slice(&[0, 0]); // length, filled in below
    match msg {
        Message::Open(o) => {
            out.push(msg_type::OPEN);
            encode_open(&mut out, o)?;
        }
        Message::Update(u) => {
            out.push(msg_type::UPDATE);
            encode_update(&mut out, u, ctx)?;
        }
        Message::Notification(n) => {
            out.push(msg_type::NOTIFICATION);
            out.push(n.code);
            out.push(n.subcode);
            out.extend_from_slice(&n.data);
        }
        Message::Keepalive => out.push(msg_type::KEEPALIVE),
        Message::RouteRefresh(rr) => {
            out.push(msg_type::ROUTE_REFRESH);
            out.extend_from_slice(&rr.afi.0.to_be_bytes());
            out.push(rr.subtype);
            out.push(rr.safi.0);
        }
    }
    let len = u16::try_from(out.len())
        .ok()
        .filter(|l| usize::from(*l) <= MAX_MESSAGE_LEN)
        .ok_or(EncodeError::MessageTooLong)?;
    out[16..18].copy_from_slice(&len.to_be_bytes());
    Ok(out)
}
