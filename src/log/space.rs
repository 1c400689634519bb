//! Which log space is live: the segment accountant fed with what each written
//! message means for its page, and the blob files that die with their messages.
//!
//! In Linear mode the log is a history: nothing is tracked per page, and the only
//! space reclaimed is below the log's start, which `Log::truncate_before` moves up with
//! a durable Truncate record ([`Space::truncate`]): segments wholly below it leave the
//! log, and its blobs are removed.
//!
//! In Gc mode each page's live fragments are tracked: an Append adds one; a Replace,
//! Free, Meta, Counter or Config message supersedes every older fragment of its page.
//! Superseded fragments (and their blob files) die once the superseding message is
//! *vouched* stable: covered by the stable lsn recorded in a segment header that is
//! itself durable. That is stricter than "stable": recovery may skip a freed segment
//! only when a durable header vouches that its lsns were stable (`recovery.rs`), so a
//! segment is reused only after such a header exists.
//!
//! Fragments are recorded in lsn order (asserted), off the reservation's hot path:
//! whoever writes an IO buffer reads the fragments back from the buffer's own message
//! headers and hands them over with [`Space::record_buffer`] before the buffer's sync;
//! a buffer written before the one below it waits in a queue until that one arrives.
//! Recorded in order, a superseding message kills every fragment its page has so far.
//! So a fragment is recorded before its lsn can be stable, and the deaths it causes are
//! registered before they can be due.
//!
//! A Free message is its page's last word and nothing supersedes it (until the id
//! is allocated again), so it would live, and be rewritten by garbage collection,
//! for ever. It dies by itself once two things hold (`Space::consider_free`):
//! 1. no segment that held an older message of its page is left for recovery to
//!    read (else a full replay would meet that message and bring the page back).
//!    Each page keeps its *ghosts*: the segments that held its superseded messages
//!    when it was last superseded, pruned of segments gone since. A Free waits on
//!    its lowest ghost, keyed by it, and is looked at again only when that segment
//!    leaves the log ([`Space::released`]: header zero on disk). A ghost in the
//!    Free's own segment does not count: recovery reads the Free after it.
//! 2. its lsn is below the *snapshot floor* ([`Space::set_snapshot_floor`]): the page
//!    cache's newest durable snapshot, the one recovery and the next snapshot start
//!    from (while a snapshot folds from an older base, that base). A snapshot below
//!    the Free may list the page as live, pointing into messages that are gone; its
//!    fold must meet the Free in the log's tail. An older snapshot kept on disk as a
//!    fallback can lose that: recovery then finds the snapshot pointing into a
//!    segment the log no longer holds and skips it as outdated
//!    (`pagecache/checkpoint.rs`). The floor starts at 0, so a plain log keeps every
//!    Free.
//!
//! A dropped Free dies as any superseded fragment does, once the newest message
//! recorded is vouched stable; its page leaves the bookkeeping, and a later open,
//! finding no message of the id, counts it free.
//!
//! Memory: a page costs one hash-map entry (its id, the slots holding its live
//! fragments with their counts, and its ghost list when it has one: 32 bytes when
//! its live fragments sit in one segment and it has no ghosts); only pages with
//! ghosts or live blob fragments cost more (8 bytes per ghost segment). Freed pages
//! waiting to drop their Free cost an entry in two more maps. The accountant's
//! memory grows with segments.

// A HashMap with a fixed hasher (PidHasher, no random seed) iterates in the same order
// in every run; the one place that iterates it sorts anyway (`clean_candidates`).
#[allow(clippy::disallowed_types)]
use std::collections::HashMap;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasherDefault, Hasher};

use super::format::{Lsn, StoredKind};
use super::segment::{Accountant, PageId, Slot};

/// A message read back from a written buffer, as the bookkeeping needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment {
    /// What the message means.
    pub kind: StoredKind,
    /// Its page.
    pub pid: PageId,
    /// Its lsn.
    pub lsn: Lsn,
    /// The blob file holding its payload, for the blob kinds.
    pub blob: Option<Lsn>,
}

