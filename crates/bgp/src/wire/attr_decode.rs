//! Decoding one path attribute, and what RFC 7606 section 7 says to do when it is
//! malformed: [`Verdict::Discard`] (attribute discard), [`Verdict::Withdraw`]
//! (treat-as-withdraw) or [`Verdict::Reset`] (session reset).

use std::net::Ipv4Addr;

use super::attr::{
    attr_type::*, expected_flags, flag, Aggregator, AsPath, AsSegment, Community, MpNextHop,
    MpReach, MpUnreach, Nlri, Origin, PathAttribute, SegmentType, UnknownAttribute,
};
use super::notification::{code, update as sub, Notification};
use super::reader::Reader;
use super::{prefix, Afi, Codec, Safi};

/// The action one malformed attribute calls for, weakest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Discard,
    Withdraw,
    Reset(Notification),
}

#[derive(Debug)]
pub(crate) struct Fault {
    pub verdict: Verdict,
    pub why: &'static str,
    /// What to keep in the update anyway: a MP_REACH_NLRI whose next hop is unusable
    /// still says which prefixes treat-as-withdraw must withdraw.
    pub keep: Option<PathAttribute>,
}

/// RFC 7606 section 7: the action for a malformed attribute of this type.
fn class_of(type_code: u8, raw: &[u8]) -> Verdict {
    match type_code {
        // 7.6, 7.7, and RFC 6793 section 6 for the AS4_ attributes.
        ATOMIC_AGGREGATE | AGGREGATOR | AS4_PATH | AS4_AGGREGATOR => Verdict::Discard,
        // 7.11 and RFC 4760 section 7: without the MP attributes parsed we cannot know
        // which routes to withdraw. (A bad next hop length alone is handled below.)
        MP_REACH_NLRI | MP_UNREACH_NLRI => Verdict::Reset(Notification::new(
            code::UPDATE_MESSAGE,
            sub::OPTIONAL_ATTRIBUTE_ERROR,
            raw.to_vec(),
        )),
        // 7.1 ORIGIN, 7.2 AS_PATH, 7.3 NEXT_HOP, 7.4 MED, 7.5 LOCAL_PREF, 7.8 COMMUNITIES,
        // 7.9 ORIGINATOR_ID, 7.10 CLUSTER_LIST.
        _ => Verdict::Withdraw,
    }
}

fn fault(type_code: u8, raw: &[u8], why: &'static str) -> Fault {
    Fault {
        verdict: class_of(type_code, raw),
        why,
        keep: None,
    }
}

