//! Page garbage collection: rewriting the pages that keep sparse segments alive.
//!
//! In Gc mode the log reclaims a segment once nothing in it is live (`log/segment.rs`).
//! A segment whose live share falls below `cleanup_threshold_pct` is *draining*: the
//! few pages still living there pin all of it. [`PageCache::maintenance`] rewrites
//! each such page as a new base (a Replace of its merged value), which supersedes
//! every older fragment of the page; once the rewrite is durable and a later segment
//! header vouches for it, the old fragments die and the segment is reclaimed (its
//! slot reused, or cut off the end of the file). It also moves the pages out of the
//! highest segment in the file when many slots below it are free, so that the file's
//! tail can be cut. [`PageCache::compact`] repeats that until nothing is left to
//! move, finishing the log's segment early after each round (`log/roll.rs`) so the
//! emptied segments are reclaimed at once instead of when the log next moves on.
//!
//! A rewrite changes where a page lives, not what it is: the page keeps its version,
//! so a [`PageRef`](super::PageRef) taken before it still updates the page (an
//! update that raced the rewrite's swap loses that swap, sees the page at the same
//! version, and is tried again inside the call: the caller never sees a loss to
//! garbage collection or to a page-out, `cache.rs`'s `same_version`). It goes through the same protocol as any
//! update (reserve, swap the view, complete; a lost swap aborts the reservation), so
//! fragment order (I10) and batches (a page held by a batch is skipped) are kept.
//! The page cache's own records are rewritten too: the roots (page id 1) as one Meta
//! message of the current map, the id lease (page id 2) as one Counter of the
//! highest lease written, and a freed page's Free message as a new one, with its id
//! kept out of reach of `allocate` meanwhile.
//!
//! Nothing here runs on a thread of its own (none is spawned, so simulation stays
//! deterministic): a round runs inline in an update call once `gc_every_updates`
//! updates passed since the last round (never waiting for log space), or when the
//! caller calls `maintenance` or `compact`.
//!
//! Rewrites go to segments of their own: an inline round waits (for at most
//! `gc_every_updates` more updates) until the log's next message goes near the start
//! of a segment, so its rewrites, written one after another, fill segments apart
//! from fresh updates but for the round's last one. A rewritten page outlived its
//! segment (cold data), and cold data kept together drains less often: measured,
//! 22% fewer rewrites per update on the steady workload of
//! `tests/pagecache_space.rs` (docs/performance.md). It is not a second log head:
//! updates that other threads write while a round runs mix with its rewrites, and
//! `maintenance` and `compact` rounds start where the log is.

use super::cache::{Now, PageCache, Wait};
use super::ids::IDS_PID;
use super::materializer::Materializer;
use super::page_ref::PageId;
use super::pagein::materialize;
use super::roots::ROOTS_PID;
use super::stats::Counter;
use super::view::{Frag, View};
use crate::config::SegmentMode;
use crate::error::{Error, Result};
use crate::log::format::{SEGMENT_HEADER_LEN, VOUCH_LEN};
use crate::log::{Kind, Lsn};
use crate::sync::{Arc, Ordering, epoch};

/// Most pages one [`PageCache::maintenance`] call rewrites.
pub const MAX_REWRITES_PER_CALL: usize = 4096;

/// An inline round waits for the log to start a segment (its next message within
/// the first 1/`ROUND_WINDOW` of one), for at most as many updates again as
/// `gc_every_updates`: see the module doc.
const ROUND_WINDOW: u64 = 16;

/// Most rounds [`PageCache::compact`] runs before it stops: a page updated as fast
/// as it is rewritten keeps its segment draining, and compaction must end.
const MAX_COMPACT_ROUNDS: usize = 64;

impl<M: Materializer> PageCache<M> {
    /// Rewrites the pages whose live fragments sit in draining segments (Gc mode; a
    /// Linear log has none), at most [`MAX_REWRITES_PER_CALL`], so that those segments
    /// can be reclaimed; returns how many it rewrote. Run it now and then (after
    /// every few thousand updates, or from your own background thread): the engine
    /// never runs it by itself. See the module doc of `pagecache/gc.rs`.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(SimStorage::new(1)), Bytes)?;
    /// let cold = pc.allocate(vec![1; 100])?;
    /// let mut hot = pc.allocate(vec![0])?;
    /// for i in 0..2000u32 {
    ///     let pagelog::Update::Applied(Some(next)) = pc.replace(&hot, i.to_le_bytes().to_vec())? else {
    ///         unreachable!("one writer")
    ///     };
    ///     hot = next;
    ///     if i % 100 == 0 {
    ///         pc.flush()?;
    ///         pc.maintenance()?;
    ///     }
    /// }
    /// assert!(pc.stats().gc_rewrites > 0, "the cold page was moved out of a sparse segment");
    /// assert_eq!(pc.get(cold.pid())?.expect("page").version(), cold.version());
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn maintenance(&self) -> Result<usize> {
        self.refuse_read_only()?;
        self.blocking_round(false)
    }

