//! Taking snapshots at runtime ([`PageCache::snapshot`], and inline every
//! `snapshot_every_bytes` of stable log) and restoring the page table from the newest
//! usable one at open. The file and its rules are in `snapshot.rs`.
//!
//! The syncs of a snapshot, in order: the new file's data (`sync` of
//! `snapshot.new`), then the directory after its rename; the older snapshots are
//! removed after that, without a sync (one that comes back is still valid or is
//! skipped as stale). Nothing else waits on a snapshot: updates go on meanwhile (the
//! snapshot reads only the stable log, below an lsn fixed when it starts).

use super::cache::PageCache;
use super::materializer::Materializer;
use super::page_ref::PageId;
use super::recover::Replay;
use super::snapshot::{self, Snapshot};
use crate::config::RecoveryMode;
use crate::error::{Error, Result};
use crate::io::Storage;
use crate::log::format::Nonce;
use crate::log::handle::Vetted;
use crate::log::{Log, Lsn};

/// What an open restored from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restored {
    /// The snapshot the open started from (None: a full replay of the log).
    pub snapshot: Option<Lsn>,
    /// Messages replayed from the log after it.
    pub replayed: u64,
    /// Snapshots skipped as damaged or stale, newest first, with why.
    pub skipped: Vec<(Lsn, String)>,
    /// Of those, the ones skipped as outdated: intact, but pointing into segments
    /// the log has since reclaimed (`outdated`). Not damage; a writable open
    /// removes them.
    pub outdated: Vec<Lsn>,
}

/// The newest snapshot in `log`'s storage that decodes and fits the log, with the
/// ones skipped (and why, each also a `log::warn!`) before it.
fn newest_usable(log: &Log, first: PageId, skip_below: Option<Lsn>) -> Result<Candidates> {
    let storage = log.storage();
    let size = log.config().segment_size_bytes;
    let mut found = Candidates::default();
    for lsn in snapshot::list(storage)? {
        if skip_below.is_some_and(|b| lsn >= b) {
            continue;
        }
        let read = snapshot::read(storage, lsn, size, first);
        let read = read.and_then(|snap| match snapshot::belongs(&snap, log) {
            Ok(()) => Ok(snap),
            Err(why) => Err(Error::corruption(snapshot::file_name(lsn), 0, why)),
        });
        let why = match read {
            Ok(snap) => match snapshot::stale(log, lsn) {
                None => {
                    found.usable = Some(snap);
                    return Ok(found);
                }
                Some(why) => {
                    found.stale.push(lsn);
                    why
                }
            },
            Err(e @ (Error::Corruption { .. } | Error::Unsupported(_))) => e.to_string(),
            Err(e) => return Err(e),
        };
        log::warn!(
            "pagelog: skipping snapshot {}: {why}",
            snapshot::file_name(lsn)
        );
        found.skipped.push((lsn, why));
    }
    Ok(found)
}

/// The result of [`newest_usable`].
#[derive(Debug, Default)]
struct Candidates {
    usable: Option<Snapshot>,
    skipped: Vec<(Lsn, String)>,
    /// Skipped because the log no longer continues them (past its tip, or across a
    /// cut): removed by a writable open.
    stale: Vec<Lsn>,
}

