//! RTM_NEWNEXTHOP / RTM_DELNEXTHOP / RTM_GETNEXTHOP bodies: `struct nhmsg` and NHA_*
//! attributes (linux/nexthop.h), by hand.

use std::net::IpAddr;

use crate::error::{Error, Result};
use crate::message::MessageWriter;
use crate::nexthop::{GroupMember, Nexthop, NexthopTarget};
use crate::parse::{
    attributes, ip_value, read_u16, read_u32, split_header, u32_value, Attribute, RawMessage,
};
use crate::route::{family_of, Family};
use crate::uapi::{AF_INET, AF_INET6, AF_UNSPEC};

const NHA_ID: u16 = 1;
const NHA_GROUP: u16 = 2;
const NHA_GROUP_TYPE: u16 = 3;
const NHA_BLACKHOLE: u16 = 4;
const NHA_OIF: u16 = 5;
const NHA_GATEWAY: u16 = 6;
/// NEXTHOP_GRP_TYPE_MPATH: hash-threshold ECMP, as `ip nexthop add ... group` makes.
const NEXTHOP_GRP_TYPE_MPATH: u16 = 0;
/// `struct nexthop_grp`: u32 id, u8 weight (weight - 1), u8 weight_high, u16 reserved.
const NEXTHOP_GRP_LEN: usize = 8;

/// `struct nhmsg` (8 bytes): family, scope, protocol, reserved, flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct NhHeader {
    pub family: u8,
    pub scope: u8,
    pub protocol: u8,
    pub flags: u32,
}

impl NhHeader {
    pub(crate) const LEN: usize = 8;

    pub(crate) fn encode(&self) -> [u8; Self::LEN] {
        let mut bytes = [0u8; Self::LEN];
        bytes[..4].copy_from_slice(&[self.family, self.scope, self.protocol, 0]);
        bytes[4..8].copy_from_slice(&self.flags.to_ne_bytes());
        bytes
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self> {
        let flags = read_u32(bytes, 4)?;
        Ok(NhHeader {
            family: bytes[0],
            scope: bytes[1],
            protocol: bytes[2],
            flags,
        })
    }
}

/// nhmsg + NHA_ID, then NHA_GROUP (a group, family unspecified; no NHA_GROUP_TYPE, so the
/// kernel's default, multipath), NHA_BLACKHOLE, or NHA_GATEWAY + NHA_OIF: what iproute2 6.1
/// sends for `ip nexthop add`, in its order.
pub(crate) fn encode_nexthop(m: &mut MessageWriter<'_>, nexthop: &Nexthop) {
    let family = match &nexthop.target {
        NexthopTarget::Device { family, .. } | NexthopTarget::Blackhole { family } => family.code(),
        NexthopTarget::Gateway { gateway, .. } => family_of(*gateway),
        NexthopTarget::Group(_) => AF_UNSPEC,
    };
    m.header(
        &NhHeader {
            family,
            protocol: nexthop.protocol,
            ..Default::default()
        }
        .encode(),
    );
    m.attr_u32(NHA_ID, nexthop.id);
    match &nexthop.target {
        NexthopTarget::Group(members) => {
            let mut group = Vec::with_capacity(members.len() * NEXTHOP_GRP_LEN);
            for member in members {
                let weight = member.weight.saturating_sub(1);
                group.extend_from_slice(&member.id.to_ne_bytes());
                group.push((weight & 0xff) as u8);
                group.push((weight >> 8) as u8);
                group.extend_from_slice(&[0, 0]);
            }
            m.attr(NHA_GROUP, &group);
        }
        NexthopTarget::Blackhole { .. } => m.attr(NHA_BLACKHOLE, &[]),
        NexthopTarget::Device { oif, .. } => m.attr_u32(NHA_OIF, *oif),
        NexthopTarget::Gateway { gateway, oif } => {
            m.attr_ip(NHA_GATEWAY, *gateway);
            m.attr_u32(NHA_OIF, *oif);
        }
    }
}

/// nhmsg + NHA_ID: what a delete (or a single GET) names.
pub(crate) fn encode_nexthop_id(m: &mut MessageWriter<'_>, id: u32) {
    m.header(&NhHeader::default().encode());
    m.attr_u32(NHA_ID, id);
}

/// Decodes a nexthop object; `None` for kinds this client does not model (FDB nexthops,
/// resilient groups, encapsulations are listed but skipped).
pub(crate) fn decode_nexthop(message: &RawMessage<'_>) -> Result<Option<Nexthop>> {
    let (header, attrs) = split_header(message.payload, NhHeader::LEN, "nexthop")?;
    let header = NhHeader::decode(header)?;
    let mut id = None;
    let mut oif = None;
    let mut gateway = None;
    let mut group = None;
    let mut blackhole = false;
    let mut modelled = true;
    for attribute in attributes(attrs) {
        let attribute = attribute?;
        match attribute.kind {
            NHA_ID => id = Some(u32_value(&attribute)?),
            NHA_OIF => oif = Some(u32_value(&attribute)?),
            // An IPv4 nexthop may have an IPv6 gateway (RFC 5549): the length decides.
            NHA_GATEWAY => gateway = Some(gateway_value(&attribute)?),
            NHA_GROUP => group = Some(decode_group(attribute.payload)?),
            NHA_BLACKHOLE => blackhole = true,
            NHA_GROUP_TYPE => modelled &= read_u16(attribute.payload, 0)? == NEXTHOP_GRP_TYPE_MPATH,
            _ => {}
        }
    }
    let id = id.ok_or_else(|| Error::malformed("nexthop object without NHA_ID"))?;
    let family = family_from(header.family);
    let target = match (group, blackhole, gateway, oif, family) {
        (Some(members), ..) => NexthopTarget::Group(members),
        (None, true, _, _, Some(family)) => NexthopTarget::Blackhole { family },
        (None, false, Some(gateway), Some(oif), _) => NexthopTarget::Gateway { gateway, oif },
        (None, false, None, Some(oif), Some(family)) => NexthopTarget::Device { family, oif },
        _ => return Ok(None),
    };
    Ok(modelled.then_some(Nexthop {
        id,
        protocol: header.protocol,
        target,
    }))
}

fn decode_group(bytes: &[u8]) -> Result<Vec<GroupMember>> {
    if !bytes.len().is_multiple_of(NEXTHOP_GRP_LEN) {
        return Err(Error::malformed(format!(
            "NHA_GROUP of {} bytes is no array of nexthop_grp",
            bytes.len()
        )));
    }
    bytes
        .chunks_exact(NEXTHOP_GRP_LEN)
        .map(|entry| {
            let weight = u32::from(entry[4]) | u32::from(entry[5]) << 8;
            Ok(GroupMember {
                id: read_u32(entry, 0)?,
                weight: u16::try_from(weight + 1).unwrap_or(u16::MAX),
            })
        })
        .collect()
}

fn family_from(code: u8) -> Option<Family> {
    match code {
        AF_INET => Some(Family::V4),
        AF_INET6 => Some(Family::V6),
        _ => None,
    }
}

fn gateway_value(attribute: &Attribute<'_>) -> Result<IpAddr> {
    let family = if attribute.payload.len() == 4 {
        AF_INET
    } else {
        AF_INET6
    };
    ip_value(family, attribute)
}
