//! One seeded run: open, check, run an incarnation, crash or reopen, and again, until
//! the plan ends; then a last power cut, recovery and check.
//!
//! Recovery happens with the scenario's faults still on; an open that fails on an
//! injected IO error is retried, and after three failures the faults are paused for
//! one open (recovery must succeed on a disk that works). A power cut armed inside
//! an operation may land inside the next recovery, which is then crashed and rerun.
//!
//! After a sync error the disk is rebooted (a power cut) before the next open. A
//! failed fsync drops the dirty data while reads still show it (fsyncgate): a log
//! reopened in the same boot would recover from bytes that are not durable and vouch
//! for them. pagelog documents the same rule for its users: after an fsync error,
//! reopen only after the OS page cache is gone (a reboot), as PostgreSQL does.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::RecoveryMode;
use crate::error::Error;
use crate::io::{FaultRates, SimStorage, Storage};
use crate::log::aborted::AbortedMessage;
use crate::log::recovery::Branches;
use crate::log::{LOG_FILE, Log, Lsn};

use super::clients::{End, incarnation};
use super::forge::forge_back;
use super::oracle::{Invariant, Model, Violation};
use super::plan::Step;
use super::report::{Counts, Outcome, Report, add_branches};
use super::scenario::{Liar, Scenario};
use super::state::{State, Tracer};
use crate::io::FaultSite;
use crate::io::sim::FaultMask;

/// Runs `plan` under `scenario`. `mask` (storage call numbers, the older form of a
/// regression test's faults; draws keyed by call number) limits where runtime faults
/// may fire; `verbose` keeps the trace lines. Never panics: an engine panic is
/// reported as a violation.
pub fn run(scenario: &Scenario, plan: &[Step], mask: Option<&[u64]>, verbose: bool) -> Report {
    let mask = mask.map(|m| FaultMask::Calls(m.iter().copied().collect()));
    run_masked(scenario, plan, mask, verbose)
}

/// [`run`] with runtime faults firing only at `sites` (`op:file#n`; see
/// [`FaultSite`]): what `pagelog-sim shrink` writes, and what survives a change to
/// the engine that adds or removes storage calls elsewhere.
pub fn run_at_sites(
    scenario: &Scenario,
    plan: &[Step],
    sites: &[FaultSite],
    verbose: bool,
) -> Report {
    let mask = FaultMask::Sites(sites.iter().cloned().collect());
    run_masked(scenario, plan, Some(mask), verbose)
}

/// Parses fault sites as a regression test writes them.
pub fn parse_sites(sites: &[&str]) -> Result<Vec<FaultSite>, String> {
    sites.iter().map(|s| s.parse()).collect()
}

fn run_masked(
    scenario: &Scenario,
    plan: &[Step],
    mask: Option<FaultMask>,
    verbose: bool,
) -> Report {
    let disk = SimStorage::with_config(scenario.seed, scenario.sim.clone())
        .expect("a drawn sim config is valid");
    disk.set_extra_list(scenario.extra_list);
    match mask {
        None => {}
        Some(FaultMask::Calls(calls)) => disk.set_fault_mask(Some(calls)),
        Some(FaultMask::Sites(sites)) => disk.set_fault_sites(Some(sites)),
    }
    let mut state = State {
        scenario,
        disk,
        model: Model::default(),
        counts: Counts::default(),
        tracer: Tracer::new(verbose),
        tag: 0,
        poisoned: false,
        corrupted: false,
        pointers: BTreeMap::new(),
        aborted: Vec::new(),
        last: String::new(),
    };
    let mut run = Run {
        rng: ChaCha8Rng::seed_from_u64(scenario.seed ^ 0x0b5e_55ed),
        branches: Branches::default(),
        at: 0,
        sync_errors_seen: 0,
        pre_open_vouched: None,
    };
    // The state stays outside the unwind: after an engine panic the faults that
    // fired and the trace so far still reach the report (the shrinker needs them).
    let attempt = catch_unwind(AssertUnwindSafe(|| run.all(&mut state, plan)));
    let outcome = attempt.unwrap_or_else(|panic| Outcome::panicked(panic.as_ref(), run.at));
    let disk_hash = state.disk.trace_hash();
    state
        .tracer
        .event(|| format!("end: {outcome:?}"), &[disk_hash]);
    Report {
        seed: scenario.seed,
        outcome,
        counts: state.counts,
        sim: state.disk.stats(),
        branches: run.branches,
        trace_hash: state.tracer.hash(),
        trace: state.tracer.take_lines(),
        injected: state.disk.injected_calls(),
        injected_sites: state.disk.injected_sites(),
    }
}

