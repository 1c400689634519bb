//! The segment accountant: which file offset each new segment gets, which pages have
//! live fragments where, and when a segment may be reused (invariant I4).
//!
//! The log file is an array of equal segments; segment `i` lives at file offset
//! `i * segment_size`. Each segment, while in use, holds one lsn range
//! `[segment_lsn, segment_lsn + segment_size)`. States:
//!
//! ```text
//!   Free --next()--> Active --deactivate()--> Inactive --(live share < threshold)--> Draining
//!    ^                                           |                                     |
//!    |                                           v                                     |
//!    +--released()-- Releasing <--- stabilize(): empty, stable, unpinned, batches durable
//! ```
//!
//! A segment leaves the log (Releasing) only when all of these hold:
//! 1. no live fragment is in it, where a fragment stops being live only once the
//!    message that replaced it is stable (so the newest stable copy of a page is never
//!    in a segment being reused);
//! 2. the whole segment is below the stable lsn (it is not in the unstable tail);
//! 3. every batch whose manifest it holds is durable;
//! 4. no reader holds a pin on it;
//! 5. if it is a jump segment (it continues a log cut at some lsn), the segment holding
//!    that cut has been released: the cut stays explained while its segment can be read.
//!
//! A Releasing segment becomes Free (reusable) only once the caller has zeroed its
//! header on disk and synced ([`Accountant::take_releases`], then
//! [`Accountant::released`]). Until then it still blocks the jump segments that
//! depend on it (rule 5). So recovery never finds the valid header of a segment that
//! left the log while the header explaining where that segment's log was cut has
//! already been overwritten.
//!
//! Both modes reuse the lowest Free slot for a new segment, else append one. In Linear
//! mode a segment becomes Free only below the log's truncation point (`space.rs`), so
//! a write-ahead log that truncates keeps reusing the same slots. In both modes
//! trailing Free segments are cut from the file ([`Accountant::cut_free_tail`]): a
//! Free slot's header is zero on disk, so losing its bytes loses nothing.
//!
//! Known limit: Gc mode reuses the lowest Free segment, and truncation only cuts the
//! tail, so densely live segments that end up near the end of the file keep the file
//! long even when most segments below them are Free. The space in use
//! ([`Accountant::segments_in_use`]) stays bounded; bounding the file length as well
//! needs the tail segments drained first, which is not built yet.
//!
//! The accountant counts fragments per segment, not pages: which page a fragment
//! belongs to is the caller's (`space.rs`) business, so its memory grows with segments,
//! never with pages or messages.
//!
//! Everything here is inline and deterministic (BTreeMaps; no threads): the seed
//! source's thread-pool work is the caller's explicit maintenance step.

use std::collections::{BTreeMap, VecDeque};

use super::format::Lsn;
use super::table::SegmentTable;

/// A page id.
pub type PageId = u64;

/// A segment slot: the index of a segment in the file (file offset over segment size).
pub type Slot = u32;

/// The life of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentState {
    /// Reusable (Gc) or truncatable.
    Free,
    /// Being written.
    Active,
    /// Fully written, holding live fragments.
    Inactive,
    /// Fully written and sparse: its live pages should be rewritten elsewhere.
    Draining,
    /// Out of the log, waiting for its header to be zeroed on disk before reuse.
    Releasing,
}

#[derive(Debug, Clone)]
struct Segment {
    state: SegmentState,
    lsn: Lsn,
    /// Live fragments here.
    live: u64,
    /// Fragments ever written here (the denominator of the live share).
    written: u64,
    /// The highest end lsn of a batch whose manifest sits here.
    batches_until: Lsn,
    /// A jump segment stays while the segment holding this lsn (where the log it
    /// continues was cut) is in use.
    requires: Option<Lsn>,
    pins: u32,
}

impl Segment {
    fn free() -> Segment {
        Segment {
            state: SegmentState::Free,
            lsn: 0,
            live: 0,
            written: 0,
            batches_until: 0,
            requires: None,
            pins: 0,
        }
    }
}

