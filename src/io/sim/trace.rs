//! The trace hash: a running FNV-1a (over 8-byte words) of every storage call and its
//! outcome.
//!
//! FNV-1a is used rather than `std`'s `DefaultHasher` because its output is fixed by
//! definition, not by the Rust release, so a trace hash printed today can be compared
//! with one printed by a later toolchain.

const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// A running 64-bit FNV-1a hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Trace(u64);

impl Default for Trace {
    fn default() -> Trace {
        Trace(OFFSET_BASIS)
    }
}

impl Trace {
    /// Folds `bytes` in: FNV-1a steps over their 8-byte little-endian words, then
    /// over the trailing bytes one by one (8x fewer multiplications than byte-wise
    /// FNV-1a, which matters when every crash hashes whole file images).
    pub(super) fn bytes(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut word = [0; 8];
            word.copy_from_slice(w);
            self.0 ^= u64::from_le_bytes(word);
            self.0 = self.0.wrapping_mul(PRIME);
        }
        for &b in words.remainder() {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(PRIME);
        }
    }

    pub(super) fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    pub(super) fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.bytes(s.as_bytes());
    }

    pub(super) fn value(&self) -> u64 {
        self.0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn matches_published_fnv1a_vectors() {
        let mut t = Trace::default();
        assert_eq!(t.value(), 0xcbf2_9ce4_8422_2325);
        t.bytes(b"a");
        assert_eq!(t.value(), 0xaf63_dc4c_8601_ec8c);
        let mut t = Trace::default();
        t.bytes(b"foobar");
        assert_eq!(t.value(), 0x8594_4171_f739_67e8);
    }
}
