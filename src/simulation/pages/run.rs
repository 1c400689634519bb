//! One page seed: open, check against the model, run an incarnation of logical
//! clients, crash (between steps or inside one) or close, and again; a last power
//! cut, recovery and check at the end. The steps come from a plan (`plan.rs`): the
//! seed's own, or one a replay or the shrinker gives.
//!
//! The clients keep the `PageRef`s they last saw and update through them, so a
//! client working from a stale get loses its compare-and-swap to another's update;
//! every call is a non-blocking `try_` call, except `flush`, `maintenance`,
//! `snapshot` and `compact`, which have none (they wait for nothing another client
//! holds: no client keeps a log claim between steps). Reads compare with the model's
//! newest state at once; recoveries with the model's cuts (`model.rs`). A power cut
//! armed inside an operation lands in a storage call some steps later, inside a
//! snapshot, a garbage-collection round or an update (each is counted).
//!
//! An IO error poisons the instance; the run then cuts the power (a reboot: a page
//! cache reopened in the same boot after a failed fsync could read bytes that are
//! not durable) and recovers. Recovery and the checks run with runtime faults
//! paused after three failed opens, as the log seeds do.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::materializer::{SimBytes, SimPage};
use super::model::{Matched, PageModel, PageState};
use super::plan::{PageOp, PageStep, generate_pages};
use super::report::{PageCounts, PageReport};
use super::scenario::PageScenario;
use crate::error::Error;
use crate::io::{FaultRates, FaultSite, SimStorage, Storage};
use crate::log::aborted::AbortedMessage;
use crate::pagecache::{PageCache, PageId, PageRef, RESIDENT_OVERHEAD_BYTES};
use crate::simulation::forge::forge_back;
use crate::simulation::oracle::{Invariant, Violation};
use crate::simulation::report::Outcome;
use crate::simulation::scenario::Liar;

pub(super) type Pc = PageCache<SimBytes>;
pub(super) type Ref = PageRef<SimPage>;

/// Runs the page seed `s` (its own plan, faults wherever the seed draws them).
/// Never panics: an engine panic is a violation.
pub fn run_pages(s: &PageScenario) -> PageReport {
    run_page_plan(s, &generate_pages(s), None)
}

/// Runs `plan` under `s`; with `sites`, runtime faults fire only at those sites
/// (`op:file#n`, see [`FaultSite`]), as a page regression test replays them.
pub fn run_page_plan(
    s: &PageScenario,
    plan: &[PageStep],
    sites: Option<&[FaultSite]>,
) -> PageReport {
    run_page_plan_traced(s, plan, sites, false)
}

/// [`run_page_plan`], keeping a line per step, open and power cut in the report's
/// `trace` when `verbose` (what `replay --pages --verbose` prints). The lines
/// change nothing the run does.
pub fn run_page_plan_traced(
    s: &PageScenario,
    plan: &[PageStep],
    sites: Option<&[FaultSite]>,
    verbose: bool,
) -> PageReport {
    let mut counts = PageCounts::default();
    let mut trace = Trace::default();
    let mut run = Run::new(s, plan, &mut counts, &mut trace);
    run.lines = verbose.then(Vec::new);
    if let Some(sites) = sites {
        run.disk
            .set_fault_sites(Some(sites.iter().cloned().collect()));
    }
    // The run stays outside the unwind: after an engine panic its fault sites and
    // trace lines still reach the report (the shrinker needs the sites).
    let outcome = catch_unwind(AssertUnwindSafe(|| run.all()))
        .unwrap_or_else(|panic| Outcome::panicked(panic.as_ref(), run.at));
    let injected_sites = run.disk.injected_sites();
    let lines = run.lines.take().unwrap_or_default();
    PageReport {
        seed: s.seed,
        outcome,
        counts,
        trace_hash: trace.0,
        injected_sites,
        trace: lines,
    }
}

/// A running hash of the steps (FNV-1a over each operation, its outcome and the
/// stable lsn after it) and of the simulated disk's own trace at every power cut and
/// at the end.
#[derive(Debug)]
struct Trace(u64);