/// The segment slots holding a page's live fragments, with counts; nearly always one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slots {
    One(Slot, u32),
    /// Boxed to keep the enum at 16 bytes (a bare Vec is 24); the Vec grows amortized.
    #[allow(clippy::box_collection)]
    Many(Box<Vec<(Slot, u32)>>),
}

impl Slots {
    fn add(&mut self, slot: Slot) {
        match self {
            Slots::One(s, n) if *s == slot => *n += 1,
            Slots::One(s, n) => *self = Slots::Many(Box::new(vec![(*s, *n), (slot, 1)])),
            Slots::Many(v) => match v.last_mut() {
                Some((s, n)) if *s == slot => *n += 1,
                _ => v.push((slot, 1)),
            },
        }
    }

    fn into_vec(self) -> Vec<(Slot, u32)> {
        match self {
            Slots::One(s, n) => vec![(s, n)],
            Slots::Many(v) => *v,
        }
    }

    fn any(&self, f: impl Fn(Slot) -> bool) -> bool {
        match self {
            Slots::One(s, _) => f(*s),
            Slots::Many(v) => v.iter().any(|&(s, _)| f(s)),
        }
    }
}

/// A multiplicative hash for page ids: fast, and the same in every run (no random
/// seed), so nothing that depends on map order can differ between runs.
#[derive(Debug, Default)]
struct PidHasher(u64);

impl Hasher for PidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

#[allow(clippy::disallowed_types)]
type PageMap<V> = HashMap<PageId, V, BuildHasherDefault<PidHasher>>;

/// A page with live fragments, as the bookkeeping knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Page {
    /// Where its live fragments are.
    slots: Slots,
    /// The segments (by lsn, ascending) that held superseded messages of the page
    /// when it was last superseded, pruned then of segments gone from the log: a
    /// superset of where recovery could still read a dead message of it. None when
    /// there were none.
    #[allow(clippy::box_collection)]
    ghosts: Option<Box<Vec<Lsn>>>,
}

impl Page {
    fn new(slot: Slot) -> Page {
        Page {
            slots: Slots::One(slot, 1),
            ghosts: None,
        }
    }
}

/// A freed page's Free message, while it is the page's only live fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FreeWait {
    /// Its lsn.
    lsn: Lsn,
    /// The segment it waits on (the lowest that may hold an older message of its
    /// page), or None if it waits for a snapshot past it.
    blocker: Option<Lsn>,
}

/// The accountant plus per-page liveness and blob deaths.
#[derive(Debug)]
pub struct Space {
    acct: Accountant,
    gc: bool,
    /// Pages with live fragments.
    pages: PageMap<Page>,
    /// Freed pages whose Free message is their only live fragment.
    freed: PageMap<FreeWait>,
    /// Free messages waiting for older messages of their page to leave the log:
    /// (the lowest segment that may hold one, the Free's lsn, its page).
    frees_blocked: BTreeSet<(Lsn, Lsn, PageId)>,
    /// Free messages with no older message of their page left, waiting for a
    /// snapshot past them: Free lsn -> page.
    frees_unsnapshotted: BTreeMap<Lsn, PageId>,
    /// No snapshot that recovery or the next snapshot could start from lies below
    /// this lsn ([`Space::set_snapshot_floor`]); 0 until the page cache says.
    snapshot_floor: Lsn,
    /// Free messages that died because nothing needs them any more.
    frees_dropped: u64,
    /// Live blob fragments per page: (message lsn, blob lsn).
    blobs: BTreeMap<PageId, Vec<(Lsn, Lsn)>>,
    /// superseding lsn -> blobs that die once it is vouched stable.
    blob_deaths: BTreeMap<Lsn, Vec<Lsn>>,
    /// Written buffers waiting for a lower one: start -> (end, fragments).
    queued: BTreeMap<Lsn, (Lsn, Vec<Fragment>)>,
    /// Every buffer below this has been recorded ([`Space::record_buffer`]).
    recorded_to: Lsn,
    /// The highest lsn recorded (fragments arrive in lsn order).
    last: Lsn,
    /// Highest stable lsn recorded in a durable segment header.
    vouched: Lsn,
    /// Highest stable lsn recorded in a durable Vouch message (`vouch_blobs`).
    vouched_by_message: Lsn,
    /// Highest value passed to the accountant's `stabilize`.
    stabilized: Lsn,
    /// Linear mode: the log's start, set by a durable Truncate record
    /// (`Log::truncate_before`); segments wholly below it leave the log.
    truncated: Lsn,
    /// A Truncate record written but maybe not durable yet: (its lsn argument, the
    /// record's end). It takes effect once the stable lsn passes the end.
    pending_truncation: Option<(Lsn, Lsn)>,
    /// A truncation point that took effect and whose blobs the caller has not yet
    /// removed ([`Space::take_truncation`]).
    unhandled_truncation: Option<Lsn>,
}

