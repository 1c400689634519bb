//! Risk: a Gc segment whose header was destroyed taken for a freed one, so its
//! messages vanish without a report (the README's first known limit until format
//! version 4; `header_bit_flips` found it for every bit of every Gc header). The
//! segment table file (`segments`) tells the two apart; these tests damage the log
//! and the table from outside, on a simulated disk, and check what an open says.

mod common;

use std::sync::Arc;

use common::{add_durable_file, disk_with_log, payload};
use pagelog::io::SimStorage;
use pagelog::{Config, Kind, LOG_FILE, Log, Lsn, RecoveryMode, SEGMENT_TABLE_FILE, SegmentMode};

const SEG: usize = 256;

fn config(recovery: RecoveryMode) -> Config {
    Config {
        segment_size_bytes: SEG as u64,
        io_buf_size_bytes: SEG,
        io_bufs: 2,
        blob_threshold_bytes: 100,
        segment_mode: SegmentMode::Gc,
        recovery_mode: recovery,
        ..Config::default()
    }
}

type Messages = Vec<(Lsn, Vec<u8>)>;

/// A Gc log whose early segments were freed (pages replaced over and over), closed,
/// reopened and closed: its log file and segment table, and what it recovers.
struct Image {
    log: Vec<u8>,
    table: Vec<u8>,
    want: Messages,
}

fn image() -> Image {
    let disk = SimStorage::new(5);
    let log = Log::open(
        config(RecoveryMode::AbsoluteConsistency),
        Arc::new(disk.clone()),
    )
    .expect("open");
    for i in 0..60u32 {
        let kind = if i % 2 == 0 {
            Kind::Replace
        } else {
            Kind::Append
        };
        log.write(kind, u64::from(i % 3), &payload(i, 30))
            .expect("write");
        log.flush().expect("flush");
    }
    log.close().expect("close");
    let log = Log::open(
        config(RecoveryMode::AbsoluteConsistency),
        Arc::new(disk.clone()),
    )
    .expect("reopen");
    log.close().expect("close");
    let disk = disk.crash();
    let image = Image {
        log: disk.durable_file(LOG_FILE).expect("log"),
        table: disk.durable_file(SEGMENT_TABLE_FILE).expect("table"),
        want: Vec::new(),
    };
    let log = open(
        &image.log,
        Some(&image.table),
        RecoveryMode::AbsoluteConsistency,
    )
    .expect("the undamaged image opens");
    let b = log.recovery().branches;
    assert!(
        b.freed_gaps + b.freed_prefix > 0,
        "no freed segments: {b:?}"
    );
    Image {
        want: common::recovered(&log),
        ..image
    }
}

/// Opens `log` (and `table`, if given) on a fresh simulated disk.
fn open(log: &[u8], table: Option<&[u8]>, mode: RecoveryMode) -> pagelog::Result<Log> {
    let disk = disk_with_log(log);
    if let Some(t) = table {
        add_durable_file(&disk, SEGMENT_TABLE_FILE, t);
    }
    Log::open(config(mode), Arc::new(disk))
}

/// The file offsets of the valid-looking segment headers, by segment lsn.
fn segment_slots(log: &[u8]) -> Vec<(Lsn, usize)> {
    let mut out: Vec<(Lsn, usize)> = (0..log.len())
        .step_by(SEG)
        .filter(|&at| log.len() - at >= 40 && log[at..at + 4] == *b"PGLS")
        .map(|at| {
            let lsn = u64::from_le_bytes(log[at + 8..at + 16].try_into().expect("8"));
            (lsn, at)
        })
        .collect();
    out.sort_unstable();
    out
}

