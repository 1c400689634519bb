//! The page oracle: a model of every page's merged value and of the roots, as the
//! run's applied updates made them: the state at the last recovery, the updates
//! applied since (replayed to rebuild any cut), how many of them are acknowledged,
//! and the newest state.
//!
//! Updates run one at a time (one scheduler thread), so the order they were applied
//! in is the log's order, and a crash keeps a prefix of them: after each recovery the
//! pages and roots must equal the model at one cut C, with every update acknowledged
//! (a flush or clean close returned Ok) at or below C, and C at most what was applied
//! (an update that failed with an error may be in the log or not: its state is one
//! more candidate, and an allocate that failed may have left its page at an id
//! nobody saw). The recovered state then becomes the model's base. A page that is not
//! in the state must not be readable, so no freed page comes back.
//!
//! After durable damage (a misdirected write, a flipped bit, a damaged header) the
//! engine must report `Corruption` or recover true data: any state the run ever had
//! is accepted (counted when it lies below the last acknowledgement), never one it
//! did not have. The log seeds check the finer rule, that an acknowledged message is
//! lost only where no intact later write vouched for it.

use std::collections::{BTreeMap, BTreeSet};

use crate::pagecache::PageId;
use crate::simulation::oracle::{Invariant, Violation};

/// Pages by id, each its merged value.
pub type Pages = BTreeMap<PageId, Vec<u8>>;

/// The page cache's content as a user sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageState {
    /// Every live page.
    pub pages: Pages,
    /// The named roots.
    pub roots: BTreeMap<String, PageId>,
}

impl PageState {
    /// A 64-bit fingerprint: the wrapping sum of each page's hash (`page_hash`) plus
    /// the roots' hash. The same state gives the same value in every run (it stays
    /// in memory), and a sum can follow an update by the pages it touched alone.
    fn fingerprint(&self) -> u64 {
        self.pages_sum().wrapping_add(self.roots_hash())
    }

    fn pages_sum(&self) -> u64 {
        self.pages
            .iter()
            .fold(0, |sum, (pid, v)| sum.wrapping_add(page_hash(*pid, v)))
    }

    fn roots_hash(&self) -> u64 {
        let mut h = Mix::default();
        for (name, pid) in &self.roots {
            h.add(u64::MAX);
            name.bytes().for_each(|b| h.add(u64::from(b)));
            h.add(*pid);
        }
        h.0
    }
}

/// Multiply-xor mixing of 64-bit words.
struct Mix(u64);

impl Default for Mix {
    fn default() -> Self {
        Mix(0x9e37_79b9_7f4a_7c15)
    }
}

impl Mix {
    fn add(&mut self, x: u64) {
        self.0 = (self.0 ^ x).wrapping_mul(0x100_0000_01b3).rotate_left(29);
    }
}

/// One page's hash: its id, length and every byte.
fn page_hash(pid: PageId, v: &[u8]) -> u64 {
    let mut h = Mix::default();
    h.add(pid);
    h.add(v.len() as u64);
    for chunk in v.chunks(8) {
        let mut word = [0; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h.add(u64::from_le_bytes(word));
    }
    h.0
}

/// An applied update, as a function of the state before it (replayed to rebuild
/// the cuts at a recovery).
type Change = Box<dyn Fn(&mut PageState) + Send>;

/// How a recovered state matched the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matched {
    /// At or past the last acknowledgement.
    Cut,
    /// Below it, after durable damage.
    LostAcked,
}

/// The model; see the module doc. It keeps the state at the last acknowledgement,
/// the updates applied since (as functions, not copies: a copy per update made the
/// model the campaign's cost) and the newest state.
pub struct PageModel {
    /// The state at the last recovery.
    base: PageState,
    /// Updates applied since, in order.
    changes: Vec<Change>,
    /// How many of `changes` are acknowledged: a recovery's cut lies at or past.
    acked: usize,
    /// The newest state: `base` with every change applied.
    now: PageState,
    /// `now.pages_sum()`, kept up to date update by update.
    now_pages_sum: u64,
    /// The state an update that failed with an error would have made.
    maybe: Option<PageState>,
    /// The value of an allocate that failed with an error (its id unknown).
    maybe_alloc: Option<Vec<u8>>,
    /// Fingerprints of every state the run had.
    history: BTreeSet<u64>,
    /// The highest id `generate_id` handed out.
    pub max_id: Option<u64>,
}