impl Space {
    /// Wraps an accountant; `gc` turns on per-page tracking.
    pub fn new(acct: Accountant, gc: bool) -> Space {
        Space {
            acct,
            gc,
            pages: PageMap::default(),
            freed: PageMap::default(),
            frees_blocked: BTreeSet::new(),
            frees_unsnapshotted: BTreeMap::new(),
            snapshot_floor: 0,
            frees_dropped: 0,
            blobs: BTreeMap::new(),
            blob_deaths: BTreeMap::new(),
            queued: BTreeMap::new(),
            recorded_to: 0,
            last: 0,
            vouched: 0,
            vouched_by_message: 0,
            stabilized: 0,
            truncated: 0,
            pending_truncation: None,
            unhandled_truncation: None,
        }
    }

    /// The accountant.
    pub fn accountant(&self) -> &Accountant {
        &self.acct
    }

    /// The accountant, mutably (segment placement, pins).
    pub fn accountant_mut(&mut self) -> &mut Accountant {
        &mut self.acct
    }

    /// Whether Gc bookkeeping is on (else buffers need not be read back).
    pub fn tracks_pages(&self) -> bool {
        self.gc
    }

    /// The run's first IO buffer starts at `lsn`: buffers are recorded from there.
    pub fn record_from(&mut self, lsn: Lsn) {
        assert!(
            lsn >= self.last,
            "recording restarts below lsn {}",
            self.last
        );
        self.recorded_to = lsn;
    }

    /// The buffer `[start, end)` was written holding `frags` (in lsn order). Recorded
    /// once every buffer below it is.
    pub fn record_buffer(&mut self, start: Lsn, end: Lsn, frags: Vec<Fragment>) {
        if !self.gc {
            return;
        }
        assert!(
            start >= self.recorded_to,
            "buffer at {start} recorded twice"
        );
        let fresh = self.queued.insert(start, (end, frags)).is_none();
        assert!(fresh, "buffer at {start} queued twice");
        while let Some(entry) = self.queued.first_entry() {
            if *entry.key() != self.recorded_to {
                return;
            }
            let (end, frags) = entry.remove();
            for f in frags {
                self.record(f.kind, f.pid, f.lsn, f.blob);
            }
            self.recorded_to = end;
        }
    }

    /// A written message: `kind` for page `pid` at `lsn`, its payload in blob `blob`.
    /// Messages arrive in lsn order (recovery's replay, or [`Space::record_buffer`]).
    pub fn record(&mut self, kind: StoredKind, pid: PageId, lsn: Lsn, blob: Option<Lsn>) {
        let bookkeeping = matches!(
            kind,
            StoredKind::Cancelled
                | StoredKind::Pad
                | StoredKind::BatchManifest
                | StoredKind::Vouch
                | StoredKind::Closed
                | StoredKind::Truncate
                | StoredKind::Resumed
        );
        if !self.gc || bookkeeping {
            return;
        }
        assert!(
            lsn >= self.last,
            "fragment {lsn} recorded after {}",
            self.last
        );
        self.last = lsn;
        let slot = self.acct.slot_of(lsn);
        self.acct.mark_live(slot);
        if !self.freed.is_empty() {
            self.unfree(pid);
        }
        if matches!(kind, StoredKind::Append | StoredKind::AppendBlob) {
            match self.pages.get_mut(&pid) {
                Some(page) => page.slots.add(slot),
                None => {
                    self.pages.insert(pid, Page::new(slot));
                }
            }
            if let Some(b) = blob {
                self.blobs.entry(pid).or_default().push((lsn, b));
            }
            return;
        }
        let mut page = Page::new(slot);
        if let Some(older) = self.pages.remove(&pid) {
            let killed = older.slots.into_vec();
            page.ghosts = self.ghosts(older.ghosts, &killed);
            self.acct.kill(killed, lsn);
        }
        self.pages.insert(pid, page);
        if kind == StoredKind::Free {
            let wait = FreeWait { lsn, blocker: None };
            self.freed.insert(pid, wait);
            self.consider_free(pid);
        }
        let dead: Vec<Lsn> = self
            .blobs
            .remove(&pid)
            .into_iter()
            .flatten()
            .map(|(_, b)| b)
            .collect();
        if !dead.is_empty() {
            self.blob_deaths.entry(lsn).or_default().extend(dead);
        }
        if let Some(b) = blob {
            self.blobs.insert(pid, vec![(lsn, b)]);
        }
    }

