//! Seeded simulation of the log under crashes and storage faults, checked against a
//! reference model: the library behind the `pagelog-sim` campaign runner, usable from
//! tests (and by users testing code built on pagelog).
//!
//! - [`scenario`]: everything a seed decides up front (config, fault classes and rates,
//!   clients, operation count, crash rate), with pins to fix any of it;
//! - [`scenario_text`]: a scenario written out in full (what regression tests hold);
//! - [`plan`]: the operation sequence a scenario's seed draws, and its text form;
//! - [`runner`]: one seeded run: a scheduler on one thread driving logical clients
//!   through the engine's non-blocking calls, crashing and recovering;
//! - [`clients`]: one incarnation: the logical clients and their steps;
//! - [`state`]: what a run carries across incarnations;
//! - `forge`: the resurrecting liar, which puts aborted messages back;
//! - [`oracle`]: the reference model and the invariants checked after each recovery;
//! - [`report`]: what a run counted and how it ended;
//! - [`shrink`](mod@shrink): delta debugging of a failing run, and the regression test it becomes;
//! - [`pages`]: page seeds, the page cache under the same faults, checked by a page
//!   oracle.
//!
//! Determinism: a run uses only its seed (ChaCha8), a single thread, ordered maps and
//! SimStorage; the same (seed, pins, plan, commit) gives the same trace hash.

pub mod clients;
mod forge;
pub mod oracle;
pub mod pages;
pub mod plan;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod scenario_text;
pub mod shrink;
pub mod state;

pub use oracle::{Invariant, Model, Violation};
pub use plan::{Step, parse_plan, plan_text};
pub use report::{Counts, Outcome, Report};
pub use runner::{parse_sites, run, run_at_sites};
pub use scenario::{FaultClass, Liar, Pins, Scenario};
pub use shrink::{Shrunk, regression_test, shrink};
