//! Risk: the page cache recovers pages that differ from what was written: a lost
//! acknowledged update, a delta applied twice or out of order, a freed page that
//! comes back, an aborted update (a lost race) that left a fragment behind, an id
//! handed out twice.
//!
//! A seeded quickcheck property drives a `PageCache` on `SimStorage` with random
//! allocate, link, replace, free, get, lost races (updates from stale `PageRef`s),
//! flushes and power cuts, against a model of every page. The test page type is a
//! list of numbers whose merge appends: order-sensitive, so a reordered, dropped or
//! duplicated delta shows. After each recovery the pages must equal the model as it
//! was after some operation at or past the last flush (one cut, since one thread's
//! operations are in lsn order), named roots included; and every id `generate_id`
//! returns exceeds every one it returned before, across every crash. An atomic batch
//! is one operation of the model: recovered whole or not at all.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{Numbers, qc_gen};
use pagelog::io::SimStorage;
use pagelog::pagecache::FIRST_PAGE;
use pagelog::{BatchUpdate, Config, PageBatch, PageCache, PageRef, SegmentMode, Update};
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};

/// One step of a case.
#[derive(Debug, Clone)]
enum Op {
    Allocate {
        len: u8,
    },
    Link {
        which: u8,
        len: u8,
    },
    Replace {
        which: u8,
        len: u8,
    },
    Free {
        which: u8,
    },
    /// An update from a `PageRef` one version old: must lose.
    StaleLink {
        which: u8,
    },
    Get {
        which: u8,
    },
    /// Sets root `name % 3` to the live page `which` picks (or clears it).
    SetRoot {
        name: u8,
        which: u8,
    },
    /// A root swap from a value the root does not hold: must lose.
    StaleRoot {
        name: u8,
    },
    GenerateId,
    /// An atomic batch: links to up to three pages from `which` on, and a replace
    /// of the next when there is one.
    Batch {
        which: u8,
        len: u8,
    },
    Flush,
    Crash,
}

impl Arbitrary for Op {
    fn arbitrary(g: &mut Gen) -> Op {
        let which = u8::arbitrary(g);
        let len = u8::arbitrary(g) % 40;
        match u8::arbitrary(g) % 22 {
            0..=3 => Op::Allocate { len },
            4..=9 => Op::Link { which, len },
            10 | 11 => Op::Replace { which, len },
            12 => Op::Free { which },
            13 => Op::StaleLink { which },
            14 | 15 => Op::Get { which },
            16 | 17 => Op::Flush,
            18 => match u8::arbitrary(g) % 4 {
                0 | 1 => Op::SetRoot { name: len, which },
                2 => Op::StaleRoot { name: len },
                _ => Op::GenerateId,
            },
            19 => Op::Batch { which, len },
            _ => Op::Crash,
        }
    }
}

#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    ops: Vec<Op>,
}

impl Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Case {
        Case {
            seed: u64::arbitrary(g),
            ops: Vec::arbitrary(g),
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Case>> {
        let seed = self.seed;
        Box::new(self.ops.shrink().map(move |ops| Case { seed, ops }))
    }
}

type Pages = BTreeMap<u64, Vec<u32>>;

/// The model after one operation: pages and named roots.
#[derive(Debug, Clone, Default, PartialEq)]
struct State {
    pages: Pages,
    roots: BTreeMap<String, u64>,
}

fn root_name(name: u8) -> String {
    format!("root-{}", name % 3)
}

fn config(seed: u64) -> Config {
    let small = seed % 2 == 0;
    Config {
        segment_size_bytes: if small { 1024 } else { 4096 },
        io_buf_size_bytes: if small { 1024 } else { 4096 },
        io_bufs: 2,
        blob_threshold_bytes: 100,
        segment_mode: if seed % 3 == 0 {
            SegmentMode::Linear
        } else {
            SegmentMode::Gc
        },
        consolidate_after_deltas: 1 + (seed % 5) as usize,
        // No page resident, a few, or all: page-outs and checked reads back.
        cache_capacity_bytes: [0, 600, 1 << 30][(seed % 7 % 3) as usize],
        ..Config::default()
    }
}

struct Run {
    disk: SimStorage,
    pc: PageCache<Numbers>,
    config: Config,
    /// The model after each operation since the last flush (first: at it).
    states: Vec<State>,
    /// The highest id `generate_id` has returned, across every crash.
    top_id: Option<u64>,
    /// Numbers handed out, so every value is unique.
    counter: u32,
}

impl Run {
    fn model(&self) -> &Pages {
        &self.states.last().expect("a state").pages
    }

    fn values(&mut self, len: u8) -> Vec<u32> {
        let v = (0..u32::from(len)).map(|i| self.counter + i).collect();
        self.counter += u32::from(len);
        v
    }