/// Tracks segments and the pages living in them.
#[derive(Debug, Clone)]
pub struct Accountant {
    segment_size: u64,
    cleanup_threshold_pct: u8,
    segments: Vec<Segment>,
    /// segment lsn -> index, for segments in the log (not Free or Releasing).
    by_lsn: BTreeMap<Lsn, usize>,
    /// segment lsn -> index, for Releasing segments.
    releasing: BTreeMap<Lsn, usize>,
    /// Releasing segments not yet handed to the caller for zeroing.
    to_zero: Vec<usize>,
    /// (replacement lsn, slot, fragments): fragments that die once that lsn is
    /// stable, in replacement-lsn order (the caller records in lsn order).
    pending_deaths: VecDeque<(Lsn, Slot, u32)>,
    stable: Lsn,
    /// Release only the lowest segment in the log, one at a time (Linear mode,
    /// [`Accountant::release_in_lsn_order`]).
    in_order: bool,
    /// Just past the highest segment ever placed or recovered: every segment placed
    /// from now on starts at or above it (the segment table's frontier).
    placed_end: Lsn,
}

impl Accountant {
    /// An empty accountant.
    pub fn new(segment_size: u64, cleanup_threshold_pct: u8) -> Accountant {
        assert!(
            segment_size.is_power_of_two(),
            "segment size {segment_size}"
        );
        assert!((1..=99).contains(&cleanup_threshold_pct));
        Accountant {
            segment_size,
            cleanup_threshold_pct,
            segments: Vec::new(),
            by_lsn: BTreeMap::new(),
            releasing: BTreeMap::new(),
            to_zero: Vec::new(),
            pending_deaths: VecDeque::new(),
            stable: 0,
            in_order: false,
            placed_end: 0,
        }
    }

    /// The accountant for a recovered file of `slots` segment slots: each `(lsn,
    /// slot)` in `chain` is a recovered segment (Inactive, until a run resumes the last
    /// one after a clean close); every other slot is Free. Replay the recovered messages
    /// with `mark_live`/`kill`, then call `stabilize`.
    pub fn recovered(
        segment_size: u64,
        cleanup_threshold_pct: u8,
        slots: usize,
        chain: &[(Lsn, usize)],
    ) -> Accountant {
        let mut a = Accountant::new(segment_size, cleanup_threshold_pct);
        a.segments = (0..slots).map(|_| Segment::free()).collect();
        for &(lsn, slot) in chain {
            a.add_recovered(lsn, slot);
        }
        a
    }

    /// Recovery found the segment `lsn` in `slot` (one of the slots this accountant
    /// was made with) to be part of the log.
    pub fn add_recovered(&mut self, lsn: Lsn, slot: usize) {
        assert_eq!(lsn % self.segment_size, 0, "recovered segment lsn {lsn}");
        let seg = &mut self.segments[slot];
        assert_eq!(seg.state, SegmentState::Free, "slot {slot} recovered twice");
        seg.state = SegmentState::Inactive;
        seg.lsn = lsn;
        let fresh = self.by_lsn.insert(lsn, slot).is_none();
        assert!(fresh, "segment lsn {lsn} recovered twice");
        self.placed_end = self.placed_end.max(lsn + self.segment_size);
    }

    /// The segment starting at `lsn` continues a log cut at `cut`: it is not reused
    /// while the segment holding `cut` is in use.
    pub fn require(&mut self, lsn: Lsn, cut: Lsn) {
        let i = self.index_of(lsn);
        let own = cut - cut % self.segment_size == lsn;
        // A log starting empty at 0 continues nothing but itself.
        self.segments[i].requires = (!own).then_some(cut);
    }

    /// Segments in use, ascending by lsn, with their file offsets.
    pub fn segments(&self) -> Vec<(Lsn, u64)> {
        let size = self.segment_size;
        self.by_lsn
            .iter()
            .map(|(&lsn, &i)| (lsn, i as u64 * size))
            .collect()
    }

