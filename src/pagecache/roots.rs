//! Named roots: a small map from names to page ids (where a tree's root page lives,
//! say), changed by compare-and-swap and kept in the log.
//!
//! Every change writes the whole map as one Meta message under page id [`ROOTS_PID`],
//! which supersedes the ones before it, so recovery keeps the newest. Changes are made
//! under one mutex, so the messages are in the order the changes were made; roots
//! change rarely, and no page operation takes this lock. A change is durable once a
//! flush covers it, like a page update.
//!
//! Encoding (little-endian): a u32 count, then per root, in name order, a u16 name
//! length, the name's UTF-8 bytes and a u64 page id. Decoding is of untrusted bytes:
//! anything else (a short or long message, a name that is not UTF-8, names out of
//! order or repeated) is `Error::Corruption`.

use std::collections::BTreeMap;

use super::cache::{PageCache, Wait};
use super::materializer::Materializer;
use super::page_ref::PageId;
use crate::error::{Error, Result};
use crate::log::{Kind, LOG_FILE};

/// The page id the roots message is kept under.
pub const ROOTS_PID: PageId = 1;

/// Longest root name, in bytes.
///
/// ```rust
/// # use std::sync::Arc;
/// # use pagelog::io::SimStorage;
/// # use pagelog::{Config, Materializer, PageCache};
/// # use pagelog::AppendBytes as Bytes;
/// # let disk = SimStorage::new(1);
/// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
/// let long = "x".repeat(pagelog::pagecache::MAX_ROOT_NAME + 1);
/// assert!(pc.cas_root(&long, None, Some(4)).is_err());
/// # Ok::<(), pagelog::Error>(())
/// ```
pub const MAX_ROOT_NAME: usize = u16::MAX as usize;

/// Named roots.
///
/// ```rust
/// # use std::sync::Arc;
/// # use pagelog::io::SimStorage;
/// # use pagelog::{Config, Materializer, PageCache};
/// # use pagelog::AppendBytes as Bytes;
/// # let disk = SimStorage::new(1);
/// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
/// pc.cas_root("a", None, Some(4))?.unwrap();
/// let roots: pagelog::pagecache::Roots = pc.roots();
/// assert_eq!(roots.get("a"), Some(&4));
/// # Ok::<(), pagelog::Error>(())
/// ```
pub type Roots = BTreeMap<String, PageId>;

/// The outcome of [`PageCache::cas_root`]: `Err` holds the root's value when it was
/// not the expected one (nothing was changed).
///
/// ```rust
/// # use std::sync::Arc;
/// # use pagelog::io::SimStorage;
/// # use pagelog::{Config, Materializer, PageCache};
/// # use pagelog::AppendBytes as Bytes;
/// # let disk = SimStorage::new(1);
/// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
/// let swap: pagelog::pagecache::RootSwap = pc.cas_root("tree", None, Some(4))?;
/// assert_eq!(swap, Ok(()));
/// assert_eq!(pc.cas_root("tree", None, Some(5))?, Err(Some(4)));
/// # Ok::<(), pagelog::Error>(())
/// ```
pub type RootSwap = std::result::Result<(), Option<PageId>>;

/// The bytes of `roots` (module doc).
pub fn encode(roots: &Roots) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + roots.len() * 24);
    out.extend_from_slice(&(roots.len() as u32).to_le_bytes());
    for (name, pid) in roots {
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&pid.to_le_bytes());
    }
    out
}

