//! Edge cases of the log, each named for the bug it guards against.

mod common;

use std::sync::Arc;

use common::{payload, recovered};
use pagelog::LOG_FILE;
use pagelog::internals::format::{MESSAGE_HEADER_LEN, SEGMENT_HEADER_LEN, VOUCH_LEN};
use pagelog::io::{FaultRates, OpenMode, SimStorage, Storage};
use pagelog::{Config, Error, Kind, Log, Lsn, RecoveryMode, SegmentMode};

const SEG: u64 = 1024;

fn config() -> Config {
    Config {
        segment_size_bytes: SEG,
        io_buf_size_bytes: SEG as usize,
        io_bufs: 2,
        blob_threshold_bytes: 300,
        segment_mode: SegmentMode::Linear,
        ..Config::default()
    }
}

/// Gc mode, one 4 KiB buffer per 4 KiB segment, values above 2000 B as blobs.
fn gc_config() -> Config {
    Config {
        segment_size_bytes: 4096,
        io_buf_size_bytes: 4096,
        io_bufs: 2,
        blob_threshold_bytes: 2000,
        segment_mode: SegmentMode::Gc,
        ..Config::default()
    }
}

fn open(disk: &SimStorage, config: &Config) -> pagelog::Result<Log> {
    Log::open(config.clone(), Arc::new(disk.clone()))
}