/// Decodes one attribute. `flags` as received, `raw` the whole attribute (flags, type,
/// length, value) for NOTIFICATION data.
pub(crate) fn decode_attribute(
    flags: u8,
    type_code: u8,
    value: &[u8],
    raw: &[u8],
    ctx: &Codec,
) -> Result<PathAttribute, Fault> {
    let Some(expected) = expected_flags(type_code) else {
        if flags & flag::OPTIONAL == 0 {
            // RFC 4271 section 6.3; RFC 7606 leaves this one alone.
            let n = Notification::new(
                code::UPDATE_MESSAGE,
                sub::UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
                raw.to_vec(),
            );
            return Err(Fault {
                verdict: Verdict::Reset(n),
                why: "unrecognized well-known",
                keep: None,
            });
        }
        return Ok(PathAttribute::Unknown(UnknownAttribute {
            flags: flags & (flag::OPTIONAL | flag::TRANSITIVE | flag::PARTIAL),
            type_code,
            value: value.to_vec(),
        }));
    };
    // RFC 7606 section 3: Optional/Transitive in conflict makes the attribute malformed.
    if flags & (flag::OPTIONAL | flag::TRANSITIVE) != expected {
        return Err(fault(type_code, raw, "attribute flags conflict"));
    }
    let bad = |why| fault(type_code, raw, why);
    let u32_value = || value.try_into().ok().map(u32::from_be_bytes);
    let ipv4_value = || value.try_into().ok().map(|b: [u8; 4]| Ipv4Addr::from(b));
    match type_code {
        ORIGIN => match value {
            [0] => Ok(PathAttribute::Origin(Origin::Igp)),
            [1] => Ok(PathAttribute::Origin(Origin::Egp)),
            [2] => Ok(PathAttribute::Origin(Origin::Incomplete)),
            [_] => Err(bad("undefined ORIGIN value")),
            _ => Err(bad("ORIGIN length is not 1")),
        },
        AS_PATH => decode_as_path(value, ctx.four_octet_as, false)
            .map(PathAttribute::AsPath)
            .ok_or_else(|| bad("malformed AS_PATH")),
        NEXT_HOP => ipv4_value()
            .map(PathAttribute::NextHop)
            .ok_or_else(|| bad("NEXT_HOP length is not 4")),
        MULTI_EXIT_DISC => u32_value()
            .map(PathAttribute::MultiExitDisc)
            .ok_or_else(|| bad("MED length is not 4")),
        LOCAL_PREF => u32_value()
            .map(PathAttribute::LocalPref)
            .ok_or_else(|| bad("LOCAL_PREF length is not 4")),
        ATOMIC_AGGREGATE if value.is_empty() => Ok(PathAttribute::AtomicAggregate),
        ATOMIC_AGGREGATE => Err(bad("ATOMIC_AGGREGATE length is not 0")),
        AGGREGATOR => decode_aggregator(value, ctx.four_octet_as)
            .map(PathAttribute::Aggregator)
            .ok_or_else(|| bad("AGGREGATOR length is not 6 (8 with 4-octet AS)")),
        COMMUNITIES if !value.is_empty() && value.len().is_multiple_of(4) => {
            Ok(PathAttribute::Communities(
                value
                    .chunks_exact(4)
                    .map(|c| Community(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                    .collect(),
            ))
        }
        COMMUNITIES => Err(bad("COMMUNITIES length is 0 or not a multiple of 4")),
        ORIGINATOR_ID => ipv4_value()
            .map(PathAttribute::OriginatorId)
            .ok_or_else(|| bad("ORIGINATOR_ID length is not 4")),
        CLUSTER_LIST if !value.is_empty() && value.len().is_multiple_of(4) => {
            Ok(PathAttribute::ClusterList(
                value
                    .chunks_exact(4)
                    .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
                    .collect(),
            ))
        }
        CLUSTER_LIST => Err(bad("CLUSTER_LIST length is 0 or not a multiple of 4")),
        MP_REACH_NLRI => decode_mp_reach(value, raw),
        MP_UNREACH_NLRI => decode_mp_unreach(value)
            .map(PathAttribute::MpUnreach)
            .ok_or_else(|| bad("malformed MP_UNREACH_NLRI")),
        AS4_PATH => decode_as_path(value, true, true)
            .map(PathAttribute::As4Path)
            .ok_or_else(|| bad("malformed AS4_PATH")),
        AS4_AGGREGATOR => decode_aggregator(value, true)
            .map(PathAttribute::As4Aggregator)
            .ok_or_else(|| bad("AS4_AGGREGATOR length is not 8")),
        _ => Err(bad("unhandled attribute type")),
    }
}

/// RFC 7606 section 7.2: malformed if a segment type is unknown, a segment is empty,
/// overruns the attribute, or a lone octet is left over. AS4_PATH (`as4`) may not carry
/// confederation segments (RFC 6793 section 3); we discard such an AS4_PATH whole.
fn decode_as_path(value: &[u8], four: bool, as4: bool) -> Option<AsPath> {
    let mut r = Reader::new(value);
    let mut segments = Vec::new();
    while !r.is_empty() {
        let kind = match r.u8()? {
            1 => SegmentType::Set,
            2 => SegmentType::Sequence,
            3 if !as4 => SegmentType::ConfedSequence,
            4 if !as4 => SegmentType::ConfedSet,
            _ => return None,
        };
        let count = r.u8()?;
        if count == 0 {
            return None;
        }
        let mut asns = Vec::new();
        for _ in 0..count {
            asns.push(if four { r.u32()? } else { u32::from(r.u16()?) });
        }
        segments.push(AsSegment { kind, asns });
    }
    Some(AsPath { segments })
}

fn decode_aggregator(value: &[u8], four: bool) -> Option<Aggregator> {
    let mut r = Reader::new(value);
    let asn = if four { r.u32()? } else { u32::from(r.u16()?) };
    let address = r.ipv4()?;
    r.is_empty().then_some(Aggregator { asn, address })
}

fn decode_nlri(afi: Afi, safi: Safi, data: &[u8]) -> Option<Nlri> {
    match (afi, safi) {
        (Afi::IPV4, Safi::UNICAST) => prefix::decode_v4(data).map(Nlri::V4),
        (Afi::IPV6, Safi::UNICAST) => prefix::decode_v6(data).map(Nlri::V6),
        _ => Some(Nlri::Other {
            afi,
            safi,
            data: data.to_vec(),
        }),
    }
}

/// RFC 4760 section 3. A structure we cannot walk, or NLRI we cannot parse, resets the
/// session (RFC 7606 section 5.3/7.11 would let us disable just the family; this speaker
/// has no per-family disable). A next hop of the wrong length for the family is
/// treat-as-withdraw (RFC 7606 section 7.11), keeping the NLRI so they can be withdrawn.
fn decode_mp_reach(value: &[u8], raw: &[u8]) -> Result<PathAttribute, Fault> {
    let bad = |why| fault(MP_REACH_NLRI, raw, why);
    let mut r = Reader::new(value);
    let afi = Afi(r.u16().ok_or_else(|| bad("MP_REACH_NLRI too short"))?);
    let safi = Safi(r.u8().ok_or_else(|| bad("MP_REACH_NLRI too short"))?);
    let nh_len = r.u8().ok_or_else(|| bad("MP_REACH_NLRI too short"))?;
    let nh = r
        .take(usize::from(nh_len))
        .ok_or_else(|| bad("MP_REACH_NLRI next hop overruns"))?;
    // Reserved octet: ignored on receipt (RFC 4760 section 3).
    r.u8().ok_or_else(|| bad("MP_REACH_NLRI too short"))?;
    let nlri =
        decode_nlri(afi, safi, r.rest()).ok_or_else(|| bad("malformed MP_REACH_NLRI NLRI"))?;
    let mut nr = Reader::new(nh);
    let next_hop = match (&nlri, nh.len()) {
        (Nlri::Other { .. }, _) => Some(MpNextHop::Other(nh.to_vec())),
        (Nlri::V4(_), 4) => nr.ipv4().map(MpNextHop::V4),
        // 16 or 32 octets for IPv4 NLRI: RFC 8950's extended next hop.
        (_, 16) => nr.ipv6().map(|global| MpNextHop::V6 {
            global,
            link_local: None,
        }),
        (_, 32) => nr.ipv6().zip(nr.ipv6()).map(|(global, ll)| MpNextHop::V6 {
            global,
            link_local: Some(ll),
        }),
        _ => None,
    };
    match next_hop {
        Some(next_hop) => Ok(PathAttribute::MpReach(MpReach { next_hop, nlri })),
        None => Err(Fault {
            verdict: Verdict::Withdraw,
            why: "MP_REACH_NLRI next hop length wrong for the family",
            keep: Some(PathAttribute::MpReach(MpReach {
                next_hop: MpNextHop::Other(nh.to_vec()),
                nlri,
            })),
        }),
    }
}

/// RFC 4760 section 4: AFI (2), SAFI (1), withdrawn routes.
fn decode_mp_unreach(value: &[u8]) -> Option<MpUnreach> {
    let mut r = Reader::new(value);
    let afi = Afi(r.u16()?);
    let safi = Safi(r.u8()?);
    decode_nlri(afi, safi, r.rest()).map(|withdrawn| MpUnreach { withdrawn })
}
