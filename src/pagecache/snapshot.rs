//! Snapshots: the page cache's recovered state written down at an lsn, so that an open
//! replays only the log's tail past it instead of the whole log.
//!
//! A snapshot is a [`Replay`] (`recover.rs`) stopped at a stable lsn S: every page's
//! disk pointers (never a decoded page), freed ids (pages with no fragments), the
//! roots, the id lease, and the log's segments at S. Because the fold is a pure
//! function of the messages below S, a snapshot plus the fold of the messages at or
//! past S equals a fold of the whole log (I7), which `snapshot_equals_full_replay`
//! tests check.
//!
//! Writing (`PageCache::snapshot`, and every `snapshot_every_bytes` of stable log):
//! the newest valid snapshot is read back, the log from its lsn up to the stable lsn
//! is folded into it, and the result is written as [`NEW_SNAPSHOT_FILE`], synced,
//! renamed to `snapshot.<S as 16 hex digits>` and the directory synced
//! (`io/small_file.rs`). Only then are the older snapshots removed, all but the one
//! the new one was built from (kept as a fallback). A crash anywhere leaves the old
//! snapshots, or the new one whole, or both; a leftover `snapshot.new` is never read.
//!
//! Loading (at open): snapshots are tried newest first. One is skipped, with a
//! `log::warn!`, when it does not decode (damaged or truncated: its checksum, lengths
//! and order are checked), when its lsn is past what the log recovered, when its lsn
//! is inside a range a recovery cut off the log (a void: what it folded in was lost
//! from the log since), or when the log's tail does not continue it (a delta
//! with no base). Then the next older one is tried, and last a full replay; an open
//! fails only when the full replay fails, that is when the log itself cannot supply
//! the state. A writable open then removes the snapshots it found stale (past the
//! tip or inside a cut), before it hands out any lsn, so they cannot become plausible
//! later when the log grows past them (this also covers snapshots left beside a new
//! log, after a store's log was deleted: they are past its tip); damaged ones are
//! left for inspection and removed by the next snapshot.
//!
//! The bytes are specified in `docs/format.md` ("Snapshot file").

use crate::error::{Error, Result};
use crate::failpoints::failpoint;
use crate::io::{Storage, small_file};
use crate::log::format::Nonce;
use crate::log::{Log, Lsn, Pointer};

use super::page_ref::PageId;
use super::recover::{Anchor, Building, Replay};
use super::roots;
use super::view::Frag;

/// Snapshot files are named this followed by their lsn in 16 hex digits.
pub const SNAPSHOT_PREFIX: &str = "snapshot.";
/// The name a snapshot is written under before it is renamed.
pub const NEW_SNAPSHOT_FILE: &str = "snapshot.new";

/// Snapshot magic, "PGSN" (segment headers start "PGLS", segment tables "PGLT").
const MAGIC: [u8; 4] = *b"PGSN";
/// The format version written and read.
const VERSION: u16 = 3;
/// Bytes before the roots.
const HEAD_LEN: usize = 96;
/// Bytes of the trailing checksum.
const CRC_LEN: usize = 4;
/// Bytes of one page entry before its fragments.
const PAGE_LEN: usize = 28;
/// Bytes of one fragment.
const FRAG_LEN: usize = 21;
/// No orphan offset.
const NO_ORPHAN: u64 = u64::MAX;
/// No anchor (a snapshot of an empty log).
const NO_ANCHOR: u64 = u64::MAX;
/// No resume mark in the segment the snapshot ends in.
const NO_MARK: u64 = u64::MAX;
/// Longest snapshot file read (a file is read whole; 4 GiB is over 100 million pages).
pub const MAX_SNAPSHOT_LEN: u64 = 1 << 32;

/// A snapshot as read from its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The state folded from every message below `replay.lsn`.
    pub replay: Replay,
    /// The log's segments below its lsn when it was written, with their nonces:
    /// what binds the snapshot to its log ([`bound`]).
    pub segments: Vec<(Lsn, Nonce)>,
    /// The log's last resume mark (lsn, token) below the snapshot's lsn, if any
    /// (`log/mark.rs`): a store that does not hold it parted from this snapshot's
    /// store before the snapshot ([`marked`]).
    pub mark: Option<(Lsn, u64)>,
}

