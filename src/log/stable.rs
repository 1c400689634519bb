//! Waiting for durability, and group commit: the interval tracker behind a lock, with
//! the buffers written but not yet synced, targeted waiters and poison.
//!
//! A buffer's writer writes its bytes to the file and reports them with
//! [`Stable::written`]; they are not durable until a sync that *started after* the
//! write returns. Group commit shares those syncs:
//!
//! - At most one sync is in flight. Its leader holds a [`SyncTurn`]: every buffer
//!   reported written when the turn was taken. After the sync returns, the leader
//!   calls [`Stable::synced`], which marks exactly those intervals durable.
//! - A writer that reports a buffer while no sync is in flight leads one at once; while
//!   one is in flight it just leaves its buffer in the unsynced list (the sync in
//!   flight may have started before its write, so it cannot cover it).
//! - A waiter ([`Stable::wait_or_lead`]) whose lsn is not durable leads a sync itself
//!   if none is in flight and some buffer waits for one; otherwise it sleeps until a
//!   sync's completion either satisfies it or hands it the lead.
//! - A sync's completion wakes only the waiters it satisfied, plus, if buffers are
//!   still unsynced, the unsatisfied waiter with the lowest target, to lead the next
//!   sync. Each waiter sleeps on its own condition variable.
//!
//! No wakeup is lost: the stable end, the failure, the unsynced list, the in-flight
//! flag and the waiter list all live under one mutex; every change that can satisfy a
//! waiter or give it the lead is made holding it and is followed, still holding it, by
//! a notification of that waiter. A waiter re-checks everything after each wakeup. No
//! acknowledgement precedes its sync: an interval enters the tracker only in
//! [`Stable::synced`] (or [`Stable::mark_written`], for intervals that needed no
//! write), after the sync that covers it returned.
//!
//! A waiter whose target is already durable gets Ok even after a poisoning: those
//! bytes were made durable before the failure, and saying so is the truth. A waiter
//! whose target is not durable gets the error and never Ok afterwards: the instance
//! never claims durability after an IO error (no fsync retry).

use super::format::Lsn;
use super::interval::IntervalTracker;
use crate::error::{Error, Result};
use crate::sync::{Arc, Condvar, Mutex, MutexGuard};

/// A buffer written to the file and not yet synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// The lsn interval the write makes durable once synced: `[start, end)`.
    pub start: Lsn,
    /// See `start`.
    pub end: Lsn,
    /// The stable lsn recorded in a segment header the write carries, if any: it
    /// vouches for that lsn once synced.
    pub vouch: Option<Lsn>,
    /// The stable lsn its Vouch message records (every buffer write starts with
    /// one; 0 for a write of no bytes): once synced, recovery reports damage below
    /// it as it does below a header's (`recovery.rs`, step 4).
    pub vouched_by_message: Lsn,
}

/// The right and duty to run one sync: the buffers it covers. Whoever holds it syncs
/// the file, then calls [`Stable::synced`] (or [`Stable::poison`] if the sync failed).
#[must_use = "a sync turn must be synced and reported, or the log poisoned"]
#[derive(Debug)]
pub struct SyncTurn(Vec<Written>);

impl SyncTurn {
    /// The buffers this sync covers, in the order they were reported.
    pub fn covers(&self) -> &[Written] {
        &self.0
    }
}

/// What a waiter learned.
#[derive(Debug)]
pub enum Waited {
    /// Every lsn below the target is durable.
    Durable,
    /// Not yet, and no sync is in flight: the caller runs this one and asks again.
    Lead(SyncTurn),
}

#[derive(Debug)]
struct Waiter {
    id: u64,
    end: Lsn,
    wake: Arc<Condvar>,
}

#[derive(Debug)]
struct State {
    tracker: IntervalTracker,
    failure: Option<Error>,
    /// Buffers written and not covered by any sync taken so far.
    unsynced: Vec<Written>,
    /// A sync turn is out.
    syncing: bool,
    waiters: Vec<Waiter>,
    next_id: u64,
}

impl State {
    /// The outcome for a waiter on `end`, or None if it must keep waiting.
    fn check(&mut self, end: Lsn) -> Option<Result<Waited>> {
        if self.tracker.stable_end() >= end {
            return Some(Ok(Waited::Durable));
        }
        if let Some(first) = &self.failure {
            return Some(Err(Error::Poisoned {
                first: Box::new(first.clone()),
            }));
        }
        self.take_turn().map(|t| Ok(Waited::Lead(t)))
    }

    /// A sync turn over every unsynced buffer, if none is out and one is needed.
    fn take_turn(&mut self) -> Option<SyncTurn> {
        if self.syncing || self.unsynced.is_empty() || self.failure.is_some() {
            return None;
        }
        self.syncing = true;
        Some(SyncTurn(std::mem::take(&mut self.unsynced)))
    }

