//! Loom models of the stable-lsn waiters (`src/log/stable.rs`), run by
//! `scripts/loom.sh` (`RUSTFLAGS="--cfg loom"`). They exercise the real engine code:
//! its mutex, condition variable and atomics come from `pagelog::sync`, which maps to
//! loom's under `--cfg loom`.
//!
//! Mutations tried, each caught by the model named:
//! - `stable_never_passes_a_gap_nor_goes_down`: in `IntervalTracker::advance`, join
//!   the lowest pending interval whether or not it starts at the stable end (advance
//!   on a non-contiguous interval). Loom finds the run where [10, 20) is written first;
//!   the tracker's own assertion (an interval reported below the stable end) fires
//!   when [0, 10) arrives. With that assertion also removed, the observer fails with
//!   "passed the gap [0, 10)": it saw the stable end at 20 before [0, 10) was reported.
//! - `poison_wakes_a_waiter`: in `Stable::poison`, notify before taking the lock and
//!   setting the failure. Loom finds the interleaving where the waiter checks, the
//!   notification fires, the failure is set, and the waiter sleeps forever (deadlock).
//! - `out_of_order_writes_wake_the_waiter`: in `Stable::mark_written`, skip the notify.
//!   Loom reports the waiter blocked forever.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread;
use pagelog::internals::stable::Stable;
use pagelog::{Error, IoOp};

#[test]
fn poison_wakes_a_waiter() {
    loom::model(|| {
        let stable = Arc::new(Stable::new(0));
        let waiter = {
            let s = Arc::clone(&stable);
            thread::spawn(move || s.wait_until(10))
        };
        stable.poison(Error::io(IoOp::Sync, "seg", std::io::Error::other("eio")));
        let outcome = waiter.join().expect("waiter panicked");
        assert!(
            outcome.is_err(),
            "a poisoned log never reports durability it lacks"
        );
    });
}

#[test]
fn out_of_order_writes_wake_the_waiter() {
    loom::model(|| {
        let stable = Arc::new(Stable::new(0));
        let waiter = {
            let s = Arc::clone(&stable);
            thread::spawn(move || s.wait_until(20))
        };
        let second = {
            let s = Arc::clone(&stable);
            thread::spawn(move || s.mark_written(10, 20))
        };
        stable.mark_written(0, 10);
        second.join().expect("writer panicked");
        waiter.join().expect("waiter panicked").expect("durable");
        assert_eq!(stable.stable_end(), 20);
    });
}

/// Two IO-buffer writes finishing in either order, a make_stable waiter on the end of
/// both, and an observer reading the stable end twice. The stable end only takes the
/// values 0, 10 and 20, never decreases, reaches 10 only once [0, 10) was reported
/// and 20 only once both were, and the waiter wakes with Ok.
#[test]
fn stable_never_passes_a_gap_nor_goes_down() {
    loom::model(|| {
        let stable = Arc::new(Stable::new(0));
        let reported = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
        let writers: Vec<_> = [(0, 10), (10, 20)]
            .into_iter()
            .enumerate()
            .map(|(i, (start, end))| {
                let (s, r) = (Arc::clone(&stable), Arc::clone(&reported));
                thread::spawn(move || {
                    r[i].store(true, Ordering::SeqCst);
                    s.mark_written(start, end);
                })
            })
            .collect();
        let waiter = {
            let s = Arc::clone(&stable);
            thread::spawn(move || s.wait_until(20))
        };
        let mut last = 0;
        for _ in 0..2 {
            let now = stable.stable_end();
            assert!(now >= last, "stable end went down: {last} -> {now}");
            assert!(
                matches!(now, 0 | 10 | 20),
                "stable end {now} inside an interval"
            );
            if now >= 10 {
                assert!(reported[0].load(Ordering::SeqCst), "passed the gap [0, 10)");
            }
            if now >= 20 {
                assert!(
                    reported[1].load(Ordering::SeqCst),
                    "passed the gap [10, 20)"
                );
            }
            last = now;
        }
        for w in writers {
            w.join().expect("writer panicked");
        }
        waiter.join().expect("waiter panicked").expect("durable");
        assert_eq!(stable.stable_end(), 20);
    });
}
