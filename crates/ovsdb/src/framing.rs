//! Splitting the byte stream into JSON values.
//!
//! ovsdb-server writes JSON-RPC messages back to back with no delimiter, and the
//! socket may cut them anywhere. Parsing from the start of the buffer on each read
//! would be quadratic in a large message (a big initial monitor reply arrives in many
//! reads), so the framer remembers how far it has scanned and in what state.

/// Default cap on one message: big enough for the initial monitor reply of a switch
/// with thousands of ports, small enough that a confused peer cannot make the
/// daemon grow without bound.
pub const DEFAULT_MAX_MESSAGE: usize = 64 << 20;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("message larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("byte {byte:#04x} outside a JSON object or array")]
    Stray { byte: u8 },
}

/// Finds complete top-level JSON objects and arrays in a byte stream.
///
/// Only objects and arrays are framed: every JSON-RPC message is an object, and a
/// bare number or literal could not be delimited without the next byte anyway.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    /// How far `buf` has been scanned; state below describes the text up to here.
    scanned: usize,
    /// Start of the value being scanned, once its opening bracket has been seen.
    start: Option<usize>,
    depth: usize,
    in_string: bool,
    escaped: bool,
    max: usize,
}

impl Framer {
    pub fn new(max: usize) -> Framer {
        Framer {
            buf: Vec::new(),
            scanned: 0,
            start: None,
            depth: 0,
            in_string: false,
            escaped: false,
            max,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete value, if the bytes pushed so far hold one. After an error
    /// the stream cannot be resynchronised: the caller drops the connection.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        while let Some(&byte) = self.buf.get(self.scanned) {
            let at = self.scanned;
            self.scanned += 1;
            let Some(start) = self.start else {
                match byte {
                    b' ' | b'\t' | b'\n' | b'\r' => continue,
                    b'{' | b'[' => {
                        self.start = Some(at);
                        self.depth = 1;
                    }
                    _ => return Err(FrameError::Stray { byte }),
                }
                continue;
            };
            if at - start >= self.max {
                return Err(FrameError::TooLarge { limit: self.max });
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if byte == b'\\' {
                    self.escaped = true;
                } else if byte == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match byte {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    // depth >= 1 while a value is open; it reaches 0 only here.
                    self.depth -= 1;
                    if self.depth == 0 {
                        let message: Vec<u8> = self.buf.drain(..self.scanned).skip(start).collect();
                        self.scanned = 0;
                        self.start = None;
                        return Ok(Some(message));
                    }
                }
                _ => {}
            }
        }
        // Whitespace between messages need not be kept. (An open value is already
        // bounded: the scan above stops it at `max` bytes.)
        if self.start.is_none() {
            self.buf.clear();
            self.scanned = 0;
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STREAM: &str = concat!(
        r#"{"id":1,"result":["Open_vSwitch"],"error":null}"#,
        "\n",
        r#"{"method":"echo","params":["a}b\"{[","\\"],"id":"echo"}"#,
        r#"[{"x":[1,2,{"y":"]"}]},"\u007b"]"#,
        "  \r\n\t",
        r#"{}"#,
    );
    const MESSAGES: [&str; 4] = [
        r#"{"id":1,"result":["Open_vSwitch"],"error":null}"#,
        r#"{"method":"echo","params":["a}b\"{[","\\"],"id":"echo"}"#,
        r#"[{"x":[1,2,{"y":"]"}]},"\u007b"]"#,
        r#"{}"#,
    ];

    fn drain(framer: &mut Framer, out: &mut Vec<String>) {
        while let Some(message) = framer.next_message().unwrap() {
            out.push(String::from_utf8(message).unwrap());
        }
    }

    #[test]
    fn whole_stream_at_once() {
        let mut framer = Framer::new(DEFAULT_MAX_MESSAGE);
        framer.push(STREAM.as_bytes());
        let mut out = Vec::new();
        drain(&mut framer, &mut out);
        assert_eq!(out, MESSAGES);
    }

    #[test]
    fn split_at_every_byte_boundary() {
        let bytes = STREAM.as_bytes();
        for cut in 0..=bytes.len() {
            let mut framer = Framer::new(DEFAULT_MAX_MESSAGE);
            let mut out = Vec::new();
            framer.push(&bytes[..cut]);
            drain(&mut framer, &mut out);
            framer.push(&bytes[cut..]);
            drain(&mut framer, &mut out);
            assert_eq!(out, MESSAGES, "cut at {cut}");
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let mut framer = Framer::new(DEFAULT_MAX_MESSAGE);
        let mut out = Vec::new();
        for byte in STREAM.as_bytes() {
            framer.push(std::slice::from_ref(byte));
            drain(&mut framer, &mut out);
        }
        assert_eq!(out, MESSAGES);
    }

    #[test]
    fn every_message_parses_as_json() {
        for message in MESSAGES {
            serde_json::from_str::<serde_json::Value>(message).unwrap();
        }
    }

    #[test]
    fn too_large_is_an_error_even_when_incomplete() {
        let mut framer = Framer::new(16);
        framer.push(br#"{"a":"0123456789"}"#);
        assert_eq!(
            framer.next_message(),
            Err(FrameError::TooLarge { limit: 16 })
        );

        let mut framer = Framer::new(16);
        framer.push(br#"{"a":"0123456789"#);
        framer.push(b"0123456789");
        assert_eq!(
            framer.next_message(),
            Err(FrameError::TooLarge { limit: 16 })
        );

        // Exactly at the limit is fine.
        let mut framer = Framer::new(16);
        framer.push(br#"{"a":"01234567"}"#);
        assert_eq!(framer.next_message().unwrap().unwrap().len(), 16);
    }

    #[test]
    fn stray_bytes_are_an_error() {
        for junk in [&b"1"[..], b"\"x\"", b"}", b"]", b"null"] {
            let mut framer = Framer::new(DEFAULT_MAX_MESSAGE);
            framer.push(junk);
            assert!(framer.next_message().is_err(), "{junk:?}");
        }
    }

    #[test]
    fn whitespace_between_messages_is_not_kept() {
        let mut framer = Framer::new(DEFAULT_MAX_MESSAGE);
        framer.push(&[b' '; 1000]);
        assert_eq!(framer.next_message(), Ok(None));
        assert!(framer.buf.is_empty());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8),
            max in 1usize..128,
        ) {
            let mut framer = Framer::new(max);
            for chunk in chunks {
                framer.push(&chunk);
                while let Ok(Some(message)) = framer.next_message() {
                    prop_assert!(message.len() <= max);
                }
            }
        }
    }
}
