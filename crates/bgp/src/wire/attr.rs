//! Path attributes (RFC 4271 section 4.3 and 5; RFC 1997, 4456, 4760, 6793) and their
//! encoding. Decoding, with RFC 7606's error classes, is in `attr_decode`.

use ipnet::{Ipv4Net, Ipv6Net};
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{prefix, Afi, Codec, EncodeError, Safi, AS_TRANS};

/// Attribute type codes.
pub mod attr_type {
    pub const ORIGIN: u8 = 1;
    pub const AS_PATH: u8 = 2;
    pub const NEXT_HOP: u8 = 3;
    pub const MULTI_EXIT_DISC: u8 = 4;
    pub const LOCAL_PREF: u8 = 5;
    pub const ATOMIC_AGGREGATE: u8 = 6;
    pub const AGGREGATOR: u8 = 7;
    pub const COMMUNITIES: u8 = 8;
    pub const ORIGINATOR_ID: u8 = 9;
    pub const CLUSTER_LIST: u8 = 10;
    pub const MP_REACH_NLRI: u8 = 14;
    pub const MP_UNREACH_NLRI: u8 = 15;
    pub const AS4_PATH: u8 = 17;
    pub const AS4_AGGREGATOR: u8 = 18;
}

/// Attribute flag bits (RFC 4271 section 4.3). The low four bits are unused.
pub mod flag {
    pub const OPTIONAL: u8 = 0x80;
    pub const TRANSITIVE: u8 = 0x40;
    pub const PARTIAL: u8 = 0x20;
    pub const EXTENDED_LENGTH: u8 = 0x10;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathAttribute {
    Origin(Origin),
    /// AS_PATH: 2- or 4-octet AS numbers on the wire depending on [`Codec::four_octet_as`].
    AsPath(AsPath),
    NextHop(Ipv4Addr),
    MultiExitDisc(u32),
    LocalPref(u32),
    AtomicAggregate,
    Aggregator(Aggregator),
    Communities(Vec<Community>),
    OriginatorId(Ipv4Addr),
    ClusterList(Vec<Ipv4Addr>),
    MpReach(MpReach),
    MpUnreach(MpUnreach),
    /// AS4_PATH: always 4-octet; only meaningful between a NEW and an OLD speaker.
    As4Path(AsPath),
    As4Aggregator(Aggregator),
    Unknown(UnknownAttribute),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    Igp = 0,
    Egp = 1,
    Incomplete = 2,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AsPath {
    pub segments: Vec<AsSegment>,
}

/// One segment; on the wire it holds 1 to 255 AS numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsSegment {
    pub kind: SegmentType,
    pub asns: Vec<u32>,
}

/// Segment types of RFC 4271 and (confederations) RFC 5065.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentType {
    Set = 1,
    Sequence = 2,
    ConfedSequence = 3,
    ConfedSet = 4,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aggregator {
    pub asn: u32,
    pub address: Ipv4Addr,
}

/// An RFC 1997 community: AS number in the high 16 bits, value in the low 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u32);

impl Community {
    pub const NO_EXPORT: Community = Community(0xFFFF_FF01);
    pub const NO_ADVERTISE: Community = Community(0xFFFF_FF02);
    pub const NO_EXPORT_SUBCONFED: Community = Community(0xFFFF_FF03);
}

/// MP_REACH_NLRI (RFC 4760 section 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpReach {
    pub next_hop: MpNextHop,
    pub nlri: Nlri,
}

/// The next hop of MP_REACH_NLRI. IPv6 may carry a link-local address after the global
/// one (RFC 2545 section 3, 32 octets in all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MpNextHop {
    V4(Ipv4Addr),
    V6 {
        global: Ipv6Addr,
        link_local: Option<Ipv6Addr>,
    },
    /// The raw next hop of a family this codec does not parse ([`Nlri::Other`]).
    Other(Vec<u8>),
}

/// MP_UNREACH_NLRI (RFC 4760 section 4). With no prefixes it is an End-of-RIB marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpUnreach {
    pub withdrawn: Nlri,
}

/// Prefixes of one address family. IPv4 and IPv6 unicast are parsed; any other family is
/// kept raw so the speaker can recognise (and ignore) it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nlri {
    V4(Vec<Ipv4Net>),
    V6(Vec<Ipv6Net>),
    Other { afi: Afi, safi: Safi, data: Vec<u8> },
}

