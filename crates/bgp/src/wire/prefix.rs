//! NLRI prefixes as RFC 4271 section 4.3 lays them out: a length in bits, then just
//! enough octets to hold that many bits. The same layout is used in the Withdrawn Routes
//! and NLRI fields and inside MP_REACH_NLRI/MP_UNREACH_NLRI (RFC 4760 section 5).

use ipnet::{Ipv4Net, Ipv6Net};
use std::net::{Ipv4Addr, Ipv6Addr};

use super::reader::Reader;

/// Reads prefixes until `buf` is used up, each made into a `T` by `make` from its length and
/// its octets. `None` when a length exceeds `max_bits` or a prefix runs past the end: RFC
/// 7606 section 5.3 calls that a syntactically incorrect NLRI field, which cannot be parsed
/// further.
fn decode_each<T>(
    buf: &[u8],
    max_bits: u8,
    make: impl Fn(u8, [u8; 16]) -> Option<T>,
) -> Option<Vec<T>> {
    let mut r = Reader::new(buf);
    // As many as there would be host prefixes (the common case, sized once; an UPDATE full of
    // them holds 800 and the speaker keeps dozens of UPDATEs in flight).
    let mut out = Vec::with_capacity(buf.len() / (1 + usize::from(max_bits / 8)));
    while !r.is_empty() {
        let bits = r.u8()?;
        if bits > max_bits {
            return None;
        }
        let bytes = r.take(usize::from(bits).div_ceil(8))?;
        let mut addr = [0u8; 16];
        addr[..bytes.len()].copy_from_slice(bytes);
        out.push(make(bits, addr)?);
    }
    Some(out)
}

/// Decodes IPv4 prefixes; bits past the prefix length are cleared (the RFC says they are
/// irrelevant, and clearing them keeps equal routes equal).
pub(crate) fn decode_v4(buf: &[u8]) -> Option<Vec<Ipv4Net>> {
    decode_each(buf, 32, |bits, a| {
        let addr = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
        Ipv4Net::new(addr, bits).ok().map(|n| n.trunc())
    })
}

/// Decodes IPv6 prefixes, clearing bits past the prefix length.
pub(crate) fn decode_v6(buf: &[u8]) -> Option<Vec<Ipv6Net>> {
    decode_each(buf, 128, |bits, a| {
        Ipv6Net::new(Ipv6Addr::from(a), bits)
            .ok()
            .map(|n| n.trunc())
    })
}

pub(crate) fn encode_v4(out: &mut Vec<u8>, prefixes: &[Ipv4Net]) {
    for p in prefixes {
        let bits = p.prefix_len();
        out.push(bits);
        let octets = p.network().octets();
        out.extend_from_slice(&octets[..usize::from(bits).div_ceil(8)]);
    }
}

pub(crate) fn encode_v6(out: &mut Vec<u8>, prefixes: &[Ipv6Net]) {
    for p in prefixes {
        let bits = p.prefix_len();
        out.push(bits);
        let octets = p.network().octets();
        out.extend_from_slice(&octets[..usize::from(bits).div_ceil(8)]);
    }
}
