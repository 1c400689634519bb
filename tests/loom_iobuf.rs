//! Loom models of the IO-buffer ring's seal and write protocol (`src/log/iobuf.rs`),
//! run through the real `Log` over a fault-free `SimStorage`. Run by `scripts/loom.sh`
//! (`RUSTFLAGS="--cfg loom"`): the ring's atomics, its rotation lock and the buffers'
//! access cells come from `pagelog::sync`, which maps them to loom's.
//!
//! The config makes every path short: 256 B segments and buffers, a ring of two, and
//! 100-byte values, so one message fills most of a segment. A second reservation does
//! not fit: it seals the buffer (with a Pad to the segment's end), rotates to the other
//! buffer and starts a segment there, while a flush seals whatever it finds.
//!
//! What each model checks beyond loom's own deadlock and causality checks:
//! - every completed message is read back exactly once with its bytes, and no aborted
//!   one is read back;
//! - no byte of the log file is written twice (a buffer written twice, or written
//!   before its last writer left and again after, would rewrite its range);
//! - loom's access tracking of the buffer memory (`AlignedBytes::exclusive`): the
//!   thread writing a buffer out is ordered after every writer's copy into it.
//!
//! `a_failed_write_wakes_every_make_stable_waiter_with_the_error` is the lost-wakeup
//! class: the write fails while the other writer may be anywhere on its way to waiting
//! for durability; both must get an error and neither may sleep forever.
//!
//! Mutations tried, each caught:
//! - in `Ring::release`, hand out the write job whenever the writer count reaches zero,
//!   sealed or not: `Ring::job`'s assertion fires (write job for a buffer in use); with
//!   that assertion removed too, the interval tracker's fires (the same lsn range
//!   reported written twice);
//! - in `Ring::seal_locked`, hand out the write job even when writers remain (and
//!   remove `Ring::job`'s assertion): loom reports a causality violation, the
//!   write-out reading the buffer concurrently with a writer's copy;
//! - in `Ring::release`, decrement the writer count with `Ordering::Relaxed`: loom
//!   reports the same causality violation (the copy is not ordered before the
//!   write-out);
//! - in `Stable::poison`, notify before taking the lock and setting the failure: loom
//!   reports a deadlock in `a_failed_write_wakes_every_make_stable_waiter_with_the_error`
//!   (the waiter checked, missed the notification and sleeps forever);
//! - in `Inner::fail`, skip poisoning the stable tracker: the same deadlock.
#![cfg(loom)]

mod common_loom {
    use pagelog::io::{File, OpenMode, SimStorage, Storage, StorageLock};
    use pagelog::{Config, Result, SegmentMode};
    use std::sync::Mutex;

    /// The model's config: see the module doc.
    pub fn tiny() -> Config {
        Config {
            segment_size_bytes: 256,
            io_buf_size_bytes: 256,
            io_bufs: 2,
            blob_threshold_bytes: 128,
            segment_mode: SegmentMode::Linear,
            ..Config::default()
        }
    }

    /// The recorded writes: `[start, end)` byte ranges of the log file.
    pub type Writes = std::sync::Arc<Mutex<Vec<(u64, u64)>>>;

    /// A storage that records every write to the log file, to check that no byte is
    /// written twice. The lock is std's: storage calls are single loom steps.
    #[derive(Debug)]
    pub struct Recording {
        pub disk: SimStorage,
        pub writes: Writes,
    }

    #[derive(Debug)]
    struct RecordingFile {
        inner: Box<dyn File>,
        writes: Option<Writes>,
    }

    impl Storage for Recording {
        fn open(&self, name: &str, mode: OpenMode) -> Result<Box<dyn File>> {
            let inner = self.disk.open(name, mode)?;
            let writes = (name == "log").then(|| std::sync::Arc::clone(&self.writes));
            Ok(Box::new(RecordingFile { inner, writes }))
        }
        fn remove(&self, name: &str) -> Result<()> {
            self.disk.remove(name)
        }
        fn rename(&self, from: &str, to: &str) -> Result<()> {
            self.disk.rename(from, to)
        }
        fn list(&self) -> Result<Vec<String>> {
            self.disk.list()
        }
        fn sync_dir(&self) -> Result<()> {
            self.disk.sync_dir()
        }
        fn nonce(&self) -> u64 {
            self.disk.nonce()
        }
        fn lock(&self) -> Result<StorageLock> {
            self.disk.lock()
        }
    }