struct Run {
    rng: ChaCha8Rng,
    branches: Branches,
    at: usize,
    /// Sync errors injected up to the last power cut.
    sync_errors_seen: u64,
    /// `SimStorage::vouched_tag` of the log just before the last open attempt: what
    /// the disk proved durable before recovery wrote anything.
    pre_open_vouched: Option<u64>,
}

impl Run {
    fn all(&mut self, state: &mut State<'_>, plan: &[Step]) -> Outcome {
        loop {
            let log = match self.open(state) {
                Ok(log) => log,
                Err(outcome) => return outcome,
            };
            if let Err(v) = self.check(state, &log) {
                if let Some(outcome) = damage_reported(state, &v) {
                    return outcome;
                }
                if !state.disk.is_crashed() {
                    return self.violation(v);
                }
                // A power cut armed in the last incarnation landed in this check's
                // reads: what this open recovered still stands; reboot and recover.
                if let Err(v) = state.model.recovered_unread(log.recovery().tip) {
                    return self.violation(v);
                }
                log.abandon();
                self.reboot(state);
                continue;
            }
            state.pointers.clear();
            state.aborted.clear();
            let end = match incarnation(&log, state, plan, &mut self.at) {
                End::Close => close_cleanly(log, state),
                other => {
                    log.abandon();
                    other
                }
            };
            state
                .tracer
                .event(|| format!("      -> {end:?}"), &[end_code(&end)]);
            match end {
                End::Violation(v) => return self.violation(v),
                End::Corrupted => {
                    state.counts.corruption_reported += 1;
                    return Outcome::CorruptionReported("an operation reported corruption".into());
                }
                End::Done => {
                    state.counts.crashes_between += 1;
                    self.after_crash(state);
                    return self.final_check(state);
                }
                End::Crash => state.counts.crashes_between += 1,
                End::CrashInside => state.counts.crashes_inside += 1,
                End::Reopen | End::Close => state.counts.reopens += 1,
                End::Poisoned => self.after_poison(state),
            }
            if matches!(end, End::Crash | End::CrashInside) {
                self.after_crash(state);
            }
        }
    }

    fn violation(&self, violation: Violation) -> Outcome {
        Outcome::Violation {
            step: self.at.saturating_sub(1),
            violation,
        }
    }

    fn final_check(&mut self, state: &mut State<'_>) -> Outcome {
        match self.open(state) {
            Ok(log) => match self.check(state, &log) {
                Ok(()) => Outcome::Pass,
                Err(_) if state.disk.is_crashed() => {
                    if let Err(v) = state.model.recovered_unread(log.recovery().tip) {
                        return self.violation(v);
                    }
                    log.abandon();
                    self.reboot(state);
                    self.final_check(state)
                }
                Err(v) => damage_reported(state, &v).unwrap_or_else(|| self.violation(v)),
            },
            Err(outcome) => outcome,
        }
    }

    /// Poisoned: reopen as is (the process restarts), or cut the power too.
    fn after_poison(&mut self, state: &mut State<'_>) {
        state.counts.poisonings += 1;
        state.poisoned = false;
        if self.rng.random_bool(0.5) {
            state.disk = state.disk.crash();
            state.counts.crashes_after_poison += 1;
            self.after_crash(state);
        } else {
            state.counts.reopens += 1;
        }
    }

