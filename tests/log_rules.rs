//! The log's recovery and reuse rules, each with a test that names it and fails when
//! the rule is broken. Before these, several rules were guarded only by a saved fuzz
//! input or a smoke campaign inside the CLI tests, where a corpus refresh or a change
//! of seeds would drop the guard unnoticed.
//!
//! Rules tested elsewhere by name: the jump distance
//! (`log_edges::a_run_after_a_crash_never_reuses_an_lsn_the_crashed_run_wrote`); the
//! batch-manifest reuse rule (`segment.rs`,
//! `a_segment_holding_a_manifest_waits_for_its_batch`); rot versus torn tail
//! (`recovery_damage.rs`). Tests that could hang run under a watchdog, so a regression
//! fails with the test's name instead of stalling CI.

mod common;

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use common::{disk_with_log, payload, recovered};
use pagelog::LOG_FILE;
use pagelog::internals::format::{
    MessageHeader, Nonce, SEGMENT_HEADER_LEN, SegmentHeader, VOUCH_LEN, Vouch,
};
use pagelog::io::{FaultRates, File, OpenMode, SimStorage, Storage, StorageLock};
use pagelog::{Config, Error, Kind, Log, Lsn, SegmentMode};

fn small(mode: SegmentMode) -> Config {
    Config {
        segment_size_bytes: 256,
        io_buf_size_bytes: 256,
        io_bufs: 2,
        blob_threshold_bytes: 100,
        segment_mode: mode,
        ..Config::default()
    }
}

/// Runs `f` on its own thread; fails with `name` if it has not returned within
/// `secs` seconds (the thread is left behind: the test has failed anyway).
fn watchdog<T: Send + 'static>(name: &str, secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("{name}: hung for {secs} s"))
}

/// Appends a message at `lsn` (its position) into `image` at `file_offset`.
fn put_message(image: &mut [u8], at: usize, lsn: Lsn, value: &[u8], nonce: Nonce) {
    let h = MessageHeader::new(
        pagelog::internals::format::StoredKind::Append,
        1,
        lsn,
        value,
        nonce,
    )
    .expect("header");
    image[at..at + 28].copy_from_slice(&h.encode());
    image[at + 28..at + 28 + value.len()].copy_from_slice(value);
}

/// The unstable-tail rule: nothing after a missing or torn piece is recovered. Two
/// segments: the first holds message A, then zeros where a torn B would be; the
/// second (durable, as out-of-order writes may leave it) holds C, and nothing vouches
/// for B. Recovery returns A alone, without a Corruption (a crash explains it).
#[test]
fn nothing_after_a_torn_piece_is_recovered() {
    let n = Nonce(5);
    let mut image = vec![0u8; 512];
    let h0 = SegmentHeader {
        segment_lsn: 0,
        stable_lsn: 0,
        prev_end: 0,
        size_log2: 8,
        nonce: n,
    };
    image[..40].copy_from_slice(&h0.encode());
    image[40..68].copy_from_slice(&Vouch::new(40, 0).encode());
    put_message(&mut image, 68, 68, b"A", n);
    // B would start at 97: zeros there, a torn write.
    let h1 = SegmentHeader {
        segment_lsn: 256,
        stable_lsn: 97,
        prev_end: 256,
        size_log2: 8,
        nonce: n,
    };
    image[256..296].copy_from_slice(&h1.encode());
    image[296..324].copy_from_slice(&Vouch::new(296, 97).encode());
    put_message(&mut image, 324, 324, b"C", n);
    let log = Log::open(small(SegmentMode::Linear), Arc::new(disk_with_log(&image)))
        .expect("a torn tail is not damage");
    assert_eq!(
        recovered(&log),
        vec![(68, b"A".to_vec())],
        "C came back after the gap"
    );
    assert_eq!(log.recovery().tip, 97);
}

/// A storage that records the log file's writes and syncs, in order.
#[derive(Debug)]
struct Recording {
    disk: SimStorage,
    events: Arc<Mutex<Vec<Event>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Write { offset: u64, len: usize, zero: bool },
    Sync,
}

#[derive(Debug)]
struct RecordingFile {
    inner: Box<dyn File>,
    events: Arc<Mutex<Vec<Event>>>,
}

impl Storage for Recording {
    fn open(&self, name: &str, mode: OpenMode) -> pagelog::Result<Box<dyn File>> {
        let inner = self.disk.open(name, mode)?;
        if name != LOG_FILE {
            return Ok(inner);
        }
        let events = Arc::clone(&self.events);
        Ok(Box::new(RecordingFile { inner, events }))
    }
    fn remove(&self, name: &str) -> pagelog::Result<()> {
        self.disk.remove(name)
    }
    fn rename(&self, from: &str, to: &str) -> pagelog::Result<()> {
        self.disk.rename(from, to)
    }
    fn list(&self) -> pagelog::Result<Vec<String>> {
        self.disk.list()
    }
    fn sync_dir(&self) -> pagelog::Result<()> {
        self.disk.sync_dir()
    }
    fn nonce(&self) -> u64 {
        self.disk.nonce()
    }
    fn lock(&self) -> pagelog::Result<StorageLock> {
        self.disk.lock()
    }
}

