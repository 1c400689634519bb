//! Recovery: from the bytes of the log file to the recovered tip, the chain of
//! segments holding the recovered messages, and where this run starts writing.
//!
//! The file is an array of segment slots. Recovery reads every slot's header and
//! walks the valid ones in lsn order, keeping a `cut` (the end of the log recovered so
//! far, starting at 0):
//!
//! 1. A segment is skipped if its lsn lies in a *void*: a range `(prev_end, lsn)`
//!    declared by a header whose `prev_end < lsn`. Each open writes such a header,
//!    synced, before accepting writes (see 6), so the leftovers of a crashed run are
//!    void and never read again.
//! 2. A segment is accepted if its `prev_end` equals the cut (it continues the log),
//!    or, in Gc mode's case of freed segments, if the walk so far ended on a segment
//!    boundary and some valid header vouches that every lsn below the segment's
//!    `prev_end` was stable (a stable prefix never loses a piece unless it was freed),
//!    or the segment table (step 9) says so: the gap lies below its frontier and it
//!    lists none of it (`Walk::table_frees`; the headers that vouched may have been
//!    in slots an interrupted open zeroed). Otherwise the walk ends: the unstable-tail rule (nothing after a missing or torn
//!    piece is recovered).
//! 3. An accepted segment is scanned (`scan.rs`). A complete one moves the cut to its
//!    end. A scan that stops early moves the cut to the stop; if a later open declared
//!    a void from exactly there, the walk continues; otherwise it ends.
//! 4. Torn tail or rot: when the walk ends at a cut below the highest stable lsn that
//!    any valid header, any Vouch message the walk read, or any Vouch the sweep finds
//!    outside the recovered log (`sweep.rs`: past the stop, and in every other slot
//!    holding a non-zero byte) vouches for, durable bytes were lost. Every buffer
//!    write starts with a Vouch, so damage below what any intact later write vouched
//!    for is always told from a torn tail, in whichever segment it lies. Under
//!    `RecoveryMode::AbsoluteConsistency` that is `Error::Corruption` naming the place,
//!    returned before anything is written; under `TolerateCorruptTail` the cut
//!    stands. What no later intact write vouched for (the newest writes, if damaged
//!    after their sync with nothing written since) cannot be told from a torn tail.
//! 5. Batches: while some recovered manifest below the tip points past it, the tip
//!    moves back to that manifest (I5).
//! 6. Where the next run writes. After a clean close (the log ends with the Closed
//!    message that `Log::close` writes last, so no lsn at or past the tip was ever
//!    handed out) and with nothing outside the recovered log to zero, the next run
//!    *resumes*: it continues in the tip's segment, right at the tip, checksumming
//!    what it adds there with that segment's nonce (and its own new segments with its
//!    own). Before handing out any lsn it writes and syncs its first buffer, a
//!    Vouch right after the Closed message and its resume mark (`mark.rs`): from then on the log no longer ends with a
//!    Closed message, so if this run crashes, the next open does not resume below lsns
//!    it handed out. A log opened and closed many times so does not grow by a segment
//!    per open. Otherwise (a crash) it starts at a fresh segment
//!    `jump`, beyond any lsn the crashed run could have written: above the highest
//!    valid segment lsn by `MAX_IO_BUFS + 3` segments (a run writes at most one
//!    segment per IO buffer past its lowest unwritten buffer, whose segment header or
//!    its predecessor's is durable). The caller first zeroes (`zero_ranges`) every
//!    slot that is not part of the recovered log and whose header bytes are not
//!    already zero (the whole slot: a header destroyed by damage must not leave its
//!    messages to be read again if their lsns are ever reused), and the message header
//!    at the tip, and syncs; then writes the jump segment's header with `prev_end =
//!    tip` and syncs it before any write: that declares `(tip, jump)` void (step 1),
//!    and no stale header is left to be mistaken for a freed gap's successor once the
//!    jump segment itself is reclaimed. Zeroing the tip's header keeps what was cut
//!    there cut even if the jump header is later lost to a truncated file: a cut-off
//!    tail reads back as zeros, and a message torn before its trailing zero bytes
//!    would read as whole. The accountant keeps a jump segment while the segment
//!    holding its `prev_end` is in the log (a cut point must stay explained).
//!    The jump header carries the new run's nonce, drawn unlike every valid header's
//!    ([`Recovery::taken_nonces`]): if a destroyed header ever makes a later open
//!    start below lsns a run used, that run's leftovers fail the new checksums.
//! 7. Freed prefix (Gc mode): when no header continues the log from a segment
//!    boundary, the cut moves up to the last boundary at or below the vouched stable
//!    lsn (`Walk::skip_freed`): those segments were freed, not lost.
//!
//! 8. Truncated start (Linear mode): `Log::truncate_before` writes a Truncate record
//!    and, once it is durable, lets the segments wholly below its lsn leave the log.
//!    So a Linear walk may begin at a segment whose `prev_end` is past lsn 0; the walk
//!    starts its cut there, and after the walk a recovered Truncate record must reach
//!    that start, or the missing first segments are damage: `Error::Corruption` under
//!    AbsoluteConsistency; under TolerateCorruptTail the walk is redone from lsn 0
//!    without the truncated start, so the damage cuts the log there.
//! 9. Segment table (Gc mode's gaps; `table.rs`): the log keeps, in its own file, the
//!    segments in the log and the frontier past every segment placed, rewritten
//!    before any segment's header is zeroed. Below the tip, every segment the newest
//!    table lists, and every segment-aligned lsn from its frontier up that no void
//!    covers, must be a recovered segment; one that is not lost its header to damage
//!    (the walk took its gap for freed segments): `Error::Corruption` under
//!    AbsoluteConsistency, a cut there under TolerateCorruptTail. A log written before
//!    format version 4 has no table, and its gaps stand as freed.
//!
//! Step 0b, before the walk: with a valid segment table, a header below its frontier
//! for a segment it does not list is of a segment that left the log (the table stops
//! listing a segment before its header is zeroed, and every segment placed since
//! starts at or past the frontier), so it is not read (`drop_released`): a lost
//! zeroing write, a crash before it, or damage that brought an old header back
//! cannot return superseded messages (nor fail the open as damage).
//!
//! One pass, no memory per message: the walk hands each message it reads to the
//! caller's [`Replay`] (the open builds its segment bookkeeping from it) and keeps
//! only the few the open needs afterwards (blob pointers, batch manifests, Truncate
//! records) and one buffer of a segment's size. When a dropped batch moves the tip
//! below where the walk ended (step 5), the replay is begun again and given the
//! segments exactly up to the tip: a second pass, only then.
//!
//! Idempotence (I7): recovery writes nothing but zeros past the tip and in headers
//! outside the recovered log, the jump header and blob removals past the tip, and
//! never writes an lsn below the jump. A crash before the jump header is durable
//! leaves the recovered segments' bytes below the tip as they were, and what was
//! zeroed (or half zeroed) lies past the same cut, so the same walk gives the same
//! tip. A crash after it leaves a header that continues from the same tip. Either way
//! a second recovery gives the same state, and an old message can never reappear: no
//! later run writes a segment header at an lsn the crashed run used. A resuming open
//! writes nothing below the tip; a crash before its first Vouch is durable leaves the
//! log ending with the same Closed message (and no lsn was handed out yet), and a crash
//! after it leaves a log that does not end with one, so the open after starts a new
//! segment past anything the run could have written.

