//! The page cache's part of the failpoint crash suite (`tests/failpoints.rs` holds the
//! single test that runs both): a seeded page-cache workload (allocate, link, replace,
//! free, get through a cache too small to keep every page, named roots, ids, flushes,
//! snapshots on demand and every 1,536 bytes, inline garbage collection every 8
//! updates, closes and power cuts) whose every storage call, its own (`pagecache.conf`) and the
//! log's beneath it, the suite cuts the power at in turn.
//!
//! After every power cut the page cache is reopened and checked against a model: the
//! pages and roots it recovered must equal the model's state after some operation at
//! or past the last acknowledged flush or close (one cut, as one thread's operations
//! are in lsn order); an operation that failed because the power was cut may or may
//! not have landed; and every id `generate_id` returned exceeds every earlier one,
//! across every cut (I6). An error on a live disk fails the suite.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use pagelog::io::SimStorage;
use pagelog::pagecache::FIRST_PAGE;
use pagelog::{BatchUpdate, Config, Error, PageBatch, PageCache, PageRef, SegmentMode, Update};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Pages of bytes; a delta is appended (order-sensitive).
pub use pagelog::AppendBytes as Bytes;

fn config() -> Config {
    Config {
        segment_size_bytes: 512,
        io_buf_size_bytes: 512,
        io_bufs: 3,
        blob_threshold_bytes: 96,
        segment_mode: SegmentMode::Gc,
        consolidate_after_deltas: 3,
        cache_capacity_bytes: 300,
        snapshot_every_bytes: 1536,
        gc_every_updates: 8,
        cleanup_threshold_pct: 80,
        ..Config::default()
    }
}

/// One step of the page-cache workload.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    Allocate {
        len: usize,
    },
    Link {
        which: usize,
        len: usize,
    },
    Replace {
        which: usize,
        len: usize,
    },
    Free {
        which: usize,
    },
    Get {
        which: usize,
    },
    SetRoot {
        which: usize,
    },
    GenerateId,
    /// An atomic batch: a link to the page `which` picks and a replace of the next.
    Batch {
        which: usize,
        len: usize,
    },
    Flush,
    /// `PageCache::snapshot` (snapshots are also taken by themselves every 1,536
    /// bytes of stable log).
    Snapshot,
    /// `PageCache::maintenance`: a garbage collection round (rounds also run inline,
    /// but an incarnation is often too short for one).
    Maintenance,
    Crash,
    Close,
}

/// The seeded workload.
pub fn workload(seed: u64) -> Vec<Op> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..160)
        .map(|_| {
            let which = rng.random_range(0..64);
            let len = rng.random_range(1..130);
            match rng.random_range(0..47) {
                0..=5 => Op::Allocate { len },
                6..=15 => Op::Link {
                    which,
                    len: len / 4,
                },
                16..=18 => Op::Replace { which, len },
                19 | 20 => Op::Free { which },
                21..=26 => Op::Get { which },
                27 | 28 => Op::SetRoot { which },
                29..=31 => Op::GenerateId,
                32..=35 => Op::Flush,
                36 | 37 => Op::Crash,
                38..=40 => Op::Batch { which, len },
                41 | 42 => Op::Snapshot,
                45 | 46 => Op::Maintenance,
                _ => Op::Close,
            }
        })
        .collect()
}

type Pages = BTreeMap<u64, Vec<u8>>;

/// The model after one operation.
#[derive(Debug, Clone, Default, PartialEq)]
struct State {
    pages: Pages,
    roots: BTreeMap<String, u64>,
}

/// One run of the workload, with at most one armed failpoint crash (the suite arms it
/// through [`Run::disk`]).
pub struct Run {
    /// The disk now running (replaced at every power cut).
    pub disk: Arc<Mutex<SimStorage>>,
    /// States since the last acknowledgement (first: at it).
    states: Vec<State>,
    /// A page an allocate that failed may have left, with this value, at an id the
    /// model cannot know.
    maybe_allocated: Option<Vec<u8>>,
    top_id: Option<u64>,
    at: usize,
    label: String,
    /// Pages garbage collection rewrote, over every incarnation.
    pub gc_rewrites: u64,
    /// Snapshots written, over every incarnation.
    pub snapshots: u64,
}

impl Run {
    pub fn new(seed: u64, label: String) -> Run {
        Run {
            disk: Arc::new(Mutex::new(SimStorage::new(seed))),
            states: vec![State::default()],
            maybe_allocated: None,
            top_id: None,
            at: 0,
            label,
            gc_rewrites: 0,
            snapshots: 0,
        }
    }

