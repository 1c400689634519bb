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
        match tail {
            Ok(n) => {
                restored.replayed = n;
                restored.snapshot = Some(lsn);
                return Ok((replay, restored));
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
/// across a cut), so they never look usable once the log grows past them again.
pub fn remove_stale(log: &Log, restored: &Restored) -> Result<()> {
    let stale: Vec<Lsn> = restored
        .skipped
        .iter()
        .map(|&(lsn, _)| lsn)
        .filter(|&lsn| snapshot::stale(log, lsn).is_some())
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
        let _one = self.snapshotting.lock();
        self.snapshot_locked()
    }

    /// [`PageCache::snapshot`] with the snapshot lock held.
    fn snapshot_locked(&self) -> Result<Lsn> {
        let upto = self.log.stable_lsn();
        let first = super::cache::FIRST_PAGE;
        let base = newest_usable(&self.log, first, None)?.usable;
        let keep = base.as_ref().map(|s| s.replay.lsn);
        if keep == Some(upto) {
            return Ok(upto);
        }
        let mut replay = base.map(|s| s.replay).unwrap_or_default();
        replay.extend(&self.log, first, upto)?;
        let lsn = write(&self.log, &replay, keep)?;
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
        let Some(_one) = self.snapshotting.try_lock() else {
            return;
        };
        if self.log.stable_lsn() < self.snapshot_due() {
            return;
        }
        if let Err(e) = self.snapshot_locked() {
            log::warn!("pagelog: a snapshot failed, the page cache stops: {e}");
            self.log.fail(e);
        }
    }
}
