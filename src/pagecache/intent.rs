//! [`Intent`]: the shared decision of an atomic batch across pages.
//!
//! A batch first swaps each of its pages' views for a copy that carries the batch's
//! intent (same state, same version): while the intent is undecided, readers see the
//! page as it was before the batch, and single-page updates find the page busy and
//! lose. Then the batch writes its messages as one log batch (recovered all or none)
//! and decides: one store makes every page's new state the page's state at once (the
//! batch's linearization point). Anyone who meets a decided intent settles it for the
//! batch: swaps in the page's new view if it committed, or the old state without the
//! intent if it aborted. So pages of a batch are never seen half applied, in memory
//! or after a crash.

use std::sync::OnceLock;

use super::page_ref::PageId;
use super::view::View;
use crate::sync::{AtomicU8, Ordering};

const UNDECIDED: u8 = 0;
const COMMITTED: u8 = 1;
const ABORTED: u8 = 2;

/// What a batch decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Still writing: the pages' old states stand and they are busy.
    Undecided,
    /// Applied: each page's new view is its state.
    Committed,
    /// Not applied: each page's old state stands.
    Aborted,
}

/// A batch's decision and, once committed, each page's new view.
#[derive(Debug)]
pub struct Intent<P> {
    decision: AtomicU8,
    afters: OnceLock<Vec<(PageId, View<P>)>>,
}

impl<P> Default for Intent<P> {
    fn default() -> Intent<P> {
        Intent {
            decision: AtomicU8::new(UNDECIDED),
            afters: OnceLock::new(),
        }
    }
}

impl<P> Intent<P> {
    /// The decision now.
    pub fn decision(&self) -> Decision {
        match self.decision.load(Ordering::Acquire) {
            UNDECIDED => Decision::Undecided,
            COMMITTED => Decision::Committed,
            _ => Decision::Aborted,
        }
    }

    /// Commits with each page's new view: from this store on, they are the pages'
    /// states.
    pub fn commit(&self, afters: Vec<(PageId, View<P>)>) {
        assert!(
            self.afters.set(afters).is_ok(),
            "a batch decided twice (commit)"
        );
        let was = self.decision.swap(COMMITTED, Ordering::AcqRel);
        assert_eq!(was, UNDECIDED, "a batch decided twice");
    }

    /// Aborts: the pages keep their old states.
    pub fn abort(&self) {
        let was = self.decision.swap(ABORTED, Ordering::AcqRel);
        assert_eq!(was, UNDECIDED, "a batch decided twice");
    }

    /// The new view of `pid` in a committed batch.
    pub fn after(&self, pid: PageId) -> &View<P> {
        let afters = self.afters.get().expect("a committed batch has its views");
        let at = afters
            .binary_search_by_key(&pid, |(p, _)| *p)
            .expect("the page is in the batch");
        &afters[at].1
    }
}
