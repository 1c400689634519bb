//! Loom model of group commit (`src/log/stable.rs`): a flush that rides on a sync
//! another thread leads, run by `scripts/loom.sh` (`RUSTFLAGS="--cfg loom"`). It runs
//! the real `Stable` (its mutex and condition variables are loom's under `--cfg loom`)
//! against a model disk: a write sets its bit in `written`; a sync copies `written`
//! into `durable`, so a sync covers exactly the writes that happened before it.
//!
//! Two writers each write a buffer and report it ([`Stable::written`]), running the
//! sync turn if they get one; a flusher waits for both ([`Stable::wait_or_lead`]),
//! running a sync turn whenever it is handed one. Checked in every interleaving: the
//! flusher hears Durable only when both writes were synced by a sync that started
//! after them (no acknowledgement before the covering sync), and nobody sleeps forever
//! (loom reports a deadlock if a wakeup is lost).
//!
//! Mutations tried, each caught:
//! - In `Stable::written`, mark the interval in the tracker instead of queueing it for
//!   a sync (acknowledge a write before its sync): "acknowledged before its sync".
//! - In `State::wake`, never wake a leader for unsynced buffers: loom finds the run
//!   where the second writer reports during the first writer's sync and the flusher,
//!   asleep, is never handed the turn (deadlock).
//! - In `State::take_turn`, ignore `syncing` (hand out a second turn while one is
//!   out): `Stable::synced`'s own assertion ("a sync reported with no turn out")
//!   fires when the second sync reports.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use loom::thread;
use pagelog::internals::stable::{Stable, SyncTurn, Waited, Written};

#[derive(Default)]
struct Disk {
    written: AtomicU64,
    durable: AtomicU64,
    in_sync: AtomicBool,
}

impl Disk {
    fn sync(&self, stable: &Stable, turn: SyncTurn) {
        let was = self.in_sync.swap(true, Ordering::SeqCst);
        assert!(!was, "two syncs in flight");
        let now = self.written.load(Ordering::SeqCst);
        for w in turn.covers() {
            let bit = 1 << (w.start / 10);
            assert!(
                now & bit != 0,
                "a turn covers a write that has not happened"
            );
        }
        self.durable.fetch_or(now, Ordering::SeqCst);
        self.in_sync.store(false, Ordering::SeqCst);
        stable.synced(turn);
    }
}

#[test]
fn a_flush_rides_on_another_threads_sync() {
    loom::model(|| {
        let stable = Arc::new(Stable::new(0));
        let disk = Arc::new(Disk::default());
        let writers: Vec<_> = [0u64, 10]
            .into_iter()
            .map(|start| {
                let (s, d) = (Arc::clone(&stable), Arc::clone(&disk));
                thread::spawn(move || {
                    d.written.fetch_or(1 << (start / 10), Ordering::SeqCst);
                    let w = Written {
                        start,
                        end: start + 10,
                        vouch: None,
                        vouched_by_message: 0,
                    };
                    if let Some(turn) = s.written(w) {
                        d.sync(&s, turn);
                    }
                })
            })
            .collect();
        while let Waited::Lead(turn) = stable.wait_or_lead(20).expect("no failure") {
            disk.sync(&stable, turn);
        }
        assert_eq!(
            disk.durable.load(Ordering::SeqCst) & 0b11,
            0b11,
            "acknowledged before its sync"
        );
        for w in writers {
            w.join().expect("writer panicked");
        }
    });
}