    /// The file offset of `lsn`, or None if no segment in use holds it.
    pub fn try_file_offset(&self, lsn: Lsn) -> Option<u64> {
        let base = lsn - lsn % self.segment_size;
        let i = *self.by_lsn.get(&base)?;
        Some(i as u64 * self.segment_size + lsn % self.segment_size)
    }

    /// Pins the segment of `lsn` if one in use holds it.
    pub fn try_pin(&mut self, lsn: Lsn) -> bool {
        let held = self.try_file_offset(lsn).is_some();
        if held {
            self.pin(lsn);
        }
        held
    }

    /// Releases segments strictly in lsn order, one per round (each header zeroed and
    /// synced before the next may go): a Linear log truncated at its start must never
    /// lose a segment while a lower one is still on disk, or a crash in the middle
    /// would leave a hole that recovery cannot explain (`recovery.rs`, step 8).
    pub fn release_in_lsn_order(&mut self) {
        self.in_order = true;
    }

    /// Makes the recovered segment starting at `lsn` Active again, for a run that
    /// continues writing in it after a clean close; returns its file offset.
    pub fn resume(&mut self, lsn: Lsn) -> u64 {
        let i = self.index_of(lsn);
        let s = &mut self.segments[i];
        assert_eq!(s.state, SegmentState::Inactive, "resume of segment {lsn}");
        s.state = SegmentState::Active;
        i as u64 * self.segment_size
    }

    /// Picks the file offset for a new segment starting at `lsn` and makes it Active.
    pub fn next(&mut self, lsn: Lsn) -> u64 {
        assert_eq!(lsn % self.segment_size, 0, "segment lsn {lsn} not aligned");
        assert!(
            !self.by_lsn.contains_key(&lsn),
            "segment lsn {lsn} allocated twice"
        );
        let reusable = self
            .segments
            .iter()
            .position(|s| s.state == SegmentState::Free);
        let index = reusable.unwrap_or_else(|| {
            self.segments.push(Segment::free());
            self.segments.len() - 1
        });
        let s = &mut self.segments[index];
        assert!(s.state == SegmentState::Free && s.live == 0 && s.pins == 0);
        *s = Segment {
            state: SegmentState::Active,
            lsn,
            ..Segment::free()
        };
        self.by_lsn.insert(lsn, index);
        self.placed_end = self.placed_end.max(lsn + self.segment_size);
        index as u64 * self.segment_size
    }

    /// The segment table as of now (`table.rs`): the segments in the log (not Free or
    /// Releasing) and the frontier past every segment placed so far. Written before
    /// the headers of the segments just handed out by [`Accountant::take_releases`]
    /// are zeroed, it no longer lists them.
    pub fn table(&self) -> SegmentTable {
        SegmentTable {
            frontier: self.placed_end,
            segments: self.by_lsn.keys().copied().collect(),
        }
    }

    fn index_of(&self, lsn: Lsn) -> usize {
        let base = lsn - lsn % self.segment_size;
        *self
            .by_lsn
            .get(&base)
            .unwrap_or_else(|| panic!("lsn {lsn} is in no segment in use"))
    }

    /// The file offset of `lsn`.
    pub fn file_offset(&self, lsn: Lsn) -> u64 {
        self.index_of(lsn) as u64 * self.segment_size + lsn % self.segment_size
    }

    /// The slot of the segment in use holding `lsn`.
    pub fn slot_of(&self, lsn: Lsn) -> Slot {
        Slot::try_from(self.index_of(lsn)).expect("fewer than 2^32 segment slots")
    }

    /// A fragment was written in `slot`: it is live until killed.
    pub fn mark_live(&mut self, slot: Slot) {
        let s = &mut self.segments[slot as usize];
        assert_ne!(s.state, SegmentState::Free, "fragment in a free segment");
        s.live += 1;
        s.written += 1;
    }

