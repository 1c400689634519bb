//! [`PageCache::generate_id`]: unique ids that never repeat and never go down, across
//! any number of crashes (I6), at the cost of one sync per lease, not per id.
//!
//! Ids are handed out from memory below a *lease*: the end of a range whose Counter
//! message (under page id [`IDS_PID`], holding the lease's end) is durable. An id at
//! or past the lease end waits (one thread at a time) while a new lease, reaching
//! [`IDS_PER_LEASE`] ids past it, is written and made durable; only then is the id
//! handed out. Recovery starts the next id at the highest lease end in the log, so
//! every id handed out before a crash lies below it. A crash can skip the unused rest
//! of a lease: ids are unique and increasing, not dense.
//!
//! The non-blocking twin returns `WouldBlock` where the blocking call would wait for
//! a lease; an id it drew is then skipped (never handed out), and a lease it wrote is
//! made durable by a later call rather than written again.

use super::cache::{PageCache, Wait};
use super::materializer::Materializer;
use super::page_ref::PageId;
use crate::error::{Error, Result};
use crate::log::{Kind, LOG_FILE, Lsn};
use crate::sync::{AtomicU64, Mutex, Ordering};

/// The page id the lease message is kept under.
pub const IDS_PID: PageId = 2;

/// Ids per lease: how many `generate_id` calls share one sync.
///
/// ```rust
/// # use std::sync::Arc;
/// # use pagelog::io::SimStorage;
/// # use pagelog::{Config, Materializer, PageCache};
/// # use pagelog::AppendBytes as Bytes;
/// # let disk = SimStorage::new(1);
/// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
/// let before = pc.log().stats().syncs;
/// for _ in 0..pagelog::pagecache::IDS_PER_LEASE {
///     pc.generate_id()?;
/// }
/// assert_eq!(pc.log().stats().syncs - before, 1, "one sync for the whole lease");
/// # Ok::<(), pagelog::Error>(())
/// ```
pub const IDS_PER_LEASE: u64 = 1 << 16;

/// The id generator's state; see the module doc.
#[derive(Debug)]
pub struct Ids {
    /// The next id to draw.
    next: AtomicU64,
    /// Ids below this are covered by a durable lease.
    pub(super) leased: AtomicU64,
    /// Held while a lease is written; the lease written but not yet durable, if any
    /// (its message's lsn and its end).
    pub(super) pending: Mutex<Option<(Lsn, u64)>>,
}

impl Ids {
    /// The generator after recovery found leases up to `leased` (0: none).
    pub fn recovered(leased: u64) -> Ids {
        Ids {
            next: AtomicU64::new(leased),
            leased: AtomicU64::new(leased),
            pending: Mutex::new(None),
        }
    }
}

/// The lease end a Counter message holds, read from file offset `at`.
pub fn decode_lease(bytes: &[u8], at: u64) -> Result<u64> {
    let array: [u8; 8] = bytes.try_into().map_err(|_| {
        Error::corruption(
            LOG_FILE,
            at,
            format!("an id lease of {} bytes, not 8", bytes.len()),
        )
    })?;
    Ok(u64::from_le_bytes(array))
}

impl<M: Materializer> PageCache<M> {
    /// A new id: never one handed out before by this page cache, across any number
    /// of crashes, and higher than all of them. Waits for a sync once every
    /// [`IDS_PER_LEASE`] ids.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// let a = pc.generate_id()?;
    /// pc.abandon(); // a crash, with no flush
    /// let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.crash()), Bytes)?;
    /// assert!(pc.generate_id()? > a);
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn generate_id(&self) -> Result<u64> {
        self.generate_as(Wait::Block)
    }

    /// [`PageCache::generate_id`] that returns `Error::WouldBlock` instead of waiting
    /// for a lease to become durable (the id it drew is skipped).
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// match pc.try_generate_id() {
    ///     Ok(id) => assert!(id < u64::MAX),
    ///     Err(pagelog::Error::WouldBlock) => {} // a lease is being made durable
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn try_generate_id(&self) -> Result<u64> {
        self.generate_as(Wait::Never)
    }

    fn generate_as(&self, wait: Wait) -> Result<u64> {
        let ids = &self.ids;
        let id = ids.next.fetch_add(1, Ordering::Relaxed);
        if id < ids.leased.load(Ordering::Acquire) {
            return Ok(id);
        }
        let mut pending = match wait {
            Wait::Block => ids.pending.lock(),
            Wait::Never => ids.pending.try_lock().ok_or(Error::WouldBlock)?,
        };
        if id < ids.leased.load(Ordering::Acquire) {
            return Ok(id);
        }
        let (lsn, end) = match *pending {
            Some((lsn, end)) if id < end => (lsn, end),
            _ => {
                let end = id
                    .checked_add(IDS_PER_LEASE)
                    .ok_or_else(|| Error::InvalidArgument("generate_id ran out of ids".into()))?;
                let r = self.reserve(wait, Kind::Counter, IDS_PID, &end.to_le_bytes())?;
                let lsn = r.complete()?.lsn;
                *pending = Some((lsn, end));
                (lsn, end)
            }
        };
        match wait {
            Wait::Block => self.log.make_stable(lsn)?,
            Wait::Never => self.log.try_make_stable(lsn)?,
        }
        ids.leased.store(end, Ordering::Release);
        *pending = None;
        Ok(id)
    }
}
