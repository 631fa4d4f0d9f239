//! Walking the kernel's replies: messages in a datagram, attributes in a message. Every length
//! is checked against what is left before it is used, so truncated or garbage input yields an
//! error and both walks always move forward (no panic, no endless loop).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::Parseable;

use crate::error::{Error, Result};
use crate::message::{align4, NLA_HEADER_LEN, NLMSG_HEADER_LEN};
use crate::uapi::{
    AF_INET, AF_INET6, NLA_TYPE_MASK, NLMSGERR_ATTR_MSG, NLM_F_ACK_TLVS, NLM_F_CAPPED,
};

/// One netlink message: header fields and the payload after the 16-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawMessage<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub payload: &'a [u8],
}

/// Iterates the messages of one datagram. After the first framing error it yields that error
/// and stops.
pub(crate) struct Messages<'a> {
    rest: &'a [u8],
}

pub(crate) fn messages(datagram: &[u8]) -> Messages<'_> {
    Messages { rest: datagram }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<RawMessage<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        // On error `rest` stays empty, which ends the walk.
        let rest = std::mem::take(&mut self.rest);
        Some(split_message(rest).map(|(message, after)| {
            self.rest = after;
            message
        }))
    }
}

fn split_message(rest: &[u8]) -> Result<(RawMessage<'_>, &[u8])> {
    if rest.len() < NLMSG_HEADER_LEN {
        return Err(Error::malformed(format!(
            "{} trailing bytes, shorter than a message header",
            rest.len()
        )));
    }
    let len = read_u32(rest, 0)? as usize;
    if len < NLMSG_HEADER_LEN || len > rest.len() {
        return Err(Error::malformed(format!(
            "message length {len} with {} bytes left",
            rest.len()
        )));
    }
    let message = RawMessage {
        kind: read_u16(rest, 4)?,
        flags: read_u16(rest, 6)?,
        seq: read_u32(rest, 8)?,
        payload: &rest[NLMSG_HEADER_LEN..len],
    };
    Ok((message, rest.get(align4(len)..).unwrap_or(&[])))
}

/// One attribute: its type (without the NESTED / NET_BYTEORDER bits) and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Attribute<'a> {
    pub kind: u16,
    pub payload: &'a [u8],
}

/// Iterates the attributes in `bytes`. After the first malformed attribute it yields that
/// error and stops.
pub(crate) struct Attributes<'a> {
    rest: &'a [u8],
}

pub(crate) fn attributes(bytes: &[u8]) -> Attributes<'_> {
    Attributes { rest: bytes }
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Result<Attribute<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        // On error `rest` stays empty, which ends the walk.
        let rest = std::mem::take(&mut self.rest);
        Some(split_attribute(rest).map(|(attribute, after)| {
            self.rest = after;
            attribute
        }))
    }
}

fn split_attribute(rest: &[u8]) -> Result<(Attribute<'_>, &[u8])> {
    if rest.len() < NLA_HEADER_LEN {
        return Err(Error::malformed(format!(
            "{} trailing bytes, shorter than an attribute header",
            rest.len()
        )));
    }
    let len = read_u16(rest, 0)? as usize;
    if len < NLA_HEADER_LEN || len > rest.len() {
        return Err(Error::malformed(format!(
            "attribute length {len} with {} bytes left",
            rest.len()
        )));
    }
    let attribute = Attribute {
        kind: read_u16(rest, 2)? & NLA_TYPE_MASK,
        payload: &rest[NLA_HEADER_LEN..len],
    };
    Ok((attribute, rest.get(align4(len)..).unwrap_or(&[])))
}

/// Splits a message payload into its fixed family header and the attributes after it.
pub(crate) fn split_header<'a>(
    payload: &'a [u8],
    header_len: usize,
    what: &str,
) -> Result<(&'a [u8], &'a [u8])> {
    if payload.len() < header_len {
        return Err(Error::malformed(format!(
            "{what} payload of {} bytes, shorter than its {header_len}-byte header",
            payload.len()
        )));
    }
    let attributes = payload.get(align4(header_len)..).unwrap_or(&[]);
    Ok((&payload[..header_len], attributes))
}