    /// `count` live fragments in each `(slot, count)` die once `replacement` is stable.
    /// Replacements arrive in lsn order (asserted).
    pub fn kill(&mut self, deaths: Vec<(Slot, u32)>, replacement: Lsn) {
        if let Some(&(last, _, _)) = self.pending_deaths.back() {
            assert!(replacement >= last, "death at {replacement} after {last}");
        }
        let due = deaths.into_iter().map(|(slot, n)| (replacement, slot, n));
        self.pending_deaths.extend(due);
    }

    /// Whether the segment in `slot` is Draining: its live fragments should be
    /// rewritten elsewhere. When `compacting`, any finished segment holding a dead
    /// fragment is.
    pub fn is_draining(&self, slot: Slot, compacting: bool) -> bool {
        self.segments.get(slot as usize).is_some_and(|s| {
            s.state == SegmentState::Draining
                || (compacting && s.state == SegmentState::Inactive && s.live < s.written)
        })
    }

    /// The segment holding `manifest_lsn` holds a batch ending at `batch_end`.
    pub fn mark_batch(&mut self, manifest_lsn: Lsn, batch_end: Lsn) {
        let i = self.index_of(manifest_lsn);
        let s = &mut self.segments[i];
        s.batches_until = s.batches_until.max(batch_end);
    }

    /// The segment starting at `lsn` is fully written.
    pub fn deactivate(&mut self, lsn: Lsn) {
        let i = self.index_of(lsn);
        assert_eq!(
            self.segments[i].state,
            SegmentState::Active,
            "deactivate of segment {lsn}"
        );
        self.segments[i].state = SegmentState::Inactive;
        self.reclassify(i);
    }

    /// A reader may hold a pointer into the segment of `lsn` until [`Accountant::unpin`].
    pub fn pin(&mut self, lsn: Lsn) {
        let i = self.index_of(lsn);
        self.segments[i].pins += 1;
    }

    /// Ends a [`Accountant::pin`].
    pub fn unpin(&mut self, lsn: Lsn) {
        let i = self.index_of(lsn);
        let s = &mut self.segments[i];
        s.pins = s.pins.checked_sub(1).expect("unpin without pin");
        self.reclassify(i);
    }

    /// Every lsn below `stable` is durable: replaced fragments die and segments that
    /// meet every reuse rule become Free.
    pub fn stabilize(&mut self, stable: Lsn) {
        assert!(stable >= self.stable, "stable lsn went down");
        self.stable = stable;
        while let Some(&(lsn, slot, count)) = self.pending_deaths.front() {
            if lsn >= stable {
                break;
            }
            self.pending_deaths.pop_front();
            let live = &mut self.segments[slot as usize].live;
            *live = live
                .checked_sub(u64::from(count))
                .expect("death of a fragment never marked live");
        }
        self.reclassify_closed();
    }

    fn reclassify_closed(&mut self) {
        for i in 0..self.segments.len() {
            self.reclassify(i);
        }
    }

    /// File offsets of segments that left the log since the last call: the caller
    /// zeroes each one's header, syncs, then reports them with
    /// [`Accountant::released`].
    pub fn take_releases(&mut self) -> Vec<u64> {
        let size = self.segment_size;
        self.to_zero.drain(..).map(|i| i as u64 * size).collect()
    }

    /// The headers at `offsets` (from [`Accountant::take_releases`]) are zero on
    /// disk: those segments become Free, and jump segments waiting on them may leave
    /// the log in turn (call `take_releases` again). Returns the lsns the released
    /// segments held.
    pub fn released(&mut self, offsets: &[u64]) -> Vec<Lsn> {
        let mut lsns = Vec::with_capacity(offsets.len());
        for &offset in offsets {
            let i = (offset / self.segment_size) as usize;
            let s = &mut self.segments[i];
            assert_eq!(s.state, SegmentState::Releasing, "release of slot {i}");
            let was = self.releasing.remove(&s.lsn);
            assert_eq!(was, Some(i), "slot {i} not releasing");
            lsns.push(s.lsn);
            *s = Segment::free();
        }
        self.reclassify_closed();
        lsns
    }