    /// A message of page `pid` came after its Free: the Free is no longer the page's
    /// last word, and waits for nothing (it dies when a later message supersedes it,
    /// as any fragment does).
    fn unfree(&mut self, pid: PageId) {
        let Some(wait) = self.freed.remove(&pid) else {
            return;
        };
        match wait.blocker {
            Some(b) => self.frees_blocked.remove(&(b, wait.lsn, pid)),
            None => self.frees_unsnapshotted.remove(&wait.lsn).is_some(),
        };
    }

    /// A page's ghost segments after its fragments in `killed` slots were
    /// superseded: the old ones and those slots' segments, without the segments
    /// that left the log since (recovery reads nothing there).
    #[allow(clippy::box_collection)]
    fn ghosts(&self, old: Option<Box<Vec<Lsn>>>, killed: &[(Slot, u32)]) -> Option<Box<Vec<Lsn>>> {
        let acct = &self.acct;
        let mut all = old.map(|b| *b).unwrap_or_default();
        all.extend(killed.iter().map(|&(slot, _)| acct.lsn_of_slot(slot)));
        all.sort_unstable();
        all.dedup();
        all.retain(|&l| acct.holds_segment(l));
        (!all.is_empty()).then(|| Box::new(all))
    }

    /// The Free at `f` is its page's only live fragment: it dies once no segment
    /// that may hold an older message of the page is left for recovery to read
    /// (else that message would bring the page back) and a snapshot past it is the
    /// one recovery and the next snapshot start from (else a snapshot's pointer into
    /// the page's reclaimed messages would have nothing later to replace it). Until
    /// the first holds it waits keyed by the lowest segment that blocks it, so only
    /// that segment's release looks at it again ([`Space::released`]).
    ///
    /// A dead message in the Free's own segment does not hold it: recovery reads
    /// that segment whole, the Free after it.
    fn consider_free(&mut self, pid: PageId) {
        let f = self.freed.get(&pid).expect("a freed page").lsn;
        let own = f - f % self.acct.segment_size();
        let acct = &self.acct;
        let page = self.pages.get_mut(&pid).expect("a freed page has its Free");
        if let Some(ghosts) = page.ghosts.as_mut() {
            ghosts.retain(|&l| l != own && acct.holds_segment(l));
        }
        let blocker = page.ghosts.as_ref().and_then(|g| g.first().copied());
        if blocker.is_none() {
            page.ghosts = None;
        }
        let wait = FreeWait { lsn: f, blocker };
        self.freed.insert(pid, wait);
        match blocker {
            Some(b) => {
                self.frees_blocked.insert((b, f, pid));
            }
            None if f < self.snapshot_floor => self.drop_free(pid, f),
            None => {
                self.frees_unsnapshotted.insert(f, pid);
            }
        }
    }

    /// The Free at `f` is needed no more: it dies (once the newest message recorded
    /// is vouched, as deaths do) and the page leaves the bookkeeping.
    fn drop_free(&mut self, pid: PageId, f: Lsn) {
        let was = self.freed.remove(&pid).map(|w| w.lsn);
        assert_eq!(
            was,
            Some(f),
            "page {pid}: dropping a Free that is not its last"
        );
        let page = self.pages.remove(&pid).expect("a freed page has its Free");
        let slots = page.slots.into_vec();
        assert_eq!(
            slots,
            vec![(self.acct.slot_of(f), 1)],
            "page {pid}: a Free that is not its only live fragment"
        );
        self.acct.kill(slots, self.last);
        self.frees_dropped += 1;
    }

