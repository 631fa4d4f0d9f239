//! Building netlink messages: the 16-byte `nlmsghdr`, a family header, then attributes, each
//! padded to 4 bytes. Several messages can be written back to back into one buffer (a batch
//! sent with one `sendmsg`).

use std::net::IpAddr;

use netlink_packet_core::Emitable;

/// Rounds up to netlink's 4-byte alignment (NLMSG_ALIGN / NLA_ALIGN).
pub(crate) const fn align4(len: usize) -> usize {
    (len + 3) & !3
}

pub(crate) const NLMSG_HEADER_LEN: usize = 16;
pub(crate) const NLA_HEADER_LEN: usize = 4;

/// Writes one message at the end of `buffer`; `finish` fills in its length.
pub(crate) struct MessageWriter<'a> {
    buffer: &'a mut Vec<u8>,
    start: usize,
}

/// Where a nested attribute starts, so `end_nested` can fill in its length.
#[cfg(test)]
#[must_use = "a nested attribute must be closed with end_nested"]
pub(crate) struct Nest(usize);

impl<'a> MessageWriter<'a> {
    /// Appends an `nlmsghdr` (length filled in by `finish`, port id 0 = let the kernel route it).
    pub(crate) fn begin(buffer: &'a mut Vec<u8>, kind: u16, flags: u16, seq: u32) -> Self {
        let start = buffer.len();
        buffer.extend_from_slice(&0u32.to_ne_bytes());
        buffer.extend_from_slice(&kind.to_ne_bytes());
        buffer.extend_from_slice(&flags.to_ne_bytes());
        buffer.extend_from_slice(&seq.to_ne_bytes());
        buffer.extend_from_slice(&0u32.to_ne_bytes());
        MessageWriter { buffer, start }
    }

    /// Appends a family header (ifinfomsg, ifaddrmsg, rtmsg, ndmsg), padded to 4 bytes.
    pub(crate) fn header(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
        self.pad();
    }

    /// Appends a message body that `netlink-packet-route` lays out (family header and
    /// attributes), padded to 4 bytes.
    pub(crate) fn emit(&mut self, body: &impl Emitable) {
        let at = self.buffer.len();
        self.buffer.resize(at + body.buffer_len(), 0);
        body.emit(&mut self.buffer[at..]);
        self.pad();
    }

    pub(crate) fn attr(&mut self, kind: u16, payload: &[u8]) {
        self.put_attr_header(kind, NLA_HEADER_LEN + payload.len());
        self.buffer.extend_from_slice(payload);
        self.pad();
    }

    pub(crate) fn attr_u32(&mut self, kind: u16, value: u32) {
        self.attr(kind, &value.to_ne_bytes());
    }

    #[cfg(test)] // the tests build kernel replies with it
    /// A NUL-terminated string, as the kernel's NLA_STRING/NLA_NUL_STRING policies expect.
    pub(crate) fn attr_str(&mut self, kind: u16, value: &str) {
        self.put_attr_header(kind, NLA_HEADER_LEN + value.len() + 1);
        self.buffer.extend_from_slice(value.as_bytes());
        self.buffer.push(0);
        self.pad();
    }

    /// An address in network byte order: 4 bytes for IPv4, 16 for IPv6.
    pub(crate) fn attr_ip(&mut self, kind: u16, address: IpAddr) {
        match address {
            IpAddr::V4(v4) => self.attr(kind, &v4.octets()),
            IpAddr::V6(v6) => self.attr(kind, &v6.octets()),
        }
    }

    #[cfg(test)] // the tests build kernel replies with it
    /// Opens a nested attribute; attributes written until `end_nested` go inside it.
    /// NLA_F_NESTED is left out, as iproute2 does: older kernels' policies reject it on
    /// some attributes and the kernel does not require it for these.
    pub(crate) fn begin_nested(&mut self, kind: u16) -> Nest {
        let at = self.buffer.len();
        self.put_attr_header(kind, 0);
        Nest(at)
    }

    #[cfg(test)]
    pub(crate) fn end_nested(&mut self, nest: Nest) {
        let len = (self.buffer.len() - nest.0) as u16;
        self.buffer[nest.0..nest.0 + 2].copy_from_slice(&len.to_ne_bytes());
    }

    /// Writes the message length into the header.
    pub(crate) fn finish(self) {
        let len = (self.buffer.len() - self.start) as u32;
        self.buffer[self.start..self.start + 4].copy_from_slice(&len.to_ne_bytes());
    }

    fn put_attr_header(&mut self, kind: u16, len: usize) {
        self.buffer.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buffer.extend_from_slice(&kind.to_ne_bytes());
    }

    fn pad(&mut self) {
        let padded = self.start + align4(self.buffer.len() - self.start);
        self.buffer.resize(padded, 0);
    }
}

#[cfg(all(test, target_endian = "little"))]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_padded_to_four_bytes() {
        let mut buffer = Vec::new();
        let mut message = MessageWriter::begin(&mut buffer, 16, 0x0005, 7);
        message.attr(1, &[0xaa]);
        message.attr_str(3, "abcd");
        message.attr(2, &[]);
        message.finish();
        assert_eq!(
            buffer,
            [
                40, 0, 0, 0, 16, 0, 5, 0, 7, 0, 0, 0, 0, 0, 0, 0, // nlmsghdr
                5, 0, 1, 0, 0xaa, 0, 0, 0, // 1 byte payload, 3 bytes padding
                9, 0, 3, 0, b'a', b'b', b'c', b'd', 0, 0, 0, 0, // "abcd\0" + 3 padding
                4, 0, 2, 0, // empty payload, no padding
            ]
        );
    }

    #[test]
    fn nested_attribute_length_covers_its_children() {
        let mut buffer = Vec::new();
        let mut message = MessageWriter::begin(&mut buffer, 16, 0, 1);
        let outer = message.begin_nested(18);
        message.attr_u32(4, 1500);
        message.attr(1, &[1, 2, 3]);
        message.end_nested(outer);
        message.finish();
        assert_eq!(&buffer[16..20], &[20, 0, 18, 0]);
        assert_eq!(buffer.len(), 36);
        assert_eq!(&buffer[0..4], &[36, 0, 0, 0]);
    }

    #[test]
    fn messages_are_written_back_to_back() {
        let mut buffer = Vec::new();
        for seq in 1..=2 {
            let mut message = MessageWriter::begin(&mut buffer, 24, 0, seq);
            message.header(&[1, 2, 3, 4, 5]);
            message.finish();
        }
        assert_eq!(buffer.len(), 48);
        assert_eq!(&buffer[24..28], &[24, 0, 0, 0]);
        assert_eq!(&buffer[32..36], &[2, 0, 0, 0]);
    }
}
