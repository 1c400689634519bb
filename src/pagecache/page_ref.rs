//! What the page cache hands back: [`PageRef`], a page's merged value at one version,
//! and [`Update`], the outcome of a compare-and-swap on a page.

use crate::sync::Arc;

/// A page id: dense, starting at [`FIRST_PAGE`](crate::pagecache::FIRST_PAGE); a freed
/// id is handed out again by a later `allocate`.
///
/// ```rust
/// # use std::sync::Arc;
/// # use pagelog::io::SimStorage;
/// # use pagelog::{Config, Materializer, PageCache};
/// # use pagelog::AppendBytes as Bytes;
/// # let disk = SimStorage::new(1);
/// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
/// let id: pagelog::PageId = pc.allocate(b"x".to_vec())?.pid();
/// assert!(id >= pagelog::pagecache::FIRST_PAGE);
/// # Ok::<(), pagelog::Error>(())
/// ```
pub type PageId = u64;

/// A page's merged value as of one version. Pass it back to `link`, `replace` or
/// `free`: the update applies only if the page is still at this version.
///
/// ```rust
/// # use std::sync::Arc;
/// # use pagelog::io::SimStorage;
/// # use pagelog::{Config, Materializer, PageCache};
/// # use pagelog::AppendBytes as Bytes;
/// # let disk = SimStorage::new(1);
/// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
/// let page = pc.allocate(b"x".to_vec())?;
/// assert_eq!((page.pid(), page.version()), (4, 1));
/// assert_eq!(page.value(), b"x");
/// assert_eq!(page.len(), 1, "derefs to the page");
/// # Ok::<(), pagelog::Error>(())
/// ```
#[derive(Debug)]
pub struct PageRef<P> {
    pid: PageId,
    version: u64,
    value: Arc<P>,
}

impl<P> Clone for PageRef<P> {
    fn clone(&self) -> PageRef<P> {
        PageRef {
            pid: self.pid,
            version: self.version,
            value: Arc::clone(&self.value),
        }
    }
}

impl<P> PageRef<P> {
    pub(crate) fn new(pid: PageId, version: u64, value: Arc<P>) -> PageRef<P> {
        PageRef {
            pid,
            version,
            value,
        }
    }

    /// The page id.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// let page = pc.allocate(b"x".to_vec())?;
    /// assert_eq!(pc.get(page.pid())?.unwrap().value(), b"x");
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn pid(&self) -> PageId {
        self.pid
    }

    /// The page's version: it changes with every update of the page.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// let page = pc.allocate(b"x".to_vec())?;
    /// pc.link(&page, b"y".to_vec())?;
    /// assert_eq!(pc.get(page.pid())?.unwrap().version(), page.version() + 1);
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The merged value (the base with every delta folded in, in order).
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// let page = pc.allocate(b"x".to_vec())?;
    /// let bytes: &Vec<u8> = page.value();
    /// assert_eq!(bytes, b"x");
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn value(&self) -> &P {
        &self.value
    }

    pub(crate) fn shared(&self) -> &Arc<P> {
        &self.value
    }
}

impl<P> std::ops::Deref for PageRef<P> {
    type Target = P;

    fn deref(&self) -> &P {
        &self.value
    }
}

/// The outcome of a `link`, `replace` or `free`.
///
/// ```rust
/// # use std::sync::Arc;
/// # use pagelog::io::SimStorage;
/// # use pagelog::{Config, Materializer, PageCache};
/// # use pagelog::AppendBytes as Bytes;
/// # let disk = SimStorage::new(1);
/// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
/// use pagelog::Update;
/// let page = pc.allocate(b"a".to_vec())?;
/// match pc.link(&page, b"b".to_vec())? {
///     Update::Applied(now) => assert_eq!(now.unwrap().value(), b"ab"),
///     Update::Lost { current, rejected } => {
///         // Someone got there first: retry from `current` with `rejected`.
///         # let _ = (current, rejected);
///     }
/// }
/// # Ok::<(), pagelog::Error>(())
/// ```
#[derive(Debug)]
pub enum Update<P, T> {
    /// The page was still at the expected version: the update is in the page and in
    /// the log (durable once a flush covers it). For `free`, the page is gone (None).
    Applied(Option<PageRef<P>>),
    /// Another update got there first. Nothing was changed (the log reservation was
    /// aborted). `current` is the page now (None if it was freed); `rejected` gives
    /// back what the caller passed, to retry with.
    Lost {
        /// The page as it is now, None if it is free.
        current: Option<PageRef<P>>,
        /// The delta, page or nothing the caller passed.
        rejected: T,
    },
}

impl<P, T> Update<P, T> {
    /// Whether the update was applied.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// let page = pc.allocate(b"a".to_vec())?;
    /// assert!(pc.link(&page, b"b".to_vec())?.is_applied());
    /// assert!(!pc.link(&page, b"c".to_vec())?.is_applied(), "from an old version");
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn is_applied(&self) -> bool {
        matches!(self, Update::Applied(_))
    }
}