/// Decodes a message body with `netlink-packet-route`'s parser; its errors become
/// [`Error::Malformed`] naming `what`.
pub(crate) fn parse_body<T: Parseable<[u8]>>(payload: &[u8], what: &str) -> Result<T> {
    T::parse(payload).map_err(|error| Error::malformed(format!("{what}: {error}")))
}

pub(crate) fn read_u16(bytes: &[u8], at: usize) -> Result<u16> {
    fixed::<2>(bytes, at).map(u16::from_ne_bytes)
}

pub(crate) fn read_u32(bytes: &[u8], at: usize) -> Result<u32> {
    fixed::<4>(bytes, at).map(u32::from_ne_bytes)
}

pub(crate) fn read_i32(bytes: &[u8], at: usize) -> Result<i32> {
    fixed::<4>(bytes, at).map(i32::from_ne_bytes)
}

fn fixed<const N: usize>(bytes: &[u8], at: usize) -> Result<[u8; N]> {
    at.checked_add(N)
        .and_then(|end| bytes.get(at..end))
        .and_then(|slice| <[u8; N]>::try_from(slice).ok())
        .ok_or_else(|| {
            Error::malformed(format!("{N}-byte field at offset {at} of {}", bytes.len()))
        })
}

/// A u32 attribute value (exactly 4 bytes).
pub(crate) fn u32_value(attribute: &Attribute<'_>) -> Result<u32> {
    if attribute.payload.len() != 4 {
        return Err(Error::malformed(format!(
            "attribute {} should hold 4 bytes, holds {}",
            attribute.kind,
            attribute.payload.len()
        )));
    }
    read_u32(attribute.payload, 0)
}

/// A string attribute: up to the first NUL (the kernel NUL-terminates, but need not).
pub(crate) fn string_value(attribute: &Attribute<'_>) -> String {
    let bytes = attribute.payload;
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// An address attribute of the given family (4 or 16 bytes, network byte order).
pub(crate) fn ip_value(family: u8, attribute: &Attribute<'_>) -> Result<IpAddr> {
    let bytes = attribute.payload;
    match family {
        AF_INET => <[u8; 4]>::try_from(bytes)
            .map(|o| IpAddr::V4(Ipv4Addr::from(o)))
            .ok(),
        AF_INET6 => <[u8; 16]>::try_from(bytes)
            .map(|o| IpAddr::V6(Ipv6Addr::from(o)))
            .ok(),
        _ => None,
    }
    .ok_or_else(|| {
        Error::malformed(format!(
            "attribute {}: {} bytes is no address of family {family}",
            attribute.kind,
            bytes.len()
        ))
    })
}

/// The content of an NLMSG_ERROR message: a negative errno (0 = ACK) and the extended-ACK text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Acknowledgement {
    /// Positive errno; 0 for success.
    pub errno: i32,
    pub extack_message: Option<String>,
}