#[test]
fn a_destroyed_header_of_a_live_gc_segment_is_corruption_not_a_freed_segment() {
    let image = image();
    let slots = segment_slots(&image.log);
    assert!(slots.len() >= 3, "only {} segments", slots.len());
    let mut destroyed = 0;
    // Every segment but the newest (whose loss later writes cannot vouch for).
    for &(lsn, at) in &slots[..slots.len() - 1] {
        let mut damaged = image.log.clone();
        damaged[at..at + 40].fill(0);
        let strict = open(
            &damaged,
            Some(&image.table),
            RecoveryMode::AbsoluteConsistency,
        );
        match strict {
            Err(e) => {
                assert!(e.is_corruption(), "segment {lsn}: {e}");
                destroyed += 1;
            }
            Ok(log) => {
                let got = common::recovered(&log);
                assert_eq!(
                    got, image.want,
                    "segment {lsn}: its header zeroed, Ok but less"
                );
            }
        }
        let tolerant = open(
            &damaged,
            Some(&image.table),
            RecoveryMode::TolerateCorruptTail,
        )
        .expect("a tolerant open");
        let got = common::recovered(&tolerant);
        assert!(
            image.want.starts_with(&got),
            "segment {lsn}: tolerant: not a prefix"
        );
    }
    assert!(destroyed > 0, "no destroyed header was reported");
}

#[test]
fn the_report_names_the_missing_segment() {
    let image = image();
    let slots = segment_slots(&image.log);
    let &(lsn, at) = slots.first().expect("a segment");
    let mut damaged = image.log.clone();
    damaged[at..at + 40].fill(0);
    let e = open(
        &damaged,
        Some(&image.table),
        RecoveryMode::AbsoluteConsistency,
    )
    .expect_err("the oldest live segment lost its header");
    let text = e.to_string();
    assert!(text.contains(&format!("lsn {lsn}")), "{text}");
    assert!(text.contains(SEGMENT_TABLE_FILE), "{text}");
}

#[test]
fn a_missing_or_damaged_table_is_reported_when_the_log_has_gaps() {
    let image = image();
    let e = open(&image.log, None, RecoveryMode::AbsoluteConsistency)
        .expect_err("a Gc log with gaps and no segment table");
    assert!(
        e.is_corruption() && e.to_string().contains("missing"),
        "{e}"
    );
    let tolerant = open(&image.log, None, RecoveryMode::TolerateCorruptTail)
        .expect("tolerated: the gaps are taken as freed");
    assert_eq!(common::recovered(&tolerant), image.want);
    let (mut reported, mut flips) = (0, 0);
    for bit in 0..image.table.len() * 8 {
        let mut table = image.table.clone();
        table[bit / 8] ^= 1 << (bit % 8);
        match open(&image.log, Some(&table), RecoveryMode::AbsoluteConsistency) {
            Err(e) => {
                assert!(e.is_corruption(), "bit {bit}: {e}");
                reported += 1;
            }
            Ok(log) => assert_eq!(common::recovered(&log), image.want, "bit {bit}"),
        }
        flips += 1;
    }
    assert_eq!(
        reported, flips,
        "every flip of the table is caught by its checksum"
    );
    for len in 0..image.table.len() {
        let e = open(
            &image.log,
            Some(&image.table[..len]),
            RecoveryMode::AbsoluteConsistency,
        )
        .expect_err("a truncated table");
        assert!(e.is_corruption(), "truncated to {len}: {e}");
    }
}

/// A log written before format version 4 has no table: its gaps stand as freed, as
/// they always did. The image is this build's log with every header rewritten to
/// version 3 (checksums recomputed) and no table beside it.
#[test]
fn a_version_3_log_without_a_table_opens_as_before() {
    let image = image();
    let mut old = image.log.clone();
    for (_, at) in segment_slots(&old) {
        old[at + 4..at + 6].copy_from_slice(&3u16.to_le_bytes());
        let crc = crc32c::crc32c(&old[at..at + 36]);
        old[at + 36..at + 40].copy_from_slice(&crc.to_le_bytes());
    }
    let log = open(&old, None, RecoveryMode::AbsoluteConsistency)
        .expect("a version-3 log opens without a table");
    assert_eq!(common::recovered(&log), image.want);
    drop(log);
}

