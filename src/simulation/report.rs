//! What one run counted and how it ended.

use crate::io::SimStats;
use crate::log::recovery::Branches;

use super::oracle::{Invariant, Violation};

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every check passed.
    Pass,
    /// Recovery reported `Error::Corruption` after a durable-corruption fault: a
    /// counted outcome, not a violation (the run stops there).
    CorruptionReported(String),
    /// An invariant broke at this step (the plan's length for the final check).
    Violation {
        /// Index of the step after which the check failed.
        step: usize,
        /// What broke.
        violation: Violation,
    },
}

/// Counters of one run (summed over a campaign).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Steps executed.
    pub steps: u64,
    /// Steps whose engine call succeeded.
    pub ops_ok: u64,
    /// Non-blocking calls that returned WouldBlock.
    pub would_block: u64,
    /// Messages completed.
    pub completed: u64,
    /// Reservations aborted.
    pub aborted: u64,
    /// Batches sealed.
    pub batches: u64,
    /// Flushes and make_stables acknowledged.
    pub acks: u64,
    /// Reads checked against the model.
    pub reads: u64,
    /// Iterations checked against the model.
    pub scans: u64,
    /// Power cuts between steps.
    pub crashes_between: u64,
    /// Power cuts inside an operation (`crash_after` ran out).
    pub crashes_inside: u64,
    /// Power cuts after the log was poisoned.
    pub crashes_after_poison: u64,
    /// Reopens without a power cut: asked for (a drop or a clean close) or after a
    /// poisoning.
    pub reopens: u64,
    /// Clean closes (`Log::close` succeeded).
    pub clean_closes: u64,
    /// Opens that resumed the segment a clean close ended in.
    pub resumed: u64,
    /// `try_truncate_before` calls that returned Ok (Linear mode).
    pub truncations: u64,
    /// Opens that succeeded (each followed by the oracle's check).
    pub recoveries: u64,
    /// Opens that failed on an injected IO error and were retried.
    pub open_retries: u64,
    /// Times the log was poisoned by an IO error.
    pub poisonings: u64,
    /// Recoveries that reported Corruption (after durable-corruption faults).
    pub corruption_reported: u64,
    /// Aborted messages forged back by the resurrecting liar.
    pub forged: u64,
}

impl Counts {
    /// Adds `o` into `self`.
    pub fn add(&mut self, o: &Counts) {
        let pairs = [
            (&mut self.steps, o.steps),
            (&mut self.ops_ok, o.ops_ok),
            (&mut self.would_block, o.would_block),
            (&mut self.completed, o.completed),
            (&mut self.aborted, o.aborted),
            (&mut self.batches, o.batches),
            (&mut self.acks, o.acks),
            (&mut self.reads, o.reads),
            (&mut self.scans, o.scans),
            (&mut self.crashes_between, o.crashes_between),
            (&mut self.crashes_inside, o.crashes_inside),
            (&mut self.crashes_after_poison, o.crashes_after_poison),
            (&mut self.reopens, o.reopens),
            (&mut self.clean_closes, o.clean_closes),
            (&mut self.resumed, o.resumed),
            (&mut self.truncations, o.truncations),
            (&mut self.recoveries, o.recoveries),
            (&mut self.open_retries, o.open_retries),
            (&mut self.poisonings, o.poisonings),
            (&mut self.corruption_reported, o.corruption_reported),
            (&mut self.forged, o.forged),
        ];
        for (mine, theirs) in pairs {
            *mine += theirs;
        }
    }

    /// Power cuts of every kind.
    pub fn crashes(&self) -> u64 {
        self.crashes_between + self.crashes_inside + self.crashes_after_poison
    }
}

/// Sums recovery branch counters.
pub fn add_branches(sum: &mut Branches, b: &Branches) {
    sum.voids_skipped += b.voids_skipped;
    sum.freed_gaps += b.freed_gaps;
    sum.freed_prefix += b.freed_prefix;
    sum.cuts_continued += b.cuts_continued;
    sum.torn_tails += b.torn_tails;
    sum.broken_chains += b.broken_chains;
    sum.clean_ends += b.clean_ends;
    sum.batches_dropped += b.batches_dropped;
    sum.zeroed += b.zeroed;
    sum.truncated_starts += b.truncated_starts;
}

/// The recovery branches by name, for summaries.
pub fn branch_rows(b: &Branches) -> [(&'static str, u64); 10] {
    [
        ("void skipped", b.voids_skipped.into()),
        ("freed gap", b.freed_gaps.into()),
        ("freed prefix", b.freed_prefix.into()),
        ("cut continued", b.cuts_continued.into()),
        ("torn tail", b.torn_tails.into()),
        ("broken chain", b.broken_chains.into()),
        ("clean end", b.clean_ends.into()),
        ("batch dropped", b.batches_dropped.into()),
        ("ranges zeroed", b.zeroed.into()),
        ("truncated start", b.truncated_starts.into()),
    ]
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// Its counters.
    pub counts: Counts,
    /// The simulated disk's counters (faults injected, crash outcomes).
    pub sim: SimStats,
    /// Recovery branches taken, summed over its recoveries.
    pub branches: Branches,
    /// Hash of the step-by-step trace and every storage call.
    pub trace_hash: u64,
    /// The trace, one line per event (only when asked for).
    pub trace: Vec<String>,
    /// Storage call numbers at which a runtime fault fired.
    pub injected: Vec<u64>,
    /// The same calls by site (`op:file#n`), what a regression test names.
    pub injected_sites: Vec<crate::io::FaultSite>,
}

impl Outcome {
    /// The outcome of a run the engine panicked in at `step`: a violation quoting the
    /// panic's message.
    pub(crate) fn panicked(payload: &(dyn std::any::Any + Send), step: usize) -> Outcome {
        let what = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "non-string panic".into());
        Outcome::Violation {
            step,
            violation: Violation::new(Invariant::Panic, what),
        }
    }
}

impl Report {
    /// The violation, if the run had one.
    pub fn violation(&self) -> Option<&Violation> {
        match &self.outcome {
            Outcome::Violation { violation, .. } => Some(violation),
            _ => None,
        }
    }
}
