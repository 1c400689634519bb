//! The damaged-log mode of the `recover_image` fuzz body: a log written by a seeded
//! workload, every message acknowledged, then damaged where the input says; recovery
//! is checked against a reference, the undamaged log's messages.
//!
//! Input layout (after `recover_image`'s selector byte, whose high bit chose this
//! mode and whose low bits choose the config as there):
//! - byte 0: the workload seed; byte 1: bit 0 set ends the workload with a flush
//!   only (otherwise with a close, a reopen and a close, so the new run's header
//!   vouches for every message);
//! - then damage records of 4 bytes `[op][offset: u16 LE][arg]`, applied in order to
//!   the durable log file: op % 4 = 0 flips bit `arg % 8` of byte `offset`; 1 zeroes
//!   `arg + 1` bytes from `offset`; 2 copies the segment header of slot `offset` over
//!   the one of slot `arg` (a stale header in the wrong place); 3 flips one bit in the
//!   segment header of slot `offset`, byte `arg % 40` (header-targeted rot). Offsets
//!   and slots wrap modulo the file.
//!
//! The reference is the workload itself: the log's state cut after its first `c`
//! messages is exactly those in Linear mode, and in Gc mode some of them in order
//! including every one that no message of the workload supersedes (superseded
//! messages stay visible until their segment is reclaimed). The undamaged log must recover the state after
//! all of them. The damaged open must:
//! - under `AbsoluteConsistency`: fail with `Corruption`, or recover the state after
//!   all messages, or after the first `c` if the damage changed every structure in
//!   the file that vouched for message `c` (each message's Vouch is in the next
//!   message's write; segment headers; the reopened run's header): recovery can only
//!   tell damage from a torn tail by what some intact structure vouches for;
//! - under `TolerateCorruptTail`: recover the state after some prefix of them (or
//!   report `Corruption`);
//! - and recover the same again on a second open (I7).
//!
//! The log's segment table file (`segments`) is carried undamaged beside the image:
//! with it, a destroyed Gc segment header is told from a freed segment's, so Gc mode
//! is held to the same rules as Linear mode.

use crate::config::{Config, RecoveryMode, SegmentMode};
use crate::error::Result;
use crate::io::{OpenMode, SimStorage, Storage};
use crate::log::format::{Place, SEGMENT_HEADER_LEN, SegmentHeader, VOUCH_LEN, Vouch};
use crate::log::table::SEGMENT_TABLE_FILE;
use crate::log::{Kind, LOG_FILE, Log, Lsn};
use crate::sync::Arc;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

type Messages = Vec<(Kind, u64, Vec<u8>)>;

/// Runs one input (the bytes after the selector). Panics when a check fails.
pub fn damaged_log(config: Config, data: &[u8]) {
    let (seed, flush_only, damage) = match data {
        [seed, flags, rest @ ..] => (*seed, flags & 1 == 1, rest),
        _ => return,
    };
    let built = build(&config, seed, flush_only);
    let written = &built.written;
    let gc = config.segment_mode == SegmentMode::Gc;
    let (reference, again) =
        recover(&config, &built, &built.image).expect("the undamaged log recovers");
    assert_eq!(
        live(&reference, gc),
        live(&again, gc),
        "the undamaged log recovered two states"
    );
    assert!(
        state_at(&reference, written, built.start, written.len(), gc),
        "the undamaged log is not the whole workload"
    );
    let damaged = apply(&built.image, damage, config.segment_size_bytes);
    let vouchers = vouchers(&built, config.segment_size_bytes);
    let silent = |c: usize| {
        c == written.len() || may_lose_from(built.places[c].0, &vouchers, &built.image, &damaged)
    };
    let strict = Config {
        recovery_mode: RecoveryMode::AbsoluteConsistency,
        ..config.clone()
    };
    judge(recover(&strict, &built, &damaged), "strict", gc, |got| {
        (0..=written.len()).any(|c| silent(c) && from_any_start(got, &built, c, gc))
    });
    let tolerant = Config {
        recovery_mode: RecoveryMode::TolerateCorruptTail,
        ..config
    };
    judge(
        recover(&tolerant, &built, &damaged),
        "tolerant",
        gc,
        |got| (0..=written.len()).any(|c| from_any_start(got, &built, c, gc)),
    );
}

