//! The request/reply machinery shared by links, addresses, routes and neighbours: sequence
//! numbers, ACKed requests, single-object GETs and multipart dumps.

use std::path::Path;

use crate::error::{Error, Result};
use crate::message::MessageWriter;
use crate::parse::{acknowledgement, messages, read_i32, RawMessage};
use crate::sys::RouteSocket;
use crate::uapi::{
    NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR,
    NLM_F_REQUEST,
};

/// Kernel dump datagrams are at most 32 KiB; single replies (a link with many attributes)
/// stay well below 64 KiB.
const RECEIVE_BUFFER_LEN: usize = 64 * 1024;
/// A dump the kernel flags as inconsistent (objects changed while it ran) is restarted this
/// many times before giving up.
const DUMP_ATTEMPTS: usize = 5;

/// A blocking NETLINK_ROUTE client: one socket, bound to the network namespace it was opened
/// in for its whole life.
#[derive(Debug)]
pub struct Netlink {
    pub(crate) socket: RouteSocket,
    seq: u32,
    pub(crate) receive_buffer: Vec<u8>,
    pub(crate) send_buffer: Vec<u8>,
}

/// What a message filler writes after the `nlmsghdr`.
pub(crate) type Fill<'f> = &'f dyn Fn(&mut MessageWriter<'_>);

impl Netlink {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> Result<Netlink> {
        Ok(Netlink {
            socket: RouteSocket::open()?,
            seq: 0,
            receive_buffer: vec![0; RECEIVE_BUFFER_LEN],
            send_buffer: Vec::with_capacity(4096),
        })
    }

    /// Opens a socket in the network namespace at `path` (`/var/run/docker/netns/…`,
    /// `/run/netns/NAME`). A short-lived thread enters the namespace and opens the socket
    /// there; the calling thread's namespace never changes.
    pub fn open_in_netns(path: &Path) -> Result<Netlink> {
        crate::netns::run_in_netns(path, Netlink::open)?
    }

    fn next_seq(&mut self) -> u32 {
        // 0 is skipped so a zeroed header never matches a request.
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    /// Reserves `count` consecutive sequence numbers (none of them 0) and returns the first.
    pub(crate) fn reserve_seqs(&mut self, count: usize) -> u32 {
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        if self.seq.checked_add(count).is_none() {
            self.seq = 0;
        }
        let first = self.seq + 1;
        self.seq = self.seq.saturating_add(count);
        first
    }

    /// Sends one request with NLM_F_ACK and waits for its ACK or error.
    pub(crate) fn execute(&mut self, kind: u16, flags: u16, fill: Fill<'_>) -> Result<()> {
        let seq = self.send_request(kind, flags | NLM_F_ACK, fill)?;
        self.wait_for_ack(seq)
    }

    /// Sends one GET request (no dump) and decodes the single reply with `decode`.
    pub(crate) fn get<T>(
        &mut self,
        kind: u16,
        fill: Fill<'_>,
        decode: impl Fn(&RawMessage<'_>) -> Result<T>,
    ) -> Result<T> {
        let seq = self.send_request(kind, 0, fill)?;
        loop {
            let len = self.receive(true)?.unwrap_or(0);
            for message in messages(&self.receive_buffer[..len]) {
                let message = message?;
                if message.seq != seq || message.kind == NLMSG_NOOP {
                    continue; // a late reply to an earlier request
                }
                if message.kind == NLMSG_ERROR {
                    let ack = acknowledgement(&message)?;
                    return Err(match ack.errno {
                        0 => Error::malformed("GET answered with a bare ACK"),
                        errno => Error::kernel(errno, ack.extack_message.as_deref()),
                    });
                }
                return decode(&message);
            }
        }
    }

    /// Dumps all objects of a kind. `decode` returns `None` for objects the caller skips.
    /// If the kernel marks the dump inconsistent (NLM_F_DUMP_INTR) it is restarted.
    pub(crate) fn dump<T>(
        &mut self,
        kind: u16,
        fill: Fill<'_>,
        decode: impl Fn(&RawMessage<'_>) -> Result<Option<T>>,
    ) -> Result<Vec<T>> {
        for _ in 0..DUMP_ATTEMPTS {
            let seq = self.send_request(kind, NLM_F_DUMP, fill)?;
            let mut dump = DumpCollector::new(seq, &decode);
            loop {
                let len = self.receive(true)?.unwrap_or(0);
                if dump.absorb(&self.receive_buffer[..len])? {
                    break;
                }
            }
            if let Some(objects) = dump.finish()? {
                return Ok(objects);
            }
        }
        Err(Error::malformed(format!(
            "dump of message type {kind} was interrupted {DUMP_ATTEMPTS} times in a row"
        )))
    }

    /// Writes one request into the send buffer, sends it and returns its sequence number.
    fn send_request(&mut self, kind: u16, flags: u16, fill: Fill<'_>) -> Result<u32> {
        let seq = self.next_seq();
        self.send_buffer.clear();
        let mut message =
            MessageWriter::begin(&mut self.send_buffer, kind, NLM_F_REQUEST | flags, seq);
        fill(&mut message);
        message.finish();
        self.socket.send(&self.send_buffer)?;
        Ok(seq)
    }

    /// Waits for the ACK (or error) of request `seq`, skipping anything older.
    fn wait_for_ack(&mut self, seq: u32) -> Result<()> {
        loop {
            let len = self.receive(true)?.unwrap_or(0);
            for message in messages(&self.receive_buffer[..len]) {
                let message = message?;
                if message.seq != seq || message.kind != NLMSG_ERROR {
                    continue;
                }
                let ack = acknowledgement(&message)?;
                return match ack.errno {
                    0 => Ok(()),
                    errno => Err(Error::kernel(errno, ack.extack_message.as_deref())),
                };
            }
        }
    }

    /// Receives one datagram into the receive buffer; returns its length (`None` if not
    /// waiting and nothing is queued).
    pub(crate) fn receive(&mut self, wait: bool) -> Result<Option<usize>> {
        Ok(self.socket.receive(&mut self.receive_buffer, wait)?)
    }
}

/// Collects the replies to one dump request, datagram by datagram.
pub(crate) struct DumpCollector<'d, T, D> {
    seq: u32,
    decode: &'d D,
    objects: Vec<T>,
    interrupted: bool,
    /// A decoding error is kept until NLMSG_DONE: the socket must be drained, or the kernel
    /// refuses the next dump with EBUSY.
    first_error: Option<Error>,
}

impl<'d, T, D> DumpCollector<'d, T, D>
where
    D: Fn(&RawMessage<'_>) -> Result<Option<T>>,
{
    pub(crate) fn new(seq: u32, decode: &'d D) -> Self {
        DumpCollector {
            seq,
            decode,
            objects: Vec::new(),
            interrupted: false,
            first_error: None,
        }
    }

    /// Takes one datagram; returns whether the dump is complete (NLMSG_DONE seen). A broken
    /// datagram or a kernel error ends the dump at once.
    pub(crate) fn absorb(&mut self, datagram: &[u8]) -> Result<bool> {
        for message in messages(datagram) {
            let message = message?;
            if message.seq != self.seq || message.kind == NLMSG_NOOP {
                continue; // a late reply to an earlier request
            }
            self.interrupted |= message.flags & NLM_F_DUMP_INTR != 0;
            match message.kind {
                NLMSG_DONE => {
                    // The payload is the dump's final status (negative errno or 0).
                    let status = read_i32(message.payload, 0).unwrap_or(0);
                    if status < 0 && self.first_error.is_none() {
                        self.first_error = Some(match status.checked_neg() {
                            Some(errno) => Error::kernel(errno, None),
                            None => Error::malformed("dump status out of range"),
                        });
                    }
                    return Ok(true);
                }
                NLMSG_ERROR => {
                    let ack = acknowledgement(&message)?;
                    return Err(Error::kernel(ack.errno, ack.extack_message.as_deref()));
                }
                NLMSG_OVERRUN => return Err(Error::malformed("dump overrun")),
                _ => match (self.decode)(&message) {
                    Ok(Some(object)) => self.objects.push(object),
                    Ok(None) => {}
                    Err(error) => {
                        self.first_error.get_or_insert(error);
                    }
                },
            }
        }
        Ok(false)
    }

    /// The objects, or `None` if the dump must be repeated (it was inconsistent).
    pub(crate) fn finish(self) -> Result<Option<Vec<T>>> {
        match self.first_error {
            Some(error) => Err(error),
            None if self.interrupted => Ok(None),
            None => Ok(Some(self.objects)),
        }
    }
}