impl File for RecordingFile {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> pagelog::Result<()> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> pagelog::Result<()> {
        let zero = buf.iter().all(|&b| b == 0);
        let e = Event::Write {
            offset,
            len: buf.len(),
            zero,
        };
        self.events.lock().expect("events").push(e);
        self.inner.write_at(buf, offset)
    }
    fn sync(&self) -> pagelog::Result<()> {
        self.events.lock().expect("events").push(Event::Sync);
        self.inner.sync()
    }
    fn len(&self) -> pagelog::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> pagelog::Result<()> {
        self.inner.set_len(len)
    }
}

/// A crashed log with a torn tail: flushed messages, then one written but unsynced.
fn torn(seed: u64) -> SimStorage {
    let disk = SimStorage::new(seed);
    let log = Log::open(small(SegmentMode::Linear), Arc::new(disk.clone())).expect("open");
    for i in 0..6u32 {
        log.write(Kind::Append, 1, &payload(i, 40)).expect("write");
        log.flush().expect("flush");
    }
    log.write(Kind::Append, 1, &payload(6, 40)).expect("write");
    // The buffer write goes through; its sync and everything after fail: a torn,
    // vanished or whole unsynced write for the crash to resolve.
    disk.crash_after(1);
    let _ = log.flush();
    let after = disk.crash();
    log.abandon();
    after
}

/// The order of neutralising the tip: an open zeroes what recovery cut off (the
/// message header at the tip, stale slots) and syncs that, all before it writes the
/// jump segment's header; else a crash between the two could leave a header vouching
/// for bytes that still read as messages.
#[test]
fn the_tip_is_zeroed_and_synced_before_the_jump_header_is_written() {
    let mut zeroing_opens = 0;
    for seed in 0..40 {
        let disk = torn(seed);
        let events = Arc::new(Mutex::new(Vec::new()));
        let storage = Recording {
            disk: disk.clone(),
            events: Arc::clone(&events),
        };
        let log = Log::open(small(SegmentMode::Linear), Arc::new(storage)).expect("open");
        let events = events.lock().expect("events").clone();
        let header = events
            .iter()
            .position(|e| matches!(e, Event::Write { len, zero: false, .. } if *len == SEGMENT_HEADER_LEN))
            .expect("the jump header write");
        let zeros: Vec<usize> = (0..events.len())
            .filter(|&i| matches!(events[i], Event::Write { zero: true, .. }))
            .collect();
        if let Some(&last) = zeros.last() {
            zeroing_opens += 1;
            assert!(
                last < header,
                "seed {seed}: a zeroing write after the jump header"
            );
            let synced = events[last..header].contains(&Event::Sync);
            assert!(
                synced,
                "seed {seed}: no sync between the zeroing and the header"
            );
        }
        drop(log);
    }
    assert!(
        zeroing_opens >= 5,
        "only {zeroing_opens} of 40 opens zeroed anything"
    );
}

/// What a segment header or Vouch may vouch for: only lsns already durable when it
/// was written. If either claimed more, a crash at the wrong moment would read as rot.
/// So a crash after any number of storage calls, on a disk with no damage, must never
/// make the next open report Corruption.
#[test]
fn a_crash_at_any_storage_call_never_reads_as_damage() {
    for mode in [SegmentMode::Linear, SegmentMode::Gc] {
        for calls in 0..160u64 {
            let disk = SimStorage::new(calls);
            disk.crash_after(calls);
            let _ = workload(&disk, mode);
            let after = disk.crash();
            match Log::open(small(mode), Arc::new(after.clone())) {
                Ok(_) => {}
                Err(e) => panic!("{mode:?}: crash after {calls} calls, then {e}"),
            }
        }
    }
}

/// Writes, flushes, a batch and replacements until the disk dies.
fn workload(disk: &SimStorage, mode: SegmentMode) -> pagelog::Result<()> {
    let log = Log::open(small(mode), Arc::new(disk.clone()))?;
    for i in 0..20u32 {
        let kind = if i % 4 == 3 {
            Kind::Replace
        } else {
            Kind::Append
        };
        log.write(
            kind,
            u64::from(i % 3),
            &payload(i, 30 + (i as usize * 13) % 90),
        )?;
        if i % 3 == 0 {
            log.flush()?;
        }
        if i % 7 == 0 {
            let mut b = log.pin_batch()?;
            b.write(Kind::Append, 9, &payload(100 + i, 20))?;
            b.write(Kind::Append, 9, &payload(200 + i, 20))?;
            b.seal()?;
        }
    }
    log.close()
}

