//! The campaign summary: totals, faults per class, crash points, recovery branches,
//! outcomes and speed, as a table or as JSON.

use pagelog::io::SimStats;
use pagelog::log::recovery::Branches;
use pagelog::simulation::report::{add_branches, branch_rows};
use pagelog::simulation::{Counts, FaultClass, Outcome, Pins, Report};

use crate::args::replay_command;

/// Recovery branches any campaign with crashes reaches in a few hundred seeds. The
/// others need damage (voids skipped), Gc mode (freed gap, freed prefix), batches cut
/// by a crash or a broken chain; they are counted, not required.
pub const REQUIRED_BRANCHES: [&str; 4] =
    ["torn tail", "clean end", "cut continued", "ranges zeroed"];

/// A failing seed.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// Step index of the failed check.
    pub step: usize,
    /// The invariant's name.
    pub invariant: &'static str,
    /// What was seen.
    pub detail: String,
}

/// Totals over a campaign.
#[derive(Debug, Default)]
pub struct Summary {
    /// Seeds run.
    pub seeds: u64,
    /// Summed counters.
    pub counts: Counts,
    /// Summed disk counters.
    pub sim: SimStats,
    /// Summed recovery branches.
    pub branches: Branches,
    /// Seeds that passed.
    pub passed: u64,
    /// Seeds that ended in a reported Corruption.
    pub corruption: u64,
    /// Seeds that broke an invariant, by seed.
    pub failures: Vec<Failure>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Worker threads.
    pub jobs: usize,
}

