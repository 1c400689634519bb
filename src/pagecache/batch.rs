//! Atomic batches across pages: [`PageBatch`] and [`PageCache::apply`].
//!
//! A batch of links, replaces and frees on distinct pages is applied all or none, in
//! memory and after a crash:
//!
//! 1. each page's view, checked at the version the caller's `PageRef` names, is
//!    swapped for a copy held by the batch's [`Intent`] (a page already at another
//!    version, or held by another batch, ends the batch: the holds taken are
//!    released and the caller gets [`BatchUpdate::Lost`], nothing changed);
//! 2. the batch's messages are written as one log batch, which recovery keeps whole
//!    or drops whole (I5);
//! 3. the intent commits: one store makes every page's new state current;
//! 4. each page's view is settled to its new one (anyone who meets the intent does
//!    this too).
//!
//! Any error before the commit aborts the intent, so the pages keep their old states
//! (the log batch, if it was sealed at all, is sealed with no completed message that
//! the commit made visible). Each page's new fragment is reserved after its view was
//! held, so per page the lsn order is the update order, as for single updates.

use std::collections::BTreeSet;

use super::cache::{Now, PageCache, Wait};
use super::intent::Intent;
use super::materializer::Materializer;
use super::page_ref::{PageId, PageRef};
use super::view::{Frag, View};
use crate::error::{Error, Result};
use crate::log::format::MESSAGE_HEADER_LEN;
use crate::log::{Batch, Kind, Reservation};
use crate::sync::Arc;
use crate::sync::epoch::{self, Guard, Shared};

/// One update in a batch.
#[derive(Debug, Clone)]
enum BatchOp<P> {
    /// Append a delta (a page past the consolidation thresholds gets a new base).
    Link(P),
    /// A new base.
    Replace(P),
    /// Free the page.
    Free,
}

/// Updates to apply together; see [`PageCache::apply`].
///
/// ```rust
/// # use std::sync::Arc;
/// # use pagelog::io::SimStorage;
/// # use pagelog::{Config, Materializer, PageCache};
/// # use pagelog::AppendBytes as Bytes;
/// # let disk = SimStorage::new(1);
/// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
/// use pagelog::{BatchUpdate, PageBatch};
/// let (a, b) = (pc.allocate(b"a".to_vec())?, pc.allocate(b"b".to_vec())?);
/// let mut batch = PageBatch::new();
/// batch.link(&a, b"1".to_vec()).free(&b);
/// assert_eq!(batch.len(), 2);
/// assert!(matches!(pc.apply(batch)?, BatchUpdate::Applied(_)));
/// assert!(pc.get(b.pid())?.is_none());
/// # Ok::<(), pagelog::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct PageBatch<P> {
    ops: Vec<(PageRef<P>, BatchOp<P>)>,
}

impl<P> Default for PageBatch<P> {
    fn default() -> PageBatch<P> {
        PageBatch { ops: Vec::new() }
    }
}

impl<P> PageBatch<P> {
    /// An empty batch.
    ///
    /// ```rust
    ///
    /// let batch: pagelog::PageBatch<Vec<u8>> = pagelog::PageBatch::new();
    /// assert!(batch.is_empty());
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn new() -> PageBatch<P> {
        PageBatch::default()
    }

    /// Adds a link of `delta` to the page `page` names, at its version.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// let page = pc.allocate(b"a".to_vec())?;
    /// let mut batch = pagelog::PageBatch::new();
    /// batch.link(&page, b"b".to_vec());
    /// pc.apply(batch)?;
    /// assert_eq!(pc.get(page.pid())?.unwrap().value(), b"ab");
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn link(&mut self, page: &PageRef<P>, delta: P) -> &mut PageBatch<P> {
        self.ops.push((page.clone(), BatchOp::Link(delta)));
        self
    }

    /// Adds a replace of the page `page` names with `value`, at its version.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// let page = pc.allocate(b"old".to_vec())?;
    /// let mut batch = pagelog::PageBatch::new();
    /// batch.replace(&page, b"new".to_vec());
    /// pc.apply(batch)?;
    /// assert_eq!(pc.get(page.pid())?.unwrap().value(), b"new");
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn replace(&mut self, page: &PageRef<P>, value: P) -> &mut PageBatch<P> {
        self.ops.push((page.clone(), BatchOp::Replace(value)));
        self
    }