/// The file name of the snapshot at `lsn`.
pub fn file_name(lsn: Lsn) -> String {
    format!("{SNAPSHOT_PREFIX}{lsn:016x}")
}

/// The lsn a snapshot file name carries, if `name` is one.
pub fn lsn_of(name: &str) -> Option<Lsn> {
    let hex = name.strip_prefix(SNAPSHOT_PREFIX)?;
    let canonical = hex.len() == 16 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    canonical.then(|| Lsn::from_str_radix(hex, 16).ok())?
}

/// The snapshots in `storage` by lsn, newest first.
pub fn list(storage: &dyn Storage) -> Result<Vec<Lsn>> {
    let mut lsns: Vec<Lsn> = storage.list()?.iter().filter_map(|n| lsn_of(n)).collect();
    lsns.sort_unstable_by(|a, b| b.cmp(a));
    Ok(lsns)
}

/// The bytes of a snapshot of `replay`, with the log's `segments` and `mark`, for
/// segments of `segment_size` bytes.
pub fn encode(
    replay: &Replay,
    segments: &[(Lsn, Nonce)],
    mark: Option<(Lsn, u64)>,
    segment_size: u64,
) -> Vec<u8> {
    let roots = roots::encode(&replay.roots);
    let mut out = Vec::with_capacity(HEAD_LEN + roots.len() + replay.pages.len() * 64);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&replay.lsn.to_le_bytes());
    out.extend_from_slice(&segment_size.to_le_bytes());
    out.extend_from_slice(&replay.leased.to_le_bytes());
    out.extend_from_slice(&(roots.len() as u32).to_le_bytes());
    out.extend_from_slice(&(segments.len() as u32).to_le_bytes());
    out.extend_from_slice(&(replay.pages.len() as u64).to_le_bytes());
    encode_anchor(&mut out, replay.anchor);
    let (mark_lsn, token) = mark.unwrap_or((NO_MARK, 0));
    out.extend_from_slice(&mark_lsn.to_le_bytes());
    out.extend_from_slice(&token.to_le_bytes());
    out.extend_from_slice(&roots);
    for (lsn, nonce) in segments {
        out.extend_from_slice(&lsn.to_le_bytes());
        out.extend_from_slice(&nonce.0.to_le_bytes());
    }
    for (pid, b) in &replay.pages {
        encode_page(&mut out, *pid, b);
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn encode_anchor(out: &mut Vec<u8>, anchor: Option<Anchor>) {
    let a = anchor.unwrap_or(Anchor {
        ptr: Pointer {
            lsn: NO_ANCHOR,
            file_offset: 0,
        },
        pid: 0,
        crc: 0,
    });
    out.extend_from_slice(&a.ptr.lsn.to_le_bytes());
    out.extend_from_slice(&a.ptr.file_offset.to_le_bytes());
    out.extend_from_slice(&a.pid.to_le_bytes());
    out.extend_from_slice(&a.crc.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
}

fn decode_anchor(r: &mut Reader<'_>, lsn: Lsn) -> Result<Option<Anchor>> {
    let ptr = Pointer {
        lsn: r.u64()?,
        file_offset: r.u64()?,
    };
    let pid = r.u64()?;
    let crc = r.u32()?;
    if r.u32()? != 0 {
        return Err(r.bad("non-zero padding after the anchor"));
    }
    if ptr.lsn == NO_ANCHOR {
        return Ok(None);
    }
    if ptr.lsn >= lsn {
        return Err(r.bad("its anchor is past its lsn"));
    }
    Ok(Some(Anchor { ptr, pid, crc }))
}

fn decode_mark(r: &mut Reader<'_>, lsn: Lsn) -> Result<Option<(Lsn, u64)>> {
    let (at, token) = (r.u64()?, r.u64()?);
    match at {
        NO_MARK if token == 0 => Ok(None),
        NO_MARK => Err(r.bad("a token without a resume mark")),
        at if at >= lsn => Err(r.bad("its resume mark is past its lsn")),
        at => Ok(Some((at, token))),
    }
}

fn encode_page(out: &mut Vec<u8>, pid: PageId, b: &Building) {
    out.extend_from_slice(&pid.to_le_bytes());
    out.extend_from_slice(&b.updates.to_le_bytes());
    out.extend_from_slice(&b.orphan.unwrap_or(NO_ORPHAN).to_le_bytes());
    out.extend_from_slice(&(b.frags.len() as u32).to_le_bytes());
    for f in &b.frags {
        out.extend_from_slice(&f.ptr.lsn.to_le_bytes());
        out.extend_from_slice(&f.ptr.file_offset.to_le_bytes());
        out.extend_from_slice(&f.len.to_le_bytes());
        out.push(u8::from(f.base));
    }
}

/// Reads fields from a snapshot's bytes, failing (never panicking) past their end.
struct Reader<'a> {
    name: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn bad(&self, why: impl Into<String>) -> Error {
        Error::corruption(self.name, self.at as u64, why.into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(self.bad("the file ends inside a record"));
        };
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes(b.try_into().expect("2 bytes")))
    }

    /// Fails unless `count` records of at least `each` bytes fit in what is left, so
    /// a damaged count never sizes an allocation.
    fn fits(&self, count: u64, each: usize) -> Result<usize> {
        let left = (self.bytes.len() - self.at) as u64;
        match count.checked_mul(each as u64) {
            Some(n) if n <= left => Ok(count as usize),
            _ => Err(self.bad(format!("{count} records cannot fit in {left} bytes"))),
        }
    }
}