impl Nlri {
    pub fn family(&self) -> (Afi, Safi) {
        match self {
            Nlri::V4(_) => (Afi::IPV4, Safi::UNICAST),
            Nlri::V6(_) => (Afi::IPV6, Safi::UNICAST),
            Nlri::Other { afi, safi, .. } => (*afi, *safi),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Nlri::V4(p) => p.is_empty(),
            Nlri::V6(p) => p.is_empty(),
            Nlri::Other { data, .. } => data.is_empty(),
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Nlri::V4(p) => prefix::encode_v4(out, p),
            Nlri::V6(p) => prefix::encode_v6(out, p),
            Nlri::Other { data, .. } => out.extend_from_slice(data),
        }
    }
}

/// An attribute this codec does not know, with its flags as received (without the
/// Extended Length bit, which is a matter of encoding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAttribute {
    pub flags: u8,
    pub type_code: u8,
    pub value: Vec<u8>,
}

impl UnknownAttribute {
    /// What to send on when passing this route to other peers (RFC 4271 section 5):
    /// optional transitive attributes go on with the Partial bit set, optional
    /// non-transitive ones are dropped. (Unknown well-known attributes never get here:
    /// they reset the session.)
    pub fn propagated(&self) -> Option<UnknownAttribute> {
        let transitive = self.flags & flag::TRANSITIVE != 0;
        transitive.then(|| UnknownAttribute {
            flags: self.flags | flag::PARTIAL,
            ..self.clone()
        })
    }
}

impl PathAttribute {
    pub fn type_code(&self) -> u8 {
        use attr_type::*;
        match self {
            PathAttribute::Origin(_) => ORIGIN,
            PathAttribute::AsPath(_) => AS_PATH,
            PathAttribute::NextHop(_) => NEXT_HOP,
            PathAttribute::MultiExitDisc(_) => MULTI_EXIT_DISC,
            PathAttribute::LocalPref(_) => LOCAL_PREF,
            PathAttribute::AtomicAggregate => ATOMIC_AGGREGATE,
            PathAttribute::Aggregator(_) => AGGREGATOR,
            PathAttribute::Communities(_) => COMMUNITIES,
            PathAttribute::OriginatorId(_) => ORIGINATOR_ID,
            PathAttribute::ClusterList(_) => CLUSTER_LIST,
            PathAttribute::MpReach(_) => MP_REACH_NLRI,
            PathAttribute::MpUnreach(_) => MP_UNREACH_NLRI,
            PathAttribute::As4Path(_) => AS4_PATH,
            PathAttribute::As4Aggregator(_) => AS4_AGGREGATOR,
            PathAttribute::Unknown(u) => u.type_code,
        }
    }
}

/// The Optional and Transitive flags each known attribute must carry (RFC 4271 section
/// 5, RFC 1997, 4456, 4760, 6793); `None` for unknown types.
pub(crate) fn expected_flags(type_code: u8) -> Option<u8> {
    use attr_type::*;
    const WELL_KNOWN: u8 = flag::TRANSITIVE;
    const OPT_TRANS: u8 = flag::OPTIONAL | flag::TRANSITIVE;
    const OPT_NON_TRANS: u8 = flag::OPTIONAL;
    Some(match type_code {
        ORIGIN | AS_PATH | NEXT_HOP | LOCAL_PREF | ATOMIC_AGGREGATE => WELL_KNOWN,
        AGGREGATOR | COMMUNITIES | AS4_PATH | AS4_AGGREGATOR => OPT_TRANS,
        MULTI_EXIT_DISC | ORIGINATOR_ID | CLUSTER_LIST | MP_REACH_NLRI | MP_UNREACH_NLRI => {
            OPT_NON_TRANS
        }
        _ => return None,
    })
}

fn push_asn(out: &mut Vec<u8>, asn: u32, four: bool) {
    if four {
        out.extend_from_slice(&asn.to_be_bytes());
    } else {
        // RFC 6793 section 4.2.2: an AS that does not fit is sent as AS_TRANS.
        out.extend_from_slice(&u16::try_from(asn).unwrap_or(AS_TRANS).to_be_bytes());
    }
}

