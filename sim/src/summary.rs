//! The campaign summary: totals, faults per class, crash points, recovery branches,
//! outcomes and speed, as a table or as JSON.

use pagelog::internals::recovery::Branches;
use pagelog::io::SimStats;
use pagelog::simulation::report::{add_branches, branch_rows};
use pagelog::simulation::{Counts, FaultClass, Outcome, Pins, Report};

use crate::args::replay_command;

/// Recovery branches any campaign with crashes reaches in a few hundred seeds. The
/// others need damage (voids skipped), Gc mode (freed gap, freed prefix), batches cut
/// by a crash or a broken chain; they are counted, not required.
pub const REQUIRED_BRANCHES: [&str; 4] =
    ["torn tail", "clean end", "cut continued", "ranges zeroed"];

/// One figure of the summary: its JSON key, its table label and its value.
pub type Row = (String, String, f64);

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
            ("a truncation", c.truncations),
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

    /// Every figure of the summary, by section, in the order the table prints them:
    /// (JSON key, table label, value). The table and the JSON are both made from
    /// this, so they cannot disagree; speed figures are the only fractions.
    pub fn sections(&self) -> Vec<(&'static str, Vec<Row>)> {
        let c = &self.counts;
        let (seeds_s, ops_s, ops_core, cycles_core) = self.rates();
        let n = |v: u64| v as f64;
        let row = |k: &str, label: &str, v: f64| (k.to_string(), label.to_string(), v);
        let totals = vec![
            row("seeds", "seeds", n(self.seeds)),
            row("steps", "steps (simulated ops)", n(c.steps)),
            row("ops_ok", "  engine calls ok", n(c.ops_ok)),
            row("would_block", "  would block", n(c.would_block)),
            row("completed", "  completed", n(c.completed)),
            row("aborted", "  aborted", n(c.aborted)),
            row("batches", "  batches sealed", n(c.batches)),
            row("acks", "  acks (flush, make_stable)", n(c.acks)),
            row("reads", "  reads checked", n(c.reads)),
            row("scans", "  scans checked", n(c.scans)),
            row("crashes", "crashes", n(c.crashes())),
            row("crashes_between", "  between steps", n(c.crashes_between)),
            row(
                "crashes_inside",
                "  inside an operation",
                n(c.crashes_inside),
            ),
            row(
                "crashes_after_poison",
                "  after a poisoning",
                n(c.crashes_after_poison),
            ),
            row("reopens", "reopens without a crash", n(c.reopens)),
            row("clean_closes", "  clean closes", n(c.clean_closes)),
            row("resumed", "  opens that resumed", n(c.resumed)),
            row("recoveries", "recoveries checked", n(c.recoveries)),
            row(
                "open_retries",
                "open retries (injected IO)",
                n(c.open_retries),
            ),
            row("poisonings", "poisonings", n(c.poisonings)),
        ];
        let faults = self
            .faults()
            .into_iter()
            .map(|(class, v)| row(class.name(), class.name(), n(v)))
            .collect();
        let branches = branch_rows(&self.branches)
            .iter()
            .map(|(name, v)| row(&name.replace(' ', "_"), name, n(*v)))
            .collect();
        let outcomes = vec![
            row("passed", "passed", n(self.passed)),
            row(
                "corruption_reported",
                "corruption reported",
                n(self.corruption),
            ),
            row("violations", "VIOLATIONS", n(self.failures.len() as u64)),
            row(
                "syncs_faked",
                "syncs faked (liar sync)",
                n(self.sim.lied_syncs),
            ),
            row(
                "aborts_forged",
                "aborts forged back (liar resurrect)",
                n(c.forged),
            ),
        ];
        let speed = vec![
            row("seconds", "wall time, seconds", self.seconds),
            row("threads", "worker threads", n(self.jobs as u64)),
            row("seeds_per_s", "seeds/s", seeds_s),
            row("ops_per_s", "simulated ops/s", ops_s),
            row("ops_per_s_per_core", "ops/s/core", ops_core),
            row(
                "cycles_per_s_per_core",
                "crash+recover cycles/s/core",
                cycles_core,
            ),
        ];
        vec![
            ("totals", totals),
            ("faults", faults),
            ("recovery_branches", branches),
            ("outcomes", outcomes),
            ("speed", speed),
        ]
    }

    /// The human-readable table: a header line echoing the command (`command`), then
    /// every figure of [`Summary::sections`], then the failures.
    pub fn table(&self, pins: &Pins, command: &str) -> String {
        let mut out = format!("{command}\n");
        for (section, rows) in self.sections() {
            if section != "totals" {
                out.push_str(&format!("{}\n", section.replace('_', " ")));
            }
            push_rows(&mut out, &rows);
        }
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

    /// The same as one JSON object: `command` and `flags` (what was run, so a shard's
    /// file says what it covered), every section of [`Summary::sections`], and the
    /// failures with their replay commands.
    pub fn json(&self, pins: &Pins, command: &str, flags: &[(&str, String)]) -> String {
        let mut fields = vec![format!("\"command\":{}", quote(command))];
        let flags: Vec<String> = flags
            .iter()
            .map(|(k, v)| format!("{}:{}", quote(k), quote(v)))
            .collect();
        fields.push(format!("\"flags\":{{{}}}", flags.join(",")));
        for (section, rows) in self.sections() {
            let rows: Vec<String> = rows
                .iter()
                .map(|(k, _, v)| format!("{}:{}", quote(k), json_number(*v)))
                .collect();
            fields.push(format!("{}:{{{}}}", quote(section), rows.join(",")));
        }
        let failures: Vec<String> = self
            .failures
            .iter()
            .map(|f| failure_json(f, &replay_command(f.seed, pins)))
            .collect();
        fields.push(format!("\"failures\":[{}]", failures.join(",")));
        format!("{{{}}}", fields.join(","))
    }
}

/// Appends `rows` to a table: label, then the value (whole, or two places under 10).
pub fn push_rows(out: &mut String, rows: &[Row]) {
    for (_, label, v) in rows {
        let shown = if v.fract() == 0.0 || *v >= 10.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.2}")
        };
        out.push_str(&format!("  {label:<36} {shown}\n"));
    }
}

/// A failure as a JSON object, with its replay command.
pub fn failure_json(f: &Failure, replay: &str) -> String {
    format!(
        "{{\"seed\":{},\"step\":{},\"invariant\":{},\"detail\":{},\"replay\":{}}}",
        f.seed,
        f.step,
        quote(f.invariant),
        quote(&f.detail),
        quote(replay)
    )
}

/// A JSON number: whole numbers without a fraction, others to three places.
pub fn json_number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
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
        (&mut sum.lied_syncs, s.lied_syncs),
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