    /// Adds a free of the page `page` names, at its version.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// let page = pc.allocate(b"x".to_vec())?;
    /// let mut batch = pagelog::PageBatch::new();
    /// batch.free(&page);
    /// pc.apply(batch)?;
    /// assert!(pc.get(page.pid())?.is_none());
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn free(&mut self, page: &PageRef<P>) -> &mut PageBatch<P> {
        self.ops.push((page.clone(), BatchOp::Free));
        self
    }

    /// Updates in the batch.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// let page = pc.allocate(b"x".to_vec())?;
    /// let mut batch = pagelog::PageBatch::new();
    /// batch.link(&page, b"y".to_vec());
    /// assert_eq!(batch.len(), 1);
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch holds no update.
    ///
    /// ```rust
    ///
    /// assert!(pagelog::PageBatch::<Vec<u8>>::new().is_empty());
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// The outcome of [`PageCache::apply`].
///
/// ```rust
/// # use std::sync::Arc;
/// # use pagelog::io::SimStorage;
/// # use pagelog::{Config, Materializer, PageCache};
/// # use pagelog::AppendBytes as Bytes;
/// # let disk = SimStorage::new(1);
/// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
/// use pagelog::{BatchUpdate, PageBatch};
/// let page = pc.allocate(b"a".to_vec())?;
/// let stale = page.clone();
/// pc.link(&page, b"b".to_vec())?;
/// let mut batch = PageBatch::new();
/// batch.link(&stale, b"c".to_vec());
/// match pc.apply(batch)? {
///     BatchUpdate::Lost { pid, current, batch } => {
///         assert_eq!(pid, page.pid());
///         assert_eq!(current.unwrap().value(), b"ab");
///         assert_eq!(batch.len(), 1, "handed back, to rebuild from the current page");
///     }
///     BatchUpdate::Applied(_) => unreachable!("the page had moved on"),
/// }
/// # Ok::<(), pagelog::Error>(())
/// ```
#[derive(Debug)]
pub enum BatchUpdate<P> {
    /// Every update applied; each page as it is now, in the batch's order (None for a
    /// freed page).
    Applied(Vec<Option<PageRef<P>>>),
    /// Nothing applied: page `pid` was at another version (or held by another batch);
    /// `current` is that page now, and `batch` is handed back.
    Lost {
        /// The page that had moved on.
        pid: PageId,
        /// That page now (None if free).
        current: Option<PageRef<P>>,
        /// The batch, unapplied.
        batch: PageBatch<P>,
    },
}

/// One update, held and encoded, waiting for its reservation.
struct Prepared<'g, P> {
    pid: PageId,
    held: Shared<'g, View<P>>,
    kind: Kind,
    bytes: Vec<u8>,
    /// The page's new value (None: freed).
    value: Option<Arc<P>>,
    /// A link written as a new base.
    consolidated: bool,
}

impl<M: Materializer> PageCache<M> {
    /// Applies every update in `batch` or none: in memory (no reader sees part of it)
    /// and after a crash (its messages are one log batch). The pages must be
    /// distinct. Durable once a flush covers it. A batch must fit in the log's IO
    /// buffers but one (`io_bufs - 1` of `io_buf_size_bytes`).
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// use pagelog::{BatchUpdate, PageBatch};
    /// let (from, to) = (pc.allocate(b"ab".to_vec())?, pc.allocate(Vec::new())?);
    /// let mut batch = PageBatch::new();
    /// batch.replace(&from, b"a".to_vec()).link(&to, b"b".to_vec());
    /// let BatchUpdate::Applied(pages) = pc.apply(batch)? else { unreachable!() };
    /// assert_eq!(pages[1].as_ref().unwrap().value(), b"b");
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn apply(&self, batch: PageBatch<M::Page>) -> Result<BatchUpdate<M::Page>> {
        self.apply_as(batch, Wait::Block)
    }

    /// [`PageCache::apply`] that never waits for log space: `Error::WouldBlock`
    /// instead (nothing applied).
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// let page = pc.allocate(b"a".to_vec())?;
    /// let mut batch = pagelog::PageBatch::new();
    /// batch.link(&page, b"b".to_vec());
    /// match pc.try_apply(batch) {
    ///     Ok(update) => assert!(matches!(update, pagelog::BatchUpdate::Applied(_))),
    ///     Err(pagelog::Error::WouldBlock) => {} // nothing applied
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn try_apply(&self, batch: PageBatch<M::Page>) -> Result<BatchUpdate<M::Page>> {
        self.apply_as(batch, Wait::Never)
    }