    /// The headers at `offsets` (from the accountant's `take_releases`) are zero on
    /// disk: the accountant frees those segments, and the Free messages they blocked
    /// are looked at again.
    pub fn released(&mut self, offsets: &[u64]) {
        for lsn in self.acct.released(offsets) {
            let blocked: Vec<(Lsn, Lsn, PageId)> = self
                .frees_blocked
                .range((lsn, 0, 0)..=(lsn, Lsn::MAX, PageId::MAX))
                .copied()
                .collect();
            for entry @ (_, _, pid) in blocked {
                self.frees_blocked.remove(&entry);
                self.consider_free(pid);
            }
        }
    }

    /// No snapshot that recovery or the next snapshot could start from lies below
    /// `lsn` (the page cache's newest durable snapshot; while it folds a new one
    /// from an older base or from the log's start, that start). Free messages below
    /// it that wait for nothing else die. Starts at 0 (a plain log's Free messages
    /// are kept).
    pub fn set_snapshot_floor(&mut self, lsn: Lsn) {
        self.snapshot_floor = lsn;
        let due: Vec<(Lsn, PageId)> = self
            .frees_unsnapshotted
            .range(..lsn)
            .map(|(&f, &pid)| (f, pid))
            .collect();
        for (f, pid) in due {
            self.frees_unsnapshotted.remove(&f);
            self.drop_free(pid, f);
        }
    }

    /// Whether some Free message waits only for a snapshot past it.
    pub fn frees_await_snapshot(&self) -> bool {
        !self.frees_unsnapshotted.is_empty()
    }

    /// Free messages dropped so far (they died with nothing superseding them).
    pub fn frees_dropped(&self) -> u64 {
        self.frees_dropped
    }

    /// Whether the blob message at `lsn` of page `pid` is live: in Linear mode every
    /// message at or above the log's start is; in Gc mode, one no later message of
    /// its page superseded. A live message's blob file has not been removed and must
    /// exist.
    pub fn blob_is_live(&self, pid: PageId, lsn: Lsn) -> bool {
        if !self.gc {
            return lsn >= self.truncated;
        }
        self.blobs
            .get(&pid)
            .is_some_and(|v| v.iter().any(|&(l, _)| l == lsn))
    }

    /// Pages with live fragments in Draining segments, or in the segment that keeps
    /// the file long ([`Accountant::relocation_slot`]): rewrite them to free the space.
    /// `compacting` takes every finished segment holding a dead fragment for
    /// Draining.
    pub fn clean_candidates(&self, compacting: bool) -> Vec<PageId> {
        let acct = &self.acct;
        let tail = acct.relocation_slot();
        let draining = self
            .pages
            .iter()
            .filter(|(_, p)| {
                p.slots
                    .any(|s| acct.is_draining(s, compacting) || Some(s) == tail)
            })
            .map(|(&pid, _)| pid);
        draining.collect::<BTreeSet<_>>().into_iter().collect()
    }

    /// A batch's manifest at `manifest` covers lsns up to `end`.
    pub fn record_batch(&mut self, manifest: Lsn, end: Lsn) {
        self.acct.mark_batch(manifest, end);
    }

    /// Linear mode: a Truncate record for `lsn` is durable, so every segment wholly
    /// below it may leave the log (once the other reuse rules hold; `stabilize`).
    pub fn truncate(&mut self, lsn: Lsn) {
        if lsn > self.truncated {
            self.truncated = lsn;
            self.unhandled_truncation = Some(lsn);
        }
    }

    /// A Truncate record for `lsn` ending at `record_end` was written: it takes
    /// effect once the stable lsn reaches `record_end` (`stabilize`).
    pub fn truncate_when_stable(&mut self, lsn: Lsn, record_end: Lsn) {
        let later = self.pending_truncation.is_none_or(|(t, _)| lsn > t);
        if later {
            self.pending_truncation = Some((lsn, record_end));
        }
    }

