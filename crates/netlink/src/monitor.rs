//! Notifications (`ip monitor link route nexthop`): a socket of its own, subscribed to the
//! kernel's link, IPv4 route, IPv6 route and nexthop multicast groups, decoding what arrives
//! into [`MonitorEvent`]s.
//!
//! The kernel drops notifications when the socket's receive buffer is full and says so once,
//! with ENOBUFS on the next receive. Events were lost and there is no way to learn which:
//! [`MonitorEvent::Overrun`] tells the caller to resynchronise with dumps (`links`,
//! `routes_matching`, `nexthops`). The socket asks for a 4 MiB buffer to make that rare.

use std::collections::VecDeque;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::link_codec::{decode_link, decode_link_change};
use crate::nexthop::Nexthop;
use crate::nexthop_codec::decode_nexthop;
use crate::parse::{messages, RawMessage};
use crate::route::Route;
use crate::route_codec::decode_route;
use crate::sys::RouteSocket;
use crate::uapi::{
    RTM_DELLINK, RTM_DELNEXTHOP, RTM_DELROUTE, RTM_NEWLINK, RTM_NEWNEXTHOP, RTM_NEWROUTE,
};
use crate::Link;

const RTNLGRP_LINK: u32 = 1;
const RTNLGRP_IPV4_ROUTE: u32 = 7;
const RTNLGRP_IPV6_ROUTE: u32 = 11;
const RTNLGRP_NEXTHOP: u32 = 32;
const RECEIVE_BUFFER_LEN: usize = 64 * 1024;

/// What the kernel announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorEvent {
    /// A link was created.
    LinkAdded(Link),
    /// A link changed (up/down, name, alias, MTU, ...); the event carries its new state.
    LinkChanged(Link),
    LinkRemoved(Link),
    /// A route was added or replaced.
    RouteAdded(Route),
    RouteRemoved(Route),
    /// A nexthop object was added or replaced.
    NexthopAdded(Nexthop),
    NexthopRemoved(Nexthop),
    /// The kernel dropped notifications (ENOBUFS): state may have changed unseen. Resync
    /// with dumps; events keep coming after this one.
    Overrun,
}

/// A subscriber socket, bound to the network namespace it was opened in.
#[derive(Debug)]
pub struct NetlinkMonitor {
    socket: RouteSocket,
    buffer: Vec<u8>,
    pending: VecDeque<Result<MonitorEvent>>,
}

impl NetlinkMonitor {
    /// Subscribes, in the calling thread's network namespace, to link, route (both
    /// families) and nexthop notifications. Only changes made after this call are seen.
    pub fn open() -> Result<NetlinkMonitor> {
        let groups = [
            RTNLGRP_LINK,
            RTNLGRP_IPV4_ROUTE,
            RTNLGRP_IPV6_ROUTE,
            RTNLGRP_NEXTHOP,
        ];
        Ok(NetlinkMonitor {
            socket: RouteSocket::open_subscriber(&groups)?,
            buffer: vec![0; RECEIVE_BUFFER_LEN],
            pending: VecDeque::new(),
        })
    }

    /// Subscribes in the network namespace at `path`; the calling thread's namespace never
    /// changes (see [`crate::netns::run_in_netns`]).
    pub fn open_in_netns(path: &Path) -> Result<NetlinkMonitor> {
        crate::netns::run_in_netns(path, NetlinkMonitor::open)?
    }

    /// The next event, waiting up to `timeout` for one; `Ok(None)` if none came in time.
    /// A notification that cannot be decoded is returned as an error in its turn; the
    /// monitor stays usable.
    pub fn next_event(&mut self, timeout: Duration) -> Result<Option<MonitorEvent>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(event) = self.pending.pop_front() {
                return event.map(Some);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if !self.socket.wait_readable(left)? {
                return Ok(None);
            }
            match self.socket.receive(&mut self.buffer, false) {
                Ok(Some(len)) => self.pending.extend(decode_events(&self.buffer[..len])),
                Ok(None) => {} // woken without a datagram after all
                Err(error) if error.raw_os_error() == Some(libc::ENOBUFS) => {
                    return Ok(Some(MonitorEvent::Overrun));
                }
                Err(error) => return Err(Error::Io(error)),
            }
        }
    }
}

/// The events of one datagram, in order; messages of other kinds or families are skipped.
pub(crate) fn decode_events(datagram: &[u8]) -> Vec<Result<MonitorEvent>> {
    messages(datagram)
        .filter_map(|message| message.and_then(|m| decode_event(&m)).transpose())
        .collect()
}

fn decode_event(message: &RawMessage<'_>) -> Result<Option<MonitorEvent>> {
    Ok(match message.kind {
        RTM_NEWLINK => match decode_link_change(message)? {
            (link, true) => Some(MonitorEvent::LinkAdded(link)),
            (link, false) => Some(MonitorEvent::LinkChanged(link)),
        },
        RTM_DELLINK => Some(MonitorEvent::LinkRemoved(decode_link(message)?)),
        RTM_NEWROUTE => decode_route(message)?.map(MonitorEvent::RouteAdded),
        RTM_DELROUTE => decode_route(message)?.map(MonitorEvent::RouteRemoved),
        RTM_NEWNEXTHOP => decode_nexthop(message)?.map(MonitorEvent::NexthopAdded),
        RTM_DELNEXTHOP => decode_nexthop(message)?.map(MonitorEvent::NexthopRemoved),
        _ => None,
    })
}
