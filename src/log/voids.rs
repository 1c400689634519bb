//! Void lsn ranges: `(start, end)` pairs declared by jump headers (`recovery.rs`, step
//! 1). Nothing at an lsn strictly inside a void is part of the log, and a scan that
//! reaches a void's start stops there cleanly (a cut point).
//!
//! Every open adds one void, so a long-lived Linear log carries thousands; recovery
//! asks about every header and iteration about every message. Lookups are therefore
//! logarithmic: ranges sorted by start with a running maximum of their ends, and a
//! set of the starts.

use std::collections::BTreeSet;

use super::format::Lsn;

/// A set of void ranges, queried in O(log n).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Voids {
    /// Ranges sorted by start.
    ranges: Vec<(Lsn, Lsn)>,
    /// `max_end[i]`: the largest end among `ranges[..=i]`.
    max_end: Vec<Lsn>,
    starts: BTreeSet<Lsn>,
}

impl Voids {
    /// The voids `ranges` (in any order; empty ranges are kept but cover nothing).
    pub fn new(mut ranges: Vec<(Lsn, Lsn)>) -> Voids {
        ranges.sort_unstable();
        let max_end = ranges
            .iter()
            .scan(0, |m, &(_, end)| {
                *m = end.max(*m);
                Some(*m)
            })
            .collect();
        let starts = ranges.iter().map(|&(s, _)| s).collect();
        Voids {
            ranges,
            max_end,
            starts,
        }
    }

    /// The ranges, sorted by start.
    pub fn ranges(&self) -> &[(Lsn, Lsn)] {
        &self.ranges
    }

    /// True if some void has `start < lsn < end`: `lsn` is no part of the log.
    pub fn inside(&self, lsn: Lsn) -> bool {
        let below = self.ranges.partition_point(|&(s, _)| s < lsn);
        below > 0 && self.max_end[below - 1] > lsn
    }

    /// True if some void has `start <= lsn < end`: `lsn` was cut (a read of it is
    /// refused).
    pub fn covers(&self, lsn: Lsn) -> bool {
        let upto = self.ranges.partition_point(|&(s, _)| s <= lsn);
        upto > 0 && self.max_end[upto - 1] > lsn
    }

    /// The end of the void covering `lsn` (`start <= lsn < end`) that reaches furthest,
    /// if one covers it.
    pub fn end_of_cover(&self, lsn: Lsn) -> Option<Lsn> {
        let upto = self.ranges.partition_point(|&(s, _)| s <= lsn);
        (upto > 0 && self.max_end[upto - 1] > lsn).then(|| self.max_end[upto - 1])
    }

    /// The lowest start of the voids holding `lsn` strictly inside, if any.
    pub fn start_of_void_holding(&self, lsn: Lsn) -> Option<Lsn> {
        self.ranges
            .iter()
            .take_while(|&&(s, _)| s < lsn)
            .find(|&&(_, e)| e > lsn)
            .map(|&(s, _)| s)
    }

    /// True if a void starts exactly at `lsn`: a scan stops there.
    pub fn is_cut_point(&self, lsn: Lsn) -> bool {
        self.starts.contains(&lsn)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The obvious linear answers, for comparison.
    fn naive(ranges: &[(Lsn, Lsn)], lsn: Lsn) -> (bool, bool, bool) {
        (
            ranges.iter().any(|&(s, e)| s < lsn && lsn < e),
            ranges.iter().any(|&(s, e)| s <= lsn && lsn < e),
            ranges.iter().any(|&(s, _)| s == lsn),
        )
    }

    /// Every lookup below `upto` matches the linear answer.
    fn agrees(ranges: &[(Lsn, Lsn)], upto: Lsn) {
        let voids = Voids::new(ranges.to_vec());
        for lsn in 0..upto {
            let got = (
                voids.inside(lsn),
                voids.covers(lsn),
                voids.is_cut_point(lsn),
            );
            assert_eq!(got, naive(ranges, lsn), "{ranges:?} at {lsn}");
        }
    }

    #[test]
    fn lookups_agree_with_a_linear_scan_on_overlapping_and_nested_ranges() {
        let ranges = vec![(50, 60), (10, 40), (20, 25), (60, 60), (45, 100), (0, 5)];
        agrees(&ranges, 110);
        assert!(Voids::default().ranges().is_empty());
        assert!(!Voids::default().covers(0));
    }

    #[test]
    fn random_range_sets_agree_with_a_linear_scan() {
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for _ in 0..200 {
            let n = next(12) as usize;
            let ranges: Vec<(Lsn, Lsn)> = (0..n)
                .map(|_| {
                    let s = next(200);
                    (s, s + next(60))
                })
                .collect();
            agrees(&ranges, 270);
        }
    }
}
