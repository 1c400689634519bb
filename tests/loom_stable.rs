//! Loom models of the stable-lsn waiters (`src/log/stable.rs`), run by
//! `scripts/loom.sh` (`RUSTFLAGS="--cfg loom"`). They exercise the real engine code:
//! its mutex, condition variable and atomics come from `pagelog::sync`, which maps to
//! loom's under `--cfg loom`.
//!
//! Mutations tried, each caught by the model named:
//! - `poison_wakes_a_waiter`: in `Stable::poison`, notify before taking the lock and
//!   setting the failure. Loom finds the interleaving where the waiter checks, the
//!   notification fires, the failure is set, and the waiter sleeps forever (deadlock).
//! - `out_of_order_writes_wake_the_waiter`: in `Stable::mark_written`, skip the notify.
//!   Loom reports the waiter blocked forever.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use pagelog::log::stable::Stable;
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
