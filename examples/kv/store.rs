//! An ordered key-value store on `PageCache`: sorted leaf pages under one index page.
//!
//! - The index page (named root `kv`) lists each leaf's lowest key and page id, in key
//!   order; the first leaf's lowest key is empty, so every key has a leaf.
//! - A leaf holds a sorted map. An insert or remove is a delta linked to its leaf (one
//!   small log message); the page cache folds deltas into a new base past its
//!   thresholds (a consolidation, written as a replace).
//! - A leaf past `SPLIT_BYTES` is split: its upper half goes to a new leaf, and the
//!   old leaf's replace and the index's replace are applied as one atomic batch, so a
//!   crash never leaves a key in two leaves or in none.
//!
//! Every update is a compare-and-swap: one that loses (another thread changed the
//! page) reads again and retries. Nothing is durable until `flush` or `close`.
//!
//! A split allocates the new leaf before the batch that links it in; if the batch
//! loses a race, the new leaf is freed, but a crash between the two leaves an
//! unreachable page behind (space, never data: no key is in it). Leaves are never
//! merged.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use pagelog::io::Storage;
use pagelog::{
    BatchUpdate, Config, Error, Materializer, PageBatch, PageCache, PageId, PageRef, Result, Update,
};

/// A leaf's encoded size past which it is split.
pub const SPLIT_BYTES: usize = 2048;

/// A page of the store, or a delta to a leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Each leaf's lowest key and page id, in key order.
    Index(Vec<(Vec<u8>, PageId)>),
    /// Keys and values.
    Leaf(BTreeMap<Vec<u8>, Vec<u8>>),
    /// Sets (Some) and removals (None), applied in order.
    Delta(Vec<(Vec<u8>, Option<Vec<u8>>)>),
}

/// Encodes and merges [`Node`]s.
pub struct Nodes;

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// Reads length-prefixed pieces from untrusted bytes; None past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = self.u32()? as usize;
        self.take(n).map(<[u8]>::to_vec)
    }
}

impl Materializer for Nodes {
    type Page = Node;

    fn encode(&self, node: &Node) -> Vec<u8> {
        let mut out = Vec::new();
        match node {
            Node::Index(entries) => {
                out.push(0);
                out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
                for (low, pid) in entries {
                    put_bytes(&mut out, low);
                    out.extend_from_slice(&pid.to_le_bytes());
                }
            }
            Node::Leaf(map) => {
                out.push(1);
                out.extend_from_slice(&(map.len() as u32).to_le_bytes());
                for (k, v) in map {
                    put_bytes(&mut out, k);
                    put_bytes(&mut out, v);
                }
            }
            Node::Delta(changes) => {
                out.push(2);
                out.extend_from_slice(&(changes.len() as u32).to_le_bytes());
                for (k, v) in changes {
                    put_bytes(&mut out, k);
                    match v {
                        Some(v) => {
                            out.push(1);
                            put_bytes(&mut out, v);
                        }
                        None => out.push(0),
                    }
                }
            }
        }
        out
    }

    fn decode(&self, bytes: &[u8]) -> Option<Node> {
        let mut r = Reader(bytes);
        let tag = r.take(1)?[0];
        let n = r.u32()? as usize;
        // Each entry takes at least 4 bytes: a count past that is damage, not a
        // reason to allocate.
        if n > bytes.len() / 4 {
            return None;
        }
        let node = match tag {
            0 => {
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    let low = r.bytes()?;
                    let pid = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
                    entries.push((low, pid));
                }
                Node::Index(entries)
            }
            1 => {
                let mut map = BTreeMap::new();
                for _ in 0..n {
                    let k = r.bytes()?;
                    map.insert(k, r.bytes()?);
                }
                Node::Leaf(map)
            }
            2 => {
                let mut changes = Vec::with_capacity(n);
                for _ in 0..n {
                    let k = r.bytes()?;
                    let v = match r.take(1)?[0] {
                        1 => Some(r.bytes()?),
                        0 => None,
                        _ => return None,
                    };
                    changes.push((k, v));
                }
                Node::Delta(changes)
            }
            _ => return None,
        };
        r.0.is_empty().then_some(node)
    }

    fn merge(&self, base: &mut Node, delta: &Node) {
        let (Node::Leaf(map), Node::Delta(changes)) = (base, delta) else {
            // Only leaves take deltas; the store never links anything else.
            return;
        };
        for (k, v) in changes {
            match v {
                Some(v) => map.insert(k.clone(), v.clone()),
                None => map.remove(k),
            };
        }
    }

    fn size_in_bytes(&self, node: &Node) -> usize {
        let pairs = |n: usize| n * 64;
        match node {
            Node::Index(e) => pairs(e.len()) + e.iter().map(|(k, _)| k.len()).sum::<usize>(),
            Node::Leaf(m) => {
                pairs(m.len()) + m.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
            }
            Node::Delta(c) => pairs(c.len()),
        }
    }
}

/// An index's entries: each leaf's lowest key and page id.
type Entries = Vec<(Vec<u8>, PageId)>;

/// The name of the root that holds the index page.
const ROOT: &str = "kv";

/// The store; see the module doc.
pub struct Store {
    pc: PageCache<Nodes>,
}

impl Store {
    /// Opens (or creates) the store in `storage`.
    pub fn open(config: Config, storage: Arc<dyn Storage>) -> Result<Store> {
        let pc = PageCache::open(config, storage, Nodes)?;
        if pc.root(ROOT).is_none() {
            let leaf = pc.allocate(Node::Leaf(BTreeMap::new()))?;
            let index = pc.allocate(Node::Index(vec![(Vec::new(), leaf.pid())]))?;
            if pc.cas_root(ROOT, None, Some(index.pid()))?.is_err() {
                return Err(Error::InvalidArgument(
                    "the store was created twice at once".into(),
                ));
            }
            pc.flush()?;
        }
        Ok(Store { pc })
    }