impl Default for Trace {
    fn default() -> Self {
        Trace(0xcbf2_9ce4_8422_2325)
    }
}

impl Trace {
    fn add(&mut self, n: u64) {
        for b in n.to_le_bytes() {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// How an incarnation ended.
#[derive(Debug)]
pub(super) enum End {
    Done,
    Crash,
    CrashInside,
    Close,
    Poisoned,
    Corrupted(String),
    Violation(Violation),
}

/// One page seed's state across incarnations.
pub(super) struct Run<'a> {
    pub(super) s: &'a PageScenario,
    /// The steps, and the index of the next one.
    plan: &'a [PageStep],
    at: usize,
    disk: SimStorage,
    pub(super) model: PageModel,
    /// The current step's choices, seeded by its `pick`.
    pub(super) rng: ChaCha8Rng,
    pub(super) counts: &'a mut PageCounts,
    trace: &'a mut Trace,
    /// Every page id any client ever saw.
    pub(super) seen: Vec<PageId>,
    /// Sync errors the disk had injected as of the last power cut.
    sync_errors_seen: u64,
    /// The open instance's counters as last added to `counts` (`tally`).
    tallied: [u64; 6],
    /// The resurrecting liar's aborted messages, kept since the last power cut.
    aborted: Vec<AbortedMessage>,
    /// The trace's lines, when kept.
    lines: Option<Vec<String>>,
}

impl<'a> Run<'a> {
    fn new(
        s: &'a PageScenario,
        plan: &'a [PageStep],
        counts: &'a mut PageCounts,
        trace: &'a mut Trace,
    ) -> Run<'a> {
        let mut sim = s.base.sim.clone();
        sim.lying_sync = s.base.pins.liar == Liar::Sync;
        let disk = SimStorage::with_config(s.seed, sim).expect("a drawn sim config is valid");
        Run {
            s,
            plan,
            at: 0,
            disk,
            model: PageModel::default(),
            rng: ChaCha8Rng::seed_from_u64(0),
            counts,
            trace,
            seen: Vec::new(),
            sync_errors_seen: 0,
            tallied: [0; 6],
            aborted: Vec::new(),
            lines: None,
        }
    }

    fn all(&mut self) -> Outcome {
        loop {
            let pc = match self.open() {
                Ok(pc) => pc,
                Err(outcome) => return outcome,
            };
            self.tallied = [0; 6];
            match self.check(&pc) {
                Ok(true) => {}
                Ok(false) => {
                    // A power cut armed earlier landed in the check's reads: what
                    // the open recovered stands (the model still holds it); reboot.
                    pc.abandon();
                    self.counts.crashes_inside += 1;
                    self.power_cut();
                    continue;
                }
                Err(outcome) => return outcome,
            }
            if self.at >= self.plan.len() {
                pc.abandon();
                self.trace.add(self.disk.trace_hash());
                return Outcome::Pass;
            }
            let end = self.incarnation(&pc);
            self.trace.add(end_code(&end));
            match end {
                End::Violation(v) => {
                    pc.abandon();
                    return self.violation(v);
                }
                End::Corrupted(why) => {
                    pc.abandon();
                    self.counts.corruption_reported += 1;
                    return Outcome::CorruptionReported(why);
                }
                End::Close => self.close(pc),
                End::Done | End::Crash => {
                    self.counts.crashes_between += 1;
                    pc.abandon();
                    self.power_cut();
                }
                End::CrashInside => {
                    pc.abandon();
                    self.power_cut();
                }
                End::Poisoned => {
                    self.counts.poisonings += 1;
                    pc.abandon();
                    self.power_cut();
                }
            }
        }
    }

    /// Durable damage happened: a flipped bit, a damaged header, a misdirected write
    /// or a sector gone bad. Acknowledged data may then be lost and recovery may
    /// report Corruption or an IO error; it must still never return wrong data.
    fn damage(&self) -> bool {
        let s = self.disk.stats();
        s.bit_flips + s.header_damage + s.misdirected_writes + s.read_eio > 0
    }

    /// Keeps a line of the trace, if lines are kept.
    fn note(&mut self, line: impl FnOnce() -> String) {
        if let Some(lines) = self.lines.as_mut() {
            lines.push(line());
        }
    }

    /// Cuts the power: the disk boots what was durable (and the resurrecting liar
    /// puts aborted messages back).
    fn power_cut(&mut self) {
        self.note(|| "      power cut".to_string());
        self.trace.add(self.disk.trace_hash());
        self.disk = self.disk.crash();
        self.sync_errors_seen = self.disk.stats().sync_eio;
        if self.resurrecting() {
            let aborted = std::mem::take(&mut self.aborted);
            let segment = self.s.config.segment_size_bytes;
            self.counts.forged += forge_back(&self.disk, &aborted, segment);
        }
    }

    fn resurrecting(&self) -> bool {
        self.s.base.pins.liar == Liar::Resurrect
    }

    fn violation(&self, violation: Violation) -> Outcome {
        Outcome::Violation {
            step: self.at,
            violation,
        }
    }

    /// A clean close: its flush is an acknowledgement. A failure poisons, and a
    /// power cut armed earlier may land in it.
    fn close(&mut self, pc: Pc) {
        let closed = pc.close().is_ok();
        if self.disk.is_crashed() {
            self.counts.crashes_inside += 1;
            self.power_cut();
        } else if closed {
            self.model.ack();
            self.counts.acks += 1;
            self.counts.clean_closes += 1;
        } else {
            self.counts.poisonings += 1;
            self.power_cut();
        }
    }

    /// Opens the page cache, retrying injected IO errors (faults paused after three).
    fn open(&mut self) -> Result<Pc, Outcome> {
        let mut failures = 0;
        loop {
            // After a failed fsync the page cache is reopened only after a reboot:
            // the OS may show bytes it dropped (README, "IO errors").
            if self.disk.stats().sync_eio > self.sync_errors_seen {
                self.power_cut();
            }
            let paused = failures >= 3;
            let faults = self.disk.config().faults;
            if paused {
                let _ = self.disk.set_faults(FaultRates::default());
            }
            let storage: Arc<dyn Storage> = Arc::new(self.disk.clone());
            let m = SimBytes {
                wrong: self.s.base.pins.wrong_materializer,
            };
            let result = PageCache::open(self.s.config.clone(), storage, m);
            if paused {
                let _ = self.disk.set_faults(faults);
            }
            match result {
                Ok(pc) => {
                    if self.resurrecting() {
                        pc.log().keep_aborted();
                    }
                    return Ok(pc);
                }
                Err(_) if self.disk.is_crashed() => {
                    self.counts.crashes_inside += 1;
                    self.power_cut();
                }
                Err(e @ (Error::Io { .. } | Error::Poisoned { .. }))
                    if failures < 3 && !e.is_corruption() =>
                {
                    failures += 1
                }
                Err(e) if self.damage() && (e.is_corruption() || e.io_kind().is_some()) => {
                    self.counts.corruption_reported += 1;
                    return Err(Outcome::CorruptionReported(e.to_string()));
                }
                Err(e) => {
                    let v = Violation::new(Invariant::Open, format!("open failed: {e}"));
                    return Err(self.violation(v));
                }
            }
        }
    }

    /// Checks a fresh recovery against the model, with runtime faults paused; false
    /// if a power cut landed in it.
    fn check(&mut self, pc: &Pc) -> Result<bool, Outcome> {
        self.counts.recoveries += 1;
        let stats = pc.stats();
        self.counts.from_snapshot += u64::from(stats.open_snapshot.is_some());
        self.counts.snapshot_fallbacks += u64::from(stats.open_snapshots_skipped > 0);
        let faults = self.disk.config().faults;
        let _ = self.disk.set_faults(FaultRates {
            enospc_quota_bytes: faults.enospc_quota_bytes,
            ..FaultRates::default()
        });
        let result = self.check_state(pc);
        let _ = self.disk.set_faults(faults);
        self.note(|| {
            let from = match stats.open_snapshot {
                Some(_) => "from a snapshot",
                None => "by a full replay",
            };
            format!(
                "      open: {} pages, {} roots, recovered {from}; checked: {}",
                pc.page_ids().len(),
                pc.roots().len(),
                if result.is_ok() { "ok" } else { "no" }
            )
        });
        match result {
            Ok(()) => Ok(true),
            Err(_) if self.disk.is_crashed() => Ok(false),
            Err(Checked::Corrupted(why)) => {
                self.counts.corruption_reported += 1;
                Err(Outcome::CorruptionReported(why))
            }
            Err(Checked::Violation(v)) => Err(self.violation(v)),
        }
    }

    fn check_state(&mut self, pc: &Pc) -> Result<(), Checked> {
        let got = self.read_all(pc)?;
        match self.model.recovered(&got, self.damage()) {
            Ok(Matched::Cut) => {}
            Ok(Matched::LostAcked) => self.counts.lost_acked += 1,
            Err(v) => return Err(Checked::Violation(v)),
        }
        self.seen.extend(got.pages.keys().copied());
        self.seen.sort_unstable();
        self.seen.dedup();
        let id = pc
            .generate_id()
            .map_err(|e| self.error(e, "generate_id after an open"))?;
        if self.model.max_id.is_some_and(|max| id <= max) && self.damage() {
            // A lease lost with the newest writes: as lost acknowledged data.
            self.counts.lost_acked += 1;
        } else if self.model.max_id.is_some_and(|max| id <= max) {
            return Err(Checked::Violation(Violation::new(
                Invariant::I6,
                format!(
                    "generate_id gave {id} after a recovery, not above {:?}",
                    self.model.max_id
                ),
            )));
        }
        self.model.max_id = Some(id);
        Ok(())
    }

    /// Every page and root the recovered page cache holds.
    fn read_all(&mut self, pc: &Pc) -> Result<PageState, Checked> {
        let mut got = PageState {
            roots: pc.roots(),
            ..PageState::default()
        };
        // The ids the table lists, and those the model knows (which must read as
        // free when the table does not list them).
        let mut ids = pc.page_ids();
        ids.extend(&self.seen);
        ids.sort_unstable();
        ids.dedup();
        for pid in ids {
            let page = pc
                .get(pid)
                .map_err(|e| self.error(e, "a read after an open"))?;
            if let Some(page) = page {
                got.pages.insert(pid, page.value().bytes.clone());
            }
        }
        Ok(got)
    }

    /// An error from a check's call: damage reported, or a violation.
    fn error(&self, e: Error, what: &str) -> Checked {
        if self.damage() && (e.is_corruption() || e.io_kind().is_some()) {
            return Checked::Corrupted(format!("{what}: {e}"));
        }
        Checked::Violation(Violation::new(Invariant::Read, format!("{what}: {e}")))
    }

    fn incarnation(&mut self, pc: &Pc) -> End {
        let mut clients: Vec<Vec<Ref>> = vec![Vec::new(); usize::from(self.s.clients.max(1))];
        loop {
            let Some(&step) = self.plan.get(self.at) else {
                return End::Done;
            };
            self.at += 1;
            let (op, client, pick) = match step {
                PageStep::Crash => return End::Crash,
                PageStep::CrashInside { calls } => {
                    self.disk.crash_after(u64::from(calls));
                    continue;
                }
                PageStep::Op { op, client, pick } => (op, client, pick),
            };
            self.counts.steps += 1;
            self.rng = ChaCha8Rng::seed_from_u64(u64::from(pick));
            let c = usize::from(client) % clients.len();
            let before = pc.stats();
            let result = self.op(pc, op, &mut clients[c]);
            if self.resurrecting() {
                self.aborted.extend(pc.log().take_aborted());
            }
            self.trace.add(op.code());
            self.trace.add(match &result {
                Ok(_) => pc.log().stable_lsn(),
                Err(Error::WouldBlock) => u64::MAX,
                Err(_) => u64::MAX - 1,
            });
            let at = self.at - 1;
            self.note(|| {
                let what = match &result {
                    Ok(None) => "ok".to_string(),
                    Ok(Some(end)) => format!("{end:?}"),
                    Err(e) => e.to_string(),
                };
                let stable = pc.log().stable_lsn();
                format!("{at:>5} {step} {op:?}: {what} (stable lsn {stable})")
            });
            if self.disk.is_crashed() {
                self.count_crash_inside(op, &before, pc);
                return End::CrashInside;
            }
            match result {
                Ok(Some(end)) => return end,
                Ok(None) => {}
                Err(Error::WouldBlock) => self.counts.would_block += 1,
                Err(e) if e.is_corruption() && self.damage() => {
                    return End::Corrupted(e.to_string());
                }
                Err(e @ (Error::Io { .. } | Error::Poisoned { .. })) if !e.is_corruption() => {
                    return End::Poisoned;
                }
                Err(e) => {
                    let v = Violation::new(Invariant::Error, format!("{op:?}: {e}"));
                    return End::Violation(v);
                }
            }
            if let Err(v) = self.resident_within(pc) {
                return End::Violation(v);
            }
            self.tally(pc);
        }
    }

    /// Which work a power cut inside `op` landed in.
    fn count_crash_inside(&mut self, op: PageOp, before: &crate::PageCacheStats, pc: &Pc) {
        self.counts.crashes_inside += 1;
        let after = pc.stats();
        let snapshotting = op == PageOp::Snapshot || after.snapshots > before.snapshots;
        let collecting = matches!(op, PageOp::Maintenance | PageOp::Compact)
            || after.gc_rewrites > before.gc_rewrites;
        self.counts.crashes_in_snapshot += u64::from(snapshotting);
        self.counts.crashes_in_gc += u64::from(collecting);
        self.tally(pc);
    }

    /// Adds the instance's counters (they count since its open) at each step; the
    /// campaign wants totals, so only the growth is added.
    fn tally(&mut self, pc: &Pc) {
        let s = pc.stats();
        let c = &mut *self.counts;
        let last = &mut self.tallied;
        let mut grow = |i: usize, total: &mut u64, now: u64| {
            *total += now.saturating_sub(last[i]);
            last[i] = now;
        };
        grow(0, &mut c.snapshots, s.snapshots);
        grow(1, &mut c.gc_rewrites, s.gc_rewrites);
        grow(2, &mut c.page_outs, s.evictions);
        grow(3, &mut c.page_ins, s.page_ins);
        grow(4, &mut c.consolidations, s.consolidations);
        grow(5, &mut c.frees_dropped, s.free_records_dropped);
    }

    /// The cache's count of resident bytes stays within its capacity (plus the page
    /// being read in).
    fn resident_within(&self, pc: &Pc) -> Result<(), Violation> {
        let largest = self
            .model
            .now()
            .pages
            .values()
            .map(Vec::len)
            .max()
            .unwrap_or(0) as u64;
        let most = self.s.config.cache_capacity_bytes + largest + RESIDENT_OVERHEAD_BYTES;
        let resident = pc.stats().resident_bytes;
        match resident <= most {
            true => Ok(()),
            false => Err(Violation::new(
                Invariant::Read,
                format!("{resident} bytes resident, over the capacity's bound {most}"),
            )),
        }
    }
}

/// Why a check stopped.
enum Checked {
    Corrupted(String),
    Violation(Violation),
}

fn end_code(end: &End) -> u64 {
    match end {
        End::Done => 1,
        End::Crash => 2,
        End::CrashInside => 3,
        End::Close => 4,
        End::Poisoned => 5,
        End::Corrupted(_) => 6,
        End::Violation(_) => 7,
    }
}