    /// The size of every segment.
    pub fn segment_size(&self) -> u64 {
        self.segment_size
    }

    /// Whether recovery could still read the segment starting at `lsn`: it is in
    /// the log, or Releasing (its header not yet zero on disk).
    pub fn holds_segment(&self, lsn: Lsn) -> bool {
        self.by_lsn.contains_key(&lsn) || self.releasing.contains_key(&lsn)
    }

    /// The lsn of the segment in `slot` (one not Free).
    pub fn lsn_of_slot(&self, slot: Slot) -> Lsn {
        let s = &self.segments[slot as usize];
        assert_ne!(s.state, SegmentState::Free, "slot {slot} is free");
        s.lsn
    }

    fn reclassify(&mut self, i: usize) {
        let (size, stable, pct) = (
            self.segment_size,
            self.stable,
            u64::from(self.cleanup_threshold_pct),
        );
        let lowest = self.by_lsn.keys().next() == Some(&self.segments[i].lsn);
        let in_line = !self.in_order || (self.releasing.is_empty() && lowest);
        let blocked = self.segments[i].requires.is_some_and(|cut| {
            let base = cut - cut % size;
            self.by_lsn.contains_key(&base) || self.releasing.contains_key(&base)
        });
        let s = &mut self.segments[i];
        if matches!(
            s.state,
            SegmentState::Free | SegmentState::Active | SegmentState::Releasing
        ) {
            return;
        }
        let reusable = s.live == 0
            && s.lsn + size <= stable
            && s.batches_until <= stable
            && s.pins == 0
            && in_line
            && !blocked;
        if reusable {
            self.by_lsn.remove(&s.lsn);
            self.releasing.insert(s.lsn, i);
            self.to_zero.push(i);
            s.state = SegmentState::Releasing;
        } else if s.live * 100 < s.written * pct {
            s.state = SegmentState::Draining;
        }
    }

    /// Whether some fragments are replaced but not yet dead (their replacement not yet
    /// vouched stable).
    pub fn deaths_pending(&self) -> bool {
        !self.pending_deaths.is_empty()
    }

    /// The highest slot holding live fragments of a finished segment, when the file
    /// spans more slots than the log uses (a free slot lies below a used one):
    /// rewriting the pages living there lets the file's tail be cut, since new
    /// segments take the lowest free slots. None when the file is compact.
    ///
    /// No slack is allowed: measured on the page cache's steady skewed workload
    /// (`tests/pagecache_space.rs`, four seeds), allowing an eighth plus two free
    /// slots let the worst checkpoint reach 1.50x to 1.51x the live bytes (2.06 GC
    /// rewrites per update); none, 1.41x to 1.47x (2.42 rewrites per update).
    pub fn relocation_slot(&self) -> Option<Slot> {
        if self.segments.len() <= self.segments_in_use() {
            return None;
        }
        let movable = |s: &Segment| {
            matches!(s.state, SegmentState::Inactive | SegmentState::Draining) && s.live > 0
        };
        let i = self.segments.iter().rposition(movable)?;
        Slot::try_from(i).ok()
    }

    /// The state of the segment at file offset `offset`.
    pub fn state_at(&self, offset: u64) -> Option<SegmentState> {
        self.segments
            .get((offset / self.segment_size) as usize)
            .map(|s| s.state)
    }

    /// The file length once trailing Free segments are cut.
    pub fn truncated_len(&self) -> u64 {
        self.used_slots() as u64 * self.segment_size
    }

    fn used_slots(&self) -> usize {
        self.segments
            .iter()
            .rposition(|s| s.state != SegmentState::Free)
            .map_or(0, |i| i + 1)
    }