/// The page cache's state from the newest usable snapshot and the log's tail,
/// falling back to older snapshots and last to a full replay (module doc of
/// `snapshot.rs`). Writes nothing.
pub fn restore(log: &Log, first: PageId) -> Result<(Replay, Restored)> {
    let upto = log.stable_lsn();
    let mut restored = Restored::default();
    let mut below = None;
    loop {
        let found = newest_usable(log, first, below)?;
        restored.skipped.extend(found.skipped);
        let Some(snap) = found.usable else {
            let mut replay = Replay::default();
            restored.replayed = replay.extend(log, first, upto)?;
            replay.check()?;
            return Ok((replay, restored));
        };
        let lsn = snap.replay.lsn;
        let mut replay = snap.replay;
        let tail = replay
            .extend(log, first, upto)
            .and_then(|n| replay.check().map(|()| n));
        match tail.map(|n| (n, outdated(&replay, log))) {
            Ok((n, None)) => {
                restored.replayed = n;
                restored.snapshot = Some(lsn);
                return Ok((replay, restored));
            }
            Ok((_, Some(why))) => {
                log::warn!(
                    "pagelog: skipping snapshot {}: {why}",
                    snapshot::file_name(lsn)
                );
                restored.skipped.push((lsn, why));
                restored.outdated.push(lsn);
                below = Some(lsn);
            }
            Err(e @ Error::Corruption { .. }) => {
                let why = format!("the log's tail does not continue it: {e}");
                log::warn!(
                    "pagelog: skipping snapshot {}: {why}",
                    snapshot::file_name(lsn)
                );
                restored.skipped.push((lsn, why));
                below = Some(lsn);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Why the state folded from a snapshot and the log's tail cannot be used, if it
/// cannot: a page in it points into a segment the log no longer holds. The log
/// drops a freed page's Free message once no older message of the page is left and
/// a newer snapshot is durable (`log/space.rs`); an older snapshot that still shows
/// the page then has nothing in the tail to free it. A fold of the whole log never
/// meets this (it reads only what the log holds).
fn outdated(replay: &Replay, log: &Log) -> Option<String> {
    let size = log.config().segment_size_bytes;
    let held: std::collections::BTreeSet<Lsn> = log.segment_lsns().into_iter().collect();
    replay.pages.iter().find_map(|(pid, b)| {
        let gone = b.frags.iter().find(|f| !held.contains(&(f.ptr.lsn - f.ptr.lsn % size)))?;
        Some(format!(
            "it is outdated: page {pid} points at lsn {}, in a segment the log has since reclaimed (a newer snapshot let the log drop what freed the page)",
            gone.ptr.lsn
        ))
    })
}

/// Runs after the log's recovery, before the open writes anything: under
/// `AbsoluteConsistency`, a snapshot that decodes, belongs to this log and stands
/// past the recovered tip proves that the log was stable past where it now ends
/// (a snapshot is written only below the stable lsn, which recovery always reaches
/// after a crash): the log lost acknowledged data, `Error::Corruption` naming the
/// snapshot, and nothing is written. Under `TolerateCorruptTail` such a snapshot is
/// skipped and removed, as the log's own damage is cut.
pub(crate) fn vet(found: &Vetted<'_>, first: PageId) -> Result<()> {
    if found.config.recovery_mode != RecoveryMode::AbsoluteConsistency {
        return Ok(());
    }
    let size = found.config.segment_size_bytes;
    for lsn in snapshot::list(found.storage)? {
        if lsn <= found.tip {
            break;
        }
        let Ok(snap) = snapshot::read(found.storage, lsn, size, first) else {
            continue;
        };
        if snapshot::bound(&snap, |l| found.nonces.get(&l).copied()).is_err() {
            continue;
        }
        // A mark below the tip that this log does not hold: a copy's snapshot, not
        // evidence of this log's loss.
        let held = |m: (Lsn, u64)| {
            let segment = found.nonces.contains_key(&(m.0 - m.0 % size));
            m.0 >= found.tip || crate::log::mark::holds(found.marks, m, segment)
        };
        if snapshot::marked(&snap, held).is_err() {
            continue;
        }
        return Err(Error::corruption(
            snapshot::file_name(lsn),
            8,
            format!(
                "this page cache snapshot (intact) shows the log was stable up to lsn {lsn}, but the log recovers only to lsn {}: the log lost acknowledged data (damaged, cut short or deleted). Nothing was written; restore the log from a backup, or open with RecoveryMode::TolerateCorruptTail to go on without what was lost",
                found.tip
            ),
        ));
    }
    Ok(())
}

/// Removes the snapshots a writable open found stale (past the recovered tip or
/// across a cut), so they never look usable once the log grows past them again,
/// and the outdated ones (they can never be used again).
pub fn remove_stale(log: &Log, restored: &Restored) -> Result<()> {
    let stale: Vec<Lsn> = restored
        .skipped
        .iter()
        .map(|&(lsn, _)| lsn)
        .filter(|&lsn| snapshot::stale(log, lsn).is_some() || restored.outdated.contains(&lsn))
        .collect();
    if stale.is_empty() {
        return Ok(());
    }
    snapshot::remove(log.storage(), stale)?;
    log.storage().sync_dir()
}

/// A new page cache (no log file and no settings file yet) removes the snapshot
/// files it finds first: strays from a store that is gone. (Beside settings or a
/// log, a snapshot is evidence: see `vet`.)
pub fn remove_all(storage: &dyn Storage) -> Result<()> {
    let all = snapshot::list(storage)?;
    if all.is_empty() {
        return Ok(());
    }
    snapshot::remove(storage, all)?;
    storage.sync_dir()
}

/// Writes `replay` as a snapshot of `log`, keeping the snapshot at `keep`.
pub fn write(log: &Log, replay: &Replay, keep: Option<Lsn>) -> Result<Lsn> {
    let lsn = replay.lsn;
    let segments: Vec<(Lsn, Nonce)> = log
        .segment_lsns()
        .into_iter()
        .filter(|&s| s < lsn)
        .filter_map(|s| log.segment_nonce(s).map(|n| (s, n)))
        .collect();
    let size = log.config().segment_size_bytes;
    let mark = log.mark_before(lsn);
    snapshot::write(log.storage(), replay, &segments, mark, size, keep)?;
    Ok(lsn)
}

impl<M: Materializer> PageCache<M> {
    /// Writes a snapshot of the page cache as of the log's stable lsn now (what a
    /// flush made durable), so that the next open replays the log only from there,
    /// and returns that lsn; also taken by itself every `snapshot_every_bytes` of
    /// stable log (see [`Config`](crate::Config)). Reads the previous snapshot and
    /// the log since it, writes the new one (temporary file, sync, rename, directory
    /// sync) and only then removes older ones. Concurrent updates go on; a second
    /// concurrent call waits for the first. A read-only page cache refuses
    /// (`Error::InvalidArgument`).
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// let disk = SimStorage::new(1);
    /// let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// let page = pc.allocate(b"in the snapshot".to_vec())?;
    /// pc.flush()?;
    /// pc.snapshot()?;
    /// pc.close()?;
    /// let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.crash()), Bytes)?;
    /// assert!(pc.stats().open_snapshot.is_some());
    /// assert_eq!(pc.get(page.pid())?.unwrap().value(), b"in the snapshot");
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn snapshot(&self) -> Result<Lsn> {
        if self.log.is_read_only() {
            return Err(Error::InvalidArgument(
                "the page cache was opened read-only".to_string(),
            ));
        }
        let mut base = self.snapshotting.lock();
        self.snapshot_locked(&mut base)
    }

    /// [`PageCache::snapshot`] with the snapshot lock held: folds the log on from
    /// `base` (the snapshot the open restored from or the last one written; from
    /// the log's start if there is none or it no longer reads back whole) and moves
    /// `base` to the new snapshot.
    ///
    /// While the fold runs, the log keeps every Free message at or past its start
    /// (`Log::set_snapshot_floor`): a Free the fold has not reached yet must not
    /// die, with the older messages of its page, before the fold gets there. Once
    /// the new snapshot is durable, Free messages below it may go.
    fn snapshot_locked(&self, base: &mut Option<Lsn>) -> Result<Lsn> {
        let upto = self.log.stable_lsn();
        let first = super::cache::FIRST_PAGE;
        if *base == Some(upto) {
            return Ok(upto);
        }
        let size = self.log.config().segment_size_bytes;
        let from = base.and_then(|lsn| match snapshot::read(self.log.storage(), lsn, size, first) {
            Ok(snap) => Some(snap),
            Err(e) => {
                log::warn!("pagelog: the last snapshot no longer reads back ({e}); folding the whole log");
                None
            }
        });
        let keep = from.as_ref().map(|s| s.replay.lsn);
        self.log.set_snapshot_floor(keep.unwrap_or(0));
        let mut replay = from.map(|s| s.replay).unwrap_or_default();
        replay.extend(&self.log, first, upto)?;
        let lsn = write(&self.log, &replay, keep)?;
        *base = Some(lsn);
        self.log.set_snapshot_floor(lsn);
        self.snapshot_written(lsn);
        Ok(lsn)
    }

    /// Called after every update with its lsn (`Lsn::MAX` from calls that may have
    /// moved the stable lsn): takes a snapshot if one is due and none is being taken.
    /// A failure poisons the log (an IO error: the instance stops, as for any IO
    /// error) rather than failing the update, which is applied.
    pub(super) fn maybe_snapshot(&self, lsn: Lsn) {
        if lsn < self.snapshot_due() || self.log.is_read_only() {
            return;
        }
        let Some(mut base) = self.snapshotting.try_lock() else {
            return;
        };
        if self.log.stable_lsn() < self.snapshot_due() {
            return;
        }
        if let Err(e) = self.snapshot_locked(&mut base) {
            log::warn!("pagelog: a snapshot failed, the page cache stops: {e}");
            self.log.fail(e);
        }
    }
}
