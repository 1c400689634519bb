//! The reference model: what was completed, aborted, acknowledged stable and batched,
//! and the invariants a recovered (or running) log must satisfy against it
//! (the invariants are defined in `docs/invariants.md`):
//!
//! - I1: every message acknowledged stable is recovered;
//! - I2: what is recovered is exactly the completed messages below some cut `C` with
//!   `acked <= C <= tip` (the model's state at some cut): nothing aborted,
//!   torn or invented, and no gap. The cut is found from what came back (just past
//!   its newest message, or `acked` if that is higher), not taken to be the tip: a
//!   recovery interrupted before the model saw it may cut completed, unacknowledged
//!   messages at a segment boundary, and once its jump segment is reclaimed nothing
//!   on disk names that cut any more, so the next recovery's tip lies above
//!   messages that are legitimately gone (found by seed 857 of a 20,000-step campaign). A live log's view, by contrast,
//!   must hold everything below its stable lsn (`check_view`).
//!   In Gc mode the comparison is of live states, and a
//!   message that is dead, superseded by a later Replace of its page in the same
//!   recovered state, may come back after its segment was reclaimed as long as it is
//!   byte for byte what was once completed at its lsn: a Gc log promises the live
//!   state, and a reclaimed segment whose header erasure was lost, say to a
//!   misdirected write, still holds only such messages);
//! - I5: a batch is recovered whole or not at all;
//! - I6: lsns after a recovery exceed every lsn handed out before.
//!
//! A recovery that returned Ok made what it recovered durable (it synced it, and the
//! new run's first segment header vouches for it): its messages are the next
//! baseline, acknowledged up to its tip, so a later recovery that loses them is I1
//! like any other acknowledged loss.
//!
//! When a fault that damages durable bytes silently (a misdirected write, a bit flip,
//! header damage) has fired, acknowledged data may be lost only where the damage hid
//! every proof that it was durable: I2 weakens to "every recovered message is one once
//! completed at its lsn (the `history`, kept across recoveries), none aborted", and I1
//! holds below the *vouched floor*: the acknowledged lsn as of the newest durable
//! write to the log that is still intact on disk (`SimStorage::vouched_tag`; every
//! write the log makes records what was durable when it was made, so an intact later
//! write proves the damage lies in acknowledged data, which under AbsoluteConsistency
//! must be reported as Corruption, not cut). The runner sets the floor; it leaves it
//! unset under TolerateCorruptTail. (It once left it unset for Gc damage to a segment
//! header too, which looked like a freed segment until the log kept its segment
//! table.)
//! Wrong data is a violation under every fault.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::config::SegmentMode;
use crate::log::{Kind, Log, Lsn};

/// One completed message: logical kind, page id, value.
pub type Entry = (Kind, u64, Vec<u8>);

/// Which invariant a run broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Invariant {
    /// An acknowledged message was lost.
    I1,
    /// Recovered content differs from the completed prefix (aborted, torn, invented).
    I2,
    /// A batch came back in part.
    I5,
    /// An lsn was handed out again after a recovery.
    I6,
    /// An operation failed with an IO error but the log was not poisoned.
    Poison,
    /// A read or an iteration returned data different from what was written.
    Read,
    /// Open failed where it must succeed, or returned an unexpected error.
    Open,
    /// An operation returned an error it never should (not IO, not WouldBlock).
    Error,
    /// The engine panicked.
    Panic,
}

impl Invariant {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::I1 => "I1 acknowledged-lost",
            Invariant::I2 => "I2 not-a-prefix",
            Invariant::I5 => "I5 batch-split",
            Invariant::I6 => "I6 id-reused",
            Invariant::Poison => "not-poisoned",
            Invariant::Read => "wrong-read",
            Invariant::Open => "open-failed",
            Invariant::Error => "unexpected-error",
            Invariant::Panic => "panic",
        }
    }
}

/// A broken invariant and what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which.
    pub invariant: Invariant,
    /// What was seen.
    pub detail: String,
}

impl Violation {
    /// A violation of `invariant`.
    pub fn new(invariant: Invariant, detail: impl Into<String>) -> Violation {
        Violation {
            invariant,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant.name(), self.detail)
    }
}