impl Summary {
    /// Adds one seed's report.
    pub fn add(&mut self, r: &Report) {
        self.seeds += 1;
        self.counts.add(&r.counts);
        add_sim(&mut self.sim, &r.sim);
        add_branches(&mut self.branches, &r.branches);
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

    /// Injected faults per class.
    pub fn faults(&self) -> Vec<(FaultClass, u64)> {
        let s = &self.sim;
        FaultClass::ALL
            .iter()
            .map(|&c| {
                let n = match c {
                    FaultClass::ReadEio => s.read_eio,
                    FaultClass::WriteEio => s.write_eio,
                    FaultClass::SyncEio => s.sync_eio,
                    FaultClass::ShortRead => s.short_reads,
                    FaultClass::ShortWrite => s.short_writes,
                    FaultClass::Misdirected => s.misdirected_writes,
                    FaultClass::BitFlip => s.bit_flips,
                    FaultClass::HeaderDamage => s.header_damage,
                    FaultClass::Enospc => s.enospc,
                };
                (c, n)
            })
            .collect()
    }

    /// What a coverage-checked campaign under `pins` never reached: enabled fault
    /// classes that never fired, crash points never hit, and the recovery branches
    /// every campaign with crashes reaches ([`REQUIRED_BRANCHES`]) never taken.
    pub fn uncovered(&self, pins: &Pins) -> Vec<String> {
        // Unpinned, every seed draws its classes from all of them.
        let enabled = pins
            .faults
            .clone()
            .unwrap_or_else(|| FaultClass::ALL.to_vec());
        let mut missing: Vec<String> = self
            .faults()
            .into_iter()
            .filter(|(c, n)| *n == 0 && enabled.contains(c))
            .map(|(c, _)| format!("fault class {}", c.name()))
            .collect();
        let c = &self.counts;
        let crashes = pins.crash != Some(0.0);
        let poisons = [
            FaultClass::WriteEio,
            FaultClass::SyncEio,
            FaultClass::Enospc,
        ]
        .iter()
        .any(|f| enabled.contains(f));
        let resumes = [
            ("a clean close", c.clean_closes),
            ("an open that resumed", c.resumed),
        ];
        missing.extend(
            resumes
                .iter()
                .filter(|(_, n)| *n == 0)
                .map(|(name, _)| name.to_string()),
        );
        let points = [
            ("between steps", crashes, c.crashes_between),
            ("inside an operation", crashes, c.crashes_inside),
            ("after a poisoning", poisons, c.crashes_after_poison),
        ];
        missing.extend(
            points
                .iter()
                .filter(|(_, wanted, n)| *wanted && *n == 0)
                .map(|(name, _, _)| format!("crash point {name}")),
        );
        let taken = branch_rows(&self.branches);
        missing.extend(
            taken
                .iter()
                .filter(|(name, n)| crashes && *n == 0 && REQUIRED_BRANCHES.contains(name))
                .map(|(name, _)| format!("recovery branch {name}")),
        );
        missing
    }

    fn rates(&self) -> (f64, f64, f64, f64) {
        let secs = self.seconds.max(1e-9);
        let cores = self.jobs.max(1) as f64;
        let ops = self.counts.steps as f64 / secs;
        let cycles = (self.counts.crashes() + self.counts.reopens) as f64 / secs;
        (self.seeds as f64 / secs, ops, ops / cores, cycles / cores)
    }

    /// The human-readable table.
    pub fn table(&self, pins: &Pins) -> String {
        let c = &self.counts;
        let (seeds_s, ops_s, ops_core, cycles_core) = self.rates();
        let mut out = String::new();
        let mut row = |k: &str, v: String| out.push_str(&format!("  {k:<28} {v}\n"));
        row("seeds", self.seeds.to_string());
        row("steps (simulated ops)", c.steps.to_string());
        row("  engine calls ok", c.ops_ok.to_string());
        row("  would block", c.would_block.to_string());
        row(
            "  completed / aborted",
            format!("{} / {}", c.completed, c.aborted),
        );
        row("  batches sealed", c.batches.to_string());
        row("  acks (flush, make_stable)", c.acks.to_string());
        row(
            "  reads / scans checked",
            format!("{} / {}", c.reads, c.scans),
        );
        row("crashes", c.crashes().to_string());
        row("  between steps", c.crashes_between.to_string());
        row("  inside an operation", c.crashes_inside.to_string());
        row("  after a poisoning", c.crashes_after_poison.to_string());
        row("reopens without a crash", c.reopens.to_string());
        row("  clean closes", c.clean_closes.to_string());
        row("  opens that resumed", c.resumed.to_string());
        row("recoveries checked", c.recoveries.to_string());
        row("open retries (injected IO)", c.open_retries.to_string());
        row("poisonings", c.poisonings.to_string());
        out.push_str("faults injected\n");
        for (class, n) in self.faults() {
            out.push_str(&format!("  {:<28} {n}\n", class.name()));
        }
        out.push_str("recovery branches\n");
        for (name, n) in branch_rows(&self.branches) {
            out.push_str(&format!("  {name:<28} {n}\n"));
        }
        out.push_str("outcomes\n");
        let mut row = |k: &str, v: String| out.push_str(&format!("  {k:<28} {v}\n"));
        row("passed", self.passed.to_string());
        row("corruption reported", self.corruption.to_string());
        row("VIOLATIONS", self.failures.len().to_string());
        row("forged by a liar", c.forged.to_string());
        out.push_str("speed\n");
        let mut row = |k: &str, v: String| out.push_str(&format!("  {k:<28} {v}\n"));
        row(
            "wall time",
            format!("{:.2} s on {} threads", self.seconds, self.jobs),
        );
        row("seeds/s", format!("{seeds_s:.0}"));
        row("simulated ops/s", format!("{ops_s:.0}"));
        row("ops/s/core", format!("{ops_core:.0}"));
        row("crash+recover cycles/s/core", format!("{cycles_core:.0}"));
        for f in &self.failures {
            out.push_str(&format!(
                "\nFAIL seed {} at step {}: {}: {}\n  replay: {}\n  shrink: {}\n",
                f.seed,
                f.step,
                f.invariant,
                f.detail,
                replay_command(f.seed, pins),
                replay_command(f.seed, pins).replacen(" replay ", " shrink ", 1),
            ));
        }
        out
    }

    /// The same as JSON.
    pub fn json(&self, pins: &Pins) -> String {
        let c = &self.counts;
        let (seeds_s, ops_s, ops_core, cycles_core) = self.rates();
        let mut fields: Vec<String> = vec![
            format!("\"seeds\":{}", self.seeds),
            format!("\"steps\":{}", c.steps),
            format!("\"crashes\":{}", c.crashes()),
            format!("\"crashes_between\":{}", c.crashes_between),
            format!("\"crashes_inside\":{}", c.crashes_inside),
            format!("\"crashes_after_poison\":{}", c.crashes_after_poison),
            format!("\"reopens\":{}", c.reopens),
            format!("\"clean_closes\":{}", c.clean_closes),
            format!("\"resumed\":{}", c.resumed),
            format!("\"recoveries\":{}", c.recoveries),
            format!("\"poisonings\":{}", c.poisonings),
            format!("\"passed\":{}", self.passed),
            format!("\"corruption_reported\":{}", self.corruption),
            format!("\"violations\":{}", self.failures.len()),
            format!("\"seconds\":{:.3}", self.seconds),
            format!("\"seeds_per_s\":{seeds_s:.1}"),
            format!("\"ops_per_s\":{ops_s:.1}"),
            format!("\"ops_per_s_per_core\":{ops_core:.1}"),
            format!("\"cycles_per_s_per_core\":{cycles_core:.1}"),
        ];
        let faults: Vec<String> = self
            .faults()
            .iter()
            .map(|(k, n)| format!("\"{}\":{n}", k.name()))
            .collect();
        fields.push(format!("\"faults\":{{{}}}", faults.join(",")));
        let branches: Vec<String> = branch_rows(&self.branches)
            .iter()
            .map(|(k, n)| format!("\"{}\":{n}", k.replace(' ', "_")))
            .collect();
        fields.push(format!("\"recovery_branches\":{{{}}}", branches.join(",")));
        let failures: Vec<String> = self
            .failures
            .iter()
            .map(|f| {
                format!(
                    "{{\"seed\":{},\"step\":{},\"invariant\":{},\"detail\":{},\"replay\":{}}}",
                    f.seed,
                    f.step,
                    quote(f.invariant),
                    quote(&f.detail),
                    quote(&replay_command(f.seed, pins))
                )
            })
            .collect();
        fields.push(format!("\"failures\":[{}]", failures.join(",")));
        format!("{{{}}}", fields.join(","))
    }
}

/// A JSON string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn add_sim(sum: &mut SimStats, s: &SimStats) {
    let pairs = [
        (&mut sum.calls, s.calls),
        (&mut sum.read_eio, s.read_eio),
        (&mut sum.write_eio, s.write_eio),
        (&mut sum.sync_eio, s.sync_eio),
        (&mut sum.enospc, s.enospc),
        (&mut sum.short_reads, s.short_reads),
        (&mut sum.short_writes, s.short_writes),
        (&mut sum.misdirected_writes, s.misdirected_writes),
        (&mut sum.bit_flips, s.bit_flips),
        (&mut sum.header_damage, s.header_damage),
        (&mut sum.crashes, s.crashes),
        (&mut sum.writes_persisted, s.writes_persisted),
        (&mut sum.writes_vanished, s.writes_vanished),
        (&mut sum.writes_torn, s.writes_torn),
    ];
    for (mine, theirs) in pairs {
        *mine += theirs;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(quote("a\"b\\c\nd"), "\"a\\\"b\\\\c\\u000ad\"");
    }
}
