//! What a page seed counted and how it ended.

use crate::io::FaultSite;
use crate::simulation::report::Outcome;

/// What a page seed counted (summed over a campaign).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageCounts {
    /// Steps executed.
    pub steps: u64,
    /// Updates applied.
    pub applied: u64,
    /// Updates that lost their compare-and-swap to another client's.
    pub lost_races: u64,
    /// Calls that returned WouldBlock.
    pub would_block: u64,
    /// Reads checked against the model.
    pub reads: u64,
    /// Acknowledgements (flushes and clean closes that returned Ok).
    pub acks: u64,
    /// Recoveries checked against the model.
    pub recoveries: u64,
    /// Recoveries that started from a snapshot.
    pub from_snapshot: u64,
    /// Recoveries that skipped a snapshot (damaged, stale or outdated) for an older
    /// one or a full replay.
    pub snapshot_fallbacks: u64,
    /// Power cuts between steps.
    pub crashes_between: u64,
    /// Power cuts inside a step.
    pub crashes_inside: u64,
    /// Of those, inside a snapshot being taken (on demand or due).
    pub crashes_in_snapshot: u64,
    /// Of those, inside a garbage-collection round (`maintenance`, `compact`, or an
    /// update running one inline).
    pub crashes_in_gc: u64,
    /// Instances poisoned by an IO error.
    pub poisonings: u64,
    /// Clean closes.
    pub clean_closes: u64,
    /// Recoveries that came back below the last acknowledgement after durable damage.
    pub lost_acked: u64,
    /// Runs that ended with a reported `Corruption` after durable damage.
    pub corruption_reported: u64,
    /// Snapshots written.
    pub snapshots: u64,
    /// Pages rewritten by garbage collection.
    pub gc_rewrites: u64,
    /// Pages paged out to keep within the cache capacity.
    pub page_outs: u64,
    /// Pages read back from the log (each fragment's checksum, page id and lsn checked).
    pub page_ins: u64,
    /// Links written as a consolidated base.
    pub consolidations: u64,
    /// Free records dropped by the log.
    pub frees_dropped: u64,
    /// Aborted messages forged back by the resurrecting liar.
    pub forged: u64,
}

/// How a page seed ended.
#[derive(Debug, Clone)]
pub struct PageReport {
    /// The seed.
    pub seed: u64,
    /// The outcome.
    pub outcome: Outcome,
    /// What it counted.
    pub counts: PageCounts,
    /// A hash of every step's operation and result: the same seed and commit give
    /// the same hash.
    pub trace_hash: u64,
    /// The sites at which runtime faults fired, in order (for the shrinker).
    pub injected_sites: Vec<FaultSite>,
    /// The step-by-step lines, when asked for (`run_page_plan_traced`).
    pub trace: Vec<String>,
}

impl PageCounts {
    /// Adds `o`'s counts to these.
    pub fn add(&mut self, o: &PageCounts) {
        self.steps += o.steps;
        self.applied += o.applied;
        self.lost_races += o.lost_races;
        self.would_block += o.would_block;
        self.reads += o.reads;
        self.acks += o.acks;
        self.recoveries += o.recoveries;
        self.from_snapshot += o.from_snapshot;
        self.snapshot_fallbacks += o.snapshot_fallbacks;
        self.crashes_between += o.crashes_between;
        self.crashes_inside += o.crashes_inside;
        self.crashes_in_snapshot += o.crashes_in_snapshot;
        self.crashes_in_gc += o.crashes_in_gc;
        self.poisonings += o.poisonings;
        self.clean_closes += o.clean_closes;
        self.lost_acked += o.lost_acked;
        self.corruption_reported += o.corruption_reported;
        self.snapshots += o.snapshots;
        self.gc_rewrites += o.gc_rewrites;
        self.page_outs += o.page_outs;
        self.page_ins += o.page_ins;
        self.consolidations += o.consolidations;
        self.frees_dropped += o.frees_dropped;
        self.forged += o.forged;
    }
}

impl PageReport {
    /// The violation, if the run had one.
    pub fn violation(&self) -> Option<&crate::simulation::oracle::Violation> {
        match &self.outcome {
            Outcome::Violation { violation, .. } => Some(violation),
            _ => None,
        }
    }
}