use crate::failpoints::failpoint;
use std::collections::BTreeMap;

use super::format::{
    Lsn, MESSAGE_HEADER_LEN, Nonce, Place, SEGMENT_HEADER_LEN, SegmentHeader, StoredKind, VOUCH_LEN,
};
use super::kind::Kind;
use super::scan::{Found, ScanEnd, SegmentBytes, scan};
use super::sweep::{SweptSlot, highest_vouch};
use super::table;
use super::voids::Voids;
use crate::config::{Config, RecoveryMode, SegmentMode};
use crate::error::{Error, Result};
use crate::io::File;

/// Most IO buffers a configuration may have (Config validation enforces it).
pub const MAX_IO_BUFS: u64 = 64;

/// How often each branch of the walk was taken in one recovery: what a simulation
/// campaign counts to show which recovery paths its crashes reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Branches {
    /// Segments skipped because a later open declared their lsns void.
    pub voids_skipped: u32,
    /// Segments accepted across a freed gap (Gc).
    pub freed_gaps: u32,
    /// Walks whose end moved up over a freed prefix (Gc).
    pub freed_prefix: u32,
    /// Scans that stopped at an earlier recovery's cut and continued past it.
    pub cuts_continued: u32,
    /// Walks that ended at bytes that are not a valid message (a torn or lost tail).
    pub torn_tails: u32,
    /// Walks that ended because the next header did not continue the log.
    pub broken_chains: u32,
    /// Walks that ended only because the headers ran out.
    pub clean_ends: u32,
    /// Batches dropped because their manifest pointed past the tip (I5).
    pub batches_dropped: u32,
    /// Byte ranges zeroed before the jump header (stale headers and the tip).
    pub zeroed: u32,
    /// Linear walks that began past lsn 0, where `Log::truncate_before` cut the log.
    pub truncated_starts: u32,
    /// Segments the segment table says are in the log but the walk did not find
    /// (their headers destroyed), cut at under TolerateCorruptTail (step 9).
    pub missing_segments: u32,
    /// Valid headers of segments the segment table says left the log, not read
    /// (step 0b): a release whose zeroing did not land, or an old header brought
    /// back by damage.
    pub released_headers: u32,
}

/// A recovered message, without its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    /// Its lsn.
    pub lsn: Lsn,
    /// Kind as stored.
    pub kind: StoredKind,
    /// Page id.
    pub pid: u64,
    /// Blob lsn or batch end, for kinds that carry one.
    pub word: Option<u64>,
}

impl Recovered {
    /// Whether the open needs it after the walk (kept in [`Recovery::specials`]).
    fn is_special(&self) -> bool {
        self.kind.is_blob()
            || matches!(
                self.kind,
                StoredKind::BatchManifest | StoredKind::Truncate | StoredKind::Resumed
            )
    }
}

/// Receives the recovered log as the walk reads it, in lsn order, so that the open
/// builds its bookkeeping in the same pass instead of from a list of every message.
/// A replay that turns out to have gone past the final tip (a dropped batch, a
/// re-walk) is begun again and given exactly the recovered log.
pub trait Replay {
    /// Starts (or starts over) a replay of a log file of `slots` segment slots.
    fn begin(&mut self, slots: usize);
    /// The segment `lsn` in `slot` is part of the log; its messages follow.
    fn segment(&mut self, lsn: Lsn, slot: usize);
    /// A message (not Pad, Cancelled or Vouch).
    fn message(&mut self, m: &Recovered);
}

