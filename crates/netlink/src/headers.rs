//! The fixed family header of address messages, `struct ifaddrmsg`, encoded field by field in
//! host byte order. Links, routes and neighbours use `netlink-packet-route`'s.

use crate::error::Result;
use crate::parse::read_u32;

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
    fn address_header_round_trips_and_short_input_is_an_error() {
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