/// Whole-slot zeroing: a slot outside the recovered log whose header bytes are not
/// zero (here: garbage past the end, as a torn new segment leaves) is zeroed whole on
/// disk, not just its header, so its bytes can never be read as messages if its lsns
/// are ever reused. (The zeroed slot is then the lowest Free one, so the reopened
/// log's jump segment takes it: its header is the only thing written there.)
#[test]
fn a_stale_slot_is_zeroed_whole_on_disk() {
    let disk = SimStorage::new(3);
    let log = Log::open(small(SegmentMode::Linear), Arc::new(disk.clone())).expect("open");
    log.write(Kind::Append, 1, b"kept").expect("write");
    log.close().expect("close");
    let image = disk.durable_file(LOG_FILE).expect("log");
    let slot = image.len().div_ceil(256) * 256;
    let garbage: Vec<u8> = (0..256u32).map(|i| (i * 7 + 3) as u8 | 1).collect();
    disk.forge(LOG_FILE, slot as u64, &garbage)
        .expect("stale slot");
    let log = Log::open(small(SegmentMode::Linear), Arc::new(disk.clone())).expect("reopen");
    assert_eq!(recovered(&log).len(), 1);
    let after = disk.durable_file(LOG_FILE).expect("log");
    let stale = &after[slot..(slot + 256).min(after.len())];
    assert!(
        stale[SEGMENT_HEADER_LEN..].iter().all(|&b| b == 0),
        "the stale slot is not all zero on disk past the new segment's header"
    );
    assert_ne!(
        stale[..4],
        [0; 4],
        "the jump segment reused the zeroed slot"
    );
}

/// A failed sync poisons the log for good: a later sync may succeed (fsyncgate: the
/// kernel marked the dirty pages clean), but nothing may be acknowledged after it.
#[test]
fn a_failed_sync_poisons_the_log_even_when_the_next_sync_succeeds() {
    let disk = SimStorage::new(4);
    let log = Log::open(small(SegmentMode::Linear), Arc::new(disk.clone())).expect("open");
    log.write(Kind::Append, 1, b"before").expect("write");
    log.flush().expect("flush");
    let p = log.write(Kind::Append, 1, b"lost").expect("write");
    let only_sync = FaultRates {
        sync_eio: 1.0,
        ..FaultRates::default()
    };
    disk.set_faults(only_sync).expect("faults");
    assert!(log.flush().is_err(), "the injected sync error");
    disk.set_faults(FaultRates::default()).expect("faults off");
    assert!(matches!(log.flush(), Err(Error::Poisoned { .. })));
    assert!(matches!(
        log.make_stable(p.lsn),
        Err(Error::Poisoned { .. })
    ));
    assert!(matches!(log.try_flush(), Err(Error::Poisoned { .. })));
    assert!(matches!(
        log.write(Kind::Append, 1, b"x"),
        Err(Error::Poisoned { .. })
    ));
    assert!(
        log.stable_lsn() <= p.lsn,
        "stable moved past the failed write"
    );
}

/// A replaced blob lives until its replacement is stable: until then a crash can lose
/// the replacement, and the blob's message is what recovery returns.
#[test]
fn a_replaced_blob_lives_until_its_replacement_is_durable() {
    let config = Config {
        segment_size_bytes: 4096,
        io_buf_size_bytes: 4096,
        blob_threshold_bytes: 200,
        segment_mode: SegmentMode::Gc,
        ..Config::default()
    };
    let disk = SimStorage::new(5);
    let log = Log::open(config.clone(), Arc::new(disk.clone())).expect("open");
    let big = payload(1, 1000);
    log.write(Kind::Replace, 7, &big).expect("blob");
    log.flush().expect("flush");
    log.write(Kind::Replace, 7, b"small")
        .expect("replace, not flushed");
    let blobs = |d: &SimStorage| d.names().iter().filter(|n| n.starts_with("blob-")).count();
    assert_eq!(
        blobs(&disk),
        1,
        "the blob went before its replacement was durable"
    );
    let after = disk.crash();
    log.abandon();
    let log = Log::open(config, Arc::new(after)).expect("reopen");
    let values: Vec<Vec<u8>> = recovered(&log).into_iter().map(|(_, v)| v).collect();
    assert!(
        values.contains(&big),
        "the blob's message did not come back whole"
    );
}

/// make_stable of the first message of a buffer in the middle of a segment, on one
/// thread with no flusher: it must seal and write that buffer itself.
#[test]
fn make_stable_of_a_buffers_first_message_mid_segment_returns() {
    watchdog("make_stable mid-segment", 60, || {
        let config = Config {
            segment_size_bytes: 64 << 10,
            io_buf_size_bytes: 4096,
            io_bufs: 2,
            blob_threshold_bytes: 1000,
            segment_mode: SegmentMode::Linear,
            ..Config::default()
        };
        let disk = SimStorage::new(6);
        let log = Log::open(config, Arc::new(disk)).expect("open");
        let mut last = log.write(Kind::Append, 1, &[1; 500]).expect("write");
        let first_of_second = loop {
            let p = log.write(Kind::Append, 1, &[2; 500]).expect("write");
            // The first message of a new buffer sits past that buffer's Vouch.
            if p.lsn - last.lsn == (28 + 500 + VOUCH_LEN) as u64 {
                break p;
            }
            last = p;
        };
        assert!(first_of_second.lsn % (64 << 10) > 1000, "not mid-segment");
        log.make_stable(first_of_second.lsn).expect("make_stable");
        assert!(log.stable_lsn() > first_of_second.lsn);
    });
}