/// What the log was told and what it acknowledged, since the last recovery.
#[derive(Debug, Default, Clone)]
pub struct Model {
    /// Completed messages by lsn (including ones whose completion hit an IO error:
    /// their bytes were in the log's hands).
    pub completed: BTreeMap<Lsn, Entry>,
    /// Aborted reservations.
    pub aborted: BTreeSet<Lsn>,
    /// Every completed message below this lsn was acknowledged durable.
    pub acked: Lsn,
    /// Batches: manifest lsn and member lsns.
    pub batches: Vec<(Lsn, Vec<Lsn>)>,
    /// Set when acknowledged data may have been lost legitimately (the file was cut
    /// short by a test, or a durable-corruption fault fired): the next check only
    /// requires that what comes back is true.
    pub lost_acked: bool,
    /// The highest lsn handed out so far (I6).
    pub highest: Option<Lsn>,
    /// `highest` as of the last recovery: every new lsn must exceed it.
    pub floor: Option<Lsn>,
    /// Every message ever completed, by lsn (at a reused lsn, the newest), across
    /// recoveries.
    pub history: BTreeMap<Lsn, Entry>,
    /// After durable damage (`lost_acked`): every acknowledged message below this must
    /// still be recovered (module doc). None: no such floor.
    pub vouched_floor: Option<Lsn>,
    /// Linear mode: the log's start after a `truncate_before` that returned Ok (its
    /// record is durable): no message below it comes back.
    pub start: Lsn,
    /// Truncations that may or may not have taken effect (the call would block or
    /// failed): resolved by later read-backs ([`Model::resolve_truncation`]).
    pub maybe_starts: Vec<Lsn>,
}