    /// Wakes the waiters the stable end now satisfies; if buffers still wait for a
    /// sync and none is out, also the unsatisfied waiter with the lowest target, to
    /// lead it.
    fn wake(&self) {
        let stable = self.tracker.stable_end();
        let mut leader: Option<&Waiter> = None;
        for w in &self.waiters {
            if w.end <= stable {
                w.wake.notify_all();
            } else if leader.is_none_or(|l| w.end < l.end) {
                leader = Some(w);
            }
        }
        let needs_leader = !self.syncing && !self.unsynced.is_empty();
        if let Some(w) = leader.filter(|_| needs_leader) {
            w.wake.notify_all();
        }
    }
}

/// The stable-lsn tracker and group commit, shared by writers and waiters.
#[derive(Debug)]
pub struct Stable {
    state: Mutex<State>,
}

impl Stable {
    /// Every lsn below `stable_end` is already durable (what recovery found).
    pub fn new(stable_end: Lsn) -> Stable {
        Stable {
            state: Mutex::new(State {
                tracker: IntervalTracker::new(stable_end),
                failure: None,
                unsynced: Vec::new(),
                syncing: false,
                waiters: Vec::new(),
                next_id: 0,
            }),
        }
    }

    /// Every lsn below this is durable.
    pub fn stable_end(&self) -> Lsn {
        self.state.lock().tracker.stable_end()
    }

    /// A buffer's bytes are written (not synced). Returns a sync turn for the caller
    /// to run if no sync is in flight; otherwise a later sync covers the buffer.
    pub fn written(&self, w: Written) -> Option<SyncTurn> {
        let mut s = self.state.lock();
        assert!(w.start <= w.end, "written interval {w:?}");
        s.unsynced.push(w);
        s.take_turn()
    }

    /// The sync of `turn` returned Ok: its intervals are durable. Wakes the waiters
    /// that satisfies, and a leader for the next sync if one is needed.
    pub fn synced(&self, turn: SyncTurn) {
        let mut s = self.state.lock();
        assert!(s.syncing, "a sync reported with no turn out");
        s.syncing = false;
        for w in &turn.0 {
            s.tracker.mark_written(w.start, w.end);
        }
        s.wake();
    }

    /// Records that `[start, end)` is durable without a sync (an interval whose bytes
    /// were durable already, or that holds none), and wakes the waiters it satisfies.
    pub fn mark_written(&self, start: Lsn, end: Lsn) {
        let mut s = self.state.lock();
        s.tracker.mark_written(start, end);
        s.wake();
    }

    /// Holds the stable end at or below `lsn` (an open batch's manifest).
    pub fn hold(&self, lsn: Lsn) {
        self.state.lock().tracker.hold(lsn);
    }

    /// The batch held at `lsn` ends at `end`; wakes waiters if the end advanced.
    pub fn seal_hold(&self, lsn: Lsn, end: Lsn) {
        let mut s = self.state.lock();
        s.tracker.seal_hold(lsn, end);
        s.wake();
    }

    /// Drops the hold at `lsn` (its manifest was aborted); wakes waiters if the end
    /// advanced.
    pub fn drop_hold(&self, lsn: Lsn) {
        let mut s = self.state.lock();
        s.tracker.drop_hold(lsn);
        s.wake();
    }

    /// See [`IntervalTracker::blocking_batch_end`].
    pub fn blocking_batch_end(&self) -> Option<Lsn> {
        self.state.lock().tracker.blocking_batch_end()
    }

    /// Records the first IO error and wakes every waiter. Later errors are dropped: the
    /// first one is the cause. A sync turn that was out is void: nothing it covers is
    /// ever marked durable.
    pub fn poison(&self, error: Error) {
        let mut s = self.state.lock();
        if s.failure.is_none() {
            s.failure = Some(error);
        }
        s.syncing = false;
        s.unsynced.clear();
        for w in &s.waiters {
            w.wake.notify_all();
        }
    }

    /// The poisoning error, if any.
    pub fn failure(&self) -> Option<Error> {
        self.state.lock().failure.clone()
    }

    /// Durable if every lsn below `end` is; a sync turn for the caller to run if not
    /// and one can start now; the poisoning error if the log failed; `WouldBlock`
    /// otherwise.
    pub fn try_or_lead(&self, end: Lsn) -> Result<Waited> {
        self.state
            .lock()
            .check(end)
            .unwrap_or(Err(Error::WouldBlock))
    }

    /// Blocks until every lsn below `end` is durable (Durable), the caller must lead a
    /// sync (Lead), or the log is poisoned (the error).
    pub fn wait_or_lead(&self, end: Lsn) -> Result<Waited> {
        let mut s = self.state.lock();
        if let Some(outcome) = s.check(end) {
            return outcome;
        }
        let id = s.next_id;
        s.next_id += 1;
        let wake = Arc::new(Condvar::new());
        s.waiters.push(Waiter {
            id,
            end,
            wake: Arc::clone(&wake),
        });
        let outcome = loop {
            s = wake.wait(s);
            if let Some(outcome) = s.check(end) {
                break outcome;
            }
        };
        remove_waiter(&mut s, id);
        outcome
    }