    /// The power was cut by an armed `crash_after`: boot the surviving image.
    fn reboot(&mut self, state: &mut State<'_>) {
        state.disk = state.disk.crash();
        state.counts.crashes_inside += 1;
        self.after_crash(state);
    }

    fn after_crash(&mut self, state: &mut State<'_>) {
        self.sync_errors_seen = state.disk.stats().sync_eio;
        state.poisoned = false;
        if state.scenario.pins.liar == Liar::Resurrect {
            forge_aborted(state);
        }
    }

    fn check(&mut self, state: &mut State<'_>, log: &Log) -> Result<(), Violation> {
        state.counts.recoveries += 1;
        state.counts.resumed += u64::from(log.recovery().resumed);
        // One log per disk: a second open while this one lives is refused at once,
        // before any storage call (so the trace is the same either way).
        let second = Log::open(state.scenario.config.clone(), Arc::new(state.disk.clone()));
        if !matches!(second, Err(Error::Locked { .. })) {
            let what = second
                .map(|_| "Ok".to_string())
                .unwrap_or_else(|e| e.to_string());
            return Err(Violation::new(
                Invariant::Open,
                format!("a second log opened a disk already open: {what}"),
            ));
        }
        add_branches(&mut self.branches, &log.recovery().branches);
        if state.durable_damage() {
            state.model.lost_acked = true;
        }
        state.model.vouched_floor = vouched_floor(state, self.pre_open_vouched);
        let mode = state.scenario.config.segment_mode;
        // The oracle reads with runtime faults paused: its reads are not the
        // engine's. Damage already done (bad sectors, flipped bits) stays.
        let faults = state.disk.config().faults;
        let _ = state.disk.set_faults(FaultRates {
            enospc_quota_bytes: faults.enospc_quota_bytes,
            ..FaultRates::default()
        });
        let result = state.model.check_recovered(log, mode);
        let _ = state.disk.set_faults(faults);
        let info = log.recovery();
        let tip = info.tip;
        state.tracer.event(
            || {
                format!(
                    "      open: {} messages to tip {tip}, writing from {}; {:?}; check: {result:?}",
                    info.messages, info.start, info.branches
                )
            },
            &[tip, u64::from(result.is_ok())],
        );
        result
    }

    /// Opens the log, retrying injected IO failures and rebooting a disk that lost
    /// power inside recovery.
    fn open(&mut self, state: &mut State<'_>) -> Result<Log, Outcome> {
        set_quota(state);
        let mut failures = 0;
        loop {
            if state.disk.stats().sync_eio > self.sync_errors_seen {
                state.disk = state.disk.crash();
                state.counts.crashes_after_poison += 1;
                self.after_crash(state);
            }
            let storage: Arc<dyn Storage> = Arc::new(state.disk.clone());
            let paused = failures >= 3;
            let faults = state.disk.config().faults;
            if paused {
                let _ = state.disk.set_faults(FaultRates::default());
            }
            // A recovery's own writes vouch for what it recovered, not for what was
            // acknowledged: tag them 0, and take the proof from before them.
            self.pre_open_vouched = state
                .durable_damage()
                .then(|| state.disk.vouched_tag(LOG_FILE))
                .flatten();
            state.disk.set_write_tag(0);
            let result = Log::open(state.scenario.config.clone(), storage);
            if paused {
                let _ = state.disk.set_faults(faults);
            }
            match result {
                Ok(log) => return Ok(log),
                Err(e) => self.open_failed(state, e, &mut failures)?,
            }
        }
    }

    fn open_failed(
        &mut self,
        state: &mut State<'_>,
        e: Error,
        failures: &mut u32,
    ) -> Result<(), Outcome> {
        if state.disk.is_crashed() {
            self.reboot(state);
            return Ok(());
        }
        let io = matches!(e, Error::Io { .. });
        if io && *failures < 3 {
            *failures += 1;
            state.counts.open_retries += 1;
            return Ok(());
        }
        if (e.is_corruption() || io) && state.durable_damage() {
            state.counts.corruption_reported += 1;
            return Err(Outcome::CorruptionReported(e.to_string()));
        }
        Err(self.violation(Violation::new(Invariant::Open, format!("open failed: {e}"))))
    }
}

