//! Which log space is live: the segment accountant fed with what each completed
//! message means for its page, and the blob files that die with their messages.
//!
//! In Linear mode the log is a history: nothing is tracked per page, and the only
//! space reclaimed is below the log's start, which `Log::truncate_before` moves up with
//! a durable Truncate record ([`Space::truncate`]): segments wholly below it leave the
//! log, and its blobs are removed. In Gc mode each page's live fragments are tracked: an Append adds one; a Replace, Free, Meta, Counter or Config
//! message supersedes every older fragment of its page. Superseded fragments (and their
//! blob files) die once the superseding message is *vouched* stable: covered by the
//! stable lsn recorded in a segment header that is itself durable. That is stricter
//! than "stable": recovery may skip a freed segment only when a durable header vouches
//! that its lsns were stable (`recovery.rs`), so a segment is reused only after such a
//! header exists.
//!
//! Messages may complete out of lsn order, so a fragment older than its page's newest
//! superseding message is dead on arrival.

use std::collections::BTreeMap;

use super::format::{Lsn, StoredKind};
use super::segment::{Accountant, PageId};

#[derive(Debug, Default, Clone)]
struct Page {
    /// Live fragments: (lsn, blob lsn if the payload is a blob).
    frags: Vec<(Lsn, Option<Lsn>)>,
    /// Lsn of the newest superseding message, 0 if none.
    base: Lsn,
}

/// The accountant plus per-page liveness and blob deaths.
#[derive(Debug)]
pub struct Space {
    acct: Accountant,
    gc: bool,
    pages: BTreeMap<PageId, Page>,
    /// superseding lsn -> blobs that die once it is vouched stable.
    blob_deaths: BTreeMap<Lsn, Vec<Lsn>>,
    /// Highest stable lsn recorded in a durable segment header.
    vouched: Lsn,
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
            pages: BTreeMap::new(),
            blob_deaths: BTreeMap::new(),
            vouched: 0,
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

    /// A completed message: `kind` for page `pid` at `lsn`, its payload in blob `blob`.
    pub fn record(&mut self, kind: StoredKind, pid: PageId, lsn: Lsn, blob: Option<Lsn>) {
        let bookkeeping = matches!(
            kind,
            StoredKind::Cancelled
                | StoredKind::Pad
                | StoredKind::BatchManifest
                | StoredKind::Vouch
                | StoredKind::Closed
                | StoredKind::Truncate
        );
        if !self.gc || bookkeeping {
            return;
        }
        let page = self.pages.entry(pid).or_default();
        if lsn < page.base {
            // superseded before it completed
            let base = page.base;
            self.acct.mark_link(pid, lsn);
            self.acct.kill(pid, &[lsn], base);
            self.blob_deaths.entry(base).or_default().extend(blob);
            return;
        }
        let supersedes = !matches!(kind, StoredKind::Append | StoredKind::AppendBlob);
        if !supersedes {
            page.frags.push((lsn, blob));
            self.acct.mark_link(pid, lsn);
            return;
        }
        let (older, newer): (Vec<_>, Vec<_>) = page.frags.iter().partition(|(l, _)| *l < lsn);
        page.frags = newer;
        page.frags.push((lsn, blob));
        page.base = lsn;
        let old_lsns: Vec<Lsn> = older.iter().map(|(l, _)| *l).collect();
        self.acct.mark_replace(pid, &old_lsns, lsn);
        let dead_blobs = older.iter().filter_map(|(_, b)| *b);
        self.blob_deaths.entry(lsn).or_default().extend(dead_blobs);
    }

    /// Whether the message at `lsn` of page `pid` is live: in Linear mode every
    /// message is; in Gc mode, a fragment no later message of its page superseded.
    /// A live message's blob file has not been removed and must exist.
    pub fn is_live(&self, pid: PageId, lsn: Lsn) -> bool {
        if !self.gc {
            return lsn >= self.truncated;
        }
        self.pages
            .get(&pid)
            .is_some_and(|p| p.frags.iter().any(|&(l, _)| l == lsn))
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
        if point <= self.stabilized {
            return Vec::new();
        }
        self.stabilized = point;
        self.acct.stabilize(point);
        let due: Vec<Lsn> = self.blob_deaths.range(..point).map(|(l, _)| *l).collect();
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
    fn an_append_completing_after_a_newer_replace_is_dead_on_arrival() {
        let mut s = gc();
        s.accountant_mut().next(0);
        s.record(StoredKind::Replace, 1, 500, None);
        s.record(StoredKind::AppendBlob, 1, 200, Some(200));
        s.vouch(600);
        assert_eq!(s.stabilize(600), vec![200]);
    }

    #[test]
    fn a_fragment_is_live_until_a_later_message_of_its_page_supersedes_it() {
        let mut s = gc();
        s.accountant_mut().next(0);
        s.record(StoredKind::AppendBlob, 1, 100, Some(100));
        s.record(StoredKind::Append, 1, 150, None);
        assert!(s.is_live(1, 100) && s.is_live(1, 150));
        assert!(!s.is_live(2, 100), "another page");
        s.record(StoredKind::Replace, 1, 300, None);
        assert!(!s.is_live(1, 100) && !s.is_live(1, 150) && s.is_live(1, 300));
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
}
