//! Risk: a header field that no check covers. A message checksum that skipped the kind
//! byte (an Append read back as a Free), or a segment header field the CRC missed,
//! would pass every other suite.
//!
//! For a small multi-segment log, Linear and Gc, every message was flushed and the log
//! was reopened once (so the new run's header vouches for all of it). The test finds
//! every segment header and every message header in the image with its own parser
//! (not the engine's), flips each bit of each of their bytes in turn, and opens the
//! result: under `AbsoluteConsistency` the open must report `Corruption` or recover
//! exactly what was written; under `TolerateCorruptTail` it must recover a prefix of
//! it, never a message that differs. (Issue 14, defect 8.)
//!
//! Gc mode is held to the same rule: a destroyed segment header there once looked
//! like a freed segment's, and the open lost that segment's messages without a word
//! (every flip of a Gc segment header's bits did); the log's segment table, carried
//! beside the image as on a real disk, now tells the two apart.

mod common;

use std::sync::Arc;

use common::{add_durable_file, disk_with_log, payload};
use pagelog::LOG_FILE;
use pagelog::SEGMENT_TABLE_FILE;
use pagelog::io::SimStorage;
use pagelog::{Config, Kind, Log, RecoveryMode, SegmentMode};

const SEG: usize = 256;
const SEGMENT_HEADER: usize = 40;
const MESSAGE_HEADER: usize = 28;

fn config(mode: SegmentMode, recovery: RecoveryMode) -> Config {
    Config {
        segment_size_bytes: SEG as u64,
        io_buf_size_bytes: SEG,
        io_bufs: 2,
        blob_threshold_bytes: 100,
        segment_mode: mode,
        recovery_mode: recovery,
        ..Config::default()
    }
}

type Written = Vec<(Kind, u64, Vec<u8>)>;

/// The log file and the segment table file a run left.
struct Image {
    log: Vec<u8>,
    table: Vec<u8>,
}

/// A disk holding `log` as its log file beside the image's segment table.
fn disk_with(image: &Image, log: &[u8]) -> SimStorage {
    let disk = disk_with_log(log);
    add_durable_file(&disk, SEGMENT_TABLE_FILE, &image.table);
    disk
}

/// The image of a log of 12 flushed messages (some Replace, so Gc has something to
/// supersede), closed, reopened and closed again.
fn image(mode: SegmentMode) -> (Image, Written) {
    let config = config(mode, RecoveryMode::AbsoluteConsistency);
    let disk = SimStorage::new(17);
    let log = Log::open(config.clone(), Arc::new(disk.clone())).expect("open");
    let mut written = Vec::new();
    for i in 0..12u32 {
        let kind = if i % 3 == 2 {
            Kind::Replace
        } else {
            Kind::Append
        };
        let pid = u64::from(i % 4);
        let v = payload(i, 20 + (i as usize * 7) % 40);
        log.write(kind, pid, &v).expect("write");
        log.flush().expect("flush");
        written.push((kind, pid, v));
    }
    log.close().expect("close");
    let disk = disk.crash();
    let log = Log::open(config, Arc::new(disk.clone())).expect("reopen");
    log.close().expect("close");
    let disk = disk.crash();
    let image = Image {
        log: disk.durable_file(LOG_FILE).expect("log"),
        table: disk
            .durable_file(SEGMENT_TABLE_FILE)
            .expect("segment table"),
    };
    (image, written)
}

/// What the undamaged image recovers: in Linear mode everything written; in Gc mode
/// a subsequence of it holding every live message (superseded ones stay visible until
/// their segment is reclaimed).
fn reference(mode: SegmentMode, image: &Image, written: &Written) -> Written {
    let strict = config(mode, RecoveryMode::AbsoluteConsistency);
    let log = Log::open(strict, Arc::new(disk_with(image, &image.log))).expect("clean open");
    let got = recovered(&log).expect("clean iteration");
    let mut rest = written.iter();
    assert!(
        got.iter().all(|m| rest.any(|w| w == m)),
        "{mode:?}: the clean recovery is no subsequence of what was written"
    );
    for m in live(mode, written) {
        assert!(got.contains(&m), "{mode:?}: live message {m:?} missing");
    }
    got
}