/// After durable damage, a check that failed because reading the log reported
/// corruption or an IO error is a counted outcome (the engine said so), not a
/// violation; wrong data never is.
fn damage_reported(state: &mut State<'_>, v: &Violation) -> Option<Outcome> {
    let reported = v.invariant == Invariant::Read && v.detail.starts_with("iterating");
    if !(reported && state.durable_damage() && !state.disk.is_crashed()) {
        return None;
    }
    state.counts.corruption_reported += 1;
    Some(Outcome::CorruptionReported(v.detail.clone()))
}

/// `Step::Close`: the log is closed cleanly (its reservations were aborted when the
/// incarnation ended). A successful close flushed every completed message: that is an
/// acknowledgement like a flush's. An IO error poisons as any call's would; a power cut
/// armed earlier may land inside the close.
fn close_cleanly(log: Log, state: &mut State<'_>) -> End {
    let flushed = log.flush();
    if let Ok(target) = flushed {
        state.model.ack(target);
        state.counts.acks += 1;
    }
    let closed = match flushed {
        Ok(_) => log.close().is_ok(),
        Err(_) => {
            log.abandon();
            false
        }
    };
    if state.disk.is_crashed() {
        state.disk = state.disk.crash();
        return End::CrashInside;
    }
    if closed {
        state.counts.clean_closes += 1;
        End::Close
    } else {
        state.poisoned = true;
        End::Poisoned
    }
}

fn end_code(end: &End) -> u64 {
    match end {
        End::Done => 1,
        End::Crash => 2,
        End::CrashInside => 3,
        End::Reopen => 4,
        End::Close => 8,
        End::Poisoned => 5,
        End::Corrupted => 6,
        End::Violation(_) => 7,
    }
}

/// With ENOSPC on, the disk gets the scenario's headroom above its current use.
fn set_quota(state: &mut State<'_>) {
    let Some(headroom) = state.scenario.headroom else {
        return;
    };
    let used: u64 = state
        .disk
        .names()
        .iter()
        .filter_map(|n| state.disk.file_len(n))
        .sum();
    let faults = FaultRates {
        enospc_quota_bytes: Some(used + headroom),
        ..state.disk.config().faults
    };
    let _ = state.disk.set_faults(faults);
}

/// The resurrecting liar: every aborted inline message of the incarnation whose
/// Cancelled record reached the disk comes back as written (`forge.rs`).
fn forge_aborted(state: &mut State<'_>) {
    let aborted: Vec<AbortedMessage> = std::mem::take(&mut state.aborted)
        .into_iter()
        .map(|a| {
            let (kind, pid, value) = a.entry;
            AbortedMessage {
                ptr: a.ptr,
                kind: kind.stored(),
                pid,
                payload: value,
            }
        })
        .collect();
    let segment_size = state.scenario.config.segment_size_bytes;
    state.counts.forged += forge_back(&state.disk, &aborted, segment_size);
}

/// After durable damage, the lsn below which every acknowledged message must still be
/// recovered (the oracle's module doc): the highest acknowledged lsn as of a durable
/// write to the log still intact on disk before the recovery wrote anything. None
/// where no floor applies: no damage, or TolerateCorruptTail. (Gc damage to a segment
/// header was excused until the segment table told a destroyed header from a freed
/// segment's.)
fn vouched_floor(state: &State<'_>, pre_open: Option<u64>) -> Option<Lsn> {
    let c = &state.scenario.config;
    if !state.model.lost_acked || c.recovery_mode == RecoveryMode::TolerateCorruptTail {
        return None;
    }
    Some(pre_open.unwrap_or(0))
}
