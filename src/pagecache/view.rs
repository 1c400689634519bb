//! [`View`]: one immutable state of one page, the thing a page table slot points at.
//!
//! Every update builds a new view and swaps it in with one compare-and-swap on the
//! slot; a view is never changed after it is published, so a reader holding one (under
//! an epoch guard) sees a consistent page. A view holds the page's fragments as disk
//! pointers only (base first, then deltas in lsn order) and, when the page is
//! resident, its merged value. A paged-out page is a view with no value: its pointers,
//! never a decoded page.
//!
//! Invariants (asserted where views are built):
//! - Fragments are in strictly increasing lsn order (I10): a fragment's reservation
//!   is taken only after the read that supplied the head it replaces, and lsns are
//!   handed out in time order, so a successful swap always appends a higher lsn.
//! - A live page's first fragment is a base; a freed page has no fragments.
//! - `version` goes up by one with every swap that changes the page (allocate, link,
//!   replace, free); caching or dropping the merged value keeps it.
//! - A view's `charge` (what residency accounting counted for it) is fixed when it is
//!   built and is zero exactly when it holds no value.
//! - A view held by a batch (`intent`) carries the page's state from before the
//!   batch; what replaces it is decided by the batch (`intent.rs`).

use super::intent::Intent;
use crate::log::{Lsn, Pointer};
use crate::sync::{Arc, AtomicU8, Ordering};

/// Most a page's hit counter holds: a page touched this often survives this many
/// passes of the evictor over the main queue without a new touch.
pub const MAX_HITS: u8 = 3;

/// A merged value held in memory, and the bytes residency accounting charges for it
/// (the Materializer's size plus the cache's fixed per-page overhead).
#[derive(Debug)]
pub struct Resident<P> {
    /// The merged page.
    pub value: Arc<P>,
    /// Bytes charged against `cache_capacity_bytes`.
    pub charge: u64,
}

impl<P> Clone for Resident<P> {
    fn clone(&self) -> Resident<P> {
        Resident {
            value: Arc::clone(&self.value),
            charge: self.charge,
        }
    }
}

/// One fragment of a page: where it lives in the log and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frag {
    /// Its message in the log.
    pub ptr: Pointer,
    /// Its encoded length in bytes.
    pub len: u32,
    /// A base (Replace message) or a delta (Append).
    pub base: bool,
}

/// One state of one page; see the module doc.
#[derive(Debug)]
pub struct View<P> {
    /// Changes with every update of the page.
    pub version: u64,
    /// Base first, then deltas, in lsn order; empty when the page is free.
    pub frags: Vec<Frag>,
    /// The merged value, when resident.
    pub cached: Option<Resident<P>>,
    /// Touches since the evictor last looked (at most [`MAX_HITS`]): a hint, updated
    /// without ordering, the only thing about a view that changes after it is
    /// published.
    hits: AtomicU8,
    /// A batch that holds this page ([`Intent`]): until it is decided, this view's
    /// own state is the page's, and no single update may replace it.
    pub intent: Option<Arc<Intent<P>>>,
}

impl<P> View<P> {
    /// A page whose only fragment is the base `frag`.
    pub fn based(version: u64, frag: Frag, cached: Option<Resident<P>>) -> View<P> {
        assert!(frag.base, "a page starts with a base");
        View {
            version,
            frags: vec![frag],
            cached,
            hits: AtomicU8::new(0),
            intent: None,
        }
    }

    /// A page as recovery found it: `frags` base first, in lsn order (empty: free).
    pub fn recovered(version: u64, frags: Vec<Frag>) -> View<P> {
        assert!(
            frags.first().is_none_or(|f| f.base),
            "a recovered page starts with a base"
        );
        assert!(
            frags.windows(2).all(|w| w[0].ptr.lsn < w[1].ptr.lsn),
            "recovered fragments in lsn order (I10)"
        );
        View {
            version,
            frags,
            cached: None,
            hits: AtomicU8::new(0),
            intent: None,
        }
    }

    /// A freed page.
    pub fn freed(version: u64) -> View<P> {
        View {
            version,
            frags: Vec::new(),
            cached: None,
            hits: AtomicU8::new(0),
            intent: None,
        }
    }

    /// Whether the page is free.
    pub fn is_free(&self) -> bool {
        self.frags.is_empty()
    }

    /// The lsn of the newest fragment (0 for a free page).
    pub fn newest(&self) -> Lsn {
        self.frags.last().map_or(0, |f| f.ptr.lsn)
    }