    /// The live page the `which`-th pick names, with its `PageRef`.
    fn pick(&self, which: u8) -> Result<Option<PageRef<Vec<u32>>>, String> {
        let pids: Vec<u64> = self.model().keys().copied().collect();
        if pids.is_empty() {
            return Ok(None);
        }
        self.pick_pid(pids[usize::from(which) % pids.len()])
            .map(Some)
    }

    /// The live page `pid`, checked against the model.
    fn pick_pid(&self, pid: u64) -> Result<PageRef<Vec<u32>>, String> {
        let got = self.pc.get(pid).map_err(|e| format!("get {pid}: {e}"))?;
        let got = got.ok_or(format!("page {pid} is live in the model but free"))?;
        if got.value() != &self.model()[&pid] {
            return Err(format!(
                "page {pid}: {:?}, model {:?}",
                got.value(),
                self.model()[&pid]
            ));
        }
        Ok(got)
    }

    fn push(&mut self, f: impl FnOnce(&mut Pages)) {
        self.push_state(|s| f(&mut s.pages));
    }

    fn push_state(&mut self, f: impl FnOnce(&mut State)) {
        let mut next = self.states.last().expect("a state").clone();
        f(&mut next);
        self.states.push(next);
    }

    fn roots(&self) -> &BTreeMap<String, u64> {
        &self.states.last().expect("a state").roots
    }

    fn set_root(&mut self, name: u8, which: u8) -> Result<(), String> {
        let name = root_name(name);
        let pids: Vec<u64> = self.model().keys().copied().collect();
        let new = (!pids.is_empty()).then(|| pids[usize::from(which) % pids.len()]);
        let old = self.roots().get(&name).copied();
        let swap = self
            .pc
            .cas_root(&name, old, new)
            .map_err(|e| e.to_string())?;
        if swap != Ok(()) {
            return Err(format!(
                "root {name}: a swap from the current value lost: {swap:?}"
            ));
        }
        if self.pc.root(&name) != new {
            return Err(format!(
                "root {name} reads {:?} after set to {new:?}",
                self.pc.root(&name)
            ));
        }
        self.push_state(|s| match new {
            Some(pid) => {
                s.roots.insert(name, pid);
            }
            None => {
                s.roots.remove(&name);
            }
        });
        Ok(())
    }

    fn stale_root(&mut self, name: u8) -> Result<(), String> {
        let name = root_name(name);
        let current = self.roots().get(&name).copied();
        let wrong = Some(current.map_or(1, |p| p + 1));
        let swap = self
            .pc
            .cas_root(&name, wrong, Some(3))
            .map_err(|e| e.to_string())?;
        if swap != Err(current) {
            return Err(format!("root {name}: a swap from {wrong:?} gave {swap:?}"));
        }
        Ok(())
    }

    fn batch(&mut self, which: u8, len: u8) -> Result<(), String> {
        let pids: Vec<u64> = self.model().keys().copied().collect();
        if pids.is_empty() {
            return Ok(());
        }
        let n = pids.len().min(4);
        let mut batch = PageBatch::new();
        let mut changes = Vec::new();
        for k in 0..n {
            let pid = pids[(usize::from(which) + k) % pids.len()];
            let page = self.pick_pid(pid)?;
            let v = self.values(len);
            if k == 3 {
                batch.replace(&page, v.clone());
                changes.push((pid, None, v));
            } else {
                batch.link(&page, v.clone());
                changes.push((pid, Some(()), v));
            }
        }
        match self.pc.apply(batch).map_err(|e| e.to_string())? {
            BatchUpdate::Applied(_) => {}
            other => return Err(format!("one thread's batch lost: {other:?}")),
        }
        self.push(|m| {
            for (pid, link, v) in changes {
                match link {
                    Some(()) => m.get_mut(&pid).expect("live").extend(v),
                    None => {
                        m.insert(pid, v);
                    }
                }
            }
        });
        Ok(())
    }

    fn generate_id(&mut self) -> Result<(), String> {
        let id = self.pc.generate_id().map_err(|e| e.to_string())?;
        if self.top_id.is_some_and(|top| id <= top) {
            return Err(format!("id {id} after {:?} (I6)", self.top_id));
        }
        self.top_id = Some(id);
        Ok(())
    }

