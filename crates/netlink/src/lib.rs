//! A small blocking rtnetlink (NETLINK_ROUTE) client: links (veth pairs, dummy, 802.1Q VLAN,
//! macvlan, ipvlan), addresses, routes (single-path, multipath, through nexthop objects, in
//! any table, one at a time or in fast batches), nexthop objects, policy routing rules,
//! proxy neighbours, a notification monitor, and helpers to run code in another network
//! namespace.
//!
//! One [`Netlink`] owns one socket, bound to the network namespace it was opened in.
//! Requests are answered in order; every request carries a sequence number and replies to
//! other numbers are skipped. Errors carry the kernel's errno ([`Error::errno`],
//! [`Error::is_exists`], [`Error::is_not_found`]) and its extended-ACK text.
//! [`NetlinkMonitor`] is a second, subscriber socket for link, route and nexthop events.
//!
//! # Whose encoder
//!
//! Message bodies (family headers and attributes) of links, addresses, routes, rules and
//! neighbours are `netlink-packet-route`'s types, encoded and decoded by that crate. This
//! crate keeps its own code only where that one has nothing to offer:
//!
//! - **Nexthop objects** (`nexthop_codec`): `netlink-packet-route` 0.34 has no
//!   RTM_NEWNEXTHOP/DELNEXTHOP/GETNEXTHOP messages, so `struct nhmsg` and NHA_* are written
//!   and read here, checked byte for byte against iproute2.
//! - **Framing and batches** (`message`, `client`, `batch`): the `nlmsghdr` around each body,
//!   sequence numbers, dumps, and route batches sent hundreds of requests per `sendmsg` with no
//!   ACK but on the last (the kernel's floor for bulk installs). `netlink-packet-core`
//!   frames one message at a time; the batch still encodes each route with
//!   `netlink-packet-route`, refilling one message value so its allocation is reused.
//! - **ACKs and errors** (`parse`): `netlink-packet-core` 0.9 does not decode the extended
//!   ACK (NLMSGERR_ATTR_MSG), whose text the kernel uses to say why it refused.
//!
//! All `unsafe` code is in the private `sys` module (the socket, `poll`, the namespace calls).

mod address;
mod batch;
mod client;
mod error;
pub mod ethtool;
mod link;
mod link_codec;
mod link_kinds;
mod message;
mod monitor;
mod neighbour;
pub mod netns;
mod nexthop;
mod nexthop_codec;
mod parse;
mod route;
mod route_codec;
mod rule;
mod rule_codec;
mod sys;
mod uapi;

pub use address::{Address, AddressOptions};
pub use batch::{BatchFailure, BatchReport, ROUTES_PER_SEND};
pub use client::Netlink;
pub use error::{Error, Result};
pub use link::{check_name, Link, VethPair};
pub use link_kinds::{IpvlanFlag, IpvlanMode, LinkKind, MacvlanMode, NewLink};
pub use monitor::{MonitorEvent, NetlinkMonitor};
pub use neighbour::ProxyNeighbour;
pub use nexthop::{GroupMember, Nexthop, NexthopTarget};
pub use route::{Family, MultipathHop, Route, RouteFilter};
pub use rule::Rule;

/// Route, rule and address constants callers need when building a [`Route`] or a [`Rule`].
pub mod consts {
    pub use crate::uapi::{
        FR_ACT_TO_TBL, RTN_UNICAST, RTPROT_KERNEL, RTPROT_STATIC, RT_SCOPE_LINK, RT_SCOPE_UNIVERSE,
        RT_TABLE_DEFAULT, RT_TABLE_LOCAL, RT_TABLE_MAIN,
    };
}

#[cfg(test)]
mod address_tests;
#[cfg(test)]
mod codec_tests;
#[cfg(test)]
mod encoding_tests;
#[cfg(test)]
mod link_kinds_tests;
#[cfg(test)]
mod monitor_tests;
#[cfg(test)]
mod neighbour_tests;
#[cfg(test)]
mod nexthop_tests;
#[cfg(test)]
mod route_tests;
#[cfg(test)]
mod rule_tests;