    fn current(&self) -> SimStorage {
        self.disk.lock().expect("disk slot").clone()
    }

    fn power_cut(&mut self) {
        let mut d = self.disk.lock().expect("disk slot");
        *d = d.crash();
    }

    fn last(&self) -> &State {
        self.states.last().expect("a state")
    }

    /// Runs the workload to its end, checking every recovery.
    pub fn run(&mut self, ops: &[Op]) {
        loop {
            let disk = self.current();
            let pc = match PageCache::open(config(), Arc::new(disk.clone()), Bytes) {
                Ok(pc) => pc,
                Err(e) => {
                    assert!(
                        disk.is_crashed(),
                        "{}: open failed on a live disk: {e}",
                        self.label
                    );
                    self.power_cut();
                    continue;
                }
            };
            if !self.check(&pc, &disk) {
                pc.abandon();
                self.power_cut();
                continue;
            }
            if self.at == ops.len() {
                pc.abandon();
                return;
            }
            let ended = self.incarnation(&pc, &disk, ops);
            let stats = pc.stats();
            self.gc_rewrites += stats.gc_rewrites;
            self.snapshots += stats.snapshots;
            match ended {
                Some(Op::Close) => self.close(pc, &disk),
                _ => pc.abandon(),
            }
            self.power_cut();
        }
    }

    /// Checks a fresh recovery against the model; false if the power was cut while
    /// reading it back (the next recovery is checked instead).
    fn check(&mut self, pc: &PageCache<Bytes>, disk: &SimStorage) -> bool {
        let top = self
            .states
            .iter()
            .flat_map(|s| s.pages.keys())
            .max()
            .map_or(FIRST_PAGE, |p| p + 1)
            + 2;
        let mut got = State {
            roots: pc.roots(),
            ..State::default()
        };
        for pid in FIRST_PAGE..top {
            match pc.get(pid) {
                Ok(Some(p)) => {
                    got.pages.insert(pid, p.value().clone());
                }
                Ok(None) => {}
                Err(_) if disk.is_crashed() => return false,
                Err(e) => panic!("{}: step {}: get {pid}: {e}", self.label, self.at),
            }
        }
        let found = self.states.contains(&got) || {
            // An allocate the power cut may have landed, at an id the model cannot know.
            let last = self.last();
            self.maybe_allocated.as_ref().is_some_and(|value| {
                let mut without = got.clone();
                without
                    .pages
                    .retain(|pid, v| v != value || last.pages.contains_key(pid));
                without == *last && without.pages.len() + 1 == got.pages.len()
            })
        };
        if !found {
            panic!(
                "{}: step {}: recovered {got:?}, which is no state since the last acknowledgement (newest {:?})",
                self.label,
                self.at,
                self.last()
            );
        }
        // What an open recovered is durable: the baseline from now on.
        self.states = vec![got];
        self.maybe_allocated = None;
        true
    }

    fn close(&mut self, pc: PageCache<Bytes>, disk: &SimStorage) {
        let closed = pc.close();
        if disk.is_crashed() {
            return;
        }
        if let Err(e) = closed {
            panic!("{}: close failed on a live disk: {e}", self.label);
        }
        let now = self.last().clone();
        self.states = vec![now];
    }

    /// Runs steps until a scripted crash or close (returned), or an error (which must
    /// come from a cut).
    fn incarnation(&mut self, pc: &PageCache<Bytes>, disk: &SimStorage, ops: &[Op]) -> Option<Op> {
        while self.at < ops.len() {
            let op = ops[self.at];
            self.at += 1;
            if let Op::Crash | Op::Close = op {
                return Some(op);
            }
            if let Err(e) = self.step(pc, op) {
                assert!(
                    disk.is_crashed(),
                    "{}: step {} ({op:?}) failed on a live disk: {e}",
                    self.label,
                    self.at - 1
                );
                return None;
            }
        }
        None
    }

    /// The live page `which` picks, read and compared with the model.
    fn pick(&self, pc: &PageCache<Bytes>, which: usize) -> Result<Option<PageRef<Vec<u8>>>, Error> {
        let pids: Vec<u64> = self.last().pages.keys().copied().collect();
        if pids.is_empty() {
            return Ok(None);
        }
        let pid = pids[which % pids.len()];
        let page = pc.get(pid)?;
        let page = page.unwrap_or_else(|| panic!("{}: page {pid} is free", self.label));
        assert_eq!(
            page.value(),
            &self.last().pages[&pid],
            "{}: step {}: page {pid}",
            self.label,
            self.at - 1
        );
        Ok(Some(page))
    }