/// The roots in `bytes`, read from the message at file offset `at`.
pub fn decode(bytes: &[u8], at: u64) -> Result<Roots> {
    let bad = |why: &str| Error::corruption(LOG_FILE, at, format!("named roots: {why}"));
    let mut rest = bytes;
    let mut take = |n: usize| -> Result<&[u8]> {
        if rest.len() < n {
            return Err(bad("the message ends inside a root"));
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let count = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes"));
    let mut roots = Roots::new();
    for _ in 0..count {
        let len = u16::from_le_bytes(take(2)?.try_into().expect("2 bytes"));
        let name = std::str::from_utf8(take(usize::from(len))?)
            .map_err(|_| bad("a name that is not UTF-8"))?
            .to_string();
        let pid = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
        if roots
            .last_key_value()
            .is_some_and(|(last, _)| *last >= name)
        {
            return Err(bad("names out of order or repeated"));
        }
        roots.insert(name, pid);
    }
    if !rest.is_empty() {
        return Err(bad("bytes after the last root"));
    }
    Ok(roots)
}

impl<M: Materializer> PageCache<M> {
    /// The page id the root `name` holds, if it is set.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// assert_eq!(pc.root("tree"), None);
    /// pc.cas_root("tree", None, Some(9))?.unwrap();
    /// assert_eq!(pc.root("tree"), Some(9));
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn root(&self, name: &str) -> Option<PageId> {
        self.roots.lock().get(name).copied()
    }

    /// Every root, by name.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// pc.cas_root("b", None, Some(5))?.unwrap();
    /// pc.cas_root("a", None, Some(4))?.unwrap();
    /// let names: Vec<String> = pc.roots().into_keys().collect();
    /// assert_eq!(names, ["a", "b"]);
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn roots(&self) -> Roots {
        self.roots.lock().clone()
    }

    /// Sets the root `name` to `new` (None removes it) if it holds `old` now (None:
    /// it is not set). `Ok(Err(current))` when it held something else: nothing was
    /// changed. Durable once a flush covers it. A name is at most [`MAX_ROOT_NAME`]
    /// bytes.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// let leaf = pc.allocate(b"leaf".to_vec())?;
    /// assert_eq!(pc.cas_root("tree", None, Some(leaf.pid()))?, Ok(()));
    /// // Someone else's view of the root is stale: the swap loses and says what is there.
    /// assert_eq!(pc.cas_root("tree", None, Some(99))?, Err(Some(leaf.pid())));
    /// assert_eq!(pc.cas_root("tree", Some(leaf.pid()), None)?, Ok(()), "removed");
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn cas_root(
        &self,
        name: &str,
        old: Option<PageId>,
        new: Option<PageId>,
    ) -> Result<RootSwap> {
        self.cas_root_as(name, old, new, Wait::Block)
    }

    /// [`PageCache::cas_root`] that never waits for log space: `Error::WouldBlock`
    /// instead (nothing is changed).
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// match pc.try_cas_root("tree", None, Some(4)) {
    ///     Ok(swap) => assert_eq!(swap, Ok(())),
    ///     Err(pagelog::Error::WouldBlock) => {} // nothing changed
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn try_cas_root(
        &self,
        name: &str,
        old: Option<PageId>,
        new: Option<PageId>,
    ) -> Result<RootSwap> {
        self.cas_root_as(name, old, new, Wait::Never)
    }

    fn cas_root_as(
        &self,
        name: &str,
        old: Option<PageId>,
        new: Option<PageId>,
        wait: Wait,
    ) -> Result<RootSwap> {
        if name.len() > MAX_ROOT_NAME {
            return Err(Error::InvalidArgument(format!(
                "a root name of {} bytes (at most {MAX_ROOT_NAME})",
                name.len()
            )));
        }
        let mut roots = match wait {
            Wait::Block => self.roots.lock(),
            Wait::Never => self.roots.try_lock().ok_or(Error::WouldBlock)?,
        };
        let current = roots.get(name).copied();
        if current != old {
            return Ok(Err(current));
        }
        if current == new {
            return Ok(Ok(()));
        }
        let mut next = roots.clone();
        match new {
            Some(pid) => next.insert(name.to_string(), pid),
            None => next.remove(name),
        };
        let r = self.reserve(wait, Kind::Meta, ROOTS_PID, &encode(&next))?;
        r.complete()?;
        *roots = next;
        Ok(Ok(()))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn roots_round_trip_and_every_cut_is_corruption() {
        let mut roots = Roots::new();
        roots.insert("tree".into(), 9);
        roots.insert("ünïcode".into(), u64::MAX);
        roots.insert(String::new(), 4);
        let bytes = encode(&roots);
        assert_eq!(decode(&bytes, 0).expect("decodes"), roots);
        for cut in 0..bytes.len() {
            let e = decode(&bytes[..cut], 77).expect_err("cut");
            assert!(e.is_corruption() && e.to_string().contains("@77"), "{e}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer, 0).is_err());
    }

    #[test]
    fn repeated_or_unordered_names_are_corruption() {
        let one = |name: &str| {
            let mut v = (name.len() as u16).to_le_bytes().to_vec();
            v.extend_from_slice(name.as_bytes());
            v.extend_from_slice(&5_u64.to_le_bytes());
            v
        };
        for pair in [["b", "a"], ["a", "a"]] {
            let mut bytes = 2_u32.to_le_bytes().to_vec();
            bytes.extend(one(pair[0]));
            bytes.extend(one(pair[1]));
            assert!(decode(&bytes, 0).expect_err("bad").is_corruption());
        }
        let mut huge = u32::MAX.to_le_bytes().to_vec();
        huge.extend(one("a"));
        assert!(
            decode(&huge, 0)
                .expect_err("count past the bytes")
                .is_corruption()
        );
    }
}