/// Decodes `struct nlmsgerr`: `int error`, the request's `nlmsghdr` (plus the request's payload
/// unless the reply is capped), then, if NLM_F_ACK_TLVS, extended-ACK attributes.
pub(crate) fn acknowledgement(message: &RawMessage<'_>) -> Result<Acknowledgement> {
    let payload = message.payload;
    let errno = read_i32(payload, 0)?
        .checked_neg()
        .ok_or_else(|| Error::malformed("error code out of range"))?;
    let mut extack_message = None;
    if message.flags & NLM_F_ACK_TLVS != 0 {
        let echoed = if message.flags & NLM_F_CAPPED != 0 {
            NLMSG_HEADER_LEN
        } else {
            read_u32(payload, 4)? as usize
        };
        let tlvs = 4usize
            .checked_add(align4(echoed))
            .and_then(|start| payload.get(start..))
            .ok_or_else(|| Error::malformed("extended ACK attributes beyond the message"))?;
        for attribute in attributes(tlvs) {
            let attribute = attribute?;
            if attribute.kind == NLMSGERR_ATTR_MSG {
                extack_message = Some(string_value(&attribute));
            }
        }
    }
    Ok(Acknowledgement {
        errno,
        extack_message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message_bytes(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
        bytes.extend_from_slice(&kind.to_ne_bytes());
        bytes.extend_from_slice(&flags.to_ne_bytes());
        bytes.extend_from_slice(&seq.to_ne_bytes());
        bytes.extend_from_slice(&0u32.to_ne_bytes());
        bytes.extend_from_slice(payload);
        bytes.resize(align4(bytes.len()), 0);
        bytes
    }

    #[test]
    fn walks_two_messages() {
        let mut datagram = message_bytes(16, 2, 5, &[1, 2, 3]);
        datagram.extend(message_bytes(3, 2, 5, &0i32.to_ne_bytes()));
        let all: Vec<_> = messages(&datagram).collect::<Result<_>>().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].payload, &[1, 2, 3]);
        assert_eq!(all[1].kind, 3);
    }

    #[test]
    fn truncated_or_garbage_messages_are_errors() {
        let good = message_bytes(16, 0, 1, &[9; 8]);
        for cut in 1..good.len() {
            let results: Vec<_> = messages(&good[..cut]).collect();
            assert_eq!(results.len(), 1, "cut at {cut}");
            assert!(results[0].is_err(), "cut at {cut}");
        }
        let mut zero_length = good.clone();
        zero_length[..4].copy_from_slice(&0u32.to_ne_bytes());
        assert!(messages(&zero_length).all(|m| m.is_err()));
        let mut huge = good;
        huge[..4].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(messages(&huge).all(|m| m.is_err()));
    }

    #[test]
    fn garbage_attributes_never_panic_or_loop() {
        // Every 2-byte prefix pattern as an attribute length, followed by noise.
        for len in 0..=u16::MAX {
            let mut bytes = len.to_ne_bytes().to_vec();
            bytes.extend_from_slice(&[1, 0, 0xde, 0xad, 0xbe, 0xef, 0x01]);
            let results: Vec<_> = attributes(&bytes).take(10).collect();
            assert!(results.len() <= 3, "len {len}");
        }
    }

    #[test]
    fn attribute_values_check_their_length() {
        let short = Attribute {
            kind: 4,
            payload: &[1, 2],
        };
        assert!(u32_value(&short).is_err());
        assert!(ip_value(AF_INET, &short).is_err());
        assert!(ip_value(
            AF_INET6,
            &Attribute {
                kind: 1,
                payload: &[0; 4]
            }
        )
        .is_err());
        let name = Attribute {
            kind: 3,
            payload: b"eth0\0junk",
        };
        assert_eq!(string_value(&name), "eth0");
    }

    #[test]
    fn decodes_capped_error_with_extack_text() {
        let mut payload = (-22i32).to_ne_bytes().to_vec();
        payload.extend_from_slice(&[36, 0, 0, 0, 24, 0, 5, 6, 9, 0, 0, 0, 0, 0, 0, 0]);
        payload.extend_from_slice(&[13, 0, 1, 0]);
        payload.extend_from_slice(b"No route\0\0\0\0");
        let raw = message_bytes(2, NLM_F_CAPPED | NLM_F_ACK_TLVS, 9, &payload);
        let message = messages(&raw).next().unwrap().unwrap();
        let ack = acknowledgement(&message).unwrap();
        assert_eq!(ack.errno, 22);
        assert_eq!(ack.extack_message.as_deref(), Some("No route"));
    }

    #[test]
    fn error_message_claiming_a_huge_echo_is_an_error() {
        let mut payload = (-1i32).to_ne_bytes().to_vec();
        payload.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 24, 0, 5, 6, 9, 0, 0, 0, 0, 0, 0, 0]);
        let raw = message_bytes(2, NLM_F_ACK_TLVS, 9, &payload);
        let message = messages(&raw).next().unwrap().unwrap();
        assert!(acknowledgement(&message).is_err());
        let short = RawMessage {
            kind: 2,
            flags: 0,
            seq: 1,
            payload: &[1, 2],
        };
        assert!(acknowledgement(&short).is_err());
    }
}