    /// Forgets the trailing Free slots and returns the file length to cut the file to,
    /// if there were any. The caller cuts the file before any later `next` can hand
    /// out one of those slots again (it holds the lock this accountant lives under).
    pub fn cut_free_tail(&mut self) -> Option<u64> {
        let used = self.used_slots();
        if used == self.segments.len() {
            return None;
        }
        self.segments.truncate(used);
        Some(used as u64 * self.segment_size)
    }

    /// Segments allocated in the file (including Free ones not yet truncated).
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Segments not Free: the space the log actually occupies.
    pub fn segments_in_use(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| s.state != SegmentState::Free)
            .count()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const SEG: u64 = 1024;

    fn gc() -> Accountant {
        Accountant::new(SEG, 40)
    }

    fn link(a: &mut Accountant, lsn: Lsn) {
        let slot = a.slot_of(lsn);
        a.mark_live(slot);
    }

    /// A whole-page rewrite at `lsn` of fragments at `old`.
    fn replace(a: &mut Accountant, old: &[Lsn], lsn: Lsn) {
        link(a, lsn);
        let deaths = old.iter().map(|&o| (a.slot_of(o), 1)).collect();
        a.kill(deaths, lsn);
    }

    /// Plays the caller: zeroes (here: nothing to do) and reports every release until
    /// none is left. Returns how many rounds it took.
    fn settle(a: &mut Accountant) -> usize {
        let mut rounds = 0;
        loop {
            let offsets = a.take_releases();
            if offsets.is_empty() {
                return rounds;
            }
            rounds += 1;
            a.released(&offsets);
        }
    }

    #[test]
    fn a_segment_is_reused_only_after_the_replacement_is_stable() {
        let mut a = gc();
        assert_eq!(a.next(0), 0);
        link(&mut a, 100);
        a.deactivate(0);
        assert_eq!(a.next(SEG), SEG);
        replace(&mut a, &[100], SEG + 50);
        a.stabilize(SEG);
        assert_ne!(
            a.state_at(0),
            Some(SegmentState::Free),
            "replacement at {} not yet stable",
            SEG + 50
        );
        a.stabilize(SEG + 51);
        assert_eq!(a.state_at(0), Some(SegmentState::Releasing));
        settle(&mut a);
        assert_eq!(a.state_at(0), Some(SegmentState::Free));
        a.deactivate(SEG);
        assert_eq!(a.next(2 * SEG), 0, "Gc mode reuses the freed segment");
        assert_eq!(a.file_offset(2 * SEG + 10), 10);
    }

    #[test]
    fn a_segment_in_the_unstable_tail_is_never_freed() {
        let mut a = gc();
        a.next(0);
        a.deactivate(0);
        a.stabilize(SEG - 1);
        assert_ne!(
            a.state_at(0),
            Some(SegmentState::Free),
            "its last byte is not stable"
        );
        a.stabilize(SEG);
        settle(&mut a);
        assert_eq!(a.state_at(0), Some(SegmentState::Free));
    }

    #[test]
    /// The batch-manifest reuse rule: a segment holding a manifest is neither released
    /// nor scheduled for release before its whole batch is durable (else a crash could
    /// leave the batch's members without the manifest that makes them one, I5).
    fn a_segment_holding_a_manifest_waits_for_its_batch() {
        let mut a = gc();
        a.next(0);
        a.mark_batch(900, 3 * SEG);
        a.deactivate(0);
        a.stabilize(2 * SEG);
        assert_ne!(a.state_at(0), Some(SegmentState::Free), "batch not durable");
        assert_ne!(
            a.state_at(0),
            Some(SegmentState::Releasing),
            "nor scheduled"
        );
        assert!(
            a.take_releases().is_empty(),
            "no release handed out before it is"
        );
        a.stabilize(3 * SEG - 1);
        assert!(
            a.take_releases().is_empty(),
            "one byte of the batch still unstable"
        );
        a.stabilize(3 * SEG);
        settle(&mut a);
        assert_eq!(a.state_at(0), Some(SegmentState::Free));
    }