    /// The page cache underneath.
    pub fn page_cache(&self) -> &PageCache<Nodes> {
        &self.pc
    }

    fn index(&self) -> Result<(PageRef<Node>, Entries)> {
        let pid = self.pc.root(ROOT).ok_or_else(|| corrupt("no index root"))?;
        let page = self
            .pc
            .get(pid)?
            .ok_or_else(|| corrupt("the index page is free"))?;
        let Node::Index(entries) = page.value().clone() else {
            return Err(corrupt("the index page is not an index"));
        };
        if entries.first().is_none_or(|(low, _)| !low.is_empty()) {
            return Err(corrupt("the index does not start at the empty key"));
        }
        Ok((page, entries))
    }

    /// The leaf that holds `key`: its index entry's position and the page.
    fn leaf(&self, entries: &[(Vec<u8>, PageId)], key: &[u8]) -> Result<(usize, PageRef<Node>)> {
        let at = entries.partition_point(|(low, _)| low.as_slice() <= key) - 1;
        let page = self
            .pc
            .get(entries[at].1)?
            .ok_or_else(|| corrupt("a leaf is free"))?;
        Ok((at, page))
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let (_, entries) = self.index()?;
        let (_, leaf) = self.leaf(&entries, key)?;
        match leaf.value() {
            Node::Leaf(map) => Ok(map.get(key).cloned()),
            _ => Err(corrupt("an index entry names a page that is not a leaf")),
        }
    }

    /// Sets `key` to `value`.
    pub fn insert(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.change(key, Some(value.to_vec()))
    }

    /// Removes `key` (nothing if it is absent).
    pub fn remove(&self, key: &[u8]) -> Result<()> {
        self.change(key, None)
    }

    fn change(&self, key: &[u8], value: Option<Vec<u8>>) -> Result<()> {
        let delta = Node::Delta(vec![(key.to_vec(), value)]);
        loop {
            let (index, entries) = self.index()?;
            let (at, leaf) = self.leaf(&entries, key)?;
            if let Update::Applied(Some(now)) = self.pc.link(&leaf, delta.clone())? {
                if leaf_bytes(&now) > SPLIT_BYTES {
                    self.split(&index, &entries, at, &now)?;
                }
                return Ok(());
            }
            // Lost a race (another writer, or a split): read again.
        }
    }

    /// Moves the upper half of `leaf` (entry `at` of the index) to a new leaf, in one
    /// atomic batch with the index. A lost race changes nothing (and frees the new
    /// leaf): the next change to an oversized leaf tries again.
    fn split(
        &self,
        index: &PageRef<Node>,
        entries: &[(Vec<u8>, PageId)],
        at: usize,
        leaf: &PageRef<Node>,
    ) -> Result<()> {
        let Node::Leaf(map) = leaf.value() else {
            return Ok(());
        };
        if map.len() < 2 {
            return Ok(());
        }
        let mut low = map.clone();
        let middle = low
            .keys()
            .nth(map.len() / 2)
            .cloned()
            .expect("two keys or more");
        let high = low.split_off(&middle);
        let new = self.pc.allocate(Node::Leaf(high))?;
        let mut index_entries = entries.to_vec();
        index_entries.insert(at + 1, (middle, new.pid()));
        let mut batch = PageBatch::new();
        batch
            .replace(leaf, Node::Leaf(low))
            .replace(index, Node::Index(index_entries));
        if let BatchUpdate::Lost { .. } = self.pc.apply(batch)? {
            let _ = self.pc.free(&new)?;
        }
        Ok(())
    }

    /// Every key in `[from, to)` (to None: no end) with its value, in key order.
    pub fn scan(&self, from: &[u8], to: Option<&[u8]>) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        if to.is_some_and(|to| to <= from) {
            return Ok(Vec::new());
        }
        let (_, entries) = self.index()?;
        let first = entries.partition_point(|(low, _)| low.as_slice() <= from) - 1;
        let mut out = Vec::new();
        for (low, pid) in &entries[first..] {
            if to.is_some_and(|to| low.as_slice() >= to) {
                break;
            }
            let page = self
                .pc
                .get(*pid)?
                .ok_or_else(|| corrupt("a leaf is free"))?;
            let Node::Leaf(map) = page.value() else {
                return Err(corrupt("an index entry names a page that is not a leaf"));
            };
            let end = to.map_or(Bound::Unbounded, Bound::Excluded);
            for (k, v) in map.range::<[u8], _>((Bound::Included(from), end)) {
                out.push((k.clone(), v.clone()));
            }
        }
        Ok(out)
    }

    /// Leaves in the index.
    pub fn leaves(&self) -> Result<usize> {
        Ok(self.index()?.1.len())
    }

    /// Makes every change so far durable.
    pub fn flush(&self) -> Result<()> {
        self.pc.flush()
    }

    /// Flushes and closes.
    pub fn close(self) -> Result<()> {
        self.pc.close()
    }

    /// Drops the store without flushing, as a crash would (for tests).
    pub fn abandon(self) {
        self.pc.abandon()
    }
}

/// About the encoded size of a leaf (what a consolidation writes).
fn leaf_bytes(page: &PageRef<Node>) -> usize {
    match page.value() {
        Node::Leaf(map) => {
            5 + map
                .iter()
                .map(|(k, v)| 8 + k.len() + v.len())
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// A page that breaks the store's layout: damage, or pages not written by it.
fn corrupt(what: &str) -> Error {
    Error::corruption("kv", 0, format!("the store's pages: {what}"))
}