/// A replay that keeps nothing.
#[derive(Debug, Default)]
pub struct NoReplay;

impl Replay for NoReplay {
    fn begin(&mut self, _: usize) {}
    fn segment(&mut self, _: Lsn, _: usize) {}
    fn message(&mut self, _: &Recovered) {}
}

/// What recovery found.
#[derive(Debug, Clone)]
pub struct Recovery {
    /// No log here yet: the file is empty or all zeros (see `create.rs`).
    pub fresh: bool,
    /// Every message below this lsn (and none at or above) is recovered.
    pub tip: Lsn,
    /// Where the next run starts writing: the start of a new segment (a jump), or the
    /// tip itself when `resume`.
    pub jump: Lsn,
    /// The log ends with a clean close's Closed message at the tip, in a segment with
    /// room left, and nothing outside the recovered log needs zeroing: the next run
    /// continues in the tip's segment, right at the tip (step 6).
    pub resume: bool,
    /// The highest stable lsn a valid segment header vouches for.
    pub vouched: Lsn,
    /// Segment slots in the file.
    pub slots: usize,
    /// Recovered segments holding lsns below the tip: (segment lsn, slot).
    pub chain: Vec<(Lsn, usize)>,
    /// The nonce of each segment in `chain`, by segment lsn: reads check its messages
    /// (and their blobs) against it.
    pub nonces: BTreeMap<Lsn, Nonce>,
    /// The nonce of every valid header in the file: the next run draws none of them.
    pub taken_nonces: Vec<Nonce>,
    /// The recovered messages the open needs after the walk, in lsn order: those
    /// pointing at a blob, batch manifests, Truncate records and resume marks
    /// (`mark.rs`). Every other message
    /// went only to the [`Replay`] (no memory per message).
    pub specials: Vec<Recovered>,
    /// User messages recovered (the log's own records not counted).
    pub user_messages: usize,
    /// Void ranges `(start, end)` declared by headers, plus `(tip, jump)`.
    pub voids: Voids,
    /// Byte ranges `(file offset, len)` the caller zeroes (and syncs) before writing
    /// the jump header: every slot not in the recovered log whose header bytes are
    /// not already zero, and the message header at the tip.
    pub zero_ranges: Vec<(u64, usize)>,
    /// Recovered jump segments: (segment lsn, the lsn its log continued from).
    pub jumps: Vec<(Lsn, Lsn)>,
    /// Which branches the walk took.
    pub branches: Branches,
}

impl Recovery {
    /// The recovery of a log that does not exist yet: nothing recovered, the first
    /// segment at lsn 0.
    pub fn fresh() -> Recovery {
        Recovery {
            fresh: true,
            tip: 0,
            jump: 0,
            resume: false,
            vouched: 0,
            slots: 0,
            chain: Vec::new(),
            nonces: BTreeMap::new(),
            taken_nonces: Vec::new(),
            specials: Vec::new(),
            user_messages: 0,
            voids: Voids::new(Vec::new()),
            zero_ranges: Vec::new(),
            jumps: Vec::new(),
            branches: Branches::default(),
        }
    }
}

/// A file with no valid segment header is a new log only if every byte is zero
/// (`create.rs`: a log file always starts with a synced header); otherwise it is not a
/// pagelog log, or every header in it was destroyed. Reads in bounded chunks.
fn ensure_all_zero(file: &dyn File, file_len: u64) -> Result<()> {
    const CHUNK: u64 = 64 << 10;
    let mut buf = vec![0; CHUNK.min(file_len) as usize];
    let mut at = 0;
    while at < file_len {
        let n = CHUNK.min(file_len - at) as usize;
        failpoint!("recovery::foreign::read");
        file.read_at(&mut buf[..n], at)?;
        if let Some(i) = buf[..n].iter().position(|&b| b != 0) {
            return Err(Error::corruption(
                file.name(),
                at + i as u64,
                format!(
                    "not a pagelog log: no valid segment header in its {file_len} bytes, yet a non-zero byte here (a foreign file, or a log whose every header was destroyed); it is left as it is"
                ),
            ));
        }
        at += n as u64;
    }
    Ok(())
}

