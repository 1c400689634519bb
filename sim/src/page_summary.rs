//! The page seeds' part of a campaign summary: totals, the coverage gates page
//! seeds must reach, outcomes and speed.

use pagelog::simulation::pages::{PageCounts, PageReport};
use pagelog::simulation::{FaultClass, Outcome, Pins};

use crate::summary::{Failure, Row};

/// Totals over a campaign's page seeds.
#[derive(Debug, Default)]
pub struct PageSummary {
    /// Page seeds run.
    pub seeds: u64,
    /// Summed counters.
    pub counts: PageCounts,
    /// Seeds that passed.
    pub passed: u64,
    /// Seeds that ended in a reported Corruption after durable damage.
    pub corruption: u64,
    /// Seeds that broke an invariant.
    pub failures: Vec<Failure>,
    /// Seconds the workers spent in page seeds (summed over workers).
    pub busy_seconds: f64,
}

impl PageSummary {
    /// Adds one page seed's report, which took `seconds` of one worker.
    pub fn add(&mut self, r: &PageReport, seconds: f64) {
        self.seeds += 1;
        self.counts.add(&r.counts);
        self.busy_seconds += seconds;
        match &r.outcome {
            Outcome::Pass => self.passed += 1,
            Outcome::CorruptionReported(_) => self.corruption += 1,
            Outcome::Violation { step, violation } => self.failures.push(Failure {
                seed: r.seed,
                step: *step,
                invariant: violation.invariant.name(),
                detail: violation.detail.clone(),
            }),
        }
    }

    /// What page seeds under `pins` never reached: each gate names work whose crash
    /// or fault paths the page oracle must have seen at least once.
    pub fn uncovered(&self, pins: &Pins) -> Vec<String> {
        if self.seeds == 0 {
            return Vec::new();
        }
        let c = &self.counts;
        let crashes = pins.crash != Some(0.0);
        let damage = pins.faults.as_ref().is_none_or(|f| {
            f.iter().any(|c| c.corrupts_durably()) || f.contains(&FaultClass::ReadEio)
        });
        let gates = [
            ("a snapshot taken", true, c.snapshots),
            (
                "a snapshot fallback at recovery",
                crashes && damage,
                c.snapshot_fallbacks,
            ),
            ("a garbage-collection rewrite", true, c.gc_rewrites),
            ("a page-out", true, c.page_outs),
            ("a checked page-in", true, c.page_ins),
            ("a lost compare-and-swap race", true, c.lost_races),
            ("a consolidation", true, c.consolidations),
            ("a crash inside a snapshot", crashes, c.crashes_in_snapshot),
            (
                "a crash inside garbage collection",
                crashes,
                c.crashes_in_gc,
            ),
        ];
        gates
            .iter()
            .filter(|(_, wanted, n)| *wanted && *n == 0)
            .map(|(name, _, _)| format!("page seeds: {name}"))
            .collect()
    }

    /// Every figure, by section (JSON key, table label, value).
    pub fn rows(&self) -> Vec<Row> {
        let c = &self.counts;
        let n = |v: u64| v as f64;
        let row = |k: &str, label: &str, v: f64| (k.to_string(), label.to_string(), v);
        let per_core = n(c.steps) / self.busy_seconds.max(1e-9);
        vec![
            row("seeds", "page seeds", n(self.seeds)),
            row("steps", "steps (simulated page ops)", n(c.steps)),
            row("applied", "  updates applied", n(c.applied)),
            row(
                "lost_races",
                "  lost compare-and-swap races",
                n(c.lost_races),
            ),
            row("would_block", "  would block", n(c.would_block)),
            row("reads", "  reads checked", n(c.reads)),
            row("acks", "  acks (flush, clean close)", n(c.acks)),
            row("recoveries", "recoveries checked", n(c.recoveries)),
            row("from_snapshot", "  from a snapshot", n(c.from_snapshot)),
            row(
                "snapshot_fallbacks",
                "  snapshot fallbacks",
                n(c.snapshot_fallbacks),
            ),
            row(
                "crashes_between",
                "crashes between steps",
                n(c.crashes_between),
            ),
            row(
                "crashes_inside",
                "crashes inside an operation",
                n(c.crashes_inside),
            ),
            row(
                "crashes_in_snapshot",
                "  inside a snapshot",
                n(c.crashes_in_snapshot),
            ),
            row(
                "crashes_in_gc",
                "  inside garbage collection",
                n(c.crashes_in_gc),
            ),
            row("poisonings", "poisonings", n(c.poisonings)),
            row("clean_closes", "clean closes", n(c.clean_closes)),
            row("snapshots", "snapshots written", n(c.snapshots)),
            row(
                "gc_rewrites",
                "garbage-collection rewrites",
                n(c.gc_rewrites),
            ),
            row("page_outs", "page-outs", n(c.page_outs)),
            row("page_ins", "checked page-ins", n(c.page_ins)),
            row("consolidations", "consolidations", n(c.consolidations)),
            row("frees_dropped", "Free records dropped", n(c.frees_dropped)),
            row("passed", "passed", n(self.passed)),
            row(
                "corruption_reported",
                "corruption reported",
                n(self.corruption),
            ),
            row(
                "lost_acked",
                "  recovered below an ack after damage",
                n(c.lost_acked),
            ),
            row("violations", "VIOLATIONS", n(self.failures.len() as u64)),
            row("forged", "aborts forged back (liar resurrect)", n(c.forged)),
            row("ops_per_s_per_core", "page ops/s/core", per_core),
        ]
    }
}