/// The messages of `written` that must be recovered: all in Linear mode; in Gc mode
/// those no later Replace of their page superseded.
fn live(mode: SegmentMode, written: &Written) -> Written {
    written
        .iter()
        .enumerate()
        .filter(|(i, (_, pid, _))| {
            mode == SegmentMode::Linear
                || !written[i + 1..]
                    .iter()
                    .any(|(k, p, _)| p == pid && *k == Kind::Replace)
        })
        .map(|(_, m)| m.clone())
        .collect()
}

fn recovered(log: &Log) -> pagelog::Result<Written> {
    log.iter_from(0)?
        .map(|m| m.map(|m| (m.kind, m.pid, m.value)))
        .collect()
}

/// Byte ranges of every segment header and message header, found by walking each
/// slot: a valid-looking segment magic, then messages by their length field until a
/// zero kind byte or the segment's tail.
fn headers(image: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for slot in (0..image.len()).step_by(SEG) {
        let end = image.len().min(slot + SEG);
        if end - slot < SEGMENT_HEADER || image[slot..slot + 4] != *b"PGLS" {
            continue;
        }
        out.push((slot, SEGMENT_HEADER));
        let mut pos = SEGMENT_HEADER;
        while pos + MESSAGE_HEADER <= end - slot && image[slot + pos] != 0 {
            out.push((slot + pos, MESSAGE_HEADER));
            let at = slot + pos + 4;
            let len = u32::from_le_bytes(image[at..at + 4].try_into().expect("4")) as usize;
            pos += MESSAGE_HEADER + len;
        }
    }
    out
}

fn is_prefix(got: &Written, of: &Written) -> bool {
    got.len() <= of.len() && got[..] == of[..got.len()]
}

#[test]
fn every_bit_of_every_header_is_checked() {
    for mode in [SegmentMode::Linear, SegmentMode::Gc] {
        let (image, written) = image(mode);
        let want = reference(mode, &image, &written);
        let ranges = headers(&image.log);
        let segments = ranges.iter().filter(|r| r.1 == SEGMENT_HEADER).count();
        assert!(segments >= 5, "{mode:?}: only {segments} segments");
        let (mut reported, mut lossless, mut flips) = (0, 0, 0);
        for &(at, len) in &ranges {
            for bit in 0..len * 8 {
                let mut damaged = image.log.clone();
                damaged[at + bit / 8] ^= 1 << (bit % 8);
                let strict = config(mode, RecoveryMode::AbsoluteConsistency);
                let what = format!("{mode:?}: byte {} bit {}", at + bit / 8, bit % 8);
                match Log::open(strict, Arc::new(disk_with(&image, &damaged))) {
                    Err(e) if e.is_corruption() => reported += 1,
                    Err(e) => panic!("{what}: {e}"),
                    Ok(log) => {
                        let got = recovered(&log).unwrap_or_else(|e| panic!("{what}: {e}"));
                        assert!(
                            got == want,
                            "{what}: Ok, but {} of {} messages, or others",
                            got.len(),
                            want.len()
                        );
                        lossless += 1;
                    }
                }
                let tolerant = config(mode, RecoveryMode::TolerateCorruptTail);
                if let Ok(log) = Log::open(tolerant, Arc::new(disk_with(&image, &damaged))) {
                    let got = recovered(&log).unwrap_or_else(|e| panic!("{what}: tolerant: {e}"));
                    assert!(is_prefix(&got, &want), "{what}: tolerant: not a prefix");
                }
                flips += 1;
            }
        }
        eprintln!(
            "{mode:?}: {} headers, {flips} flips: {reported} reported, {lossless} recovered everything",
            ranges.len()
        );
        assert!(
            reported > flips / 2,
            "{mode:?}: most flips must be reported"
        );
    }
}
