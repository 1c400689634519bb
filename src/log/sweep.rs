//! Finding Vouch messages where the recovery walk did not read: past the point where
//! it stopped, and in every slot outside the recovered log.
//!
//! Every buffer write starts with a Vouch message recording the stable lsn when it was
//! made (`format.rs`, [`Vouch`]). The walk reads those in the segments it recovers.
//! Damage that stops the walk hides the Vouches written after it, and a destroyed
//! segment header hides its whole slot; yet those Vouches are the proof that the
//! damaged bytes were durable and acknowledged. So recovery sweeps the bytes it did
//! not recover for them: the rest of the segment where the walk stopped, and every
//! slot not in the recovered log that holds a non-zero byte. If any Vouch (or header)
//! vouches past the recovered end, the end is damage, not a torn tail.
//!
//! A sweep checks every byte offset (messages have no alignment), rejecting most at
//! the kind byte. A candidate must pass the Vouch checks (unseeded checksum, `stable
//! <= lsn`) and the position rule: its lsn is the position it sits at, by the slot's
//! valid header if it has one, else by its offset within the slot.
//!
//! Why no Vouch it finds can claim too much after a crash without damage: a Vouch
//! never vouches past its own position, and was written when everything below its
//! value was durable, so it vouches for nothing a recovery may legally cut unless
//! its position is past that cut, in lsns a later open declared void. Those are
//! clamped: a Vouch inside a void `(start, end)` vouches for at most `start` (that
//! open decided the log ended there). Stale Vouches in a Gc segment's reused or freed
//! slot sit below lsns that were stable when the segment was freed.

use super::format::{Lsn, StoredKind, VOUCH_LEN, Vouch};
use super::voids::Voids;

/// Where the bytes being swept sit in the log.
#[derive(Debug, Clone, Copy)]
pub struct SweptSlot<'a> {
    /// The slot's bytes from its start.
    pub bytes: &'a [u8],
    /// Segment size.
    pub size: u64,
    /// The segment lsn of the slot's valid header, or None if it has none.
    pub segment_lsn: Option<Lsn>,
    /// Sweep from this offset in the slot.
    pub from: usize,
}

/// The highest stable lsn that a Vouch in `slot` (at or past `slot.from`) vouches
/// for, clamped by `voids`; 0 if none.
pub fn highest_vouch(slot: SweptSlot<'_>, voids: &Voids) -> Lsn {
    let mut best = 0;
    let last = slot.bytes.len().saturating_sub(VOUCH_LEN);
    if slot.bytes.len() < VOUCH_LEN || slot.from > last {
        return 0;
    }
    let kind = StoredKind::Vouch as u8;
    for i in memchr::memchr_iter(kind, &slot.bytes[slot.from..=last]).map(|i| i + slot.from) {
        let found = Vouch::decode(&slot.bytes[i..]).filter(|v| placed(v, i, slot));
        if let Some(v) = found {
            best = best.max(clamped(&v, voids));
        }
    }
    best
}

/// The position rule for a Vouch found at offset `at` of `slot`.
fn placed(v: &Vouch, at: usize, slot: SweptSlot<'_>) -> bool {
    match slot.segment_lsn {
        Some(s) => s.checked_add(at as u64) == Some(v.lsn),
        None => v.lsn % slot.size == at as u64,
    }
}

/// What `v` vouches for once the voids are applied.
fn clamped(v: &Vouch, voids: &Voids) -> Lsn {
    match voids.start_of_void_holding(v.lsn) {
        Some(start) => v.stable.min(start),
        None => v.stable,
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const SIZE: u64 = 1024;

    fn slot_with(vouches: &[(usize, Vouch)]) -> Vec<u8> {
        let mut b = vec![0; SIZE as usize];
        for (at, v) in vouches {
            b[*at..*at + VOUCH_LEN].copy_from_slice(&v.encode());
        }
        b
    }

    fn sweep(bytes: &[u8], seg: Option<Lsn>, from: usize, voids: &Voids) -> Lsn {
        let slot = SweptSlot {
            bytes,
            size: SIZE,
            segment_lsn: seg,
            from,
        };
        highest_vouch(slot, voids)
    }

    #[test]
    fn the_highest_placed_vouch_counts_and_misplaced_ones_do_not() {
        let seg = 4 * SIZE;
        let b = slot_with(&[
            (100, Vouch::new(seg + 100, 3000)),
            (300, Vouch::new(seg + 300, 3500)),
            (500, Vouch::new(seg + 999, 3900)), // not at its position
        ]);
        let none = Voids::default();
        assert_eq!(sweep(&b, Some(seg), 0, &none), 3500);
        assert_eq!(sweep(&b, Some(seg), 200, &none), 3500);
        assert_eq!(sweep(&b, Some(seg), 301, &none), 0, "from past them");
        assert_eq!(
            sweep(&b, Some(seg + SIZE), 0, &none),
            0,
            "another segment's"
        );
        assert_eq!(
            sweep(&b, None, 0, &none),
            3500,
            "headerless: by slot offset"
        );
    }

    #[test]
    fn a_vouch_inside_a_void_vouches_for_at_most_the_void_start() {
        let seg = 4 * SIZE;
        let b = slot_with(&[(300, Vouch::new(seg + 300, seg + 200))]);
        let voids = Voids::new(vec![(seg + 100, 100 * SIZE)]);
        assert_eq!(sweep(&b, Some(seg), 0, &voids), seg + 100);
    }

    #[test]
    fn a_vouch_cut_by_the_slot_end_is_not_read() {
        let seg = 0;
        let b = slot_with(&[(100, Vouch::new(seg + 100, 50))]);
        assert_eq!(
            sweep(&b[..100 + VOUCH_LEN - 1], Some(seg), 0, &Voids::default()),
            0
        );
        assert_eq!(
            sweep(&b[..100 + VOUCH_LEN], Some(seg), 0, &Voids::default()),
            50
        );
        for len in 0..VOUCH_LEN {
            assert_eq!(sweep(&b[..len], Some(seg), 0, &Voids::default()), 0);
        }
    }
}