impl std::fmt::Debug for PageModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageModel")
            .field("changes", &self.changes.len())
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl Default for PageModel {
    fn default() -> Self {
        let start = PageState::default();
        PageModel {
            history: BTreeSet::from([start.fingerprint()]),
            base: start.clone(),
            changes: Vec::new(),
            acked: 0,
            now: start,
            now_pages_sum: 0,
            maybe: None,
            maybe_alloc: None,
            max_id: None,
        }
    }
}

impl PageModel {
    /// The state after the last applied update.
    pub fn now(&self) -> &PageState {
        &self.now
    }

    /// An update applied: `f` makes the new state from the current one, changing
    /// no page but those in `touched` (and maybe the roots).
    pub fn apply(&mut self, touched: &[PageId], f: impl Fn(&mut PageState) + Send + 'static) {
        let sum = |s: &PageState| {
            touched.iter().fold(0u64, |sum, pid| {
                let h = s.pages.get(pid).map_or(0, |v| page_hash(*pid, v));
                sum.wrapping_add(h)
            })
        };
        let before = sum(&self.now);
        f(&mut self.now);
        self.now_pages_sum = self
            .now_pages_sum
            .wrapping_sub(before)
            .wrapping_add(sum(&self.now));
        let fingerprint = self.now_pages_sum.wrapping_add(self.now.roots_hash());
        self.history.insert(fingerprint);
        self.changes.push(Box::new(f));
    }

    /// An update failed with an error: it may be in the log (`f` as in `apply`).
    pub fn failed(&mut self, f: impl FnOnce(&mut PageState)) {
        let mut next = self.now().clone();
        f(&mut next);
        self.history.insert(next.fingerprint());
        self.maybe = Some(next);
    }

    /// An allocate of `value` failed with an error: its page may be in the log, at
    /// an id the caller never saw.
    pub fn failed_allocate(&mut self, value: Vec<u8>) {
        self.maybe_alloc = Some(value);
    }

    /// Everything applied so far is acknowledged durable.
    pub fn ack(&mut self) {
        self.acked = self.changes.len();
        self.maybe = None;
        self.maybe_alloc = None;
    }

    /// Checks what an open recovered (`got`) and makes it the base. `damage`: a
    /// durable-damage fault fired in this run.
    pub fn recovered(&mut self, got: &PageState, damage: bool) -> Result<Matched, Violation> {
        let matched = self.matches(got, damage);
        self.maybe = None;
        self.maybe_alloc = None;
        match matched {
            Some(m) => {
                self.base = got.clone();
                self.now = got.clone();
                self.now_pages_sum = got.pages_sum();
                self.changes.clear();
                self.acked = 0;
                self.history.insert(got.fingerprint());
                Ok(m)
            }
            None => Err(Violation::new(
                Invariant::I1,
                format!(
                    "the recovered pages match no cut of the applied updates at or past the last acknowledgement: {}",
                    self.difference(got)
                ),
            )),
        }
    }

    fn matches(&self, got: &PageState, damage: bool) -> Option<Matched> {
        let cut =
            self.is_a_cut(got) || self.maybe.as_ref() == Some(got) || self.with_stray_allocate(got);
        if cut {
            return Some(Matched::Cut);
        }
        (damage && self.history.contains(&got.fingerprint())).then_some(Matched::LostAcked)
    }

    /// `got` is the state after some prefix of the updates since the base, at or
    /// past the acknowledged ones.
    fn is_a_cut(&self, got: &PageState) -> bool {
        let mut s = self.base.clone();
        let (acked, rest) = self.changes.split_at(self.acked);
        acked.iter().for_each(|change| change(&mut s));
        if &s == got {
            return true;
        }
        rest.iter().any(|change| {
            change(&mut s);
            &s == got
        })
    }