#[test]
fn more_reservations_than_buffers_aborted_in_reverse_order_do_not_hang() {
    let disk = SimStorage::new(1);
    let log = open(&disk, &config()).expect("open");
    let mut held = Vec::new();
    loop {
        match log.try_reserve(Kind::Append, 1, &[7; 100]) {
            Ok(r) => held.push(r),
            // The ring is full of this thread's own claims.
            Err(Error::WouldDeadlock { .. }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        held.len() > 2,
        "only {} reservations before the ring was full",
        held.len()
    );
    while let Some(r) = held.pop() {
        r.abort().expect("abort");
    }
    let after = log.write(Kind::Append, 2, b"after").expect("write after");
    log.flush().expect("flush after everyone left");
    let log = open(&disk.crash(), &config()).expect("reopen");
    assert_eq!(recovered(&log), vec![(after.lsn, b"after".to_vec())]);
}

#[test]
fn a_flush_after_all_writers_leave_covers_every_completed_reservation() {
    let disk = SimStorage::new(2);
    let log = open(&disk, &config()).expect("open");
    let mut held = Vec::new();
    for i in 0..12u32 {
        match log.try_reserve(Kind::Append, 1, &payload(i, 150)) {
            Ok(r) => held.push((i, r)),
            // The ring is full of this thread's own claims.
            Err(Error::WouldDeadlock { .. }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    let mut want = Vec::new();
    for (i, r) in held.into_iter().rev() {
        if i % 3 == 0 {
            r.abort().expect("abort");
        } else {
            want.push((r.lsn(), payload(i, 150)));
            r.complete().expect("complete");
        }
    }
    want.sort();
    log.flush().expect("flush");
    let log = open(&disk.crash(), &config()).expect("reopen");
    assert!(recovered(&log) == want);
}

/// Fills the first segment so the next free byte is `left` bytes before its end.
fn fill_to(log: &Log, left: u64) -> Vec<(Lsn, Vec<u8>)> {
    let mut written = Vec::new();
    let mut next = (SEGMENT_HEADER_LEN + VOUCH_LEN) as u64;
    let target = SEG - left;
    while target - next > 0 {
        let room = target - next;
        let total = room.min(250).max(MESSAGE_HEADER_LEN as u64);
        let total = if room - total != 0 && room - total < MESSAGE_HEADER_LEN as u64 {
            room - MESSAGE_HEADER_LEN as u64
        } else {
            total
        };
        let v = payload(next as u32, (total - MESSAGE_HEADER_LEN as u64) as usize);
        let p = log.write(Kind::Append, 1, &v).expect("fill");
        written.push((p.lsn, v));
        next += total;
    }
    written
}

#[test]
fn no_message_starts_in_the_last_header_length_bytes_of_a_segment() {
    for left in 0..=MESSAGE_HEADER_LEN as u64 {
        let disk = SimStorage::new(3 + left);
        let log = open(&disk, &config()).expect("open");
        let start = log.recovery().start;
        let mut want = fill_to(&log, left);
        let p = log.write(Kind::Append, 2, b"next").expect("next");
        want.push((p.lsn, b"next".to_vec()));
        if left < MESSAGE_HEADER_LEN as u64 + 4 {
            assert_eq!(
                p.lsn,
                start + SEG + (SEGMENT_HEADER_LEN + VOUCH_LEN) as u64,
                "{left} bytes left: the message goes to the next segment"
            );
        }
        log.flush().expect("flush");
        let log = open(&disk.crash(), &config()).expect("reopen");
        assert!(recovered(&log) == want, "{left} bytes left");
    }
}

#[test]
fn a_message_ending_exactly_at_a_segment_boundary_is_recovered() {
    let disk = SimStorage::new(40);
    let log = open(&disk, &config()).expect("open");
    let mut want = fill_to(&log, 0);
    let (last, value) = want.last().expect("filled");
    let end = last + (MESSAGE_HEADER_LEN + value.len()) as u64;
    assert_eq!(
        end,
        log.recovery().start + SEG,
        "the filler ends at the boundary"
    );
    let p = log
        .write(Kind::Append, 2, b"second segment")
        .expect("write");
    want.push((p.lsn, b"second segment".to_vec()));
    log.flush().expect("flush");
    let log = open(&disk.crash(), &config()).expect("reopen");
    assert!(recovered(&log) == want);
}

/// A small flushed log over two segments, with a blob and a batch.
fn small_log(seed: u64) -> (SimStorage, Vec<(Lsn, Vec<u8>)>) {
    let disk = SimStorage::new(seed);
    let log = open(&disk, &config()).expect("open");
    let mut want = Vec::new();
    for i in 0..6u32 {
        let v = payload(i, 120 + i as usize * 40);
        want.push((log.write(Kind::Append, 1, &v).expect("write").lsn, v));
    }
    let big = payload(77, 700);
    want.push((log.write(Kind::Replace, 2, &big).expect("blob").lsn, big));
    let mut b = log.pin_batch().expect("batch");
    for i in 0..2u32 {
        let v = payload(100 + i, 60);
        want.push((b.write(Kind::Append, 3, &v).expect("batch write").lsn, v));
    }
    b.seal().expect("seal");
    log.flush().expect("flush");
    drop(log);
    (disk.crash(), want)
}

/// Opens `disk` and checks that it either fails cleanly or recovers a prefix of `want`.
fn opens_to_a_prefix(disk: &SimStorage, mode: RecoveryMode, want: &[(Lsn, Vec<u8>)], what: &str) {
    let config = Config {
        recovery_mode: mode,
        ..config()
    };
    match open(disk, &config) {
        Err(e) => assert!(
            e.is_corruption() || matches!(e, Error::Unsupported(_)),
            "{what}: {e}"
        ),
        Ok(log) => {
            let got: Vec<_> = match log.iter_from(0) {
                Ok(it) => it
                    .map_while(|m| m.ok())
                    .map(|m| (m.lsn(), m.value))
                    .collect(),
                Err(e) => panic!("{what}: iter {e}"),
            };
            assert!(want.starts_with(&got), "{what}: not a prefix");
        }
    }
}

#[test]
fn recovery_never_panics_on_a_log_truncated_or_corrupted_at_any_offset() {
    let (disk, want) = small_log(50);
    let image = disk.read_file(LOG_FILE).expect("log file");
    for offset in 0..image.len() as u64 {
        for mode in [
            RecoveryMode::AbsoluteConsistency,
            RecoveryMode::TolerateCorruptTail,
        ] {
            let (cut, _) = small_log(50);
            let f = cut.open(LOG_FILE, OpenMode::Existing).expect("file");
            f.set_len(offset).expect("truncate");
            opens_to_a_prefix(&cut, mode, &want, &format!("truncated at {offset}"));
            let (rot, _) = small_log(50);
            let f = rot.open(LOG_FILE, OpenMode::Existing).expect("file");
            let mut b = [0];
            f.read_at(&mut b, offset).expect("read");
            f.write_at(&[b[0] ^ 0xA5], offset).expect("corrupt");
            f.sync().expect("sync");
            opens_to_a_prefix(&rot, mode, &want, &format!("corrupted at {offset}"));
        }
    }
}

#[test]
fn rot_inside_acknowledged_data_is_reported_not_cut() {
    let image = || {
        let disk = SimStorage::new(51);
        let log = open(&disk, &config()).expect("open");
        let mut lsns = Vec::new();
        for i in 0..30u32 {
            lsns.push(
                log.write(Kind::Append, 1, &payload(i, 100))
                    .expect("write")
                    .lsn,
            );
            log.flush().expect("flush");
        }
        drop(log);
        (disk.crash(), lsns)
    };
    for mode in [
        RecoveryMode::AbsoluteConsistency,
        RecoveryMode::TolerateCorruptTail,
    ] {
        let (disk, lsns) = image();
        // Segment 0 sits at file offset 0 in Linear mode from a fresh file.
        let victim = lsns[1] + 5;
        let f = disk.open(LOG_FILE, OpenMode::Existing).expect("file");
        let mut b = [0];
        f.read_at(&mut b, victim).expect("read");
        f.write_at(&[b[0] ^ 1], victim).expect("flip");
        f.sync().expect("sync");
        let config = Config {
            recovery_mode: mode,
            ..config()
        };
        match (mode, open(&disk, &config)) {
            (RecoveryMode::AbsoluteConsistency, Err(e)) => assert!(e.is_corruption(), "{e}"),
            (RecoveryMode::TolerateCorruptTail, Ok(log)) => {
                assert_eq!(log.recovery().tip, lsns[1], "cut at the rotten message")
            }
            (mode, other) => panic!("{mode:?}: {other:?}"),
        }
    }
}

#[test]
fn after_an_injected_write_or_sync_error_the_log_is_poisoned_and_nothing_acknowledged_is_lost() {
    for faults in [
        FaultRates {
            write_eio: 1.0,
            ..FaultRates::default()
        },
        FaultRates {
            sync_eio: 1.0,
            ..FaultRates::default()
        },
    ] {
        let disk = SimStorage::new(60);
        let log = open(&disk, &config()).expect("open");
        let mut acked = Vec::new();
        for i in 0..20u32 {
            let v = payload(i, 90);
            acked.push((log.write(Kind::Append, 1, &v).expect("write").lsn, v));
        }
        log.flush().expect("flush");
        disk.set_faults(faults.clone()).expect("faults");
        log.write(Kind::Append, 1, b"doomed")
            .expect("reserve and complete");
        let err = log.flush().expect_err("flush after a fault");
        assert!(
            matches!(err, Error::Io { .. } | Error::Poisoned { .. }),
            "{err}"
        );
        let later = log.write(Kind::Append, 1, b"later").expect_err("poisoned");
        assert!(matches!(later, Error::Poisoned { .. }), "{later}");
        assert!(matches!(log.flush(), Err(Error::Poisoned { .. })));
        drop(log);
        let after = disk.crash();
        after.set_faults(FaultRates::default()).expect("faults off");
        let log = open(&after, &config()).expect("reopen after the fault");
        let got = recovered(&log);
        assert!(
            got.starts_with(&acked),
            "{faults:?}: acknowledged messages lost"
        );
        assert!(got.len() <= acked.len() + 1, "only 'doomed' may follow");
    }
}

/// A crashed log with a torn tail: some flushed messages and more unflushed ones.
fn torn_image(seed: u64) -> SimStorage {
    let disk = SimStorage::new(seed);
    let log = open(&disk, &config()).expect("open");
    for i in 0..10u32 {
        log.write(Kind::Append, 1, &payload(i, 100)).expect("write");
    }
    log.flush().expect("flush");
    for i in 10..30u32 {
        log.write(Kind::Append, 1, &payload(i, 100)).expect("write");
    }
    log.abandon();
    disk.crash()
}

#[test]
fn recovery_twice_with_a_crash_in_between_gives_the_same_state() {
    for seed in 0..20 {
        let reference = open(&torn_image(seed), &config()).expect("clean recovery");
        let want = recovered(&reference);
        for calls in 0..12 {
            let disk = torn_image(seed);
            disk.crash_after(calls);
            let interrupted = open(&disk, &config());
            drop(interrupted);
            let again = disk.crash();
            let log = open(&again, &config()).expect("second recovery");
            assert!(
                recovered(&log) == want,
                "seed {seed}: crash after {calls} calls into recovery changed the state"
            );
            let third = open(&again.crash(), &config()).expect("third recovery");
            assert!(recovered(&third) == want, "seed {seed}: third recovery");
        }
    }
}

#[test]
fn in_gc_mode_a_steady_working_set_keeps_the_file_bounded() {
    let config = gc_config();
    let disk = SimStorage::new(70);
    let log = open(&disk, &config).expect("open");
    let pages = 20u64;
    let value_len = 100usize;
    let live = pages * (value_len + MESSAGE_HEADER_LEN) as u64;
    let mut max_len = 0;
    for round in 0..2000u64 {
        for pid in 0..pages {
            log.write(
                Kind::Replace,
                pid,
                &payload((round * pages + pid) as u32, value_len),
            )
            .expect("write");
        }
        log.flush().expect("flush");
        let len = disk.read_file(LOG_FILE).map_or(0, |f| f.len() as u64);
        max_len = max_len.max(len);
    }
    let written = 2000 * live;
    eprintln!(
        "live {live} B, written {written} B, largest file {max_len} B ({:.1}x live)",
        max_len as f64 / live as f64
    );
    assert!(
        max_len <= 16 * 4096,
        "file grew to {max_len} B for {live} B of live data"
    );
    let stats = log.stats();
    let segments_written = stats.bytes_written / 4096;
    assert!(
        stats.segments_released + 16 >= segments_written,
        "{segments_written} segments written, {} released (header zeroed, synced)",
        stats.segments_released
    );
    drop(log);
    let log = open(&disk.crash(), &config).expect("reopen");
    let latest: Vec<_> = recovered(&log)
        .into_iter()
        .rev()
        .take(pages as usize)
        .collect();
    assert_eq!(latest.len(), pages as usize);
}

/// The first lsn of `disk`'s log that holds durable bytes in the slot at `slot`, past
/// the slot's header: where a later buffer of that segment reached disk.
fn first_durable_byte(disk: &SimStorage, slot: u64, segment: u64) -> Option<u64> {
    let image = disk.read_file(LOG_FILE)?;
    let start = (slot * segment) as usize;
    let end = image.len().min(start + segment as usize);
    let at = image[start..end].iter().position(|&b| b != 0)?;
    Some(at as u64)
}

/// The jump past a crashed run must clear every lsn that run could have used, not just
/// the highest durable segment header: a segment's later buffer can reach disk while
/// its first (with the header) never does. Here the next run reuses that segment's
/// slot (Gc mode: lowest free); had it reused the same lsns too, the same message
/// sizes would line its end up exactly with the crashed run's durable messages, and
/// recovery would read them as its continuation.
#[test]
fn a_run_after_a_crash_never_reuses_an_lsn_the_crashed_run_wrote() {
    const SEGMENT: u64 = 8192;
    const BUF: usize = 4096;
    let config = Config {
        segment_size_bytes: SEGMENT,
        io_buf_size_bytes: BUF,
        io_bufs: 3,
        blob_threshold_bytes: 1000,
        segment_mode: SegmentMode::Gc,
        ..Config::default()
    };
    let disk = SimStorage::new(71);
    let log = open(&disk, &config).expect("open");
    let value = |tag: u32| payload(tag, 100);
    let mut tag = 0;
    // Fill segment 0, then hold open the first reservation of the next segment.
    let held = loop {
        tag += 1;
        let r = log.reserve(Kind::Append, 1, &value(tag)).expect("reserve");
        if r.lsn() >= SEGMENT {
            break r;
        }
        r.complete().expect("complete");
    };
    // Complete messages until three land in the segment's second buffer, and write
    // that buffer out from another thread (the first cannot be written: `held` is
    // open).
    let mut lsns = vec![held.lsn()];
    while lsns
        .iter()
        .filter(|&&l| l + 128 > SEGMENT + BUF as u64)
        .count()
        < 3
    {
        tag += 1;
        let r = log.reserve(Kind::Append, 2, &value(tag)).expect("reserve");
        lsns.push(r.lsn());
        r.complete().expect("complete");
    }
    // This thread's own flush would wait for `held`: refused, nothing written.
    let refused = log.try_flush();
    assert!(
        matches!(refused, Err(Error::WouldDeadlock { held: h, .. }) if h == held.lsn()),
        "held blocks this thread's flush: {refused:?}"
    );
    // Another thread's flush writes out what it can and would block on `held`.
    let other = std::thread::scope(|s| s.spawn(|| log.try_flush()).join().expect("thread"));
    assert!(
        matches!(other, Err(Error::WouldBlock)),
        "held blocks the flush: {other:?}"
    );
    let crashed = disk.crash();
    drop(held);
    log.abandon();
    let old_start = first_durable_byte(&crashed, 1, SEGMENT).expect("second buffer on disk");
    assert!(old_start > 40, "only a later buffer of slot 1 is durable");
    let sizes = lsns.iter().filter(|&&l| l < SEGMENT + old_start).count() as u32;

    // The next run: the same message sizes from its first segment's start.
    let log = open(&crashed, &config).expect("reopen");
    let start = log.recovery().start;
    let mut ours = Vec::new();
    for k in 0..sizes {
        let v = payload(1000 + k, 100);
        ours.push((log.write(Kind::Append, 3, &v).expect("write"), v));
    }
    assert_eq!(
        ours.last().map(|p| p.0.lsn + 128 - start),
        Some(old_start),
        "the new run ends where the crashed run's durable bytes begin"
    );
    log.flush().expect("flush");
    drop(log);
    let log = open(&crashed.crash(), &config).expect("reopen again");
    let got: Vec<_> = recovered(&log)
        .into_iter()
        .filter(|(lsn, _)| *lsn >= start)
        .collect();
    let want: Vec<_> = ours.iter().map(|(p, v)| (p.lsn, v.clone())).collect();
    let lsns = |v: &[(Lsn, Vec<u8>)]| v.iter().map(|m| m.0).collect::<Vec<_>>();
    assert_eq!(
        lsns(&got),
        lsns(&want),
        "exactly this run's messages past its start"
    );
    assert!(got == want, "this run's values");
}

/// Gc mode: once the live data shrinks, the segments it left behind at the end of the
/// file are cut off the file, not just marked reusable.
#[test]
fn in_gc_mode_the_file_shrinks_when_the_live_data_does() {
    let config = gc_config();
    let disk = SimStorage::new(72);
    let log = open(&disk, &config).expect("open");
    let file_len = || disk.read_file(LOG_FILE).map_or(0, |f| f.len() as u64);
    let pages = 64u64;
    for pid in 0..pages {
        log.write(Kind::Replace, pid, &payload(pid as u32, 1000))
            .expect("write");
    }
    log.flush().expect("flush");
    let peak = file_len();
    assert!(peak >= 16 * 4096, "64 KB of live data: file {peak} B");
    let mut last = Vec::new();
    for round in 1..=8u32 {
        last.clear();
        for pid in 0..pages {
            let v = payload(round * 1000 + pid as u32, 10);
            log.write(Kind::Replace, pid, &v).expect("write");
            last.push((pid, v));
        }
        log.flush().expect("flush");
    }
    let small = file_len();
    eprintln!("peak {peak} B, after shrinking {small} B");
    assert!(
        small <= peak / 4,
        "64 pages of 10 B, yet the file is {small} B (peak {peak} B)"
    );
    drop(log);
    let log = open(&disk.crash(), &config).expect("reopen");
    let mut latest = std::collections::BTreeMap::new();
    for m in log.iter_from(0).expect("iter") {
        let m = m.expect("message");
        latest.insert(m.pid, m.value);
    }
    let want: std::collections::BTreeMap<_, _> = last.into_iter().collect();
    assert_eq!(latest, want, "every page's latest value survives the cut");
}

/// Gc mode: an iterator running while writers reclaim and reuse segments never
/// reports damage; a segment is read under a pin, so it cannot be reused mid-read.
#[test]
fn in_gc_mode_iterating_while_segments_are_reused_never_reports_damage() {
    let config = gc_config();
    let disk = SimStorage::new(73);
    let log = open(&disk, &config).expect("open");
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            for round in 0..3000u32 {
                for pid in 0..8u64 {
                    let v = payload(round * 8 + pid as u32, 300);
                    log.write(Kind::Replace, pid, &v).expect("write");
                }
                log.flush().expect("flush");
            }
            done.store(true, std::sync::atomic::Ordering::Release);
        });
        let mut passes = 0;
        while !done.load(std::sync::atomic::Ordering::Acquire) {
            for m in log.iter_from(0).expect("iter") {
                if let Err(e) = m {
                    panic!("pass {passes}: {e}");
                }
            }
            passes += 1;
        }
        assert!(passes > 10, "only {passes} passes overlapped the writer");
    });
}

/// A destroyed segment header once made the next open start the log over at lsn 0,
/// and a Gc log then put the new segment in slot 0, over the earlier run's messages
/// at the same lsns (the run nonce keeps those from passing for the new run's:
/// `scan.rs`, `messages_of_another_run_end_the_scan_where_they_start`). A file with
/// no valid header and non-zero bytes is now refused in every mode, with nothing
/// written: it is a log whose every header was destroyed, not a new one.
#[test]
fn a_log_whose_only_header_was_destroyed_is_reported_not_started_over() {
    let disk = SimStorage::new(11);
    let config = gc_config();
    {
        let log = open(&disk, &config).expect("open");
        log.write(Kind::Append, 1, b"first run").expect("write");
        log.flush().expect("flush");
    }
    disk.forge(LOG_FILE, 0, &[0; SEGMENT_HEADER_LEN])
        .expect("destroy the header");
    let image = disk.read_file(LOG_FILE).expect("log");
    for mode in [
        RecoveryMode::AbsoluteConsistency,
        RecoveryMode::TolerateCorruptTail,
    ] {
        let config = Config {
            recovery_mode: mode,
            ..config.clone()
        };
        let e = open(&disk, &config).expect_err("refused");
        assert!(e.is_corruption(), "{mode:?}: {e}");
        assert_eq!(disk.read_file(LOG_FILE).expect("log"), image, "{mode:?}");
    }
}

#[test]
fn make_stable_below_a_sealed_batch_that_shares_its_buffer_writes_the_batch_itself() {
    // One thread, no flusher: the message at `a` shares an IO buffer with a batch
    // manifest, and the batch runs on into the next buffer. That buffer stays unsealed
    // (nothing reserved past it), and the held manifest keeps the first buffer's whole
    // interval from joining the stable prefix, so make_stable(a) must write the batch's
    // buffers too, or it waits for a write no one will make.
    let disk = SimStorage::new(12);
    let log = open(&disk, &config()).expect("open");
    let a = log.write(Kind::Append, 1, &[1; 100]).expect("write");
    let mut batch = log.pin_batch().expect("batch");
    for i in 0..4 {
        batch.write(Kind::Append, 2, &[i; 250]).expect("member");
    }
    let manifest = batch.seal().expect("seal");
    assert!(
        manifest / SEG == a.lsn / SEG,
        "the manifest shares a's buffer"
    );
    log.try_make_stable(a.lsn)
        .expect("one thread can make a stable: nothing else will");
    log.make_stable(a.lsn)
        .expect("and the blocking twin returns");
    assert!(log.stable_lsn() > a.lsn);
    drop(log);
    let after = open(&disk.crash(), &config()).expect("reopen");
    let back = recovered(&after);
    let lens: Vec<usize> = back.iter().map(|(_, v)| v.len()).collect();
    assert_eq!(back[0].0, a.lsn);
    assert_eq!(
        lens,
        [100, 250, 250, 250, 250],
        "a and the whole batch survive a power cut"
    );
}

#[test]
fn a_gc_batch_cut_short_is_dropped_whole_and_the_log_goes_on_from_before_it() {
    // The batch starts in one segment and runs into the next; the file is cut inside
    // its second part. Recovery's walk reads past the manifest before it learns the
    // batch is broken, so what it replayed into the open's bookkeeping must be undone
    // (including the later segment, which leaves the log): the open then accepts new
    // writes, and the next open recovers the prefix before the batch plus them.
    let config = Config {
        recovery_mode: RecoveryMode::TolerateCorruptTail,
        ..gc_config()
    };
    let disk = SimStorage::new(9);
    let log = open(&disk, &config).expect("open");
    let mut before = Vec::new();
    for i in 0..8u32 {
        let v = payload(i, 300);
        before.push((
            log.write(Kind::Append, u64::from(i % 3), &v)
                .expect("write")
                .lsn,
            v,
        ));
    }
    let mut batch = log.pin_batch().expect("batch");
    for i in 0..12u32 {
        batch
            .write(Kind::Replace, u64::from(i % 3), &payload(50 + i, 300))
            .expect("member");
    }
    let manifest = batch.seal().expect("seal");
    let end = log.flush().expect("flush");
    drop(log);
    let size = config.segment_size_bytes;
    assert!(
        manifest / size < (end - 1) / size,
        "the batch spans two segments"
    );
    let image = disk.crash().read_file(LOG_FILE).expect("log file");
    let second = (manifest / size + 1) * size;
    let mut cuts = 0;
    for cut in (second + 200..(end % size + second).min(image.len() as u64)).step_by(97) {
        let disk = disk_with_image(&image[..cut as usize]);
        let log = open(&disk, &config).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        assert_eq!(
            log.recovery().tip,
            manifest,
            "cut at {cut}: the tip goes back to the manifest"
        );
        assert!(
            recovered(&log) == before,
            "cut at {cut}: only the prefix before the batch"
        );
        let mut want = before.clone();
        for i in 0..20u32 {
            let v = payload(200 + i, 300);
            want.push((log.write(Kind::Append, 7, &v).expect("write").lsn, v));
        }
        log.close().expect("close");
        let log = open(&disk.crash(), &config).expect("reopen");
        assert!(
            recovered(&log) == want,
            "cut at {cut}: the writes after the drop survive"
        );
        cuts += 1;
    }
    assert!(cuts >= 3, "only {cuts} cuts tried");
}

/// A simulated disk whose log file durably holds `image`.
fn disk_with_image(image: &[u8]) -> SimStorage {
    common::disk_with_log(image)
}
