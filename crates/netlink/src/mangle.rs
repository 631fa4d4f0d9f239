//! Hostile input for the codecs' tests: captures cut short at every byte, and copies with a
//! few bytes overwritten at random (xorshift from a fixed seed: the same bytes every run).

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
    decode: impl Fn(&[u8]) -> Result<T, E>,
) {
    for capture in captures {
        for cut in 0..capture.len() {
            assert!(decode(&capture[..cut]).is_err(), "cut {cut}");
        }
    }
}