/// Decodes the snapshot file `name` (its `bytes`) of a log of `segment_size`-byte
/// segments whose pages start at `first`. Anything malformed is `Error::Corruption`.
pub fn decode(name: &str, bytes: &[u8], segment_size: u64, first: PageId) -> Result<Snapshot> {
    let whole = Reader { name, bytes, at: 0 };
    if bytes.len() < HEAD_LEN + CRC_LEN {
        return Err(whole.bad(format!("{} bytes, shorter than a snapshot", bytes.len())));
    }
    let (body, crc) = bytes.split_at(bytes.len() - CRC_LEN);
    if crc32c::crc32c(body).to_le_bytes() != crc {
        return Err(whole.bad("checksum mismatch"));
    }
    let mut r = Reader {
        name,
        bytes: body,
        at: 0,
    };
    if r.take(4)? != MAGIC {
        return Err(r.bad("not a pagelog snapshot (bad magic)"));
    }
    let version = r.u16()?;
    if version != VERSION || r.u16()? != 0 {
        return Err(Error::Unsupported(format!(
            "{name}: snapshot format {version}; this build reads {VERSION}"
        )));
    }
    let lsn = r.u64()?;
    if r.u64()? != segment_size {
        return Err(r.bad("written for another segment size"));
    }
    let leased = r.u64()?;
    let roots_len = r.u32()?;
    let segment_count = r.u32()?;
    let page_count = r.u64()?;
    let anchor = decode_anchor(&mut r, lsn)?;
    let mark = decode_mark(&mut r, lsn)?;
    let roots_bytes = r.take(roots_len as usize)?;
    let roots = roots::decode(roots_bytes, 0).map_err(|_| r.bad("malformed roots"))?;
    let mut segments: Vec<(Lsn, Nonce)> = Vec::with_capacity(r.fits(segment_count.into(), 12)?);
    for _ in 0..segment_count {
        let s = r.u64()?;
        let nonce = Nonce(r.u32()?);
        let ordered = segments.last().is_none_or(|&(l, _)| l < s);
        if !ordered || s % segment_size != 0 || s >= lsn {
            return Err(r.bad(format!(
                "segment {s} out of order, unaligned or past the snapshot"
            )));
        }
        segments.push((s, nonce));
    }
    let mut replay = Replay {
        lsn,
        leased,
        roots,
        anchor,
        ..Replay::default()
    };
    r.fits(page_count, PAGE_LEN)?;
    for _ in 0..page_count {
        let (pid, page) = decode_page(&mut r, lsn)?;
        let ordered = replay.pages.last_key_value().is_none_or(|(&l, _)| l < pid);
        if pid < first || !ordered {
            return Err(r.bad(format!("page {pid} below the first page or out of order")));
        }
        replay.pages.insert(pid, page);
    }
    if r.at != body.len() {
        return Err(r.bad("bytes after the last page"));
    }
    Ok(Snapshot {
        replay,
        segments,
        mark,
    })
}

