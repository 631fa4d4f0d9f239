//! Installing and removing many routes fast: requests are packed `ROUTES_PER_SEND` to a
//! datagram without NLM_F_ACK, so the kernel answers only failures; the very last request
//! asks for an ACK, which (the kernel handling one socket's requests in order) means "all
//! done". Neither netlink-packet-route nor netlink-packet-core frames requests like this, so
//! the framing is ours; each route's body is still `netlink-packet-route`'s encoding.

use netlink_packet_route::route::RouteMessage;

use crate::client::Netlink;
use crate::error::{kernel_message, Result};
use crate::message::MessageWriter;
use crate::parse::{acknowledgement, messages};
use crate::route::Route;
use crate::route_codec::fill_route_message;
use crate::uapi::{
    NLMSG_ERROR, NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST, RTM_DELROUTE, RTM_NEWROUTE,
    RT_SCOPE_NOWHERE,
};

/// Requests per `sendmsg`: ~15 KiB of IPv4 routes, well under the socket's send buffer.
pub const ROUTES_PER_SEND: usize = 256;

/// The outcome of a batch: individual routes can fail while the rest install.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Requests sent (all of them, unless the socket failed, in which case there is no report).
    pub sent: usize,
    /// Requests the kernel refused.
    pub failed: usize,
    /// The first refusal, by position in the input.
    pub first_failure: Option<BatchFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFailure {
    /// Position of the route in the slice passed in.
    pub index: usize,
    pub errno: i32,
    /// strerror plus the kernel's extended-ACK text.
    pub message: String,
}

/// What a batch asks of the kernel for each route.
#[derive(Clone, Copy)]
struct BatchRequest {
    kind: u16,
    flags: u16,
    /// Kernel refusals that mean the work is already done (a delete of a route that is gone).
    done_already: &'static [i32],
}

impl Netlink {
    /// Adds or replaces many routes (NLM_F_CREATE|NLM_F_REPLACE), `ROUTES_PER_SEND` per
    /// datagram. Returns once the kernel has handled all of them. Routes may use any of
    /// [`Route`]'s features: metric, table, nexthop id, multipath next hops.
    pub fn add_routes_batch(&mut self, routes: &[Route]) -> Result<BatchReport> {
        let request = BatchRequest {
            kind: RTM_NEWROUTE,
            flags: NLM_F_CREATE | NLM_F_REPLACE,
            done_already: &[],
        };
        self.route_batch(routes, request)
    }

    /// Deletes many routes, `ROUTES_PER_SEND` per datagram, matching each as
    /// [`Netlink::delete_route`] does. A route already gone counts as deleted, not failed.
    pub fn delete_routes_batch(&mut self, routes: &[Route]) -> Result<BatchReport> {
        let request = BatchRequest {
            kind: RTM_DELROUTE,
            flags: 0,
            done_already: &[libc::ESRCH, libc::ENOENT],
        };
        self.route_batch(routes, request)
    }

    fn route_batch(&mut self, routes: &[Route], request: BatchRequest) -> Result<BatchReport> {
        for route in routes {
            crate::route::check_route(route)?;
        }
        let mut report = BatchReport::default();
        if routes.is_empty() {
            return Ok(report);
        }
        let first_seq = self.reserve_seqs(routes.len());
        let mut finished = false;
        // One message value refilled for every route: its attribute list keeps its
        // allocation, which makes encoding about a third cheaper.
        let mut body = RouteMessage::default();
        for (chunk_number, chunk) in routes.chunks(ROUTES_PER_SEND).enumerate() {
            let chunk_start = chunk_number * ROUTES_PER_SEND;
            self.send_buffer.clear();
            for (offset, route) in chunk.iter().enumerate() {
                let position = chunk_start + offset;
                let last = position + 1 == routes.len();
                let flags = NLM_F_REQUEST | request.flags | if last { NLM_F_ACK } else { 0 };
                let seq = first_seq.wrapping_add(position as u32);
                fill_batch_body(&mut body, route, request.kind);
                let mut message =
                    MessageWriter::begin(&mut self.send_buffer, request.kind, flags, seq);
                message.emit(&body);
                message.finish();
            }
            self.socket.send(&self.send_buffer)?;
            report.sent += chunk.len();
            // The kernel handles a datagram inside sendmsg, so its failures are queued by now:
            // collect them before they can fill the receive buffer.
            finished =
                self.collect_batch_replies(first_seq, routes.len(), request, &mut report, false)?;
        }
        if !finished {
            self.collect_batch_replies(first_seq, routes.len(), request, &mut report, true)?;
        }
        Ok(report)
    }

    /// Reads replies to the batch starting at `first_seq`; returns whether the reply to the
    /// last request has arrived. Without `wait`, stops when nothing more is queued.
    fn collect_batch_replies(
        &mut self,
        first_seq: u32,
        count: usize,
        request: BatchRequest,
        report: &mut BatchReport,
        wait: bool,
    ) -> Result<bool> {
        loop {
            let Some(len) = self.receive(wait)? else {
                return Ok(false);
            };
            let mut finished = false;
            for message in messages(&self.receive_buffer[..len]) {
                let message = message?;
                let position = message.seq.wrapping_sub(first_seq) as usize;
                if message.kind != NLMSG_ERROR || position >= count {
                    continue;
                }
                let ack = acknowledgement(&message)?;
                if ack.errno != 0 && !request.done_already.contains(&ack.errno) {
                    report.failed += 1;
                    if report.first_failure.is_none() {
                        report.first_failure = Some(BatchFailure {
                            index: position,
                            errno: ack.errno,
                            message: kernel_message(ack.errno, ack.extack_message.as_deref()),
                        });
                    }
                }
                finished |= position + 1 == count;
            }
            if finished {
                return Ok(true);
            }
        }
    }
}

/// One batch request's body: the route as `add_route` sends it, or as `delete_route` names it
/// (scope "nowhere", which matches a route of any scope).
pub(crate) fn fill_batch_body(body: &mut RouteMessage, route: &Route, kind: u16) {
    fill_route_message(body, route);
    if kind == RTM_DELROUTE {
        body.header.scope = RT_SCOPE_NOWHERE.into();
    }
}