/// The live messages of each page: from its newest non-Append message on. Borrows
/// the entries (the oracle runs after every step; copying values dominated it).
fn live<'a>(
    entries: impl Iterator<Item = (Lsn, &'a Entry)>,
) -> BTreeMap<u64, Vec<(Lsn, &'a Entry)>> {
    let mut pages: BTreeMap<u64, Vec<(Lsn, &'a Entry)>> = BTreeMap::new();
    for (lsn, e) in entries {
        let page = pages.entry(e.1).or_default();
        if e.0 != Kind::Append {
            page.clear();
        }
        page.push((lsn, e));
    }
    pages
}

/// `got`'s entries by reference.
fn refs(got: &[(Lsn, Entry)]) -> impl Iterator<Item = (Lsn, &Entry)> {
    got.iter().map(|(l, e)| (*l, e))
}

/// Where `got` and `want` first differ, message by message.
fn first_difference(got: &[(Lsn, Entry)], want: &[(Lsn, &Entry)]) -> Option<String> {
    if refs(got).eq(want.iter().copied()) {
        return None;
    }
    let have: BTreeSet<Lsn> = got.iter().map(|(l, _)| *l).collect();
    let missing = want
        .iter()
        .find(|(l, _)| !have.contains(l))
        .map(|(l, _)| *l);
    Some(format!("first missing: {missing:?}"))
}

/// The first page whose live messages differ between `got` and `want`.
fn first_live_difference(got: &[(Lsn, Entry)], want: &[(Lsn, &Entry)]) -> Option<String> {
    let (got, want) = (live(refs(got)), live(want.iter().copied()));
    if got == want {
        return None;
    }
    let lsns = |m: Option<&Vec<(Lsn, &Entry)>>| -> Vec<Lsn> {
        m.map(|v| v.iter().map(|(l, _)| *l).collect())
            .unwrap_or_default()
    };
    let pages: BTreeSet<u64> = got.keys().chain(want.keys()).copied().collect();
    pages.into_iter().find_map(|pid| {
        let (g, w) = (lsns(got.get(&pid)), lsns(want.get(&pid)));
        let same = g == w && got.get(&pid) == want.get(&pid);
        (!same).then(|| format!("page {pid}: live lsns recovered {g:?}, expected {w:?}"))
    })
}

impl Model {
    /// A truncation before `lsn` took effect: the messages and batches below it leave
    /// the model.
    fn apply_start(&mut self, lsn: Lsn) {
        if lsn > self.start {
            self.start = lsn;
            self.completed.retain(|&l, _| l >= lsn);
            self.batches.retain(|(manifest, _)| *manifest >= lsn);
        }
    }

    /// `truncate_before(lsn)` returned Ok: the log starts at `lsn` or later. (Earlier
    /// pending calls stay pending: an Ok at or below the log's start wrote no record,
    /// so it says nothing about them.)
    pub fn truncated(&mut self, lsn: Lsn) {
        self.apply_start(lsn);
    }

    /// A truncation before `lsn` was asked for and may take effect any time.
    pub fn truncation_pending(&mut self, lsn: Lsn) {
        self.maybe_starts.push(lsn);
    }

    /// The pending truncation at `t` took effect (it is the highest that did, as far
    /// as anything read so far shows): lower pending ones no longer matter.
    fn settle_at(&mut self, t: Lsn) {
        self.maybe_starts.retain(|&m| m > t);
        self.apply_start(t);
    }

    /// Settles pending truncations from a read-back of the log (`got`, in lsn order,
    /// every durable message below `bound`). A completed message below `bound` and
    /// below `got`'s first message that did not come back is explained only by a
    /// truncation past it: the lowest pending point past it and at most `got`'s first
    /// lsn took effect (any such point gives the same view; a later read-back may
    /// move it up). Without such a message the read-back says nothing. Pending calls
    /// are not assumed to take effect in call order: a crash can lose an earlier
    /// call's record while a later one survives.
    pub fn resolve_truncation(&mut self, got: &[(Lsn, Entry)], bound: Lsn) {
        let first = got.first().map_or(Lsn::MAX, |(l, _)| *l);
        let Some((&missing, _)) = self.completed.range(..first.min(bound)).next_back() else {
            return;
        };
        let t = self
            .maybe_starts
            .iter()
            .copied()
            .filter(|&t| t > missing && t <= first)
            .min();
        if let Some(t) = t {
            self.settle_at(t);
        }
    }

    /// A read of `lsn` was refused as below the log's start: true if a pending
    /// truncation explains it (the lowest one past `lsn` took effect, at least).
    pub fn explains_refused_read(&mut self, lsn: Lsn) -> bool {
        let t = self.maybe_starts.iter().copied().filter(|&t| t > lsn).min();
        match t {
            Some(t) => {
                self.settle_at(t);
                true
            }
            None => false,
        }
    }

    /// A reservation at `lsn` was completed holding `entry` (whatever the result: its
    /// bytes were in the log's hands).
    pub fn complete(&mut self, lsn: Lsn, entry: Entry) {
        self.history.insert(lsn, entry.clone());
        self.completed.insert(lsn, entry);
    }

    /// True when `got[i]` may be returned though the model's baseline no longer has it:
    /// it is byte for byte a message once completed at its lsn, and either durable
    /// damage was seen (the lenient check) or, in a Gc log, it is dead: a later
    /// non-Append of its page is in `got` too.
    fn stale_but_genuine(&self, got: &[(Lsn, Entry)], i: usize, mode: SegmentMode) -> bool {
        let (lsn, e) = &got[i];
        let superseded = got[i + 1..]
            .iter()
            .any(|(_, later)| later.1 == e.1 && later.0 != Kind::Append);
        let excused = self.lost_acked || (mode == SegmentMode::Gc && superseded);
        excused && self.history.get(lsn) == Some(e)
    }

    /// Records the outcome of a flush or make_stable: everything below `target` is
    /// acknowledged durable.
    pub fn ack(&mut self, target: Lsn) {
        self.acked = self.acked.max(target);
    }

    /// A reservation was granted at `lsn`: checks I6 and tracks the highest lsn.
    pub fn reserved(&mut self, lsn: Lsn) -> Result<(), Violation> {
        let floor = self.floor.filter(|_| !self.lost_acked);
        if let Some(floor) = floor.filter(|&f| lsn <= f) {
            return Err(Violation::new(
                Invariant::I6,
                format!("lsn {lsn} handed out after a recovery, but {floor} was before"),
            ));
        }
        self.highest = Some(self.highest.map_or(lsn, |h| h.max(lsn)));
        Ok(())
    }

    /// The live state of the completed messages (Gc mode keeps only this).
    pub fn live_view(&self) -> BTreeMap<u64, Vec<(Lsn, &Entry)>> {
        live(self.completed.iter().map(|(l, e)| (*l, e)))
    }

    /// The lsns of the live completed messages (Gc mode keeps only these).
    pub fn live_lsns(&self) -> BTreeSet<Lsn> {
        self.live_view()
            .into_values()
            .flatten()
            .map(|(l, _)| l)
            .collect()
    }

    /// Reads every message of `log` from lsn 0.
    pub fn read_all(log: &Log) -> Result<Vec<(Lsn, Entry)>, crate::Error> {
        let mut got = Vec::new();
        for m in log.iter_from(0)? {
            let m = m?;
            got.push((m.lsn(), (m.kind, m.pid, m.value)));
        }
        Ok(got)
    }

    /// Checks what a freshly recovered `log` holds (I1, I2, I5) and makes the
    /// recovered state the model's new baseline.
    pub fn check_recovered(&mut self, log: &Log, mode: SegmentMode) -> Result<(), Violation> {
        let tip = log.recovery().tip;
        let got = Model::read_all(log).map_err(|e| {
            Violation::new(Invariant::Read, format!("iterating a fresh recovery: {e}"))
        })?;
        self.forget_cut(&log.cut_ranges());
        self.resolve_truncation(&got, tip);
        self.check_recovery(&got, tip, mode)?;
        let kept: BTreeMap<Lsn, Entry> = got.into_iter().collect();
        let highest = self.highest;
        *self = Model {
            completed: kept,
            acked: tip,
            floor: highest,
            highest,
            history: std::mem::take(&mut self.history),
            start: self.start,
            maybe_starts: std::mem::take(&mut self.maybe_starts),
            ..Model::default()
        };
        Ok(())
    }

    /// Checks what a recovery that ended at `tip` returned (`got`): the completed
    /// messages below some cut (I2), every acknowledged one (I1), no batch in part (I5).
    pub fn check_recovery(
        &self,
        got: &[(Lsn, Entry)],
        tip: Lsn,
        mode: SegmentMode,
    ) -> Result<(), Violation> {
        let cut = self.recovered_cut(got, tip);
        self.check_view(got, cut, mode)?;
        if !self.lost_acked {
            self.check_acked(tip)?;
            self.check_batches(cut)?;
        } else if let Some(floor) = self.vouched_floor {
            self.check_vouched(got, floor.min(self.acked), mode)?;
        }
        Ok(())
    }

    /// The cut a recovery that returned `got` (every lsn below `tip`) made: just past
    /// its newest message, but never below the acknowledged lsn nor above the tip.
    /// Every completed message below it must have come back (I2); above it, the
    /// completed messages were unacknowledged and cut.
    pub fn recovered_cut(&self, got: &[(Lsn, Entry)], tip: Lsn) -> Lsn {
        let past_newest = got.last().map_or(0, |(l, _)| l + 1);
        past_newest.max(self.acked).min(tip)
    }

    /// Drops completed messages inside ranges a recovery cut off (a recovery the
    /// model never saw, interrupted after its cut became durable, may have made
    /// them), unless they were acknowledged: losing those is I1 whatever the cause.
    pub fn forget_cut(&mut self, cuts: &[(Lsn, Lsn)]) {
        let acked = self.acked;
        self.completed
            .retain(|&l, _| l < acked || !cuts.iter().any(|&(s, e)| s <= l && l < e));
    }

    /// A recovery ended at `tip` but its content could not be read back (the power
    /// was cut during the check): checks I1 and I5 against the tip alone and makes
    /// the completed messages below it the new baseline, unverified (the next
    /// recovery's check covers them).
    pub fn recovered_unread(&mut self, tip: Lsn) -> Result<(), Violation> {
        if !self.lost_acked {
            self.check_acked(tip)?;
            self.check_batches(tip)?;
        }
        let kept: BTreeMap<Lsn, Entry> = self
            .completed
            .range(..tip)
            .map(|(l, e)| (*l, e.clone()))
            .collect();
        let highest = self.highest;
        *self = Model {
            completed: kept,
            acked: tip,
            aborted: std::mem::take(&mut self.aborted),
            lost_acked: self.lost_acked,
            floor: highest,
            highest,
            history: std::mem::take(&mut self.history),
            start: self.start,
            maybe_starts: std::mem::take(&mut self.maybe_starts),
            ..Model::default()
        };
        Ok(())
    }

    /// Checks `got` (what iteration returned, every lsn below `bound`) against the
    /// completed messages below `bound` (I2).
    pub fn check_view(
        &self,
        got: &[(Lsn, Entry)],
        bound: Lsn,
        mode: SegmentMode,
    ) -> Result<(), Violation> {
        if let Some((l, _)) = got.iter().find(|(l, _)| self.aborted.contains(l)) {
            return Err(Violation::new(
                Invariant::I2,
                format!("aborted message at lsn {l} came back"),
            ));
        }
        self.check_genuine(got, mode)?;
        if self.lost_acked {
            return Ok(());
        }
        let want: Vec<(Lsn, &Entry)> = self
            .completed
            .range(..bound)
            .map(|(l, e)| (*l, e))
            .collect();
        let differs = match mode {
            SegmentMode::Linear => first_difference(got, &want),
            SegmentMode::Gc => first_live_difference(got, &want),
        };
        match differs {
            None => Ok(()),
            Some(what) => Err(Violation::new(
                Invariant::I2,
                format!(
                    "{} messages below lsn {bound}, {} completed there; {what}",
                    got.len(),
                    want.len()
                ),
            )),
        }
    }

    /// Every message in `got` was completed at its lsn with these bytes (or is a
    /// genuine stale one, see `stale_but_genuine`).
    fn check_genuine(&self, got: &[(Lsn, Entry)], mode: SegmentMode) -> Result<(), Violation> {
        let invented = (0..got.len()).find(|&i| {
            let (l, e) = &got[i];
            self.completed.get(l) != Some(e) && !self.stale_but_genuine(got, i, mode)
        });
        let Some((l, e)) = invented.map(|i| &got[i]) else {
            return Ok(());
        };
        let what = match self.completed.get(l) {
            Some(w) => format!("{:?} pid {} {} B", w.0, w.1, w.2.len()),
            None => "nothing completed there".into(),
        };
        Err(Violation::new(
            Invariant::I2,
            format!(
                "lsn {l} holds {:?} pid {} {} B; the model has {what}",
                e.0,
                e.1,
                e.2.len()
            ),
        ))
    }

    /// After durable damage: every completed message below `floor` (in Gc mode, every
    /// live one) came back, since an intact later write vouches that it was durable.
    fn check_vouched(
        &self,
        got: &[(Lsn, Entry)],
        floor: Lsn,
        mode: SegmentMode,
    ) -> Result<(), Violation> {
        let must: Vec<(Lsn, &Entry)> = match mode {
            SegmentMode::Linear => self
                .completed
                .range(..floor)
                .map(|(l, e)| (*l, e))
                .collect(),
            SegmentMode::Gc => self
                .live_view()
                .into_values()
                .flatten()
                .filter(|(l, _)| *l < floor)
                .collect(),
        };
        let have: BTreeMap<Lsn, &Entry> = refs(got).collect();
        match must.iter().find(|(l, e)| have.get(l) != Some(e)) {
            Some((l, _)) => Err(Violation::new(
                Invariant::I1,
                format!(
                    "message {l} lost without a reported corruption after durable damage, though an intact later write vouches it was durable (vouched floor {floor})"
                ),
            )),
            None => Ok(()),
        }
    }

    fn check_acked(&self, tip: Lsn) -> Result<(), Violation> {
        match self.completed.range(..self.acked).find(|(l, _)| **l >= tip) {
            Some((l, _)) => Err(Violation::new(
                Invariant::I1,
                format!(
                    "message {l} was acknowledged stable (acked below {}) but recovery stopped at {tip}",
                    self.acked
                ),
            )),
            None => Ok(()),
        }
    }

    fn check_batches(&self, tip: Lsn) -> Result<(), Violation> {
        for (m, members) in &self.batches {
            if *m < tip && members.iter().any(|l| *l >= tip) {
                return Err(Violation::new(
                    Invariant::I5,
                    format!("batch at {m} recovered in part (tip {tip})"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn entry(pid: u64, v: u8) -> Entry {
        (Kind::Append, pid, vec![v; 3])
    }

    #[test]
    fn the_view_check_catches_aborted_invented_and_missing_messages() {
        let mut m = Model::default();
        m.completed.insert(10, entry(1, 1));
        m.completed.insert(20, entry(1, 2));
        m.aborted.insert(30);
        let mode = SegmentMode::Linear;
        let good = vec![(10, entry(1, 1)), (20, entry(1, 2))];
        assert_eq!(m.check_view(&good, 25, mode), Ok(()));
        let short = vec![(10, entry(1, 1))];
        assert!(m.check_view(&short, 25, mode).is_err(), "20 missing");
        assert_eq!(m.check_view(&short, 15, mode), Ok(()), "a prefix");
        let wrong = vec![(10, entry(1, 9))];
        assert!(m.check_view(&wrong, 15, mode).is_err(), "wrong value");
        let aborted = vec![(10, entry(1, 1)), (20, entry(1, 2)), (30, entry(1, 3))];
        let err = m.check_view(&aborted, 40, mode).expect_err("aborted");
        assert_eq!(err.invariant, Invariant::I2);
        m.lost_acked = true;
        assert_eq!(m.check_view(&short, 25, mode), Ok(()), "lenient: a subset");
        assert!(m.check_view(&wrong, 15, mode).is_err(), "never wrong data");
    }

    #[test]
    fn a_gc_log_may_return_a_reclaimed_message_only_when_it_is_dead_and_genuine() {
        let mut m = Model::default();
        m.complete(10, entry(1, 1));
        m.complete(20, (Kind::Replace, 1, vec![2]));
        m.completed.remove(&10);
        let back = vec![(10, entry(1, 1)), (20, (Kind::Replace, 1, vec![2]))];
        assert_eq!(m.check_view(&back, 30, SegmentMode::Gc), Ok(()));
        let linear = m.check_view(&back, 30, SegmentMode::Linear);
        assert_eq!(linear.map_err(|v| v.invariant), Err(Invariant::I2));
        let live_again = vec![(10, entry(1, 1))];
        let err = m.check_view(&live_again, 15, SegmentMode::Gc);
        assert!(err.is_err(), "not superseded: it changes the page");
        let altered = vec![(10, entry(1, 7)), (20, (Kind::Replace, 1, vec![2]))];
        let err = m.check_view(&altered, 30, SegmentMode::Gc);
        assert!(err.is_err(), "never written");
        m.lost_acked = true;
        assert_eq!(m.check_view(&live_again, 15, SegmentMode::Linear), Ok(()));
        assert!(m.check_view(&altered, 30, SegmentMode::Gc).is_err());
    }

    #[test]
    fn a_recovery_may_cut_unacknowledged_messages_below_its_tip_but_leave_no_gap() {
        let mut m = Model::default();
        for (lsn, v) in [(10, 1), (20, 2), (30, 3)] {
            m.complete(lsn, entry(u64::from(v), v));
        }
        let all: Vec<(Lsn, Entry)> = m.completed.iter().map(|(l, e)| (*l, e.clone())).collect();
        let upto = |n: usize| all[..n].to_vec();
        for mode in [SegmentMode::Linear, SegmentMode::Gc] {
            assert_eq!(m.check_recovery(&upto(3), 100, mode), Ok(()), "all");
            assert_eq!(m.check_recovery(&upto(2), 100, mode), Ok(()), "30 cut");
            assert_eq!(m.check_recovery(&[], 100, mode), Ok(()), "all cut");
            let gap = vec![all[0].clone(), all[2].clone()];
            let err = m.check_recovery(&gap, 100, mode).expect_err("gap");
            assert_eq!(err.invariant, Invariant::I2, "{mode:?}: {err}");
        }
        m.ack(21);
        for mode in [SegmentMode::Linear, SegmentMode::Gc] {
            assert_eq!(m.check_recovery(&upto(2), 100, mode), Ok(()), "acked kept");
            let err = m
                .check_recovery(&upto(1), 100, mode)
                .expect_err("acked lost");
            assert!(
                matches!(err.invariant, Invariant::I1 | Invariant::I2),
                "{err}"
            );
            let err = m
                .check_recovery(&upto(1), 15, mode)
                .expect_err("tip too low");
            assert!(
                matches!(err.invariant, Invariant::I1 | Invariant::I2),
                "{err}"
            );
        }
        m.batches.push((20, vec![20, 30]));
        let err = m.check_recovery(&upto(2), 100, SegmentMode::Linear);
        assert_eq!(
            err.map_err(|v| v.invariant),
            Err(Invariant::I5),
            "batch split"
        );
    }

    #[test]
    fn lsns_after_a_recovery_must_exceed_every_earlier_one() {
        let mut m = Model::default();
        m.reserved(100).expect("first");
        m.reserved(50).expect("out of order is fine within a run");
        m.floor = m.highest;
        assert_eq!(m.reserved(100).map_err(|v| v.invariant), Err(Invariant::I6));
        m.reserved(101).expect("above the floor");
    }
}