fn decode_page(r: &mut Reader<'_>, lsn: Lsn) -> Result<(PageId, Building)> {
    let pid = r.u64()?;
    let updates = r.u64()?;
    let orphan = match r.u64()? {
        NO_ORPHAN => None,
        at => Some(at),
    };
    let count = r.u32()?;
    let mut frags: Vec<Frag> = Vec::with_capacity(r.fits(count.into(), FRAG_LEN)?);
    for _ in 0..count {
        let ptr = Pointer {
            lsn: r.u64()?,
            file_offset: r.u64()?,
        };
        let len = r.u32()?;
        let base = match r.take(1)?[0] {
            0 => false,
            1 => true,
            k => return Err(r.bad(format!("page {pid}: fragment kind {k}"))),
        };
        let ordered = frags.last().is_none_or(|l| l.ptr.lsn < ptr.lsn);
        if !ordered || ptr.lsn >= lsn {
            return Err(r.bad(format!(
                "page {pid}: fragments out of order or past the snapshot"
            )));
        }
        frags.push(Frag { ptr, len, base });
    }
    let shaped = match frags.first() {
        None => orphan.is_none(),
        Some(f) => f.base != orphan.is_some() && frags[1..].iter().all(|f| !f.base),
    };
    if !shaped || updates < frags.len() as u64 {
        return Err(r.bad(format!("page {pid}: not a chain a replay builds")));
    }
    let page = Building {
        updates,
        frags,
        orphan,
    };
    Ok((pid, page))
}

/// Reads and decodes the snapshot at `lsn`.
pub fn read(storage: &dyn Storage, lsn: Lsn, segment_size: u64, first: PageId) -> Result<Snapshot> {
    let name = file_name(lsn);
    let Some(bytes) = small_file::read(storage, &name, MAX_SNAPSHOT_LEN)? else {
        return Err(Error::corruption(&name, 0, "listed but gone"));
    };
    let snap = decode(&name, &bytes, segment_size, first)?;
    if snap.replay.lsn != lsn {
        return Err(Error::corruption(
            &name,
            8,
            "its lsn is not the one its name carries",
        ));
    }
    Ok(snap)
}

/// Whether `snap` belongs to the log whose segment nonces `nonce_of` gives: Err
/// saying why not when a segment it records is in the log under another nonce (a
/// snapshot copied from another store, or left by a log that was replaced). Each
/// open of a log draws a new nonce for the segments it writes, so two stores that
/// share a history differ from the first segment either wrote alone.
pub fn bound(snap: &Snapshot, nonce_of: impl Fn(Lsn) -> Option<Nonce>) -> Result<(), String> {
    bound_by_nonces(snap, nonce_of)
}

/// Whether `snap` was written for `log`: Err saying why not when a segment it records
/// has another nonce ([`bound`]), its last message is not there ([`anchored`]) or
/// the log does not hold its resume mark ([`marked`]).
pub fn belongs(snap: &Snapshot, log: &Log) -> Result<(), String> {
    bound(snap, |l| log.segment_nonce(l))?;
    anchored(snap, log)?;
    marked(snap, |m| log.holds_mark(m))
}

