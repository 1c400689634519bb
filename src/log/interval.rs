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
//!   batch is sealed *and* every lsn up to the batch's end is written, so no
//!   acknowledgement can cover a manifest whose batch might still be torn (I5 with I1).
//!   An interval that contains a held lsn waits whole.
//! - it never rests inside a batch: batches interleave (a second batch's manifest may
//!   lie before the first one's last message), and recovery, which must return a
//!   prefix, drops a batch whose end lies past its tip, moving the tip back to that
//!   manifest, which may cut an earlier batch in turn (`recovery.rs`, step 5). So
//!   overlapping batches lift their holds together, as one group, once every one of
//!   them is sealed and written: a stable end resting between them would be one that
//!   recovery can take back. (Campaign seed 946: the first of two interleaved batches
//!   was written whole, its hold lifted, the stable end moved up to the second
//!   manifest and acknowledged a Truncate record between them, which took effect;
//!   a crash before the second batch was written made recovery drop both, so the
//!   truncation was undone after its blob files were gone.)
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
    /// Batch manifests holding the stable end at or below their lsn: None while the
    /// batch is open, `Some(end)` once sealed (the hold lifts when the contiguous
    /// written run reaches `end`).
    holds: BTreeMap<Lsn, Option<Lsn>>,
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

    /// Keeps `stable_end` at or below `lsn` (an open batch's manifest, not yet
    /// written) until [`IntervalTracker::seal_hold`] and the batch's bytes are written.
    pub fn hold(&mut self, lsn: Lsn) {
        assert!(
            lsn >= self.stable_end,
            "hold at {lsn} below stable end {}",
            self.stable_end
        );
        let fresh = self.holds.insert(lsn, None).is_none();
        assert!(fresh, "two holds at lsn {lsn}");
    }

    /// The batch held at `lsn` is sealed and ends at `end`: the hold lifts once every
    /// lsn below `end` is written. Returns the new stable end.
    pub fn seal_hold(&mut self, lsn: Lsn, end: Lsn) -> Lsn {
        assert!(end > lsn, "batch end {end} not past its manifest {lsn}");
        let hold = self.holds.get_mut(&lsn).expect("seal of an lsn not held");
        assert!(hold.is_none(), "batch at {lsn} sealed twice");
        *hold = Some(end);
        self.advance()
    }

    /// Drops the hold at `lsn` outright (the manifest was aborted); returns the new
    /// stable end.
    pub fn drop_hold(&mut self, lsn: Lsn) -> Lsn {
        self.holds.remove(&lsn).expect("drop of an lsn not held");
        self.advance()
    }

    /// The end of the lowest group of overlapping sealed batches, if its bytes are not
    /// all written yet: the stable end cannot pass the group's first manifest (nor
    /// join an interval holding it) until everything below this end is written. None
    /// when no hold is pending or the group holds a batch still open.
    pub fn blocking_batch_end(&self) -> Option<Lsn> {
        let (_, end, _) = self.groups().into_iter().next()?;
        let end = end?;
        (self.reach() < end).then_some(end)
    }

    /// The holds as groups of overlapping batches, in lsn order: (first manifest, the
    /// group's end or None if one of its batches is open, the manifests in it). A
    /// batch joins the group before it when its manifest lies below that group's end.
    fn groups(&self) -> Vec<(Lsn, Option<Lsn>, Vec<Lsn>)> {
        let mut groups: Vec<(Lsn, Option<Lsn>, Vec<Lsn>)> = Vec::new();
        for (&lsn, &until) in &self.holds {
            match groups.last_mut() {
                Some((_, end, members)) if end.is_none_or(|e| lsn < e) => {
                    *end = end.zip(until).map(|(a, b)| a.max(b));
                    members.push(lsn);
                }
                _ => groups.push((lsn, until, vec![lsn])),
            }
        }
        groups
    }

    /// End of the contiguous written run from `stable_end`, ignoring holds.
    fn reach(&self) -> Lsn {
        let mut reach = self.stable_end;
        while let Some(&end) = self.pending.get(&reach) {
            reach = end;
        }
        reach
    }

    fn advance(&mut self) -> Lsn {
        let before = self.stable_end;
        let reach = self.reach();
        for (_, end, members) in self.groups() {
            if end.is_some_and(|e| e <= reach) {
                for m in members {
                    self.holds.remove(&m);
                }
            }
        }
        let limit = self.holds.keys().next().copied().unwrap_or(Lsn::MAX);
        // An interval is joined whole or not at all, so one that crosses a hold waits.
        while let Some(&end) = self.pending.get(&self.stable_end) {
            if end > limit {
                break;
            }
            self.pending.remove(&self.stable_end);
            self.stable_end = end;
        }
        assert!(self.stable_end <= limit, "stable end passed a hold");
        assert!(self.stable_end >= before, "stable end went down");
        self.stable_end
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use quickcheck::{Gen, QuickCheck};

    #[test]
    fn the_lowest_sealed_hold_names_the_end_that_must_be_written() {
        let mut t = IntervalTracker::new(0);
        assert_eq!(t.blocking_batch_end(), None);
        t.hold(50);
        assert_eq!(
            t.blocking_batch_end(),
            None,
            "an open batch: nothing to write for it"
        );
        t.seal_hold(50, 300);
        assert_eq!(t.blocking_batch_end(), Some(300));
        t.mark_written(0, 200);
        assert_eq!(
            t.stable_end(),
            0,
            "[0, 200) holds the manifest: it waits whole"
        );
        assert_eq!(t.blocking_batch_end(), Some(300));
        t.mark_written(200, 300);
        assert_eq!((t.stable_end(), t.blocking_batch_end()), (300, None));
    }

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
    fn a_hold_stops_the_stable_end_until_the_sealed_batch_is_written() {
        let mut t = IntervalTracker::new(0);
        t.hold(50);
        assert_eq!(t.mark_written(0, 50), 50);
        assert_eq!(
            t.mark_written(50, 80),
            50,
            "held at the open batch's manifest"
        );
        assert_eq!(
            t.seal_hold(50, 120),
            50,
            "sealed, but [80, 120) is not written"
        );
        assert_eq!(t.mark_written(100, 120), 50);
        assert_eq!(t.mark_written(80, 100), 120, "the whole batch is written");
    }

    #[test]
    fn an_interval_containing_a_held_manifest_waits_whole() {
        let mut t = IntervalTracker::new(0);
        t.hold(30);
        t.seal_hold(30, 200);
        assert_eq!(t.mark_written(0, 60), 0, "[0, 60) holds the manifest at 30");
        assert_eq!(t.drop_hold(30), 60);
    }

    /// Seed 946's shape: two interleaved batches, the first written whole while the
    /// second is not; the stable end must not rest between them.
    #[test]
    fn interleaved_batches_lift_their_holds_together() {
        let mut t = IntervalTracker::new(0);
        t.hold(170);
        t.hold(270);
        t.seal_hold(170, 350);
        t.seal_hold(270, 410);
        assert_eq!(t.mark_written(0, 170), 170);
        assert_eq!(t.mark_written(170, 200), 170);
        assert_eq!(t.mark_written(200, 270), 170);
        assert_eq!(
            t.mark_written(270, 350),
            170,
            "the second batch is not written"
        );
        assert_eq!(t.blocking_batch_end(), Some(410), "the group's end");
        assert_eq!(t.mark_written(350, 410), 410);
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
    /// (dropping some to leave gaps), holds some boundaries as batch manifests that get
    /// sealed with an end further on, and checks after every step that the stable end
    /// is exactly the end of the longest contiguous written prefix capped at the lowest
    /// hold still in force, and never decreases.
    fn prop(cuts: Vec<u16>, order: Vec<u32>, dropped: Vec<u16>, held: Vec<(u16, u16)>) -> bool {
        let mut bounds: Vec<Lsn> = cuts.iter().map(|&c| Lsn::from(c) + 1).collect();
        bounds.extend([0, 70_000]);
        bounds.sort_unstable();
        bounds.dedup();
        let mut intervals: Vec<(Lsn, Lsn)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
        let gaps: Vec<usize> = dropped
            .iter()
            .map(|&d| usize::from(d) % intervals.len())
            .collect();
        // (manifest, batch end) pairs at distinct bounds, end strictly after manifest
        let mut holds: BTreeMap<Lsn, Lsn> = BTreeMap::new();
        for &(h, len) in &held {
            let i = usize::from(h) % (bounds.len() - 1);
            let j = (i + 1 + usize::from(len) % 4).min(bounds.len() - 1);
            holds.insert(bounds[i], bounds[j]);
        }
        let mut t = IntervalTracker::new(0);
        for &h in holds.keys() {
            t.hold(h);
        }
        let mut sealed: BTreeMap<Lsn, Lsn> = BTreeMap::new();
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
            t.mark_written(s, e);
            if step % 3 == 0 {
                let next = holds.iter().find(|(m, _)| !sealed.contains_key(m));
                if let Some((&m, &end)) = next {
                    sealed.insert(m, end);
                    t.seal_hold(m, end);
                }
            }
            // Recovery's rule, stated on its own: a stable end `b` is one recovery can
            // return, so no batch straddles it: each manifest is at or past `b`, or its
            // batch is sealed and ends at or below `b`.
            let prefix = bounds[written.iter().take_while(|w| **w).count()];
            let straddles = |b: Lsn, m: Lsn| m < b && sealed.get(&m).is_none_or(|&end| end > b);
            let expected = bounds
                .iter()
                .copied()
                .filter(|&b| b <= prefix && !holds.keys().any(|&m| straddles(b, m)))
                .max();
            let got = t.stable_end();
            if Some(got) != expected || got < last {
                return false;
            }
            last = got;
        }
        true
    }

    #[test]
    fn stable_end_is_the_longest_contiguous_prefix_no_batch_straddles() {
        QuickCheck::new()
            .tests(500)
            .rng(Gen::from_size_and_seed(60, 3))
            .quickcheck(prop as fn(Vec<u16>, Vec<u32>, Vec<u16>, Vec<(u16, u16)>) -> bool);
    }
}
