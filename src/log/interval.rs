//! The stable-lsn interval tracker (invariant I3).
//!
//! IO buffers reach storage out of order: buffer 7 may finish before buffer 6. Each
//! finished write reports the lsn interval `[start, end)` it made durable. The tracker
//! keeps the intervals that are not yet joined to the durable prefix and advances
//! `stable_end` (every lsn below it is durable) only across a contiguous run starting
//! at the current `stable_end`. So:
//!
//! - `stable_end` never decreases;
//! - it never covers a gap: an lsn below it lies in some reported interval;
//! - it never passes a held lsn: an atomic batch holds its manifest's lsn until the
//!   batch is sealed, so no acknowledgement can cover half a batch (I5 with I1).
//!
//! The tracker is a plain data structure; `stable.rs` wraps it in the lock that waiters
//! sleep on.

use std::collections::BTreeMap;

use super::format::Lsn;

/// Written intervals not yet joined to the durable prefix, and batch holds.
#[derive(Debug, Clone, Default)]
pub struct IntervalTracker {
    stable_end: Lsn,
    /// start -> end of each reported interval above `stable_end`.
    pending: BTreeMap<Lsn, Lsn>,
    /// Held lsns (open batch manifests) with their hold counts.
    holds: BTreeMap<Lsn, u32>,
}

impl IntervalTracker {
    /// A tracker whose durable prefix ends at `stable_end` (what recovery found).
    pub fn new(stable_end: Lsn) -> IntervalTracker {
        IntervalTracker {
            stable_end,
            ..IntervalTracker::default()
        }
    }

    /// Every lsn below this is durable.
    pub fn stable_end(&self) -> Lsn {
        self.stable_end
    }

    /// Records that `[start, end)` is durable; returns the new stable end.
    pub fn mark_written(&mut self, start: Lsn, end: Lsn) -> Lsn {
        assert!(start < end, "empty or inverted interval [{start}, {end})");
        assert!(
            start >= self.stable_end,
            "interval [{start}, {end}) reported twice"
        );
        let overlaps_next = self.pending.range(start..end).next().is_some();
        let overlaps_prev = self
            .pending
            .range(..start)
            .next_back()
            .is_some_and(|(_, &e)| e > start);
        assert!(
            !overlaps_next && !overlaps_prev,
            "interval [{start}, {end}) overlaps a reported one"
        );
        self.pending.insert(start, end);
        self.advance()
    }

    /// Keeps `stable_end` at or below `lsn` until [`IntervalTracker::release`].
    pub fn hold(&mut self, lsn: Lsn) {
        assert!(
            lsn >= self.stable_end,
            "hold at {lsn} below stable end {}",
            self.stable_end
        );
        *self.holds.entry(lsn).or_insert(0) += 1;
    }

    /// Drops one hold at `lsn`; returns the new stable end.
    pub fn release(&mut self, lsn: Lsn) -> Lsn {
        let count = self
            .holds
            .get_mut(&lsn)
            .expect("release of an lsn that is not held");
        *count -= 1;
        if *count == 0 {
            self.holds.remove(&lsn);
        }
        self.advance()
    }

    fn advance(&mut self) -> Lsn {
        let before = self.stable_end;
        let limit = self.holds.keys().next().copied().unwrap_or(Lsn::MAX);
        while self.stable_end < limit {
            let Some(end) = self.pending.remove(&self.stable_end) else {
                break;
            };
            self.stable_end = end;
        }
        // An interval that straddles a hold is joined whole: the hold is an lsn that is
        // not yet written, so no written interval can straddle it (asserted here).
        assert!(
            self.stable_end <= limit || limit < before,
            "stable end passed a hold"
        );
        assert!(self.stable_end >= before, "stable end went down");
        self.stable_end
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use quickcheck::{Gen, QuickCheck};

    #[test]
    fn out_of_order_intervals_join_only_when_the_gap_closes() {
        let mut t = IntervalTracker::new(100);
        assert_eq!(t.mark_written(200, 300), 100, "gap [100, 200) still open");
        assert_eq!(t.mark_written(300, 350), 100);
        assert_eq!(
            t.mark_written(100, 200),
            350,
            "gap closed: everything joins"
        );
    }

    #[test]
    fn a_hold_stops_the_stable_end_until_released() {
        let mut t = IntervalTracker::new(0);
        t.hold(50);
        assert_eq!(t.mark_written(0, 50), 50);
        assert_eq!(t.mark_written(50, 80), 50, "held at the batch manifest");
        assert_eq!(t.release(50), 80);
    }

    #[test]
    #[should_panic(expected = "reported twice")]
    fn reporting_durable_bytes_again_is_a_broken_invariant() {
        let mut t = IntervalTracker::new(0);
        t.mark_written(0, 10);
        t.mark_written(5, 10);
    }

    #[test]
    #[should_panic(expected = "overlaps")]
    fn overlapping_intervals_are_a_broken_invariant() {
        let mut t = IntervalTracker::new(0);
        t.mark_written(10, 20);
        t.mark_written(15, 30);
    }

    /// Splits [0, n) into intervals by `cuts`, reports them in the order `order` draws
    /// (dropping some to leave gaps), holding some boundaries as open batches, and
    /// checks after every step that the stable end is exactly the end of the longest
    /// contiguous written prefix capped at the lowest hold, and never decreases.
    fn prop(cuts: Vec<u16>, order: Vec<u32>, dropped: Vec<u16>, held: Vec<u16>) -> bool {
        let mut bounds: Vec<Lsn> = cuts.iter().map(|&c| Lsn::from(c) + 1).collect();
        bounds.extend([0, 70_000]);
        bounds.sort_unstable();
        bounds.dedup();
        let mut intervals: Vec<(Lsn, Lsn)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
        let gaps: Vec<usize> = dropped
            .iter()
            .map(|&d| usize::from(d) % intervals.len())
            .collect();
        let holds: Vec<Lsn> = held
            .iter()
            .map(|&h| bounds[usize::from(h) % bounds.len()])
            .collect();
        let mut t = IntervalTracker::new(0);
        for &h in &holds {
            t.hold(h);
        }
        let mut written = vec![false; intervals.len()];
        let mut last = 0;
        for (step, &o) in order.iter().enumerate() {
            if intervals.is_empty() {
                break;
            }
            let (s, e) = intervals.remove(o as usize % intervals.len());
            let index = bounds.binary_search(&s).expect("a bound");
            if gaps.contains(&index) {
                continue;
            }
            written[index] = true;
            let got = t.mark_written(s, e);
            if step % 3 == 0 && !holds.is_empty() {
                // release the lowest hold now and then
                let h = holds[step % holds.len()];
                if t.holds.contains_key(&h) {
                    t.release(h);
                }
            }
            let got = got.max(t.stable_end());
            let prefix = written.iter().take_while(|w| **w).count();
            let expected = bounds[prefix].min(t.holds.keys().next().copied().unwrap_or(Lsn::MAX));
            if got != expected || got < last {
                return false;
            }
            last = got;
        }
        true
    }

    #[test]
    fn stable_end_is_the_longest_contiguous_prefix_below_the_lowest_hold() {
        QuickCheck::new()
            .tests(500)
            .rng(Gen::from_size_and_seed(60, 3))
            .quickcheck(prop as fn(Vec<u16>, Vec<u32>, Vec<u16>, Vec<u16>) -> bool);
    }
}
