//! The IO buffer's packed header word (invariant I9).
//!
//! One `AtomicU64` per IO buffer holds everything a reservation needs to claim space
//! with a single compare-and-swap:
//!
//! ```text
//!  63            40 39  38           26 25             0
//! +----------------+---+---------------+----------------+
//! |   salt (24)    | S | writers (13)  |  offset (26)   |
//! +----------------+---+---------------+----------------+
//! ```
//!
//! - offset: bytes claimed in the buffer so far (buffers are at most 2^26 - 1 bytes);
//! - writers: reservations holding space in the buffer and not yet completed or
//!   aborted; at most [`MAX_WRITERS`]. A reservation that would exceed it is refused
//!   (it waits for another buffer) instead of carrying into the sealed bit: the seed
//!   source's 7-bit count overflowed into its neighbour;
//! - S, sealed: no more reservations; whoever sees sealed with zero writers writes the
//!   buffer;
//! - salt: bumped every time the buffer is reused for a new file position, so a CAS
//!   prepared against an old generation fails even if offset, writers and sealed happen
//!   to match. The bump always changes the salt (it wraps modulo 2^24, never masks
//!   back to the old value: the seed source's bump could leave it unchanged).
//!
//! Every operation here is a pure function of the word; the atomics live in the ring.
//! Each one asserts its precondition, in release builds too.

/// Most writers one buffer admits at once.
pub const MAX_WRITERS: u32 = (1 << WRITER_BITS) - 1;
/// Largest offset (and so buffer size) the word can hold.
pub const MAX_OFFSET: usize = (1 << OFFSET_BITS) - 1;

const OFFSET_BITS: u32 = 26;
const WRITER_BITS: u32 = 13;
const WRITER_SHIFT: u32 = OFFSET_BITS;
const SEALED_BIT: u64 = 1 << (OFFSET_BITS + WRITER_BITS);
const SALT_SHIFT: u32 = OFFSET_BITS + WRITER_BITS + 1;
const SALT_MASK: u64 = (1 << (64 - SALT_SHIFT)) - 1;
const OFFSET_MASK: u64 = MAX_OFFSET as u64;
const WRITER_MASK: u64 = MAX_WRITERS as u64;

/// One value of a buffer's header word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header(pub u64);

impl Header {
    /// A fresh, empty, unsealed buffer of generation `salt` (taken modulo 2^24).
    pub fn new(salt: u32) -> Header {
        Header((u64::from(salt) & SALT_MASK) << SALT_SHIFT)
    }

    /// Bytes claimed so far.
    pub fn offset(self) -> usize {
        (self.0 & OFFSET_MASK) as usize
    }

    /// Reservations in flight.
    pub fn writers(self) -> u32 {
        ((self.0 >> WRITER_SHIFT) & WRITER_MASK) as u32
    }

    /// True once no more space may be claimed.
    pub fn is_sealed(self) -> bool {
        self.0 & SEALED_BIT != 0
    }

    /// The buffer's generation.
    pub fn salt(self) -> u32 {
        (self.0 >> SALT_SHIFT) as u32
    }

    /// Sealed and no writer left: the buffer may be written.
    pub fn is_writable(self) -> bool {
        self.is_sealed() && self.writers() == 0
    }

    /// The word with the sealed bit set.
    pub fn sealed(self) -> Header {
        Header(self.0 | SEALED_BIT)
    }

    /// The word after claiming `len` more bytes with one more writer, or None if the
    /// buffer is sealed, the writer count is at its maximum, or the offset would pass
    /// `capacity` (which must itself fit the word).
    pub fn claimed(self, len: usize, capacity: usize) -> Option<Header> {
        assert!(
            capacity <= MAX_OFFSET,
            "buffer capacity {capacity} exceeds the header word"
        );
        let end = self.offset().checked_add(len)?;
        if self.is_sealed() || self.writers() == MAX_WRITERS || end > capacity {
            return None;
        }
        let next = Header(self.0 + (1 << WRITER_SHIFT) + len as u64);
        assert_eq!(
            (next.salt(), next.is_sealed()),
            (self.salt(), false),
            "claim touched salt or seal"
        );
        Some(next)
    }

    /// The word after one writer left.
    pub fn released(self) -> Header {
        assert!(
            self.writers() > 0,
            "writer left a buffer with no writers: {self:?}"
        );
        Header(self.0 - (1 << WRITER_SHIFT))
    }

