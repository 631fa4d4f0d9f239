//! A small blocking rtnetlink (NETLINK_ROUTE) client: links (veth pairs, dummy, 802.1Q VLAN,
//! macvlan, ipvlan), addresses,
//! routes (one at a time or in fast batches) and proxy neighbours, plus helpers to run code in
//! another network namespace.
//!
//! One [`Netlink`] owns one socket, bound to the network namespace it was opened in.
//! Requests are answered in order; every request carries a sequence number and replies to
//! other numbers are skipped. Errors carry the kernel's extended-ACK text.
//!
//! All `unsafe` code is in the private `sys` module.

mod address;
mod batch;
mod client;
mod error;
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
pub use route::{Family, NextHop, Route, RouteFilter};

/// Route and address constants callers need when building a [`Route`].
pub mod consts {
    pub use crate::uapi::{
        RTN_UNICAST, RTPROT_STATIC, RT_SCOPE_LINK, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN,
    };
}

#[cfg(test)]
mod address_tests;
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