/// A log file that is empty or all zeros is a new log, unless its segment table
/// lists segments: then a log that held them was wiped or cut (a new log's table
/// is written before its file, but that file is renamed into place whole, never
/// empty). `Error::Corruption` in every recovery mode, with nothing written: starting
/// a new empty log there would lose the listed segments for good.
fn listed_but_empty(table: &table::Found, file: &dyn File) -> Result<()> {
    match table {
        table::Found::Table(t) if !t.segments.is_empty() => Err(Error::corruption(
            file.name(),
            0,
            format!(
                "the log holds no segment, but its segment table `{}` lists {} (the first at lsn {}): the log was wiped or cut short",
                table::SEGMENT_TABLE_FILE,
                t.segments.len(),
                t.segments[0]
            ),
        )),
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    slot: usize,
    header: SegmentHeader,
    /// The format version the header was written with.
    version: u16,
}

/// The first format version whose logs keep a segment table (`table.rs`).
const TABLE_VERSION: u16 = 4;

/// Step 9: the segment table (`table.rs`). With a valid table, the lowest segment
/// below `tip` that it says the log holds but the walk did not recover is damage:
/// `Error::Corruption` under AbsoluteConsistency, else returned so the log is cut
/// there. Without a usable table, the walk's freed gaps stand in a log written before
/// tables existed (`kept` false: no version-4 header), and are damage otherwise.
fn check_table(
    config: &Config,
    found: &table::Found,
    walk: &Walk<'_>,
    tip: Lsn,
    kept: bool,
    file: &dyn File,
) -> Result<Option<Lsn>> {
    let strict = config.recovery_mode == RecoveryMode::AbsoluteConsistency;
    let b = &walk.branches;
    let gaps = config.segment_mode == SegmentMode::Gc && b.freed_gaps + b.freed_prefix > 0;
    let why = match found {
        table::Found::Table(t) => {
            let chain: Vec<Lsn> = walk.chain.iter().map(|&(l, _)| l).collect();
            let size = config.segment_size_bytes;
            let Some(lsn) = t.first_missing(&chain, &walk.voids, tip, size) else {
                return Ok(None);
            };
            if !strict {
                log::warn!("pagelog: segment {lsn} is missing from the log; cut there");
                return Ok(Some(lsn));
            }
            format!(
                "the segment at lsn {lsn} is in the log by its segment table (`{}`), but no valid header holds it: its header was destroyed (a misdirected write, bit rot) or the file was altered",
                table::SEGMENT_TABLE_FILE
            )
        }
        _ if !gaps || !kept => return Ok(None),
        table::Found::Missing => format!(
            "the log has gaps (segments freed, or headers destroyed) and its segment table `{}`, which tells them apart, is missing",
            table::SEGMENT_TABLE_FILE
        ),
        table::Found::Damaged(e) => format!(
            "the log has gaps (segments freed, or headers destroyed) and its segment table, which tells them apart, is damaged: {e}"
        ),
    };
    if !strict {
        log::warn!("pagelog: {why}; recovering as if every gap was freed");
        return Ok(None);
    }
    Err(Error::corruption(file.name(), 0, why))
}

/// Recovers the log in `file`, handing what it recovers to `replay` as it reads it
/// (see [`Replay`]): one pass over the file in the common case.
pub fn recover(
    config: &Config,
    file: &dyn File,
    table: &table::Found,
    replay: &mut dyn Replay,
) -> Result<Recovery> {
    let size = config.segment_size_bytes;
    failpoint!("recovery::open::len");
    let file_len = file.len()?;
    let slots = usize::try_from(file_len.div_ceil(size))
        .map_err(|_| Error::corruption(file.name(), 0, "file too large for this platform"))?;
    let (mut headers, dirty) = read_headers(config, file, file_len, slots)?;
    let released = drop_released(&mut headers, table);
    if headers.is_empty() {
        ensure_all_zero(file, file_len)?;
        listed_but_empty(table, file)?;
        return Ok(Recovery::fresh());
    }
    replay.begin(slots);
    let listed = match table {
        table::Found::Table(t) => Some(t),
        _ => None,
    };
    let mut walk = Walk::new(config, &headers, listed, true);
    walk.run(file, file_len, replay)?;
    let (mut tip, mut dropped) = batch_tip(walk.cut, &walk.specials);
    // Step 8, judged at the final tip: a Truncate record past it (a batch dropped
    // before it) explains nothing.
    if !walk.start_explained(tip) {
        if config.recovery_mode == RecoveryMode::AbsoluteConsistency {
            return Err(walk.missing_start(file, tip));
        }
        // Tolerated: the damage at the log's start cuts it there, as anywhere else.
        replay.begin(slots);
        walk = Walk::new(config, &headers, listed, false);
        walk.run(file, file_len, replay)?;
        (tip, dropped) = batch_tip(walk.cut, &walk.specials);
    }
    let swept = sweep_outside(config, file, file_len, slots, &headers, &walk)?;
    walk.check_rot(swept, file)?;
    let kept = headers.iter().any(|s| s.version >= TABLE_VERSION);
    if let Some(missing) = check_table(config, table, &walk, tip, kept, file)? {
        // Tolerated: a destroyed header cuts the log there, as other damage does.
        walk.branches.missing_segments += 1;
        (tip, dropped) = batch_tip(missing, &walk.specials);
    }
    if tip < walk.cut {
        // A dropped batch moved the tip back: replay again, exactly up to it.
        replay.begin(slots);
        walk.replay_to(file, file_len, tip, replay)?;
    }
    walk.branches.batches_dropped = dropped;
    walk.branches.released_headers = released;
    let chain: Vec<(Lsn, usize)> = walk.chain.into_iter().filter(|(l, _)| *l < tip).collect();
    let mut zero_ranges: Vec<(u64, usize)> = dirty
        .into_iter()
        .filter(|&slot| !chain.iter().any(|&(_, c)| c == slot))
        .map(|slot| slot_range(slot as u64 * size, size, file_len))
        .collect();
    let resume = zero_ranges.is_empty() && closed_at(config, walk.last, tip, &chain);
    zero_ranges.extend(tip_range(config, file, file_len, tip, &chain)?);
    let highest = headers.iter().map(|s| s.header.segment_lsn).max();
    let jump = match highest {
        _ if resume => tip,
        None => 0,
        Some(h) => h.checked_add(size * (MAX_IO_BUFS + 3)).ok_or_else(|| {
            Error::corruption(file.name(), 0, "segment lsns near the end of the lsn space")
        })?,
    };
    let mut voids = walk.voids.ranges().to_vec();
    if tip < jump {
        voids.push((tip, jump));
    }
    let voids = Voids::new(voids);
    walk.branches.zeroed = zero_ranges.len() as u32;
    let nonces = headers
        .iter()
        .filter(|s| chain.contains(&(s.header.segment_lsn, s.slot)))
        .map(|s| (s.header.segment_lsn, s.header.nonce))
        .collect();
    let taken_nonces = headers.iter().map(|s| s.header.nonce).collect();
    let jumps = headers
        .iter()
        .filter(|s| chain.contains(&(s.header.segment_lsn, s.slot)))
        .filter(|s| s.header.prev_end < s.header.segment_lsn)
        .map(|s| (s.header.segment_lsn, s.header.prev_end))
        .collect();
    Ok(Recovery {
        fresh: false,
        tip,
        jump,
        resume,
        vouched: walk.vouched,
        slots,
        zero_ranges,
        jumps,
        chain,
        nonces,
        taken_nonces,
        specials: walk.specials.into_iter().filter(|m| m.lsn < tip).collect(),
        user_messages: walk.user_messages,
        voids,
        branches: walk.branches,
    })
}

/// Step 0b: with a valid segment table, a header below the table's frontier for a
/// segment the table does not list belongs to a segment that left the log: the
/// table stopped listing it before its header was zeroed, and every segment placed
/// since starts at or past the frontier. So it is not read (a crash after the table
/// but before the zeroing was durable, a lost zeroing write, or damage that brought
/// an old header back would otherwise return that segment's superseded messages);
/// its slot counts as dirty and a writable open zeroes it. Returns how many.
fn drop_released(headers: &mut Vec<Slot>, table: &table::Found) -> u32 {
    let table::Found::Table(t) = table else {
        return 0;
    };
    let before = headers.len();
    headers.retain(|s| {
        let lsn = s.header.segment_lsn;
        lsn >= t.frontier || t.segments.binary_search(&lsn).is_ok()
    });
    (before - headers.len()) as u32
}

/// Whether the log ends with a clean close (step 6): its last recovered message
/// (`last`) is a Closed one ending at `tip`, in the last recovered segment, with room
/// after it for a buffer's Vouch and the resumed run's mark (`mark.rs`), so both go
/// in the one buffer the open writes first. Then no lsn at or past `tip` was ever
/// handed out.
fn closed_at(config: &Config, last: Option<Recovered>, tip: Lsn, chain: &[(Lsn, usize)]) -> bool {
    let size = config.segment_size_bytes;
    let closed = last
        .is_some_and(|m| m.kind == StoredKind::Closed && m.lsn + MESSAGE_HEADER_LEN as u64 == tip);
    let in_last = chain.last().is_some_and(|&(l, _)| l == tip - tip % size);
    let room = size - tip % size >= (VOUCH_LEN + MESSAGE_HEADER_LEN + 8) as u64;
    closed && in_last && tip % size != 0 && room
}

/// The header bytes of the slot at `at` that exist in a file of `file_len` bytes.
fn header_range(at: u64, file_len: u64) -> (u64, usize) {
    let len = (file_len - at).min(SEGMENT_HEADER_LEN as u64);
    (at, len as usize)
}

/// The bytes of the slot at `at` that exist in a file of `file_len` bytes.
fn slot_range(at: u64, size: u64, file_len: u64) -> (u64, usize) {
    (at, (file_len - at).min(size) as usize)
}

/// The message header's bytes at `tip`, if the tip is inside a recovered segment and
/// any of them is not zero. Zeroing them (with the jump header's void) keeps whatever
/// recovery cut there from ever reading as a message again, even if the file is later
/// cut short and grown again: a cut-off tail reads back as zeros, and zeros could
/// complete a message torn before its trailing zero bytes were written.
fn tip_range(
    config: &Config,
    file: &dyn File,
    file_len: u64,
    tip: Lsn,
    chain: &[(Lsn, usize)],
) -> Result<Option<(u64, usize)>> {
    let size = config.segment_size_bytes;
    let base = tip - tip % size;
    let Some(&(_, slot)) = chain.iter().find(|(l, _)| *l == base) else {
        return Ok(None);
    };
    let at = slot as u64 * size + tip % size;
    let room = (size - tip % size).min(MESSAGE_HEADER_LEN as u64);
    let len = room.min(file_len.saturating_sub(at)) as usize;
    let mut b = [0; MESSAGE_HEADER_LEN];
    failpoint!("recovery::tip::read");
    file.read_at(&mut b[..len], at)?;
    Ok(b[..len].iter().any(|&x| x != 0).then_some((at, len)))
}

/// Valid headers sorted by lsn, and every slot whose header bytes are not all zero. A
/// header whose lsn is misaligned, or so high the lsn space would run out, is treated
/// as damaged. Two slots claiming one lsn are corruption under AbsoluteConsistency;
/// otherwise the lower slot wins.
fn read_headers(
    config: &Config,
    file: &dyn File,
    file_len: u64,
    slots: usize,
) -> Result<(Vec<Slot>, Vec<usize>)> {
    let size = config.segment_size_bytes;
    let mut found: Vec<Slot> = Vec::new();
    let mut dirty = Vec::new();
    for slot in 0..slots {
        let at = slot as u64 * size;
        let (_, len) = header_range(at, file_len);
        let mut b = [0; SEGMENT_HEADER_LEN];
        failpoint!("recovery::headers::read");
        file.read_at(&mut b[..len], at)?;
        if b.iter().any(|&x| x != 0) {
            dirty.push(slot);
        }
        if len < SEGMENT_HEADER_LEN {
            continue;
        }
        let place = Place {
            file: file.name(),
            offset: at,
        };
        let header = match SegmentHeader::decode(&b, place) {
            Ok(h) => h,
            Err(Error::Unsupported(m)) => return Err(Error::Unsupported(m)),
            Err(_) => continue,
        };
        if u64::from(header.size_log2) != u64::from(size.trailing_zeros()) {
            return Err(Error::InvalidConfig(format!(
                "segment_size_bytes = {size}, but the log at {}@{at} was written with segments of {} bytes",
                file.name(),
                1u64 << header.size_log2
            )));
        }
        let sane = header.segment_lsn % size == 0 && header.segment_lsn <= u64::MAX / 2;
        if sane {
            let version = u16::from_le_bytes([b[4], b[5]]);
            found.push(Slot {
                slot,
                header,
                version,
            });
        }
    }
    found.sort_by_key(|s| (s.header.segment_lsn, s.slot));
    let mut unique: Vec<Slot> = Vec::with_capacity(found.len());
    for s in found {
        match unique.last() {
            Some(prev) if prev.header.segment_lsn == s.header.segment_lsn => {
                if config.recovery_mode == RecoveryMode::AbsoluteConsistency {
                    return Err(Error::corruption(
                        file.name(),
                        s.slot as u64 * size,
                        format!("two segments claim lsn {}", s.header.segment_lsn),
                    ));
                }
            }
            _ => unique.push(s),
        }
    }
    Ok((unique, dirty))
}

struct Walk<'a> {
    config: &'a Config,
    headers: &'a [Slot],
    /// The newest durable segment table, if valid (step 2's second rule).
    table: Option<&'a table::SegmentTable>,
    voids: Voids,
    /// The highest stable lsn a valid segment header vouches for.
    vouched: Lsn,
    /// The highest stable lsn a Vouch message read by the walk vouches for.
    records: Lsn,
    /// Where the walk stopped inside a segment at bytes that are not a message:
    /// (slot, segment lsn, the stop), and why.
    stop: Option<(usize, Lsn, Lsn)>,
    last_error: Option<Error>,
    cut: Lsn,
    /// Linear mode: where the first recovered segment says the log before it ended,
    /// when that is not lsn 0 (a truncated log; step 8).
    truncated_from: Lsn,
    truncated_starts: bool,
    on_boundary: bool,
    chain: Vec<(Lsn, usize)>,
    /// See [`Recovery::specials`].
    specials: Vec<Recovered>,
    user_messages: usize,
    /// The last message read (not a Vouch).
    last: Option<Recovered>,
    branches: Branches,
    /// One segment's bytes, reused for every segment the walk reads.
    buf: Vec<u8>,
}