    fn apply_as(&self, batch: PageBatch<M::Page>, wait: Wait) -> Result<BatchUpdate<M::Page>> {
        let pids: BTreeSet<PageId> = batch.ops.iter().map(|(r, _)| r.pid()).collect();
        if pids.len() != batch.ops.len() {
            return Err(Error::InvalidArgument(
                "a batch updates each page at most once".into(),
            ));
        }
        let intent = Arc::new(Intent::default());
        let guard = epoch::pin();
        let mut held = Vec::with_capacity(batch.ops.len());
        for (page, _) in &batch.ops {
            match self.hold(page, &intent, &guard)? {
                Some(shared) => held.push(shared),
                None => {
                    self.release(&intent, &batch, held.len(), &guard)?;
                    let pid = page.pid();
                    let current = self.get(pid)?;
                    return Ok(BatchUpdate::Lost {
                        pid,
                        current,
                        batch,
                    });
                }
            }
        }
        let prepared: Vec<Prepared<'_, M::Page>> = batch
            .ops
            .iter()
            .zip(held)
            .map(|((page, op), held)| self.prepare(page, op, held))
            .collect();
        let frags = match self
            .fits(&prepared)
            .and_then(|()| self.write_batch(&prepared, wait))
        {
            Ok(frags) => frags,
            Err(e) => {
                self.release(&intent, &batch, prepared.len(), &guard)?;
                return Err(e);
            }
        };
        Ok(BatchUpdate::Applied(
            self.commit(&intent, &prepared, &frags, &guard)?,
        ))
    }