/// The table is rewritten before every release, so it never lists a released
/// segment, and an open always leaves one behind.
#[test]
fn the_table_on_disk_lists_exactly_the_segments_in_the_log() {
    let image = image();
    let disk = disk_with_log(&image.log);
    add_durable_file(&disk, SEGMENT_TABLE_FILE, &image.table);
    let log = Log::open(
        config(RecoveryMode::AbsoluteConsistency),
        Arc::new(disk.clone()),
    )
    .expect("open");
    let table = disk.durable_file(SEGMENT_TABLE_FILE).expect("a table");
    let count = u32::from_le_bytes(table[16..20].try_into().expect("4")) as usize;
    let listed: Vec<Lsn> = (0..count)
        .map(|i| u64::from_le_bytes(table[24 + 8 * i..32 + 8 * i].try_into().expect("8")))
        .collect();
    let on_disk: Vec<Lsn> = segment_slots(&disk.durable_file(LOG_FILE).expect("log"))
        .into_iter()
        .map(|(lsn, _)| lsn)
        .collect();
    for lsn in &listed {
        let first_write_pending = *lsn == log.recovery().start;
        assert!(
            on_disk.contains(lsn) || first_write_pending,
            "listed {lsn} not on disk"
        );
    }
    for lsn in &on_disk {
        assert!(listed.contains(lsn), "segment {lsn} on disk but not listed");
    }
    drop(log);
}

/// A newcomer's trial: a log file wiped (all zeros, cut to nothing, or deleted)
/// beside a segment table that lists its segments verified as a new, empty log, and
/// a writable open started one over it, so every page was gone without a word. The
/// table is written only once a log exists, so it proves the log was lost.
#[test]
fn a_wiped_or_deleted_log_beside_its_table_is_corruption_not_a_new_log() {
    let image = image();
    let zeros = vec![0; image.log.len()];
    for (what, log) in [
        ("zeroed", Some(&zeros[..])),
        ("emptied", Some(&[][..])),
        ("deleted", None),
    ] {
        for mode in [
            RecoveryMode::AbsoluteConsistency,
            RecoveryMode::TolerateCorruptTail,
        ] {
            let disk = SimStorage::new(7);
            if let Some(bytes) = log {
                add_durable_file(&disk, LOG_FILE, bytes);
            }
            add_durable_file(&disk, SEGMENT_TABLE_FILE, &image.table);
            let e = Log::open(config(mode), Arc::new(disk.clone())).expect_err(what);
            assert!(
                e.is_corruption() && e.to_string().contains("lists"),
                "{what}: {e}"
            );
            let after = disk.durable_file(LOG_FILE);
            assert_eq!(
                after.as_deref(),
                log,
                "{what}: the refused open wrote the log"
            );
        }
    }
}

/// Every segment header that was ever durable in the log while `image`'s workload
/// ran (each flush's durable image looked at), by file offset: what a lost zeroing
/// write or a stale read could bring back after the segment was released.
fn old_headers() -> Vec<(usize, Lsn, Vec<u8>)> {
    let disk = SimStorage::new(5);
    let log = Log::open(
        config(RecoveryMode::AbsoluteConsistency),
        Arc::new(disk.clone()),
    )
    .expect("open");
    let mut seen: Vec<(usize, Lsn, Vec<u8>)> = Vec::new();
    for i in 0..60u32 {
        let kind = if i % 2 == 0 {
            Kind::Replace
        } else {
            Kind::Append
        };
        log.write(kind, u64::from(i % 3), &payload(i, 30))
            .expect("write");
        log.flush().expect("flush");
        let now = disk.durable_file(LOG_FILE).expect("log");
        for (lsn, at) in segment_slots(&now) {
            if !seen.iter().any(|(a, l, _)| *a == at && *l == lsn) {
                seen.push((at, lsn, now[at..at + 40].to_vec()));
            }
        }
    }
    log.close().expect("close");
    seen
}

#[test]
fn a_released_segment_whose_header_comes_back_stays_released() {
    let image = image();
    let live = segment_slots(&image.log);
    let mut tried = 0;
    for (at, lsn, header) in old_headers() {
        // Only where the final log has no header at that slot (the segment was
        // released and its slot not reused): damage there brings the old one back.
        if live.iter().any(|&(_, a)| a == at) || at + SEG > image.log.len() {
            continue;
        }
        let mut log = image.log.clone();
        log[at..at + 40].copy_from_slice(&header);
        let what = format!("the header of released segment {lsn} back at offset {at}");
        let got = open(&log, Some(&image.table), RecoveryMode::AbsoluteConsistency)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(common::recovered(&got), image.want, "{what}");
        tried += 1;
    }
    assert!(tried >= 2, "only {tried} released segments to bring back");
}