    #[test]
    fn a_pinned_segment_is_not_freed_until_unpinned() {
        let mut a = gc();
        a.next(0);
        a.deactivate(0);
        a.pin(5);
        a.stabilize(SEG);
        assert_ne!(a.state_at(0), Some(SegmentState::Free));
        a.unpin(5);
        settle(&mut a);
        assert_eq!(a.state_at(0), Some(SegmentState::Free));
    }

    #[test]
    fn a_replacement_in_the_same_segment_keeps_the_segment_live() {
        let mut a = gc();
        a.next(0);
        link(&mut a, 40);
        replace(&mut a, &[40], 200);
        a.deactivate(0);
        a.stabilize(10 * SEG);
        assert_eq!(
            a.state_at(0),
            Some(SegmentState::Inactive),
            "the replacement at 200 is the newest copy of page 3"
        );
    }

    #[test]
    fn a_jump_segment_leaves_only_after_the_segment_of_its_cut_is_zeroed() {
        let mut a = gc();
        a.next(0);
        a.deactivate(0);
        // Two opens in a row: each jump segment continues the log cut in the one before.
        a.next(4 * SEG);
        a.require(4 * SEG, 100);
        a.deactivate(4 * SEG);
        a.next(8 * SEG);
        a.require(8 * SEG, 4 * SEG + 40);
        a.deactivate(8 * SEG);
        a.next(12 * SEG);
        a.stabilize(12 * SEG);
        assert_eq!(a.take_releases(), [0], "only segment 0: the jumps wait");
        assert_eq!(a.state_at(SEG), Some(SegmentState::Inactive));
        assert_eq!(a.take_releases(), [] as [u64; 0], "handed out once");
        a.released(&[0]);
        assert_eq!(a.take_releases(), [SEG], "the first jump, once 0 is zeroed");
        assert_eq!(a.state_at(2 * SEG), Some(SegmentState::Inactive));
        a.released(&[SEG]);
        assert_eq!(a.take_releases(), [2 * SEG]);
        a.released(&[2 * SEG]);
        assert_eq!(a.next(13 * SEG), 0, "slot 0 reused");
    }

    #[test]
    fn a_free_slot_is_reused_before_the_file_grows() {
        let mut a = Accountant::new(SEG, 40);
        a.next(0);
        a.deactivate(0);
        a.stabilize(SEG);
        settle(&mut a);
        assert_eq!(a.state_at(0), Some(SegmentState::Free));
        assert_eq!(a.next(SEG), 0, "slot 0 is free: reused");
    }

    #[test]
    fn sparse_segments_drain() {
        let mut a = gc();
        a.next(0);
        for pid in 0..10 {
            link(&mut a, pid * 10);
        }
        a.deactivate(0);
        a.next(SEG);
        for pid in 0..7 {
            replace(&mut a, &[pid * 10], SEG + pid * 10);
        }
        a.stabilize(SEG + 100);
        assert_eq!(
            a.state_at(0),
            Some(SegmentState::Draining),
            "3 of 10 live is under 40%"
        );
        assert!(a.is_draining(0, false) && !a.is_draining(1, false));
    }

    #[test]
    fn trailing_free_segments_are_truncatable() {
        let mut a = Accountant::new(SEG, 40);
        for k in 0..3 {
            a.next(k * SEG);
        }
        link(&mut a, 5);
        for k in 0..3 {
            a.deactivate(k * SEG);
        }
        a.stabilize(3 * SEG);
        settle(&mut a);
        assert_eq!(
            a.truncated_len(),
            SEG,
            "segment 0 holds page 1; 1 and 2 are free"
        );
        assert_eq!(a.cut_free_tail(), Some(SEG));
        assert_eq!(a.cut_free_tail(), None, "nothing left to cut");
        assert_eq!(
            a.next(3 * SEG),
            SEG,
            "the cut slot is the next one appended"
        );
    }
}