    /// Holds `page`'s view for the batch: Some(the held view), or None if the page is
    /// at another version, free, or held by another batch.
    fn hold<'g>(
        &self,
        page: &PageRef<M::Page>,
        intent: &Arc<Intent<M::Page>>,
        guard: &'g Guard,
    ) -> Result<Option<Shared<'g, View<M::Page>>>> {
        let pid = page.pid();
        loop {
            let Now::Plain(shared) = self.now(pid, guard)? else {
                return Ok(None);
            };
            // SAFETY: loaded under `guard` (see `PageCache::get`).
            let view = match unsafe { shared.as_ref() } {
                Some(v) if v.version == page.version() && !v.is_free() => v,
                _ => return Ok(None),
            };
            let holding = view.with_intent(Some(Arc::clone(intent)));
            // A lost swap may be a reader caching the page: look again.
            if let Ok(installed) = self.table().cas(pid, shared, holding, guard)? {
                return Ok(Some(installed));
            }
        }
    }

    /// Aborts `intent` and settles the first `count` pages of `batch` back to their
    /// old states.
    fn release(
        &self,
        intent: &Intent<M::Page>,
        batch: &PageBatch<M::Page>,
        count: usize,
        guard: &Guard,
    ) -> Result<()> {
        intent.abort();
        for (page, _) in &batch.ops[..count] {
            self.now(page.pid(), guard)?;
        }
        Ok(())
    }

    /// Encodes one update against the held view.
    fn prepare<'g>(
        &self,
        page: &PageRef<M::Page>,
        op: &BatchOp<M::Page>,
        held: Shared<'g, View<M::Page>>,
    ) -> Prepared<'g, M::Page> {
        // SAFETY: installed under the caller's guard, which outlives this batch.
        let view = unsafe { held.deref() };
        let mut consolidated = false;
        let (kind, bytes, value) = match op {
            BatchOp::Link(delta) => {
                let mut merged = M::Page::clone(page.shared());
                self.m().merge(&mut merged, delta);
                let delta_bytes = self.m().encode(delta);
                consolidated = self.needs_consolidation(view, delta_bytes.len());
                if consolidated {
                    (Kind::Replace, self.m().encode(&merged), Some(merged))
                } else {
                    (Kind::Append, delta_bytes, Some(merged))
                }
            }
            BatchOp::Replace(value) => (Kind::Replace, self.m().encode(value), Some(value.clone())),
            BatchOp::Free => (Kind::Free, Vec::new(), None),
        };
        Prepared {
            pid: page.pid(),
            held,
            kind,
            bytes,
            value: value.map(Arc::new),
            consolidated,
        }
    }

    /// Refuses a batch too large for the log's IO buffers but one (a log batch holds
    /// its manifest's buffer open until it is sealed): it could never be written, and
    /// the blocking call would wait for space forever.
    fn fits(&self, prepared: &[Prepared<'_, M::Page>]) -> Result<()> {
        let config = self.log.config();
        let room = (config.io_bufs.saturating_sub(1) as u64)
            .saturating_mul(config.io_buf_size_bytes as u64);
        let message = |len: usize| {
            // A value past the blob threshold goes to a file: 8 bytes stay inline.
            let inline = if len > config.blob_threshold_bytes {
                8
            } else {
                len
            };
            (MESSAGE_HEADER_LEN + inline) as u64
        };
        let needed: u64 = message(8) + prepared.iter().map(|p| message(p.bytes.len())).sum::<u64>();
        if needed > room {
            return Err(Error::InvalidArgument(format!(
                "a batch of {} updates needs {needed} bytes of IO buffers, more than the {room} it may take ((io_bufs - 1) * io_buf_size_bytes): split it, or raise io_bufs or io_buf_size_bytes",
                prepared.len()
            )));
        }
        Ok(())
    }

    /// Writes the prepared updates as one log batch; their fragments, in order.
    ///
    /// A log batch holds its manifest's IO buffer open until it is sealed, so if
    /// other writers fill the rest of the ring meanwhile, the ring cannot turn and a
    /// member waiting for space would wait forever (and every writer and reader behind
    /// it). So members are reserved without waiting: on a full ring the batch gives
    /// everything back (aborts its members, seals an empty batch), waits for the ring
    /// to drain with a flush while holding nothing, and tries again.
    fn write_batch(&self, prepared: &[Prepared<'_, M::Page>], wait: Wait) -> Result<Vec<Frag>> {
        loop {
            if let Some(frags) = self.try_write_batch(prepared, wait)? {
                return Ok(frags);
            }
            match wait {
                Wait::Block => {
                    self.log.flush()?;
                }
                Wait::Never => return Err(Error::WouldBlock),
            }
        }
    }

    /// One attempt of [`PageCache::write_batch`]: None if the ring was full.
    fn try_write_batch(
        &self,
        prepared: &[Prepared<'_, M::Page>],
        wait: Wait,
    ) -> Result<Option<Vec<Frag>>> {
        let mut batch: Batch<'_> = match wait {
            Wait::Block => self.log.open_batch(true)?,
            Wait::Never => self.log.open_batch(false)?,
        };
        let mut reserved: Vec<Reservation<'_>> = Vec::with_capacity(prepared.len());
        for p in prepared {
            match batch.try_reserve(p.kind, p.pid, &p.bytes) {
                Ok(r) => reserved.push(r),
                Err(e) => {
                    for r in reserved {
                        r.abort()?;
                    }
                    batch.seal()?;
                    // The ring is full, and perhaps of this batch's own claims
                    // (WouldDeadlock): they are aborted now, so a later try fits.
                    return match e {
                        Error::WouldBlock | Error::WouldDeadlock { .. } => Ok(None),
                        e => Err(e),
                    };
                }
            }
        }
        let mut frags = Vec::with_capacity(prepared.len());
        for (r, p) in reserved.into_iter().zip(prepared) {
            let len = u32::try_from(p.bytes.len()).unwrap_or(u32::MAX);
            let ptr = r.complete()?;
            frags.push(Frag {
                ptr,
                len,
                base: p.kind == Kind::Replace,
            });
        }
        batch.seal()?;
        Ok(Some(frags))
    }

    /// Commits `intent` with each page's new view, settles every page, and returns
    /// the pages as they are now.
    fn commit(
        &self,
        intent: &Intent<M::Page>,
        prepared: &[Prepared<'_, M::Page>],
        frags: &[Frag],
        guard: &Guard,
    ) -> Result<Vec<Option<PageRef<M::Page>>>> {
        let mut afters = Vec::with_capacity(prepared.len());
        let mut out = Vec::with_capacity(prepared.len());
        for (p, &frag) in prepared.iter().zip(frags) {
            // SAFETY: installed under `guard`, which is still pinned.
            let view = unsafe { p.held.deref() };
            let after = match &p.value {
                None => View::freed(view.version + 1),
                Some(value) => {
                    let resident = Some(self.resident_of(value));
                    match p.kind {
                        Kind::Append => view.linked(frag, resident),
                        _ => View::based(view.version + 1, frag, resident),
                    }
                }
            };
            out.push(
                p.value
                    .as_ref()
                    .map(|v| PageRef::new(p.pid, after.version, Arc::clone(v))),
            );
            afters.push((p.pid, after));
        }
        afters.sort_by_key(|(pid, _)| *pid);
        intent.commit(afters);
        for p in prepared {
            self.now(p.pid, guard)?;
            if p.value.is_none() {
                self.release_id(p.pid);
            }
        }
        let consolidated = prepared.iter().filter(|p| p.consolidated).count();
        self.note_batch(consolidated, prepared.len());
        if let Some(last) = frags.last() {
            self.after_update(prepared.len() as u64, last.ptr.lsn);
        }
        Ok(out)
    }
}
