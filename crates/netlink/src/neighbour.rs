//! Proxy neighbour entries (`ip -6 neigh add proxy ADDR dev DEV`): the kernel answers neighbour
//! solicitations (or, for IPv4, ARP requests) for ADDR on DEV with its own MAC. Messages are
//! `netlink-packet-route`'s `NeighbourMessage`.

use std::net::IpAddr;

use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};

use crate::client::Netlink;
use crate::error::{tolerate, Result};
use crate::link::index_field;
use crate::message::MessageWriter;
use crate::parse::{parse_body, RawMessage};
use crate::route::{family_of, Family};
use crate::route_codec::address_family;
use crate::uapi::{AF_UNSPEC, NLM_F_CREATE, NLM_F_EXCL, RTM_DELNEIGH, RTM_GETNEIGH, RTM_NEWNEIGH};

/// A proxy entry as the kernel lists it (`ip neigh show proxy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProxyNeighbour {
    /// Interface index of the device the entry answers on.
    pub index: u32,
    pub address: IpAddr,
}

impl Netlink {
    /// Adds a proxy entry; one already present is success.
    pub fn add_proxy_neighbour(&mut self, index: u32, address: IpAddr) -> Result<()> {
        index_field(index)?;
        let result = self.execute(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL, &|m| {
            encode_proxy_neighbour(m, index, address)
        });
        tolerate(result, &[libc::EEXIST])
    }

    /// Deletes a proxy entry; one already gone is success.
    pub fn delete_proxy_neighbour(&mut self, index: u32, address: IpAddr) -> Result<()> {
        index_field(index)?;
        let result = self.execute(RTM_DELNEIGH, 0, &|m| {
            encode_proxy_neighbour(m, index, address)
        });
        tolerate(result, &[libc::ENOENT])
    }

    /// Lists proxy entries of one family, or (`None`) of both, for callers that reconcile.
    pub fn proxy_neighbours(&mut self, family: Option<Family>) -> Result<Vec<ProxyNeighbour>> {
        let family = family.map_or(AF_UNSPEC, Family::code);
        self.dump(
            RTM_GETNEIGH,
            &|m| encode_proxy_dump(m, family),
            decode_proxy_neighbour,
        )
    }
}

/// ndmsg (family, ifindex, NUD_PERMANENT, NTF_PROXY) + NDA_DST, as `ip neigh add proxy` sends.
pub(crate) fn encode_proxy_neighbour(m: &mut MessageWriter<'_>, index: u32, address: IpAddr) {
    let mut message = NeighbourMessage::default();
    message.header.family = address_family(family_of(address));
    message.header.ifindex = index;
    message.header.state = NeighbourState::Permanent;
    message.header.flags = NeighbourFlags::Proxy;
    message
        .attributes
        .push(NeighbourAttribute::Destination(address.into()));
    m.emit(&message);
}

/// A neighbour dump asking for the proxy table: only NTF_PROXY set (the kernel's strict
/// checking refuses any other header field in a dump request).
pub(crate) fn encode_proxy_dump(m: &mut MessageWriter<'_>, family: u8) {
    let mut message = NeighbourMessage::default();
    message.header.family = address_family(family);
    message.header.flags = NeighbourFlags::Proxy;
    m.emit(&message);
}

/// A proxy entry; `None` for ordinary neighbour entries and other families.
pub(crate) fn decode_proxy_neighbour(message: &RawMessage<'_>) -> Result<Option<ProxyNeighbour>> {
    let decoded: NeighbourMessage = parse_body(message.payload, "neighbour")?;
    if !decoded.header.flags.contains(NeighbourFlags::Proxy) {
        return Ok(None);
    }
    let address = decoded
        .attributes
        .iter()
        .find_map(|attribute| match attribute {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => Some(IpAddr::V4(*v4)),
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => Some(IpAddr::V6(*v6)),
            _ => None,
        });
    Ok(address.map(|address| ProxyNeighbour {
        index: decoded.header.ifindex,
        address,
    }))
}