    impl File for RecordingFile {
        fn name(&self) -> &str {
            self.inner.name()
        }
        fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
            self.inner.read_at(buf, offset)
        }
        fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
            if let Some(w) = &self.writes {
                let mut w = w.lock().expect("recording lock");
                w.push((offset, offset + buf.len() as u64));
            }
            self.inner.write_at(buf, offset)
        }
        fn sync(&self) -> Result<()> {
            self.inner.sync()
        }
        fn len(&self) -> Result<u64> {
            self.inner.len()
        }
        fn set_len(&self, len: u64) -> Result<()> {
            self.inner.set_len(len)
        }
    }

    /// The engine's `Arc<dyn Storage>` (loom's `Arc` cannot coerce to a trait object).
    pub fn as_storage(s: impl Storage + 'static) -> loom::sync::Arc<dyn Storage> {
        let shared: std::sync::Arc<dyn Storage> = std::sync::Arc::new(s);
        loom::sync::Arc::from_std(shared)
    }

    /// Panics if two recorded writes share a byte.
    pub fn assert_disjoint(writes: &[(u64, u64)]) {
        let mut sorted = writes.to_vec();
        sorted.sort_unstable();
        for pair in sorted.windows(2) {
            assert!(
                pair[0].1 <= pair[1].0,
                "log bytes written twice: {:?} and {:?} (all writes {writes:?})",
                pair[0],
                pair[1]
            );
        }
    }
}

use common_loom::{Recording, as_storage, assert_disjoint, tiny};
use loom::sync::Arc;
use loom::thread;
use pagelog::io::SimStorage;
use pagelog::{Kind, Log};

#[test]
fn completed_and_aborted_reservations_race_a_flush() {
    loom::model(|| {
        let writes = std::sync::Arc::default();
        let storage = Recording {
            disk: SimStorage::new(7),
            writes: std::sync::Arc::clone(&writes),
        };
        let log = Arc::new(Log::open(tiny(), as_storage(storage)).expect("open"));
        let kept = {
            let log = Arc::clone(&log);
            thread::spawn(move || {
                let r = log.reserve(Kind::Append, 1, &[0xA1; 100]).expect("reserve");
                r.complete().expect("complete")
            })
        };
        let dropped = {
            let log = Arc::clone(&log);
            thread::spawn(move || {
                let r = log.reserve(Kind::Append, 2, &[0xB2; 100]).expect("reserve");
                r.abort().expect("abort");
            })
        };
        log.flush().expect("flush");
        let ptr = kept.join().expect("completing thread panicked");
        dropped.join().expect("aborting thread panicked");
        log.flush().expect("final flush");
        assert!(log.stable_lsn() > ptr.lsn, "flushed message not stable");

        let got: Vec<_> = log
            .iter_from(0)
            .expect("iter")
            .map(|m| m.expect("read"))
            .collect();
        assert_eq!(got.len(), 1, "exactly the completed message: {got:?}");
        assert_eq!((got[0].lsn(), got[0].pid), (ptr.lsn, 1));
        assert_eq!(got[0].value, vec![0xA1; 100]);
        assert_eq!(
            log.read(ptr).expect("read at pointer").value,
            vec![0xA1; 100]
        );
        assert_disjoint(&writes.lock().expect("recording lock"));
    });
}

/// One writer's whole path to durability; 20-byte values, so both writers share the
/// first buffer and one of them writes it out.
fn write_and_wait(log: &Log, pid: u64) -> pagelog::Result<()> {
    let r = log.reserve(Kind::Append, pid, &[pid as u8; 20])?;
    let ptr = r.complete()?;
    log.make_stable(ptr.lsn)
}

#[test]
fn a_failed_write_wakes_every_make_stable_waiter_with_the_error() {
    loom::model(|| {
        let disk = SimStorage::new(11);
        let log = Arc::new(Log::open(tiny(), as_storage(disk.clone())).expect("open"));
        // Every storage call from here on fails: the first buffer write poisons the log.
        disk.crash_after(0);
        let other = {
            let log = Arc::clone(&log);
            thread::spawn(move || write_and_wait(&log, 2))
        };
        let mine = write_and_wait(&log, 1);
        let theirs = other.join().expect("writer panicked");
        assert!(mine.is_err(), "durability claimed after a failed write");
        assert!(theirs.is_err(), "durability claimed after a failed write");
        assert!(log.flush().is_err(), "a poisoned log keeps failing");
    });
}
