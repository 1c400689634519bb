//! Waiting for durability: the interval tracker behind a lock, with waiters and poison.
//!
//! Writers of IO buffers call [`Stable::mark_written`]; callers of `make_stable` and
//! `flush` call [`Stable::wait_until`] (or the non-blocking [`Stable::try_until`]).
//! An IO error anywhere calls [`Stable::poison`], which wakes every waiter with the
//! error.
//!
//! No wakeup is lost: the stable end and the failure live under the same mutex the
//! waiters sleep on, every change to either is made holding it, and every change is
//! followed by `notify_all` while still holding it. A waiter re-checks both after each
//! wakeup, so a notification can never fall between its check and its sleep.
//!
//! A waiter whose target is already durable gets Ok even after a poisoning: those
//! bytes were made durable before the failure, and saying so is the truth. A waiter
//! whose target is not durable gets the error and never Ok afterwards: the instance
//! never claims durability after an IO error (no fsync retry).

use super::format::Lsn;
use super::interval::IntervalTracker;
use crate::error::{Error, Result};
use crate::sync::{Condvar, Mutex};

#[derive(Debug)]
struct State {
    tracker: IntervalTracker,
    failure: Option<Error>,
}

/// The stable-lsn tracker shared by writers and waiters.
#[derive(Debug)]
pub struct Stable {
    state: Mutex<State>,
    changed: Condvar,
}

impl Stable {
    /// Every lsn below `stable_end` is already durable (what recovery found).
    pub fn new(stable_end: Lsn) -> Stable {
        Stable {
            state: Mutex::new(State {
                tracker: IntervalTracker::new(stable_end),
                failure: None,
            }),
            changed: Condvar::new(),
        }
    }

    /// Every lsn below this is durable.
    pub fn stable_end(&self) -> Lsn {
        self.state.lock().tracker.stable_end()
    }

    /// Records that `[start, end)` is durable and wakes waiters if the end advanced.
    pub fn mark_written(&self, start: Lsn, end: Lsn) {
        let mut s = self.state.lock();
        let before = s.tracker.stable_end();
        if s.tracker.mark_written(start, end) > before {
            self.changed.notify_all();
        }
    }

    /// Holds the stable end at or below `lsn` (an open batch's manifest).
    pub fn hold(&self, lsn: Lsn) {
        self.state.lock().tracker.hold(lsn);
    }

    /// The batch held at `lsn` ends at `end`; wakes waiters if the end advanced.
    pub fn seal_hold(&self, lsn: Lsn, end: Lsn) {
        let mut s = self.state.lock();
        let before = s.tracker.stable_end();
        if s.tracker.seal_hold(lsn, end) > before {
            self.changed.notify_all();
        }
    }

    /// Drops the hold at `lsn` (its manifest was aborted); wakes waiters if the end
    /// advanced.
    pub fn drop_hold(&self, lsn: Lsn) {
        let mut s = self.state.lock();
        let before = s.tracker.stable_end();
        if s.tracker.drop_hold(lsn) > before {
            self.changed.notify_all();
        }
    }

    /// See [`IntervalTracker::blocking_batch_end`].
    pub fn blocking_batch_end(&self) -> Option<Lsn> {
        self.state.lock().tracker.blocking_batch_end()
    }

    /// Records the first IO error and wakes every waiter. Later errors are dropped: the
    /// first one is the cause.
    pub fn poison(&self, error: Error) {
        let mut s = self.state.lock();
        if s.failure.is_none() {
            s.failure = Some(error);
        }
        self.changed.notify_all();
    }

    /// The poisoning error, if any.
    pub fn failure(&self) -> Option<Error> {
        self.state.lock().failure.clone()
    }

    /// Ok if every lsn below `end` is durable; the poisoning error if the log failed;
    /// `WouldBlock` otherwise.
    pub fn try_until(&self, end: Lsn) -> Result<()> {
        check(&self.state.lock(), end).unwrap_or(Err(Error::WouldBlock))
    }

    /// Blocks until every lsn below `end` is durable, or the log is poisoned.
    pub fn wait_until(&self, end: Lsn) -> Result<()> {
        let mut s = self.state.lock();
        loop {
            if let Some(outcome) = check(&s, end) {
                return outcome;
            }
            s = self.changed.wait(s);
        }
    }
}

/// The outcome for a waiter on `end`, or None if it must keep waiting.
fn check(s: &State, end: Lsn) -> Option<Result<()>> {
    if s.tracker.stable_end() >= end {
        return Some(Ok(()));
    }
    s.failure.as_ref().map(|first| {
        Err(Error::Poisoned {
            first: Box::new(first.clone()),
        })
    })
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
