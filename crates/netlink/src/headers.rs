//! The fixed family headers that follow `nlmsghdr` in link and address messages, with their
//! exact C layouts (`struct ifinfomsg`, `ifaddrmsg`), encoded field by field in host byte
//! order. Routes and neighbours use `netlink-packet-route`'s.

use crate::error::Result;
use crate::parse::{read_i32, read_u16, read_u32};
use crate::uapi::{AF_UNSPEC, IFF_UP};

/// `struct ifinfomsg` (16 bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct IfInfoHeader {
    pub family: u8,
    pub link_type: u16,
    pub index: i32,
    pub flags: u32,
    pub change: u32,
}

impl IfInfoHeader {
    /// The header of a link create request; `up` brings the new link up in the same request.
    pub(crate) fn for_create(up: bool) -> IfInfoHeader {
        let up = if up { IFF_UP } else { 0 };
        IfInfoHeader {
            family: AF_UNSPEC,
            flags: up,
            change: up,
            ..Default::default()
        }
    }

    pub(crate) const LEN: usize = 16;

    pub(crate) fn encode(&self) -> [u8; Self::LEN] {
        let mut bytes = [0u8; Self::LEN];
        bytes[0] = self.family;
        bytes[2..4].copy_from_slice(&self.link_type.to_ne_bytes());
        bytes[4..8].copy_from_slice(&self.index.to_ne_bytes());
        bytes[8..12].copy_from_slice(&self.flags.to_ne_bytes());
        bytes[12..16].copy_from_slice(&self.change.to_ne_bytes());
        bytes
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self> {
        Ok(IfInfoHeader {
            family: bytes.first().copied().unwrap_or_default(),
            link_type: read_u16(bytes, 2)?,
            index: read_i32(bytes, 4)?,
            flags: read_u32(bytes, 8)?,
            change: read_u32(bytes, 12)?,
        })
    }
}

/// `struct ifaddrmsg` (8 bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct IfAddrHeader {
    pub family: u8,
    pub prefix_len: u8,
    pub flags: u8,
    pub scope: u8,
    pub index: u32,
}

impl IfAddrHeader {
    pub(crate) const LEN: usize = 8;

    pub(crate) fn encode(&self) -> [u8; Self::LEN] {
        let mut bytes = [0u8; Self::LEN];
        bytes[..4].copy_from_slice(&[self.family, self.prefix_len, self.flags, self.scope]);
        bytes[4..8].copy_from_slice(&self.index.to_ne_bytes());
        bytes
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self> {
        let index = read_u32(bytes, 4)?;
        Ok(IfAddrHeader {
            family: bytes[0],
            prefix_len: bytes[1],
            flags: bytes[2],
            scope: bytes[3],
            index,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_short_input_is_an_error() {
        let info = IfInfoHeader {
            family: 0,
            link_type: 1,
            index: 7,
            flags: 1,
            change: 1,
        };
        assert_eq!(IfInfoHeader::decode(&info.encode()).unwrap(), info);
        assert!(IfInfoHeader::decode(&info.encode()[..15]).is_err());

        let addr = IfAddrHeader {
            family: 10,
            prefix_len: 128,
            flags: 2,
            scope: 0,
            index: 9,
        };
        assert_eq!(IfAddrHeader::decode(&addr.encode()).unwrap(), addr);
        assert!(IfAddrHeader::decode(&addr.encode()[..7]).is_err());
    }
}