/// Whether `snap`'s anchor, the last message it folded in, is in `log` as it was:
/// Err saying why not when `log` holds another message there (a snapshot copied
/// from a store that shares this one's history up to a point: their segments may
/// carry the same nonces, their messages past that point differ), or cannot be
/// read in a segment the log still holds. An anchor whose segment was reclaimed
/// since proves nothing either way.
pub fn anchored(snap: &Snapshot, log: &Log) -> Result<(), String> {
    let Some(anchor) = snap.replay.anchor else {
        return Ok(());
    };
    let size = log.config().segment_size_bytes;
    let segment = anchor.ptr.lsn - anchor.ptr.lsn % size;
    let foreign = match log.read(anchor.ptr) {
        Ok(m) => !anchor.names(&m),
        // Unreadable where the log still holds that segment: not this log's message.
        Err(_) => log.segment_lsns().contains(&segment),
    };
    match foreign {
        true => Err(format!(
            "it was written for another log: the message it ends with (lsn {}) is not one this log holds",
            anchor.ptr.lsn
        )),
        false => Ok(()),
    }
}

/// Whether the log holds `snap`'s resume mark (`holds_mark`: the log's own check,
/// true too where the mark's segment was reclaimed): Err saying why not when it does
/// not. Two copies of one store that both resumed the segment the copy ended in
/// share its nonce and may end with the same message, but hold different marks
/// from where they parted (`log/mark.rs`).
pub fn marked(snap: &Snapshot, holds_mark: impl Fn((Lsn, u64)) -> bool) -> Result<(), String> {
    match snap.mark {
        Some(mark) if !holds_mark(mark) => Err(format!(
            "it was written for another log: this log does not hold its resume mark at lsn {} (a copy of this store that went on apart)",
            mark.0
        )),
        _ => Ok(()),
    }
}

fn bound_by_nonces(snap: &Snapshot, nonce_of: impl Fn(Lsn) -> Option<Nonce>) -> Result<(), String> {
    for &(lsn, nonce) in &snap.segments {
        match nonce_of(lsn) {
            Some(n) if n != nonce => {
                return Err(format!(
                    "it was written for another log: its segment at lsn {lsn} has nonce {:08x}, the log's has {:08x}",
                    nonce.0, n.0
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Why a snapshot that decodes cannot be used with `log`, if it cannot: its lsn is
/// past the recovered tip, or inside a range a recovery cut off (it was written
/// before that cut, and folded in messages the cut removed; a snapshot written after
/// a cut is at or past the cut's end, where the next run's lsns start).
pub fn stale(log: &Log, lsn: Lsn) -> Option<String> {
    let tip = log.stable_lsn().max(log.recovery().tip);
    if lsn > tip {
        return Some(format!(
            "its lsn {lsn} is past what the log recovered ({tip})"
        ));
    }
    let cut = log
        .cut_ranges()
        .into_iter()
        .find(|&(s, e)| s < lsn && lsn < e);
    cut.map(|(s, e)| format!("it is inside the range {s}..{e} a recovery cut off the log"))
}

/// Writes `replay` durably as the snapshot at its lsn (with the log's `segments` and
/// resume `mark`), then removes every other
/// snapshot but `keep` (module doc). A snapshot at that lsn already there is left.
pub fn write(
    storage: &dyn Storage,
    replay: &Replay,
    segments: &[(Lsn, Nonce)],
    mark: Option<(Lsn, u64)>,
    size: u64,
    keep: Option<Lsn>,
) -> Result<()> {
    let lsn = replay.lsn;
    let bytes = encode(replay, segments, mark, size);
    failpoint!("snapshot::write::start");
    small_file::replace(storage, &file_name(lsn), NEW_SNAPSHOT_FILE, &bytes)?;
    let old = list(storage)?
        .into_iter()
        .filter(|&l| l != lsn && Some(l) != keep);
    remove(storage, old)
}

/// Removes the snapshots at `lsns` (no directory sync: a snapshot that comes back is
/// still a valid one, or is skipped as stale).
pub fn remove(storage: &dyn Storage, lsns: impl IntoIterator<Item = Lsn>) -> Result<()> {
    for lsn in lsns {
        failpoint!("snapshot::remove::file");
        match storage.remove(&file_name(lsn)) {
            Err(e) if !e.is_not_found() => return Err(e),
            _ => {}
        }
    }
    Ok(())
}
