//! What the codecs' tests share: addresses from text, requests written as the client writes
//! them, captured dumps decoded as the client decodes them, and hostile input (captures cut
//! short at every byte, copies with a few bytes overwritten at random: xorshift from a fixed
//! seed, the same bytes every run).

use std::net::IpAddr;

use crate::client::DumpCollector;
use crate::error::{Error, Result};
use crate::message::MessageWriter;
use crate::parse::RawMessage;

pub(crate) fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// One request of `kind` with sequence number 1, its body written by `body`.
pub(crate) fn request(kind: u16, flags: u16, body: impl FnOnce(&mut MessageWriter<'_>)) -> Vec<u8> {
    let mut buffer = Vec::new();
    let mut message = MessageWriter::begin(&mut buffer, kind, flags, 1);
    body(&mut message);
    message.finish();
    buffer
}

/// A captured dump (replies to sequence number `seq`) decoded message by message with
/// `decode`, as the client does; a dump without its NLMSG_DONE is an error.
pub(crate) fn decode_captured<T>(
    datagram: &[u8],
    seq: u32,
    decode: impl Fn(&RawMessage<'_>) -> Result<Option<T>>,
) -> Result<Option<Vec<T>>> {
    let mut dump = DumpCollector::new(seq, &decode);
    if !dump.absorb(datagram)? {
        return Err(Error::malformed("no NLMSG_DONE"));
    }
    dump.finish()
}

pub(crate) struct Mangler {
    state: u64,
}

impl Mangler {
    /// `seed` must not be 0 (xorshift would stay at 0).
    pub(crate) fn new(seed: u64) -> Mangler {
        Mangler { state: seed }
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    /// Hands `check` `rounds` copies of the templates (taken in turn), each with 1 to 6 bytes
    /// overwritten.
    pub(crate) fn corrupt(
        &mut self,
        templates: &[&[u8]],
        rounds: usize,
        mut check: impl FnMut(&[u8]),
    ) {
        for round in 0..rounds {
            let mut bytes = templates[round % templates.len()].to_vec();
            for _ in 0..(self.next() % 6 + 1) {
                let at = (self.next() as usize) % bytes.len();
                bytes[at] = self.next() as u8;
            }
            check(&bytes);
        }
    }
}

/// Every proper prefix of each capture is refused.
pub(crate) fn assert_cuts_refused<T, E>(
    captures: &[&[u8]],
    decode: impl Fn(&[u8]) -> std::result::Result<T, E>,
) {
    for capture in captures {
        for cut in 0..capture.len() {
            assert!(decode(&capture[..cut]).is_err(), "cut {cut}");
        }
    }
}