    fn step(&mut self, op: &Op) -> Result<(), String> {
        match *op {
            Op::Allocate { len } => {
                let v = self.values(len);
                let got = self.pc.allocate(v.clone()).map_err(|e| e.to_string())?;
                if got.pid() < FIRST_PAGE || self.model().contains_key(&got.pid()) {
                    return Err(format!("allocate handed out page {} again", got.pid()));
                }
                self.push(|m| {
                    m.insert(got.pid(), v);
                });
            }
            Op::Link { which, len } => {
                let Some(old) = self.pick(which)? else {
                    return Ok(());
                };
                let v = self.values(len);
                let u = self.pc.link(&old, v.clone()).map_err(|e| e.to_string())?;
                applied(&u)?;
                self.push(|m| m.get_mut(&old.pid()).expect("live").extend(v));
            }
            Op::Replace { which, len } => {
                let Some(old) = self.pick(which)? else {
                    return Ok(());
                };
                let v = self.values(len);
                let u = self
                    .pc
                    .replace(&old, v.clone())
                    .map_err(|e| e.to_string())?;
                applied(&u)?;
                self.push(|m| {
                    m.insert(old.pid(), v);
                });
            }
            Op::Free { which } => {
                let Some(old) = self.pick(which)? else {
                    return Ok(());
                };
                let u = self.pc.free(&old).map_err(|e| e.to_string())?;
                applied(&u)?;
                self.push(|m| {
                    m.remove(&old.pid());
                });
            }
            Op::StaleLink { which } => self.stale_link(which)?,
            Op::SetRoot { name, which } => self.set_root(name, which)?,
            Op::StaleRoot { name } => self.stale_root(name)?,
            Op::GenerateId => self.generate_id()?,
            Op::Batch { which, len } => self.batch(which, len)?,
            Op::Get { which } => {
                self.pick(which)?;
            }
            Op::Flush => {
                self.pc.flush().map_err(|e| e.to_string())?;
                let now = self.states.last().expect("a state").clone();
                self.states = vec![now];
            }
            Op::Crash => self.crash()?,
        }
        Ok(())
    }

    /// Links to a page through a `PageRef` taken before another link: must lose,
    /// hand back the current page and the delta, and leave nothing in the log.
    fn stale_link(&mut self, which: u8) -> Result<(), String> {
        let Some(old) = self.pick(which)? else {
            return Ok(());
        };
        let v = self.values(2);
        let u = self.pc.link(&old, v.clone()).map_err(|e| e.to_string())?;
        applied(&u)?;
        self.push(|m| m.get_mut(&old.pid()).expect("live").extend(v));
        let lost = self
            .pc
            .link(&old, vec![u32::MAX])
            .map_err(|e| e.to_string())?;
        match lost {
            Update::Lost {
                current: Some(now),
                rejected,
            } => {
                if rejected != [u32::MAX] || now.value() != &self.model()[&old.pid()] {
                    return Err(format!(
                        "lost race returned {:?} / {rejected:?}",
                        now.value()
                    ));
                }
                Ok(())
            }
            other => Err(format!("a stale link did not lose: {other:?}")),
        }
    }

    fn crash(&mut self) -> Result<(), String> {
        let next = self.disk.crash();
        self.disk = next;
        let pc = PageCache::open(self.config.clone(), Arc::new(self.disk.clone()), Numbers)
            .map_err(|e| format!("reopen: {e}"))?;
        std::mem::replace(&mut self.pc, pc).abandon();
        let top = self
            .states
            .iter()
            .flat_map(|s| s.pages.keys())
            .max()
            .map_or(FIRST_PAGE, |p| p + 1);
        let mut got = State {
            roots: self.pc.roots(),
            ..State::default()
        };
        for pid in 0..top {
            if let Some(p) = self.pc.get(pid).map_err(|e| format!("get {pid}: {e}"))? {
                got.pages.insert(pid, p.value().clone());
            }
        }
        let Some(cut) = self.states.iter().position(|s| *s == got) else {
            return Err(format!(
                "recovered {got:?}, which is no state since the last flush ({} states; newest {:?})",
                self.states.len(),
                self.model()
            ));
        };
        self.states = vec![self.states[cut].clone()];
        Ok(())
    }
}

fn applied<T: std::fmt::Debug>(u: &Update<Vec<u32>, T>) -> Result<(), String> {
    match u {
        Update::Applied(_) => Ok(()),
        other => Err(format!("one thread's update lost a race: {other:?}")),
    }
}

static CRASHES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn run_case(case: &Case) -> Result<(), String> {
    let disk = SimStorage::new(case.seed);
    let config = config(case.seed);
    let pc = PageCache::open(config.clone(), Arc::new(disk.clone()), Numbers)
        .map_err(|e| e.to_string())?;
    let mut run = Run {
        disk,
        pc,
        config,
        states: vec![State::default()],
        top_id: None,
        counter: 0,
    };
    for op in &case.ops {
        run.step(op).map_err(|e| format!("{op:?}: {e}"))?;
        if matches!(op, Op::Crash) {
            CRASHES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    run.crash().map_err(|e| format!("final crash: {e}"))
}

fn prop(case: Case) -> TestResult {
    match run_case(&case) {
        Ok(()) => TestResult::passed(),
        Err(e) => TestResult::error(format!("seed {}: {e}", case.seed)),
    }
}

#[test]
fn recovered_pages_equal_the_model_at_a_cut_past_the_last_flush() {
    QuickCheck::new()
        .tests(300)
        .rng(qc_gen(80))
        .quickcheck(prop as fn(Case) -> TestResult);
    let crashes = CRASHES.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        crashes > 500,
        "only {crashes} crashes: the property ran too little"
    );
}