    /// Deltas after the base.
    pub fn deltas(&self) -> usize {
        self.frags.len().saturating_sub(1)
    }

    /// Encoded bytes of every fragment.
    pub fn chain_bytes(&self) -> u64 {
        self.frags.iter().map(|f| u64::from(f.len)).sum()
    }

    /// This page with the delta `frag` appended and `cached` as its value.
    pub fn linked(&self, frag: Frag, cached: Option<Resident<P>>) -> View<P> {
        assert!(!self.is_free(), "link to a free page");
        assert!(
            frag.ptr.lsn > self.newest(),
            "fragment at lsn {} after {} (I10)",
            frag.ptr.lsn,
            self.newest()
        );
        let mut frags = self.frags.clone();
        frags.push(frag);
        View {
            version: self.version + 1,
            frags,
            cached,
            hits: AtomicU8::new(self.hits_now().saturating_add(1).min(MAX_HITS)),
            intent: None,
        }
    }

    /// The same page state with `cached` as its value (same version); the hit count
    /// and any batch intent carry over.
    pub fn with_cached(&self, cached: Option<Resident<P>>) -> View<P> {
        View {
            version: self.version,
            frags: self.frags.clone(),
            cached,
            hits: AtomicU8::new(self.hits_now()),
            intent: self.intent.clone(),
        }
    }

    /// The same page state held by the batch `intent` (None: released).
    pub fn with_intent(&self, intent: Option<Arc<Intent<P>>>) -> View<P> {
        View {
            intent,
            ..self.with_cached(self.cached.clone())
        }
    }

    /// Bytes residency accounting charges for this view (0 when not resident).
    pub fn charge(&self) -> u64 {
        self.cached.as_ref().map_or(0, |r| r.charge)
    }

    /// The merged value, if resident.
    pub fn value(&self) -> Option<&Arc<P>> {
        self.cached.as_ref().map(|r| &r.value)
    }

    /// Records a touch (a get that found the page resident).
    pub fn touch(&self) {
        let now = self.hits.load(Ordering::Relaxed);
        if now < MAX_HITS {
            self.hits.store(now + 1, Ordering::Relaxed);
        }
    }

    /// Whether the page was touched since the evictor last looked; takes one touch
    /// away if so.
    pub fn take_hit(&self) -> bool {
        let now = self.hits.load(Ordering::Relaxed);
        if now > 0 {
            self.hits.store(now - 1, Ordering::Relaxed);
        }
        now > 0
    }

    fn hits_now(&self) -> u8 {
        self.hits.load(Ordering::Relaxed)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn frag(lsn: Lsn, base: bool) -> Frag {
        Frag {
            ptr: Pointer {
                lsn,
                file_offset: lsn,
            },
            len: 10,
            base,
        }
    }

    #[test]
    fn a_link_appends_in_lsn_order_and_bumps_the_version() {
        let v: View<u8> = View::based(3, frag(100, true), None);
        let w = v.linked(frag(200, false), None);
        assert_eq!(
            (w.version, w.deltas(), w.newest(), w.chain_bytes()),
            (4, 1, 200, 20)
        );
        let resident = Resident {
            value: Arc::new(1),
            charge: 9,
        };
        let cached = w.with_cached(Some(resident));
        assert_eq!((cached.version, cached.charge(), w.charge()), (4, 9, 0));
    }

    #[test]
    #[should_panic(expected = "I10")]
    fn a_fragment_below_the_newest_is_a_broken_invariant() {
        let v: View<u8> = View::based(1, frag(100, true), None);
        let _ = v.linked(frag(50, false), None);
    }

    /// The README and `Config::cache_capacity_bytes` state what a paged-out page
    /// costs: a view (64 bytes) behind its slot's pointer (8), and 24 per fragment.
    #[test]
    fn a_paged_out_page_costs_what_the_docs_say() {
        assert_eq!(std::mem::size_of::<View<Vec<u8>>>(), 64);
        assert_eq!(std::mem::size_of::<Frag>(), 24);
    }

    #[test]
    fn touches_are_capped_carried_over_and_taken_one_at_a_time() {
        let v: View<u8> = View::freed(1);
        for _ in 0..10 {
            v.touch();
        }
        let w = v.with_cached(None);
        let taken = (0..5).filter(|_| w.take_hit()).count();
        assert_eq!(taken, usize::from(MAX_HITS));
    }
}