/// Whether `got` can be the log's state cut after the first `c` messages of
/// `written`: exactly them in Linear mode. In Gc mode some of them in order, including
/// every one that no message of the whole workload supersedes: a superseded message
/// stays visible until its segment is reclaimed, and once a later message superseded
/// it durably it may be reclaimed even if a tolerated cut loses that later message.
fn state_at(got: &Messages, written: &Messages, start: usize, c: usize, gc: bool) -> bool {
    if !gc {
        return start <= c && got[..] == written[start..c];
    }
    let upto = &written[..c];
    let never_superseded = upto.iter().enumerate().filter(|(i, (_, pid, _))| {
        !written[i + 1..]
            .iter()
            .any(|(k, p, _)| p == pid && *k == Kind::Replace)
    });
    is_subsequence(got, &upto.to_vec())
        && never_superseded.into_iter().all(|(_, m)| got.contains(m))
}

/// `state_at` from either start the workload may leave: 0, or its truncation point.
fn from_any_start(got: &Messages, built: &Built, c: usize, gc: bool) -> bool {
    [0, built.start]
        .iter()
        .any(|&s| state_at(got, &built.written, s, c, gc))
}

/// The state a recovery gives: every message in Linear mode; in Gc mode those no later
/// message of the list supersedes. (A Gc log reclaims superseded messages once a
/// durable segment header vouches for what superseded them, so whether one still shows
/// depends on when the last header was written, not on what was recovered.)
fn live(got: &Messages, gc: bool) -> Messages {
    got.iter()
        .enumerate()
        .filter(|(i, (_, pid, _))| {
            !gc || !got[i + 1..]
                .iter()
                .any(|(k, p, _)| p == pid && *k != Kind::Append)
        })
        .map(|(_, m)| m.clone())
        .collect()
}

fn judge(
    got: Result<(Messages, Messages)>,
    what: &str,
    gc: bool,
    fine: impl Fn(&Messages) -> bool,
) {
    match got {
        Err(e) => assert!(e.is_corruption(), "{what}: a damaged log failed with {e}"),
        Ok((first, second)) => {
            assert!(
                fine(&first),
                "{what}: recovered {} messages, no state of the workload: {first:?}",
                first.len()
            );
            assert_eq!(
                live(&first, gc),
                live(&second, gc),
                "{what}: a second open recovered another state"
            );
        }
    }
}

/// What the workload left: its messages, each one's lsn and file offset, and the log
/// file's durable bytes.
struct Built {
    /// Linear mode: the workload truncated the log before this message (0: never).
    /// Damage may undo that (a lost Truncate record), so a recovered state may start
    /// at 0 or here.
    start: usize,
    written: Messages,
    places: Vec<(Lsn, u64)>,
    image: Vec<u8>,
    /// The segment table file's durable bytes, if the workload left one.
    table: Option<Vec<u8>>,
}

/// Writes the workload (each message flushed on its own, so each is one buffer
/// write, its Vouch just before it).
fn build(config: &Config, seed: u8, flush_only: bool) -> Built {
    let mut rng = ChaCha8Rng::seed_from_u64(u64::from(seed));
    let disk = SimStorage::new(u64::from(seed));
    let log = Log::open(config.clone(), Arc::new(disk.clone())).expect("fault-free open");
    let (mut written, mut places) = (Vec::new(), Vec::new());
    for i in 0..rng.random_range(4..24u32) {
        let kind = if rng.random_bool(0.3) {
            Kind::Replace
        } else {
            Kind::Append
        };
        let pid = rng.random_range(0..4u64);
        let len = rng.random_range(0..48usize);
        let value: Vec<u8> = (0..len).map(|j| (i as usize * 29 + j) as u8 | 1).collect();
        let p = log.write(kind, pid, &value).expect("fault-free write");
        log.flush().expect("fault-free flush");
        written.push((kind, pid, value));
        places.push((p.lsn, p.file_offset));
    }
    // Linear mode: half the workloads end with a checkpoint that truncates the log.
    let linear = config.segment_mode == SegmentMode::Linear;
    let start = if linear && rng.random_bool(0.5) {
        let k = rng.random_range(0..written.len());
        log.truncate_before(places[k].0)
            .expect("fault-free truncation");
        k
    } else {
        0
    };
    log.close().expect("fault-free close");
    let disk = disk.crash();
    if !flush_only {
        Log::open(config.clone(), Arc::new(disk.clone()))
            .and_then(Log::close)
            .expect("fault-free reopen");
    }
    let image = disk.durable_file(LOG_FILE).expect("the log file");
    Built {
        start,
        written,
        places,
        image,
        table: disk.durable_file(SEGMENT_TABLE_FILE),
    }
}

