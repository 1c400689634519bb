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

use crate::log::{Lsn, Pointer};
use crate::sync::Arc;

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
    pub cached: Option<Arc<P>>,
}

impl<P> View<P> {
    /// A page whose only fragment is the base `frag`.
    pub fn based(version: u64, frag: Frag, cached: Option<Arc<P>>) -> View<P> {
        assert!(frag.base, "a page starts with a base");
        View {
            version,
            frags: vec![frag],
            cached,
        }
    }

    /// A freed page.
    pub fn freed(version: u64) -> View<P> {
        View {
            version,
            frags: Vec::new(),
            cached: None,
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
    pub fn linked(&self, frag: Frag, cached: Option<Arc<P>>) -> View<P> {
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
        }
    }

    /// The same page state with `cached` as its value (same version).
    pub fn with_cached(&self, cached: Option<Arc<P>>) -> View<P> {
        View {
            version: self.version,
            frags: self.frags.clone(),
            cached,
        }
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
        assert_eq!(w.with_cached(Some(Arc::new(1))).version, 4);
    }

    #[test]
    #[should_panic(expected = "I10")]
    fn a_fragment_below_the_newest_is_a_broken_invariant() {
        let v: View<u8> = View::based(1, frag(100, true), None);
        let _ = v.linked(frag(50, false), None);
    }
}
