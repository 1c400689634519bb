//! The state a run carries across incarnations: the model, counters, trace, and what
//! the checks between steps need.

use std::collections::BTreeMap;

use crate::io::SimStorage;
use crate::log::{Lsn, Pointer};

use super::oracle::{Entry, Model};
use super::report::Counts;
use super::scenario::Scenario;

/// A 64-bit FNV-1a hash of the run's events, plus the event lines when verbose.
#[derive(Debug, Clone)]
pub struct Tracer {
    hash: u64,
    lines: Option<Vec<String>>,
}

impl Tracer {
    /// A tracer; `verbose` keeps the lines.
    pub fn new(verbose: bool) -> Tracer {
        Tracer {
            hash: 0xcbf2_9ce4_8422_2325,
            lines: verbose.then(Vec::new),
        }
    }

    /// Hashes (and, verbose, keeps) one event.
    pub fn event(&mut self, line: impl FnOnce() -> String, code: &[u64]) {
        for &c in code {
            for b in c.to_le_bytes() {
                self.hash = (self.hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        if let Some(lines) = self.lines.as_mut() {
            lines.push(line());
        }
    }

    /// True if lines are kept.
    pub fn verbose(&self) -> bool {
        self.lines.is_some()
    }

    /// The hash so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// The lines kept (empty unless verbose).
    pub fn take_lines(&mut self) -> Vec<String> {
        self.lines.take().unwrap_or_default()
    }
}

/// An aborted inline message, kept so the resurrecting liar can forge it back.
#[derive(Debug, Clone)]
pub struct Aborted {
    /// Where it was.
    pub ptr: Pointer,
    /// What it was.
    pub entry: Entry,
}

/// Everything a run mutates.
#[derive(Debug)]
pub struct State<'s> {
    /// The scenario.
    pub scenario: &'s Scenario,
    /// The disk of the current incarnation.
    pub disk: SimStorage,
    /// The reference model.
    pub model: Model,
    /// Counters.
    pub counts: Counts,
    /// The event trace.
    pub tracer: Tracer,
    /// Value tags handed out so far (every payload differs).
    pub tag: u32,
    /// Set when an operation failed with an IO error: the incarnation ends.
    pub poisoned: bool,
    /// Set when an operation reported corruption after a durable-corruption fault.
    pub corrupted: bool,
    /// Messages completed in this incarnation, with their pointers (for reads).
    pub pointers: BTreeMap<Lsn, Pointer>,
    /// Aborted inline messages of this incarnation.
    pub aborted: Vec<Aborted>,
    /// What the last engine call of the current step did, for the trace.
    pub last: String,
}

impl State<'_> {
    /// A fresh value of `len` bytes, never zero, distinct from every other.
    pub fn value(&mut self, len: u16) -> Vec<u8> {
        self.tag = self.tag.wrapping_add(1);
        let tag = self.tag as usize;
        (0..usize::from(len))
            .map(|i| ((tag * 31 + i) % 251) as u8 + 1)
            .collect()
    }

    /// True if a fault that damages durable state has fired in this run: a bit flip, a
    /// misdirected write, or a sector gone bad (sticky read errors). After one, acked
    /// data may be lost and recovery may report Corruption or an IO error; it must
    /// still never return wrong data.
    pub fn durable_damage(&self) -> bool {
        let s = self.disk.stats();
        s.bit_flips + s.header_damage + s.misdirected_writes + s.read_eio > 0
    }
}