    /// `got` is the newest state plus one page holding the failed allocate's value.
    fn with_stray_allocate(&self, got: &PageState) -> bool {
        let Some(value) = &self.maybe_alloc else {
            return false;
        };
        let now = self.now();
        let strays: Vec<PageId> = got
            .pages
            .iter()
            .filter(|(pid, v)| !now.pages.contains_key(*pid) && *v == value)
            .map(|(pid, _)| *pid)
            .collect();
        strays.iter().any(|pid| {
            let mut rest = got.clone();
            rest.pages.remove(pid);
            &rest == now
        })
    }

    /// How `got` differs from the newest state, briefly.
    fn difference(&self, got: &PageState) -> String {
        let now = self.now();
        let mut out = Vec::new();
        for (pid, v) in &got.pages {
            match now.pages.get(pid) {
                None => out.push(format!("page {pid} is back ({} bytes)", v.len())),
                Some(w) if w != v => out.push(format!(
                    "page {pid} holds {} bytes, the model {} (first differing byte {})",
                    v.len(),
                    w.len(),
                    v.iter()
                        .zip(w)
                        .position(|(a, b)| a != b)
                        .unwrap_or(v.len().min(w.len()))
                )),
                Some(_) => {}
            }
        }
        for pid in now.pages.keys().filter(|p| !got.pages.contains_key(p)) {
            out.push(format!("page {pid} is missing"));
        }
        if got.roots != now.roots {
            out.push(format!("roots {:?}, the model {:?}", got.roots, now.roots));
        }
        out.truncate(6);
        format!(
            "{} ({} updates since the acknowledgement)",
            out.join("; "),
            self.changes.len() - self.acked
        )
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn with(pid: PageId, v: &[u8]) -> (PageId, impl Fn(&mut PageState) + Send + 'static) {
        let v = v.to_vec();
        let f = move |s: &mut PageState| {
            s.pages.insert(pid, v.clone());
        };
        (pid, f)
    }

    fn apply(m: &mut PageModel, (pid, f): (PageId, impl Fn(&mut PageState) + Send + 'static)) {
        m.apply(&[pid], f);
    }

    #[test]
    fn the_fingerprint_kept_update_by_update_is_the_whole_states() {
        let mut m = PageModel::default();
        for i in 0..200u64 {
            let pid = i % 7;
            let v: Vec<u8> = (0..(i % 13) as u8).collect();
            match i % 5 {
                0 => m.apply(&[pid], move |s| {
                    s.pages.remove(&pid);
                }),
                1 => m.apply(&[], move |s| {
                    s.roots.insert("r".into(), pid);
                }),
                _ => apply(&mut m, with(pid, &v)),
            }
            let whole = m.now().fingerprint();
            assert!(m.history.contains(&whole), "update {i}");
            assert_eq!(m.now_pages_sum, m.now().pages_sum(), "update {i}");
        }
    }

    #[test]
    fn a_recovery_may_stop_at_any_cut_past_the_acknowledgement_and_no_other() {
        let mut m = PageModel::default();
        apply(&mut m, with(3, b"a"));
        m.ack();
        apply(&mut m, with(3, b"ab"));
        apply(&mut m, with(4, b"x"));
        let mut got = PageState::default();
        got.pages.insert(3, b"ab".to_vec());
        assert_eq!(m.recovered(&got, false), Ok(Matched::Cut));
        assert!(
            m.recovered(&PageState::default(), false).is_err(),
            "below the ack"
        );
        assert_eq!(
            m.recovered(&PageState::default(), true),
            Ok(Matched::LostAcked),
            "after damage, a state the run had"
        );
        got.pages.insert(3, b"ba".to_vec());
        assert!(
            m.recovered(&got, true).is_err(),
            "a state the run never had"
        );
    }

    #[test]
    fn a_failed_allocate_may_leave_its_page_at_an_unseen_id() {
        let mut m = PageModel::default();
        m.failed_allocate(b"v".to_vec());
        let mut got = PageState::default();
        got.pages.insert(9, b"v".to_vec());
        assert_eq!(m.recovered(&got, false), Ok(Matched::Cut));
        got.pages.insert(10, b"w".to_vec());
        assert!(m.recovered(&got, false).is_err());
    }
}