impl<'a> Walk<'a> {
    /// A walk over `headers`; `truncated_starts` lets a Linear walk begin past lsn 0
    /// (step 8).
    fn new(
        config: &'a Config,
        headers: &'a [Slot],
        table: Option<&'a table::SegmentTable>,
        truncated_starts: bool,
    ) -> Walk<'a> {
        let voids = Voids::new(
            headers
                .iter()
                .filter(|s| s.header.prev_end < s.header.segment_lsn)
                .map(|s| (s.header.prev_end, s.header.segment_lsn))
                .collect(),
        );
        let vouched = headers
            .iter()
            .map(|s| s.header.stable_lsn)
            .max()
            .unwrap_or(0);
        Walk {
            config,
            headers,
            table,
            voids,
            vouched,
            records: 0,
            stop: None,
            last_error: None,
            cut: 0,
            truncated_from: 0,
            truncated_starts,
            on_boundary: true,
            chain: Vec::new(),
            specials: Vec::new(),
            user_messages: 0,
            last: None,
            branches: Branches::default(),
            buf: Vec::new(),
        }
    }

    fn in_void(&self, lsn: Lsn) -> bool {
        self.voids.inside(lsn)
    }

    fn is_cut_point(&self, lsn: Lsn) -> bool {
        self.voids.is_cut_point(lsn)
    }

    /// Whether the walk continues with the segment `h`. Only Gc mode frees segments,
    /// so only there may a vouched-stable gap be taken for freed ones; in Linear mode
    /// a missing segment ends the walk (and is rot if a header vouches past it).
    fn accepts(&mut self, h: &SegmentHeader) -> bool {
        let follows = h.prev_end == self.cut;
        let gc = self.config.segment_mode == SegmentMode::Gc;
        let gap = gc && self.on_boundary && h.prev_end > self.cut;
        let freed_gap = gap && (h.prev_end <= self.vouched || self.table_frees(h.prev_end));
        self.branches.freed_gaps += u32::from(freed_gap && !follows);
        let truncated =
            self.truncated_starts && !gc && self.chain.is_empty() && h.prev_end > self.cut;
        if truncated {
            self.truncated_from = h.prev_end;
            self.cut = h.prev_end;
            self.branches.truncated_starts += 1;
        }
        follows || freed_gap || truncated
    }

    /// Step 2's second rule: the segment table says the gap from the cut up to `to`
    /// was freed. Every segment in it was placed before the table was written (below
    /// its frontier) and none was in the log then (the table lists none of them), so
    /// each had left the log. This holds where the headers that vouched for the gap
    /// are gone: an open zeroes every slot outside the log it recovered before it
    /// writes its jump header, and those slots may hold the only headers that vouched
    /// past a freed gap below its tip; a crash between the two must not make the next
    /// walk stop at that gap (I7). The open wrote a table listing its log first.
    fn table_frees(&self, to: Lsn) -> bool {
        let Some(t) = self.table else {
            return false;
        };
        let from = self.cut;
        to <= t.frontier && !t.segments.iter().any(|&l| from <= l && l < to)
    }

    /// Step 8: a Linear log that starts past lsn 0 was truncated there, which a
    /// recovered Truncate record must say; otherwise its first segments were lost.
    fn start_explained(&self, tip: Lsn) -> bool {
        self.truncated_from <= highest_truncate(&self.specials, tip)
    }

    fn missing_start(&self, file: &dyn File, tip: Lsn) -> Error {
        let declared = highest_truncate(&self.specials, tip);
        Error::corruption(
            file.name(),
            0,
            format!(
                "the log starts at lsn {}, but no recovered Truncate record reaches it (the highest says {declared}): its first segments are missing",
                self.truncated_from
            ),
        )
    }

    /// Gc mode, when no header continues the log from a segment boundary: every lsn
    /// below the vouched stable lsn was durable, and a segment leaves the log only once
    /// its whole range is vouched stable (`segment.rs`), and the highest vouched lsn
    /// never goes down on disk. So the segments missing up to the last boundary at or
    /// below it were freed, not lost: the log's end is that boundary. (In Linear mode
    /// nothing is freed and a missing segment there is rot.)
    fn skip_freed(&mut self) {
        let size = self.config.segment_size_bytes;
        let freed_to = self.vouched - self.vouched % size;
        let gc = self.config.segment_mode == SegmentMode::Gc;
        if gc && self.on_boundary && freed_to > self.cut {
            self.cut = freed_to;
            self.branches.freed_prefix += 1;
        }
    }

    fn run(&mut self, file: &dyn File, file_len: u64, replay: &mut dyn Replay) -> Result<()> {
        let mut ended = false;
        for s in self.headers {
            let h = s.header;
            if self.in_void(h.segment_lsn) || h.segment_lsn < self.cut {
                self.branches.voids_skipped += u32::from(self.in_void(h.segment_lsn));
                continue;
            }
            if !self.accepts(&h) {
                self.skip_freed();
                self.branches.broken_chains += 1;
                ended = true;
                break;
            }
            replay.segment(h.segment_lsn, s.slot);
            let (end, why) = self.scan_one(file, file_len, s, None, replay)?;
            self.chain.push((h.segment_lsn, s.slot));
            self.cut = end;
            match why {
                ScanEnd::Complete => self.on_boundary = true,
                ScanEnd::Cut => {
                    self.on_boundary = false;
                    self.branches.cuts_continued += 1;
                }
                ScanEnd::Invalid(e) => {
                    self.on_boundary = false;
                    if !self.is_cut_point(end) {
                        self.last_error = Some(e);
                        self.stop = Some((s.slot, h.segment_lsn, end));
                        self.branches.torn_tails += 1;
                        ended = true;
                        break;
                    }
                    self.branches.cuts_continued += 1;
                }
            }
        }
        self.branches.clean_ends += u32::from(!ended);
        Ok(())
    }

    /// Reads and scans the segment in `s`, up to `limit` if given, handing each
    /// message to `replay`.
    fn scan_one(
        &mut self,
        file: &dyn File,
        file_len: u64,
        s: &Slot,
        limit: Option<Lsn>,
        replay: &mut dyn Replay,
    ) -> Result<(Lsn, ScanEnd)> {
        let size = self.config.segment_size_bytes;
        let at = s.slot as u64 * size;
        let len = size.min(file_len - at) as usize;
        let bytes = fill(&mut self.buf, len);
        failpoint!("recovery::scan::read");
        file.read_at(bytes, at)?;
        let seg = SegmentBytes {
            bytes,
            lsn: s.header.segment_lsn,
            size,
            file: file.name(),
            file_offset: at,
            nonce: s.header.nonce,
        };
        let voids = &self.voids;
        let stop = |lsn: Lsn| voids.is_cut_point(lsn) || limit.is_some_and(|l| lsn >= l);
        let (records, specials) = (&mut self.records, &mut self.specials);
        let (user_messages, last) = (&mut self.user_messages, &mut self.last);
        let mut visit = |f: Found| match (f.kind, f.word) {
            (StoredKind::Vouch, Some(stable)) => *records = (*records).max(stable),
            _ => {
                let m = Recovered {
                    lsn: f.lsn,
                    kind: f.kind,
                    pid: f.pid,
                    word: f.word,
                };
                *user_messages += usize::from(Kind::of_stored(m.kind).is_some());
                if m.is_special() {
                    specials.push(m);
                }
                *last = Some(m);
                replay.message(&m);
            }
        };
        Ok(scan(seg, &stop, &mut visit))
    }

    /// Replays the recovered segments again, exactly up to `tip` (below the walk's
    /// cut): what the walk read past it was dropped. The bytes scanned cleanly a moment
    /// ago; a scan that now stops before `tip` means the file changed under recovery.
    fn replay_to(
        &mut self,
        file: &dyn File,
        file_len: u64,
        tip: Lsn,
        replay: &mut dyn Replay,
    ) -> Result<()> {
        self.specials.clear();
        self.user_messages = 0;
        self.last = None;
        let chain: Vec<(Lsn, usize)> = self
            .chain
            .iter()
            .copied()
            .filter(|&(l, _)| l < tip)
            .collect();
        for (lsn, slot) in chain {
            let Some(s) = self.headers.iter().find(|s| s.slot == slot).copied() else {
                continue;
            };
            replay.segment(lsn, slot);
            let (end, why) = self.scan_one(file, file_len, &s, Some(tip), replay)?;
            if let ScanEnd::Invalid(e) = why {
                if end < tip && !self.is_cut_point(end) {
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Lost bytes below a vouched stable lsn are rot, not a torn tail: what a header,
    /// a Vouch the walk read, or one the sweep found (`swept`) vouches for.
    fn check_rot(&mut self, swept: Lsn, file: &dyn File) -> Result<()> {
        let vouched = self.vouched.max(self.records).max(swept);
        if self.cut >= vouched || self.config.recovery_mode == RecoveryMode::TolerateCorruptTail {
            return Ok(());
        }
        let cut = self.cut;
        Err(self.last_error.take().unwrap_or_else(|| {
            Error::corruption(
                file.name(),
                0,
                format!(
                    "log ends at lsn {cut} but lsns below {vouched} were vouched durable (a segment header or a Vouch message)"
                ),
            )
        }))
    }
}

/// The highest stable lsn vouched for by Vouch messages the walk did not read
/// (`sweep.rs`): in the segment where it stopped, past the stop, and in every slot
/// outside the recovered log that holds a non-zero byte.
fn sweep_outside(
    config: &Config,
    file: &dyn File,
    file_len: u64,
    slots: usize,
    headers: &[Slot],
    walk: &Walk<'_>,
) -> Result<Lsn> {
    let size = config.segment_size_bytes;
    let mut best = 0;
    let mut buf = Vec::new();
    for slot in 0..slots {
        let header_lsn = headers
            .iter()
            .find(|s| s.slot == slot)
            .map(|s| s.header.segment_lsn);
        let from = match walk.stop {
            Some((stop_slot, seg, end)) if stop_slot == slot => (end - seg) as usize,
            _ if walk.chain.iter().any(|&(_, c)| c == slot) => continue,
            _ => 0,
        };
        let at = slot as u64 * size;
        let bytes = fill(&mut buf, size.min(file_len - at) as usize);
        failpoint!("recovery::sweep::read");
        file.read_at(bytes, at)?;
        let swept = SweptSlot {
            bytes,
            size,
            segment_lsn: header_lsn,
            from,
        };
        best = best.max(highest_vouch(swept, &walk.voids));
    }
    Ok(best)
}

/// `buf` as a slice of `len` bytes to read into, reusing its memory: its old bytes
/// are overwritten by the read (which fills the slice or fails), so they are not
/// zeroed first.
fn fill(buf: &mut Vec<u8>, len: usize) -> &mut [u8] {
    if buf.len() < len {
        buf.resize(len, 0);
    }
    &mut buf[..len]
}

/// The highest lsn a Truncate record below `tip` in `specials` truncates the log
/// before (0 if none).
pub fn highest_truncate(specials: &[Recovered], tip: Lsn) -> Lsn {
    specials
        .iter()
        .filter(|m| m.kind == StoredKind::Truncate && m.lsn < tip)
        .filter_map(|m| m.word)
        .max()
        .unwrap_or(0)
}

/// The tip after dropping every batch whose manifest points past it (I5), and how many
/// were dropped.
fn batch_tip(mut tip: Lsn, messages: &[Recovered]) -> (Lsn, u32) {
    let mut dropped = 0;
    loop {
        let broken = messages
            .iter()
            .filter(|m| m.kind == StoredKind::BatchManifest && m.lsn < tip)
            .filter(|m| m.word.is_some_and(|end| end > tip))
            .map(|m| m.lsn)
            .min();
        match broken {
            Some(manifest) => {
                tip = manifest;
                dropped += 1;
            }
            None => return (tip, dropped),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn manifest(lsn: Lsn, end: Lsn) -> Recovered {
        Recovered {
            lsn,
            kind: StoredKind::BatchManifest,
            pid: 0,
            word: Some(end),
        }
    }

    #[test]
    fn a_batch_past_the_tip_is_dropped_and_the_drop_cascades() {
        assert_eq!(
            batch_tip(500, &[manifest(100, 400)]),
            (500, 0),
            "whole batch"
        );
        assert_eq!(batch_tip(500, &[manifest(100, 600)]), (100, 1));
        let nested = [manifest(100, 300), manifest(200, 600)];
        assert_eq!(
            batch_tip(500, &nested),
            (100, 2),
            "dropping the batch at 200 breaks the one at 100"
        );
    }
}