/// Every structure in `image` that vouches for a stable lsn, as (file offset, length,
/// the lsn it vouches for): the Vouch before each message (if still there, undisturbed
/// by segment reuse) and every valid segment header.
fn vouchers(built: &Built, size: u64) -> Vec<(usize, usize, Lsn)> {
    let image = &built.image;
    let mut out = Vec::new();
    for &(lsn, off) in &built.places {
        let at = off as usize - VOUCH_LEN;
        let bytes = image.get(at..).unwrap_or_default();
        let found = Vouch::decode(bytes).filter(|v| v.lsn + VOUCH_LEN as u64 == lsn);
        out.extend(found.map(|v| (at, VOUCH_LEN, v.stable)));
    }
    for slot in (0..image.len()).step_by(size as usize) {
        let place = Place {
            file: LOG_FILE,
            offset: slot as u64,
        };
        if let Ok(h) = SegmentHeader::decode(&image[slot..], place) {
            out.push((slot, SEGMENT_HEADER_LEN, h.stable_lsn));
        }
    }
    out
}

/// Whether recovery may lose the messages from lsn `from` on without a report: only
/// if the damage changed every structure that vouched for `from`.
fn may_lose_from(from: Lsn, vouchers: &[(usize, usize, Lsn)], before: &[u8], after: &[u8]) -> bool {
    vouchers
        .iter()
        .filter(|&&(_, _, stable)| stable > from)
        .all(|&(at, len, _)| before[at..at + len] != after[at..at + len])
}

/// Opens `image` (with the workload's segment table) twice (the second open sees what
/// the first left) and reads back.
fn recover(config: &Config, built: &Built, image: &[u8]) -> Result<(Messages, Messages)> {
    let disk = SimStorage::new(0);
    let file = disk.open(LOG_FILE, OpenMode::Create)?;
    file.write_at(image, 0)?;
    file.sync()?;
    if let Some(table) = &built.table {
        let file = disk.open(SEGMENT_TABLE_FILE, OpenMode::Create)?;
        file.write_at(table, 0)?;
        file.sync()?;
    }
    disk.sync_dir()?;
    let first = read_all(&Log::open(config.clone(), Arc::new(disk.clone()))?)?;
    let second = read_all(&Log::open(config.clone(), Arc::new(disk.crash()))?)?;
    Ok((first, second))
}

fn read_all(log: &Log) -> Result<Messages> {
    log.iter_from(0)?
        .map(|m| m.map(|m| (m.kind, m.pid, m.value)))
        .collect()
}

/// Applies the damage records; returns the damaged image.
fn apply(image: &[u8], records: &[u8], size: u64) -> Vec<u8> {
    let mut out = image.to_vec();
    let size = size as usize;
    let slots = out.len().div_ceil(size).max(1);
    for r in records.chunks_exact(4).take(16) {
        if out.is_empty() {
            break;
        }
        let (op, at, arg) = (
            r[0] % 4,
            usize::from(u16::from_le_bytes([r[1], r[2]])),
            r[3],
        );
        match op {
            0 => {
                let i = at % out.len();
                out[i] ^= 1 << (arg % 8);
            }
            1 => {
                let i = at % out.len();
                let end = (i + usize::from(arg) + 1).min(out.len());
                out[i..end].fill(0);
            }
            2 => {
                let (from, to) = ((at % slots) * size, (usize::from(arg) % slots) * size);
                let n = SEGMENT_HEADER_LEN.min(out.len() - from).min(out.len() - to);
                let header = out[from..from + n].to_vec();
                out[to..to + n].copy_from_slice(&header);
            }
            _ => {
                let i = (at % slots) * size + usize::from(arg) % SEGMENT_HEADER_LEN;
                let i = i.min(out.len() - 1);
                out[i] ^= 1;
            }
        }
    }
    out
}

fn is_subsequence(got: &Messages, of: &Messages) -> bool {
    let mut rest = of.iter();
    got.iter().all(|m| rest.any(|w| w == m))
}