    fn push(&mut self, f: impl FnOnce(&mut State)) {
        let mut next = self.last().clone();
        f(&mut next);
        self.states.push(next);
    }

    fn step(&mut self, pc: &PageCache<Bytes>, op: Op) -> Result<(), Error> {
        let value = |len: usize| -> Vec<u8> { (0..len).map(|i| (self.at * 7 + i) as u8).collect() };
        match op {
            Op::Allocate { len } => {
                let v = value(len);
                self.maybe_allocated = Some(v.clone());
                let page = pc.allocate(v.clone())?;
                self.maybe_allocated = None;
                self.push(|s| {
                    s.pages.insert(page.pid(), v);
                });
            }
            Op::Link { which, len } => {
                let Some(page) = self.pick(pc, which)? else {
                    return Ok(());
                };
                let v = value(len);
                self.push(|s| s.pages.get_mut(&page.pid()).expect("live").extend(&v));
                applied(pc.link(&page, v)?, &self.label);
            }
            Op::Replace { which, len } => {
                let Some(page) = self.pick(pc, which)? else {
                    return Ok(());
                };
                let v = value(len);
                self.push(|s| {
                    s.pages.insert(page.pid(), v.clone());
                });
                applied(pc.replace(&page, v)?, &self.label);
            }
            Op::Free { which } => {
                let Some(page) = self.pick(pc, which)? else {
                    return Ok(());
                };
                self.push(|s| {
                    s.pages.remove(&page.pid());
                });
                applied(pc.free(&page)?, &self.label);
            }
            Op::Get { which } => {
                self.pick(pc, which)?;
            }
            Op::SetRoot { which } => self.set_root(pc, which)?,
            Op::Batch { which, len } => self.batch(pc, which, len)?,
            Op::GenerateId => {
                let id = pc.generate_id()?;
                assert!(
                    self.top_id.is_none_or(|top| id > top),
                    "{}: id {id} after {:?} (I6)",
                    self.label,
                    self.top_id
                );
                self.top_id = Some(id);
            }
            Op::Flush => {
                pc.flush()?;
                let now = self.last().clone();
                self.states = vec![now];
            }
            Op::Snapshot => {
                pc.snapshot()?;
            }
            Op::Maintenance => {
                pc.maintenance()?;
            }
            Op::Crash | Op::Close => unreachable!("handled by the incarnation"),
        }
        Ok(())
    }

    fn batch(&mut self, pc: &PageCache<Bytes>, which: usize, len: usize) -> Result<(), Error> {
        let Some(first) = self.pick(pc, which)? else {
            return Ok(());
        };
        let mut batch = PageBatch::new();
        let delta: Vec<u8> = (0..len / 4).map(|i| (self.at + i) as u8).collect();
        batch.link(&first, delta.clone());
        let mut second = None;
        if self.last().pages.len() > 1 {
            let page = self.pick(pc, which + 1)?.expect("two pages");
            let value: Vec<u8> = (0..len).map(|i| (self.at * 3 + i) as u8).collect();
            batch.replace(&page, value.clone());
            second = Some((page.pid(), value));
        }
        self.push(|s| {
            s.pages.get_mut(&first.pid()).expect("live").extend(&delta);
            if let Some((pid, value)) = second {
                s.pages.insert(pid, value);
            }
        });
        match pc.apply(batch)? {
            BatchUpdate::Applied(_) => Ok(()),
            other => panic!("{}: one thread's batch lost: {other:?}", self.label),
        }
    }

    fn set_root(&mut self, pc: &PageCache<Bytes>, which: usize) -> Result<(), Error> {
        let name = format!("r{}", which % 2);
        let pids: Vec<u64> = self.last().pages.keys().copied().collect();
        let new = (!pids.is_empty()).then(|| pids[which % pids.len()]);
        let old = self.last().roots.get(&name).copied();
        self.push(|s| match new {
            Some(pid) => {
                s.roots.insert(name.clone(), pid);
            }
            None => {
                s.roots.remove(&name);
            }
        });
        let swap = pc.cas_root(&name, old, new)?;
        assert_eq!(swap, Ok(()), "{}: root {name}", self.label);
        Ok(())
    }
}

fn applied<T: std::fmt::Debug>(u: Update<Vec<u8>, T>, label: &str) {
    assert!(
        matches!(u, Update::Applied(_)),
        "{label}: one thread's update lost: {u:?}"
    );
}