fn encode_as_path(out: &mut Vec<u8>, path: &AsPath, four: bool) -> Result<(), EncodeError> {
    for seg in &path.segments {
        // 7606 section 7.2 makes an empty segment malformed, and the count is one octet.
        let count = u8::try_from(seg.asns.len()).map_err(|_| EncodeError::BadAsSegment)?;
        if count == 0 {
            return Err(EncodeError::BadAsSegment);
        }
        out.push(seg.kind as u8);
        out.push(count);
        for asn in &seg.asns {
            push_asn(out, *asn, four);
        }
    }
    Ok(())
}

fn encode_mp_reach(out: &mut Vec<u8>, r: &MpReach) -> Result<(), EncodeError> {
    let (afi, safi) = r.nlri.family();
    out.extend_from_slice(&afi.0.to_be_bytes());
    out.push(safi.0);
    let mut nh = Vec::new();
    match &r.next_hop {
        MpNextHop::V4(a) => nh.extend_from_slice(&a.octets()),
        MpNextHop::V6 { global, link_local } => {
            nh.extend_from_slice(&global.octets());
            if let Some(ll) = link_local {
                nh.extend_from_slice(&ll.octets());
            }
        }
        MpNextHop::Other(raw) => nh.extend_from_slice(raw),
    }
    out.push(u8::try_from(nh.len()).map_err(|_| EncodeError::AttributeTooLong)?);
    out.extend_from_slice(&nh);
    // Reserved octet (was the SNPA count of RFC 2858), zero.
    out.push(0);
    r.nlri.encode(out);
    Ok(())
}

/// Appends one attribute: flags, type, length (one octet, or two with Extended Length
/// when the value exceeds 255 octets) and value.
pub(crate) fn encode_attribute(
    out: &mut Vec<u8>,
    attr: &PathAttribute,
    ctx: &Codec,
) -> Result<(), EncodeError> {
    let mut v = Vec::new();
    match attr {
        PathAttribute::Origin(o) => v.push(*o as u8),
        PathAttribute::AsPath(p) => encode_as_path(&mut v, p, ctx.four_octet_as)?,
        PathAttribute::NextHop(a) | PathAttribute::OriginatorId(a) => {
            v.extend_from_slice(&a.octets())
        }
        PathAttribute::MultiExitDisc(n) | PathAttribute::LocalPref(n) => {
            v.extend_from_slice(&n.to_be_bytes())
        }
        PathAttribute::AtomicAggregate => {}
        PathAttribute::Aggregator(a) => {
            push_asn(&mut v, a.asn, ctx.four_octet_as);
            v.extend_from_slice(&a.address.octets());
        }
        PathAttribute::Communities(cs) => cs
            .iter()
            .for_each(|c| v.extend_from_slice(&c.0.to_be_bytes())),
        PathAttribute::ClusterList(ids) => {
            ids.iter().for_each(|a| v.extend_from_slice(&a.octets()))
        }
        PathAttribute::MpReach(r) => encode_mp_reach(&mut v, r)?,
        PathAttribute::MpUnreach(u) => {
            let (afi, safi) = u.withdrawn.family();
            v.extend_from_slice(&afi.0.to_be_bytes());
            v.push(safi.0);
            u.withdrawn.encode(&mut v);
        }
        PathAttribute::As4Path(p) => encode_as_path(&mut v, p, true)?,
        PathAttribute::As4Aggregator(a) => {
            v.extend_from_slice(&a.asn.to_be_bytes());
            v.extend_from_slice(&a.address.octets());
        }
        PathAttribute::Unknown(u) => v.extend_from_slice(&u.value),
    }
    let flags = match attr {
        // Only the three meaningful bits of what was received; the low four are unused.
        PathAttribute::Unknown(u) => u.flags & (flag::OPTIONAL | flag::TRANSITIVE | flag::PARTIAL),
        other => expected_flags(other.type_code()).unwrap_or(0),
    };
    let len = u16::try_from(v.len()).map_err(|_| EncodeError::AttributeTooLong)?;
    if len > 255 {
        out.push(flags | flag::EXTENDED_LENGTH);
        out.push(attr.type_code());
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(flags);
        out.push(attr.type_code());
        out.push(len as u8);
    }
    out.extend_from_slice(&v);
    Ok(())
}