    /// Ok if every lsn below `end` is durable; the poisoning error if the log failed;
    /// `WouldBlock` otherwise. Never leads a sync (for callers with no file).
    pub fn try_until(&self, end: Lsn) -> Result<()> {
        let s = self.state.lock();
        if s.tracker.stable_end() >= end {
            return Ok(());
        }
        match &s.failure {
            Some(first) => Err(Error::Poisoned {
                first: Box::new(first.clone()),
            }),
            None => Err(Error::WouldBlock),
        }
    }

    /// Blocks until every lsn below `end` is durable or the log is poisoned, for
    /// callers that write only through [`Stable::mark_written`]: a sync turn offered
    /// meanwhile would be a broken invariant (asserted).
    pub fn wait_until(&self, end: Lsn) -> Result<()> {
        match self.wait_or_lead(end)? {
            Waited::Durable => Ok(()),
            Waited::Lead(turn) => panic!("wait_until offered a sync turn: {turn:?}"),
        }
    }
}

fn remove_waiter(s: &mut MutexGuard<'_, State>, id: u64) {
    let at = s.waiters.iter().position(|w| w.id == id);
    s.waiters
        .swap_remove(at.expect("a waiter removes itself once"));
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;
    use std::thread;

    use super::*;

    #[test]
    fn waiters_wake_when_the_gap_closes() {
        let stable = Arc::new(Stable::new(0));
        let waiters: Vec<_> = [10, 20, 30]
            .into_iter()
            .map(|end| {
                let s = Arc::clone(&stable);
                thread::spawn(move || s.wait_until(end))
            })
            .collect();
        stable.mark_written(10, 30);
        assert!(matches!(stable.try_until(10), Err(Error::WouldBlock)));
        stable.mark_written(0, 10);
        for w in waiters {
            w.join().expect("waiter panicked").expect("durable");
        }
        assert_eq!(stable.stable_end(), 30);
    }

    fn written(start: Lsn, end: Lsn) -> Written {
        Written {
            start,
            end,
            vouch: None,
            vouched_by_message: 0,
        }
    }

    #[test]
    fn a_write_during_a_sync_waits_for_the_next_turn() {
        let s = Stable::new(0);
        let first = s.written(written(0, 10)).expect("no sync in flight: lead");
        assert!(s.written(written(10, 20)).is_none(), "a sync is in flight");
        assert!(
            matches!(s.try_or_lead(20), Err(Error::WouldBlock)),
            "the sync in flight may predate the second write"
        );
        s.synced(first);
        assert_eq!(
            s.stable_end(),
            10,
            "the first sync covers only its own turn"
        );
        let Ok(Waited::Lead(second)) = s.try_or_lead(20) else {
            panic!("the second write needs a sync and none is in flight");
        };
        assert_eq!(second.covers(), &[written(10, 20)]);
        s.synced(second);
        assert!(matches!(s.try_or_lead(20), Ok(Waited::Durable)));
    }

    #[test]
    fn a_sleeping_flusher_is_handed_the_next_turn() {
        let stable = Arc::new(Stable::new(0));
        let first = stable.written(written(0, 10)).expect("lead");
        assert!(stable.written(written(10, 20)).is_none());
        let flusher = {
            let s = Arc::clone(&stable);
            thread::spawn(move || match s.wait_or_lead(20) {
                Ok(Waited::Lead(turn)) => {
                    let covered = turn.covers().to_vec();
                    s.synced(turn);
                    covered
                }
                other => panic!("expected the lead, got {other:?}"),
            })
        };
        stable.synced(first);
        let covered = flusher.join().expect("flusher panicked");
        assert_eq!(covered, vec![written(10, 20)]);
        assert_eq!(stable.stable_end(), 20);
    }

    #[test]
    fn poison_voids_the_turn_and_fails_waiters() {
        let s = Stable::new(0);
        let turn = s.written(written(0, 10)).expect("lead");
        s.poison(Error::Unsupported("sync failed".into()));
        drop(turn);
        assert!(matches!(s.try_or_lead(10), Err(Error::Poisoned { .. })));
        assert!(
            s.written(written(10, 20)).is_none(),
            "no turn after a failure"
        );
        assert_eq!(s.stable_end(), 0);
    }

    #[test]
    fn poison_wakes_every_waiter_with_the_first_error() {
        let stable = Arc::new(Stable::new(0));
        let waiters: Vec<_> = (1..=4)
            .map(|end| {
                let s = Arc::clone(&stable);
                thread::spawn(move || s.wait_until(end * 100))
            })
            .collect();
        let first = Error::io(crate::IoOp::Sync, "seg", std::io::Error::other("eio"));
        stable.poison(first);
        stable.poison(Error::WouldBlock);
        for w in waiters {
            let err = w.join().expect("waiter panicked").expect_err("not durable");
            assert!(
                err.to_string().contains("eio"),
                "the first error is reported: {err}"
            );
        }
    }

    #[test]
    fn durable_targets_stay_ok_after_poison_and_others_never_become_ok() {
        let stable = Stable::new(0);
        stable.mark_written(0, 50);
        stable.poison(Error::Unsupported("test".into()));
        stable
            .wait_until(50)
            .expect("made durable before the failure");
        assert!(stable.try_until(51).is_err());
        assert!(stable.failure().is_some());
    }
}
