//! Nexthop objects (`ip nexthop`, kernel 5.3+): a next hop (or an ECMP group of them) with an
//! id that routes point at with RTA_NH_ID. Changing the object re-points every route using it
//! at once, and routes that share one install faster (the kernel validates the next hop once).
//!
//! Encoded here, not with `netlink-packet-route`: its 0.34 has no RTM_*NEXTHOP messages.

use std::net::IpAddr;

use crate::client::Netlink;
use crate::error::{tolerate, Error, Result};
use crate::link::index_field;
use crate::nexthop_codec::{decode_nexthop, encode_nexthop, encode_nexthop_id, NhHeader};
use crate::route::Family;
use crate::uapi::{
    AF_UNSPEC, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, RTM_DELNEXTHOP, RTM_GETNEXTHOP,
    RTM_NEWNEXTHOP,
};

/// A nexthop object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nexthop {
    /// 1 to 2^32-1; chosen by the caller (0 would ask the kernel to pick one).
    pub id: u32,
    /// RTPROT_*: who installed it (wharf uses 87).
    pub protocol: u8,
    pub target: NexthopTarget,
}

/// Where a nexthop object forwards to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NexthopTarget {
    /// `dev DEVICE`: destinations are directly connected to the device.
    Device { family: Family, oif: u32 },
    /// `via GATEWAY dev DEVICE`.
    Gateway { gateway: IpAddr, oif: u32 },
    /// `group ID[,WEIGHT]/...`: flows spread over other (single) nexthop objects by weight.
    Group(Vec<GroupMember>),
    /// `blackhole`: packets are dropped.
    Blackhole { family: Family },
}

/// One member of a nexthop group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GroupMember {
    pub id: u32,
    /// 1-256: the member's share of flows relative to the others.
    pub weight: u16,
}

impl Netlink {
    /// Adds a nexthop object, replacing one with the same id (idempotent). Replacing a
    /// single nexthop by a group, or the reverse, is refused by the kernel (EINVAL).
    pub fn add_nexthop(&mut self, nexthop: &Nexthop) -> Result<()> {
        check_nexthop(nexthop)?;
        self.execute(RTM_NEWNEXTHOP, NLM_F_CREATE | NLM_F_REPLACE, &|m| {
            encode_nexthop(m, nexthop)
        })
    }

    /// Adds a nexthop object whose id must be free: an id already taken (by anyone) is an
    /// error for which [`Error::is_exists`] holds, and the object there is left alone.
    pub fn create_nexthop(&mut self, nexthop: &Nexthop) -> Result<()> {
        check_nexthop(nexthop)?;
        self.execute(RTM_NEWNEXTHOP, NLM_F_CREATE | NLM_F_EXCL, &|m| {
            encode_nexthop(m, nexthop)
        })
    }

    /// Deletes a nexthop object; one already gone is success. The kernel deletes the routes
    /// that use it with it, and removes it from the groups it is a member of.
    pub fn delete_nexthop(&mut self, id: u32) -> Result<()> {
        let result = self.execute(RTM_DELNEXTHOP, 0, &|m| encode_nexthop_id(m, id));
        tolerate(result, &[libc::ENOENT])
    }

    /// Lists every nexthop object in the namespace (both families and groups).
    pub fn nexthops(&mut self) -> Result<Vec<Nexthop>> {
        let header = NhHeader {
            family: AF_UNSPEC,
            ..Default::default()
        }
        .encode();
        self.dump(RTM_GETNEXTHOP, &|m| m.header(&header), decode_nexthop)
    }
}

fn check_nexthop(nexthop: &Nexthop) -> Result<()> {
    let invalid = |problem: &str| {
        Err(Error::Invalid(format!(
            "nexthop object {}: {problem}",
            nexthop.id
        )))
    };
    if nexthop.id == 0 {
        return invalid("id 0 is not an id (the kernel would pick one)");
    }
    match &nexthop.target {
        NexthopTarget::Device { oif, .. } | NexthopTarget::Gateway { oif, .. } => {
            index_field(*oif)?;
        }
        NexthopTarget::Group(members) => {
            if members.is_empty() {
                return invalid("a group needs at least one member");
            }
            if members.iter().any(|m| !(1..=256).contains(&m.weight)) {
                return invalid("group weights are 1-256");
            }
            if members.iter().any(|m| m.id == nexthop.id || m.id == 0) {
                return invalid("a group's members are other, existing nexthop objects");
            }
        }
        NexthopTarget::Blackhole { .. } => {}
    }
    Ok(())
}