    /// A round that waits for log space, then a snapshot if one is due.
    fn blocking_round(&self, compacting: bool) -> Result<usize> {
        let rewritten = self.collect(Wait::Block, compacting);
        self.maybe_snapshot(Lsn::MAX);
        rewritten
    }

    /// One round of rewrites, waiting for log space or not (`wait`); counts them.
    /// A round that stops on an error keeps the count of what it rewrote.
    /// `compacting` rewrites out of every segment holding a dead fragment
    /// (`Space::clean_candidates`).
    fn collect(&self, wait: Wait, compacting: bool) -> Result<usize> {
        let mut rewritten = 0;
        let mut outcome = Ok(());
        for pid in self.log.draining_pages(MAX_REWRITES_PER_CALL, compacting) {
            match self.rewrite(pid, wait) {
                Ok(true) => rewritten += 1,
                Ok(false) => {}
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        self.counters().add(Counter::GcRewrites, rewritten as u64);
        outcome.map(|()| rewritten)
    }

    /// Called after every `n` applied updates: runs a round of garbage collection
    /// inline once `gc_every_updates` updates were applied since the last (Gc mode,
    /// writable, and no other round running). It never waits for log space (it
    /// stops where it would), and its errors do not fail the update that ran it: an
    /// IO error has poisoned the log already, and damage it met reading a page is
    /// the damage that page's next `get` reports.
    pub(super) fn maybe_collect(&self, n: u64) {
        let config = self.log.config();
        let every = config.gc_every_updates;
        if every == 0 || config.segment_mode != SegmentMode::Gc || self.log.is_read_only() {
            return;
        }
        let since = self.since_gc().fetch_add(n, Ordering::Relaxed) + n;
        if since < every || (!self.at_segment_start() && since < 2 * every) {
            return;
        }
        let Some(_one) = self.collecting().try_lock() else {
            return;
        };
        self.since_gc().store(0, Ordering::Relaxed);
        match self.collect(Wait::Never, false) {
            Ok(_) | Err(Error::WouldBlock) => {}
            Err(e) => log::warn!("pagelog: inline garbage collection stopped: {e}"),
        }
    }

    /// Runs garbage collection round after round, more thoroughly than
    /// [`PageCache::maintenance`]: it rewrites the pages out of every finished segment
    /// holding any dead fragment (not only those under `cleanup_threshold_pct`) and
    /// out of every segment above a free slot, until none is left (or a bounded
    /// number of rounds passed, if updates keep making garbage); returns the pages
    /// rewritten (freed ids' Free records included). For after a bulk delete or a
    /// large rewrite. Each round that rewrote something flushes and finishes the
    /// log's current segment early (up to a segment of filler written), so the
    /// segments it emptied are reclaimed at once, the file's tail cut when they are
    /// its last ones. When freed ids' Free records wait only for a snapshot past them
    /// (`log/space.rs`: a snapshot older than a Free may still list its page), it
    /// takes one, so that they can go too.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(SimStorage::new(1)), Bytes)?;
    /// let pages: Vec<_> = (0..200u8).map(|i| pc.allocate(vec![i; 64])).collect::<Result<_, _>>()?;
    /// for p in pages.iter().step_by(2) {
    ///     pc.free(p)?;
    /// }
    /// pc.compact()?;
    /// assert_eq!(pc.maintenance()?, 0, "nothing left draining");
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn compact(&self) -> Result<usize> {
        self.refuse_read_only()?;
        // What was freed or replaced before the call is dead only once a segment
        // header vouches for it (a bulk delete followed at once by compact() found
        // nothing draining yet): start a segment first if anything waits for that.
        self.flush()?;
        if self.log.deaths_await_vouch() {
            self.log.finish_segment()?;
            self.flush()?;
        }
        let mut total = 0;
        let mut snapshotted = None;
        for _ in 0..MAX_COMPACT_ROUNDS {
            self.flush()?;
            let n = self.blocking_round(true)?;
            total += n;
            if n == 0 && !self.snapshot_for_frees(&mut snapshotted)? {
                break;
            }
            // The rewritten pages' old fragments die once a segment header written
            // after the rewrites were durable vouches for them: start one now.
            self.flush()?;
            self.log.finish_segment()?;
            self.flush()?;
        }
        Ok(total)
    }

    /// Free records that wait only for a snapshot past them (`log/space.rs`) keep
    /// their segments: takes one, unless the last one `compact` took is at the same
    /// lsn; true if it did (the records die, and their segments may drain).
    fn snapshot_for_frees(&self, last: &mut Option<Lsn>) -> Result<bool> {
        if !self.log.frees_await_snapshot() {
            return Ok(false);
        }
        let lsn = self.snapshot()?;
        let new = *last != Some(lsn);
        *last = Some(lsn);
        Ok(new)
    }

    /// Whether the log's next message goes near the start of a segment (within its
    /// first [`ROUND_WINDOW`]th past the segment's header and first Vouch): an inline
    /// round started there fills segments of its own with its rewrites, but for its
    /// last one.
    fn at_segment_start(&self) -> bool {
        let size = self.log.config().segment_size_bytes;
        let start = (SEGMENT_HEADER_LEN + VOUCH_LEN) as u64;
        size - self.log.segment_room() <= start + size / ROUND_WINDOW
    }

    /// A read-only page cache rewrites nothing.
    fn refuse_read_only(&self) -> Result<()> {
        match self.log.is_read_only() {
            true => Err(crate::error::Error::InvalidArgument(
                "the page cache was opened read-only".to_string(),
            )),
            false => Ok(()),
        }
    }

    /// Rewrites whatever page `pid` is; false if there was nothing to rewrite now.
    fn rewrite(&self, pid: PageId, wait: Wait) -> Result<bool> {
        match pid {
            ROOTS_PID => self.rewrite_roots(wait),
            IDS_PID => self.rewrite_lease(wait),
            _ if pid >= super::FIRST_PAGE => self.rewrite_page(pid, wait),
            _ => Ok(false),
        }
    }

    /// A page as a new base at the same version, or a freed page's Free again. A
    /// page that is not resident is read for the rewrite and stays out of the
    /// cache: a round moves cold pages, and paging them all in would evict the
    /// pages in use (and leave every value read to the epoch collector).
    fn rewrite_page(&self, pid: PageId, wait: Wait) -> Result<bool> {
        let guard = epoch::pin();
        let Now::Plain(shared) = self.now(pid, &guard)? else {
            return Ok(false);
        };
        // SAFETY: loaded from the table under `guard`; views are freed only through
        // the epoch collector after being swapped out (see `get`).
        let view = match unsafe { shared.as_ref() } {
            Some(view) if !view.is_free() => view,
            _ => {
                drop(guard);
                return self.rewrite_free(pid, wait);
            }
        };
        let (value, cached) = match view.value() {
            Some(value) => (Arc::clone(value), true),
            None => match materialize(&self.log, self.m(), pid, &view.frags) {
                Ok(value) => {
                    self.counters().bump(Counter::PageIns);
                    (Arc::new(value), false)
                }
                // A state replaced meanwhile may point into reclaimed segments: the
                // page moved on, nothing to rewrite now.
                Err(_) if self.table().load(pid, &guard)? != shared => return Ok(false),
                Err(e) => return Err(e),
            },
        };
        let bytes = self.m().encode(&value);
        let r = self.reserve(wait, Kind::Replace, pid, &bytes)?;
        let resident = cached.then(|| self.resident_of(&value));
        let (was, now) = (view.charge(), resident.as_ref().map_or(0, |r| r.charge));
        let frag = Frag {
            ptr: r.pointer(),
            len: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
            base: true,
        };
        let new = View::based(view.version, frag, resident);
        match self.table().cas(pid, shared, new, &guard)? {
            Ok(_) => {
                r.complete()?;
                self.account(pid, was, now);
                Ok(true)
            }
            Err(_) => {
                r.abort()?;
                Ok(false)
            }
        }
    }

    /// A freed page's Free message again, its id kept from `allocate` meanwhile so
    /// that no new page's first message can come before it.
    fn rewrite_free(&self, pid: PageId, wait: Wait) -> Result<bool> {
        if !self.hold_free_id(pid) {
            return Ok(false);
        }
        let written = self
            .reserve(wait, Kind::Free, pid, &[])
            .and_then(|r| r.complete());
        self.release_id(pid);
        written.map(|_| true)
    }

    /// The roots as one Meta message of the current map.
    fn rewrite_roots(&self, wait: Wait) -> Result<bool> {
        let roots = self.roots.lock();
        let bytes = super::roots::encode(&roots);
        self.reserve(wait, Kind::Meta, ROOTS_PID, &bytes)?
            .complete()?;
        Ok(true)
    }

    /// The id lease as one Counter of the highest lease end written.
    fn rewrite_lease(&self, wait: Wait) -> Result<bool> {
        let pending = self.ids.pending.lock();
        let end = pending.map_or(self.ids.leased.load(crate::sync::Ordering::Acquire), |p| {
            p.1
        });
        self.reserve(wait, Kind::Counter, IDS_PID, &end.to_le_bytes())?
            .complete()?;
        Ok(true)
    }
}