    /// The word for the buffer's next use: empty, unsealed, next salt. Only a written
    /// buffer (sealed, no writers) is reused.
    pub fn reused(self) -> Header {
        assert!(
            self.is_writable(),
            "reuse of a buffer that is not written out: {self:?}"
        );
        let next = Header::new(self.salt().wrapping_add(1));
        assert_ne!(next.salt(), self.salt(), "salt must change on reuse");
        next
    }

    /// [`Header::reused`] with `offset` bytes already taken (a segment header the
    /// installer wrote at the buffer's start).
    pub fn reused_at(self, offset: usize) -> Header {
        assert!(offset <= MAX_OFFSET, "initial offset {offset} too large");
        Header(self.reused().0 | offset as u64)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fields_are_independent() {
        let h = Header::new(77)
            .claimed(100, 4096)
            .expect("room")
            .claimed(28, 4096)
            .expect("room");
        assert_eq!(
            (h.offset(), h.writers(), h.is_sealed(), h.salt()),
            (128, 2, false, 77)
        );
        let s = h.sealed();
        assert_eq!(
            (s.offset(), s.writers(), s.is_sealed(), s.salt()),
            (128, 2, true, 77)
        );
        let r = s.released().released();
        assert!(r.is_writable());
        assert_eq!(r.offset(), 128);
    }

    #[test]
    fn writer_count_can_never_overflow_into_the_sealed_bit() {
        let mut h = Header::new(5);
        for _ in 0..MAX_WRITERS {
            h = h.claimed(0, 16).expect("below the maximum");
        }
        assert_eq!(h.writers(), MAX_WRITERS);
        assert!(!h.is_sealed());
        assert_eq!(h.claimed(0, 16), None, "one more writer must be refused");
        assert_eq!(h.salt(), 5);
    }

    #[test]
    fn salt_changes_on_every_reuse_including_the_wrap() {
        let mut h = Header::new(0);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..5000 {
            let before = h.salt();
            h = h.sealed().reused();
            assert_ne!(h.salt(), before);
            assert!(seen.insert(h.salt()), "salt repeated within 5000 reuses");
            assert_eq!((h.offset(), h.writers(), h.is_sealed()), (0, 0, false));
        }
        let top = Header::new((1 << 24) - 1).sealed().reused();
        assert_eq!(
            top.salt(),
            0,
            "the salt wraps to 0 instead of sticking at its maximum"
        );
    }

    #[test]
    fn claims_stop_at_capacity_and_at_the_seal() {
        let h = Header::new(1);
        assert!(h.claimed(4096, 4096).is_some());
        assert!(h.claimed(4097, 4096).is_none());
        assert!(
            h.claimed(usize::MAX, 4096).is_none(),
            "no overflow on huge lengths"
        );
        assert!(h.sealed().claimed(1, 4096).is_none());
    }

    #[test]
    #[should_panic(expected = "no writers")]
    fn releasing_without_writers_is_a_broken_invariant() {
        let _ = Header::new(0).released();
    }

    #[test]
    #[should_panic(expected = "not written out")]
    fn reusing_a_buffer_with_writers_is_a_broken_invariant() {
        let _ = Header::new(0)
            .claimed(1, 10)
            .expect("room")
            .sealed()
            .reused();
    }

    #[test]
    fn random_walks_keep_every_field_in_range() {
        fn prop(steps: Vec<(u8, u16)>) -> bool {
            let cap = 1 << 20;
            let mut h = Header::new(9);
            let (mut writers, mut offset) = (0_u32, 0_usize);
            for (op, len) in steps {
                match op % 4 {
                    0 | 1 => {
                        if let Some(n) = h.claimed(len.into(), cap) {
                            h = n;
                            writers += 1;
                            offset += usize::from(len);
                        }
                    }
                    2 if writers > 0 => {
                        h = h.released();
                        writers -= 1;
                    }
                    _ => {}
                }
                if (h.writers(), h.offset(), h.salt(), h.is_sealed()) != (writers, offset, 9, false)
                {
                    return false;
                }
            }
            true
        }
        quickcheck::QuickCheck::new()
            .rng(quickcheck::Gen::from_size_and_seed(200, 1))
            .quickcheck(prop as fn(Vec<(u8, u16)>) -> bool);
    }
}