    /// The truncation point that took effect since the last call, if any: the caller
    /// removes the blob files below it.
    pub fn take_truncation(&mut self) -> Option<Lsn> {
        self.unhandled_truncation.take()
    }

    /// The log's start set by `truncate` (0 if never truncated).
    pub fn truncated(&self) -> Lsn {
        self.truncated
    }

    /// A durable segment header vouches that every lsn below `stable` was stable.
    pub fn vouch(&mut self, stable: Lsn) {
        self.vouched = self.vouched.max(stable);
    }

    /// A durable Vouch message vouches that every lsn below `stable` was stable. That
    /// is enough for a superseded blob file to go (recovery reports damage below any
    /// durable Vouch, so the blob's message never comes back live unnoticed), not
    /// for a segment to be reused (recovery skips a freed segment only below a
    /// header's vouch). A page of large values rewritten often kept every dead blob
    /// until the next segment began: 44 MB beside one live 100 KiB page.
    pub fn vouch_blobs(&mut self, stable: Lsn) {
        self.vouched_by_message = self.vouched_by_message.max(stable);
    }

    /// Applies the vouched stable lsn (capped by `stable`, the tracker's): segments
    /// meeting the reuse rules become Free. Returns blobs whose superseding message is
    /// now vouched, for the caller to remove.
    pub fn stabilize(&mut self, stable: Lsn) -> Vec<Lsn> {
        if let Some((lsn, _)) = self.pending_truncation.filter(|&(_, end)| stable >= end) {
            self.pending_truncation = None;
            self.truncate(lsn);
        }
        if !self.gc {
            // Linear mode tracks no pages: a segment is dead once it lies wholly below
            // the durable truncation point, which the accountant sees as its "stable"
            // lsn (every segment below it has no live fragment to keep).
            let point = self.truncated.min(stable);
            if point > self.stabilized {
                self.stabilized = point;
                self.acct.stabilize(point);
            }
            return Vec::new();
        }
        let point = self.vouched.min(stable);
        if point > self.stabilized {
            self.stabilized = point;
            self.acct.stabilize(point);
        }
        let blobs_point = self.vouched.max(self.vouched_by_message).min(stable);
        let due: Vec<Lsn> = self
            .blob_deaths
            .range(..blobs_point)
            .map(|(l, _)| *l)
            .collect();
        due.into_iter()
            .flat_map(|l| self.blob_deaths.remove(&l).unwrap_or_default())
            .collect()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const SEG: u64 = 1024;

    fn gc() -> Space {
        Space::new(Accountant::new(SEG, 40), true)
    }

    fn frag(kind: StoredKind, pid: PageId, lsn: Lsn) -> Fragment {
        let blob = kind.is_blob().then_some(lsn);
        Fragment {
            kind,
            pid,
            lsn,
            blob,
        }
    }

    #[test]
    fn a_replaced_blob_dies_only_once_the_replacement_is_vouched_stable() {
        let mut s = gc();
        s.accountant_mut().next(0);
        s.record(StoredKind::AppendBlob, 1, 100, Some(100));
        s.record(StoredKind::Replace, 1, 300, None);
        s.vouch(250);
        assert!(s.stabilize(1000).is_empty(), "vouched only up to 250");
        s.vouch(400);
        assert!(s.stabilize(290).is_empty(), "tracker stable only up to 290");
        assert_eq!(s.stabilize(1000), vec![100]);
    }

    #[test]
    fn a_vouch_message_frees_a_replaced_blob_but_no_segment() {
        let mut s = gc();
        s.accountant_mut().next(0);
        s.record(StoredKind::AppendBlob, 1, 100, Some(100));
        s.accountant_mut().deactivate(0);
        s.accountant_mut().next(SEG);
        s.record(StoredKind::Replace, 1, SEG + 10, None);
        s.vouch_blobs(SEG + 100);
        assert_eq!(
            s.stabilize(2 * SEG),
            vec![100],
            "a durable Vouch covers the Replace"
        );
        settle(&mut s);
        assert!(
            s.accountant().holds_segment(0),
            "segment 0 waits for a header"
        );
        s.vouch(SEG + 100);
        assert!(s.stabilize(2 * SEG).is_empty(), "the blob went already");
        settle(&mut s);
        assert!(
            !s.accountant().holds_segment(0),
            "a header's vouch frees segment 0"
        );
    }

    #[test]
    fn a_buffer_written_early_waits_for_the_one_below_it() {
        let mut s = gc();
        s.accountant_mut().next(0);
        s.record_from(100);
        s.record_buffer(200, 300, vec![frag(StoredKind::Replace, 1, 250)]);
        assert!(!s.blob_is_live(1, 150), "nothing recorded yet");
        s.record_buffer(100, 200, vec![frag(StoredKind::AppendBlob, 1, 150)]);
        assert!(
            !s.blob_is_live(1, 150),
            "recorded in lsn order: 250 replaced it"
        );
        s.vouch(400);
        assert_eq!(s.stabilize(400), vec![150]);
    }

    #[test]
    fn a_blob_fragment_is_live_until_a_later_message_of_its_page_supersedes_it() {
        let mut s = gc();
        s.accountant_mut().next(0);
        s.record(StoredKind::AppendBlob, 1, 100, Some(100));
        s.record(StoredKind::AppendBlob, 1, 150, Some(150));
        assert!(s.blob_is_live(1, 100) && s.blob_is_live(1, 150));
        assert!(!s.blob_is_live(2, 100), "another page");
        s.record(StoredKind::ReplaceBlob, 1, 300, Some(300));
        assert!(!s.blob_is_live(1, 100) && !s.blob_is_live(1, 150));
        assert!(s.blob_is_live(1, 300));
    }

    #[test]
    fn a_page_entry_stays_small() {
        assert_eq!(std::mem::size_of::<Slots>(), 16);
        assert_eq!(
            std::mem::size_of::<Page>(),
            24,
            "slots and a ghost list pointer"
        );
    }

    #[test]
    #[should_panic(expected = "recorded after")]
    fn fragments_out_of_lsn_order_are_a_broken_invariant() {
        let mut s = gc();
        s.accountant_mut().next(0);
        s.record(StoredKind::Append, 1, 300, None);
        s.record(StoredKind::Append, 2, 200, None);
    }

    #[test]
    fn linear_mode_tracks_nothing_and_frees_no_blob() {
        let mut s = Space::new(Accountant::new(SEG, 40), false);
        s.accountant_mut().next(0);
        s.record(StoredKind::AppendBlob, 1, 100, Some(100));
        s.record(StoredKind::Replace, 1, 300, None);
        s.vouch(900);
        assert!(s.stabilize(900).is_empty());
    }

    /// Plays the log's caller: zeroes (nothing to do here) and reports every release.
    fn settle(s: &mut Space) {
        loop {
            let offsets = s.accountant_mut().take_releases();
            if offsets.is_empty() {
                return;
            }
            s.released(&offsets);
        }
    }

    #[test]
    fn sparse_segments_name_their_live_pages() {
        let mut s = gc();
        s.accountant_mut().next(0);
        for pid in 0..10 {
            s.record(StoredKind::Replace, pid, 1 + pid * 10, None);
        }
        s.accountant_mut().deactivate(0);
        s.accountant_mut().next(SEG);
        for pid in 0..7 {
            s.record(StoredKind::Replace, pid, SEG + pid * 10, None);
        }
        s.vouch(SEG + 100);
        s.stabilize(SEG + 100);
        assert_eq!(
            s.clean_candidates(false),
            [7, 8, 9],
            "3 of 10 live is under 40%"
        );
    }

    /// Runs a skewed workload: 6 hot pages rewritten in (almost) every segment, plus, in
    /// the first 50 segments, 2 cold pages written once and never again. Returns the
    /// segments in use at the end. Cold pages pin their sparse segments until
    /// cleaning rewrites them, 8 to a segment: 100 cold pages need 13 segments.
    fn skewed_workload(clean: bool) -> usize {
        let mut s = gc();
        for round in 0..400_u64 {
            let seg_lsn = round * SEG;
            s.accountant_mut().next(seg_lsn);
            let mut todo: Vec<PageId> = Vec::new();
            if round < 50 {
                todo.extend([1000 + 2 * round, 1001 + 2 * round]);
            } else if clean {
                // Cleaning packs rewritten cold pages densely, ahead of hot ones.
                let cold = s.clean_candidates(false).into_iter().filter(|p| *p >= 1000);
                todo.extend(cold.take(8));
            }
            todo.extend((0..6).take(8 - todo.len()));
            for (at, pid) in todo.into_iter().enumerate() {
                s.record(
                    StoredKind::Replace,
                    pid,
                    seg_lsn + 1 + at as u64 * 100,
                    None,
                );
            }
            s.accountant_mut().deactivate(seg_lsn);
            s.vouch(seg_lsn + SEG);
            s.stabilize(seg_lsn + SEG);
            settle(&mut s);
        }
        s.accountant().segments_in_use()
    }

    #[test]
    fn a_steady_working_set_keeps_the_file_bounded() {
        let without = skewed_workload(false);
        let with = skewed_workload(true);
        assert!(without >= 50, "cold pages pin their 50 segments: {without}");
        assert!(
            with <= 13 + 3,
            "cleaning must pack cold pages densely: {with} segments"
        );
    }

    /// Vouches and stabilizes everything below `lsn`, then reports the releases.
    fn vouch_all(s: &mut Space, lsn: Lsn) {
        s.vouch(lsn);
        s.stabilize(lsn);
        settle(s);
    }

    /// Segment 0 finished, holding page 1's base and page 2's; segment 1 begun; no
    /// snapshot holds any Free back.
    fn two_pages_in_segment_zero() -> Space {
        let mut s = gc();
        s.set_snapshot_floor(Lsn::MAX);
        s.accountant_mut().next(0);
        s.record(StoredKind::Replace, 1, 10, None);
        s.record(StoredKind::Replace, 2, 20, None);
        s.accountant_mut().deactivate(0);
        s.accountant_mut().next(SEG);
        s
    }

    #[test]
    fn a_free_waits_only_for_the_segments_holding_older_messages_of_its_page() {
        let mut s = two_pages_in_segment_zero();
        s.record(StoredKind::Replace, 3, SEG + 10, None);
        s.accountant_mut().deactivate(SEG);
        s.accountant_mut().next(2 * SEG);
        s.record(StoredKind::Free, 1, 2 * SEG + 10, None);
        vouch_all(&mut s, 2 * SEG + 100);
        assert_eq!(s.frees_dropped(), 0, "segment 0 still holds page 1's base");
        // Page 2 moves on: segment 0 empties and leaves the log.
        s.record(StoredKind::Replace, 2, 2 * SEG + 20, None);
        vouch_all(&mut s, 2 * SEG + 200);
        assert!(!s.accountant().holds_segment(0));
        assert!(s.accountant().holds_segment(SEG));
        assert_eq!(
            s.frees_dropped(),
            1,
            "segment 1 never held page 1, so it does not keep the Free"
        );
    }

    #[test]
    fn a_free_waits_for_a_snapshot_past_it() {
        let mut s = gc();
        s.accountant_mut().next(0);
        s.record(StoredKind::Replace, 1, 10, None);
        s.record(StoredKind::Free, 1, 20, None);
        vouch_all(&mut s, 100);
        assert!(
            s.frees_await_snapshot(),
            "its base shares its segment: no wait"
        );
        s.set_snapshot_floor(20);
        assert_eq!(
            s.frees_dropped(),
            0,
            "a snapshot at 20 does not hold the Free"
        );
        s.set_snapshot_floor(21);
        assert_eq!(s.frees_dropped(), 1);
        assert!(!s.frees_await_snapshot());
    }

    #[test]
    fn a_page_written_after_its_free_takes_the_free_out_of_waiting() {
        let mut s = two_pages_in_segment_zero();
        s.record(StoredKind::Free, 1, SEG + 10, None);
        s.record(StoredKind::Replace, 1, SEG + 20, None);
        s.record(StoredKind::Replace, 2, SEG + 30, None);
        vouch_all(&mut s, SEG + 100);
        assert!(!s.accountant().holds_segment(0), "segment 0 emptied");
        assert_eq!(s.frees_dropped(), 0, "the id was allocated again");
    }
}
