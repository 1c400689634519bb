//! Page seeds: the page cache under crashes and storage faults, driven by logical
//! clients through its non-blocking calls and checked against a model of every
//! page (`model.rs`) after each recovery and on every read.
//!
//! - [`scenario`]: what a page seed draws (a page-cache configuration of its own on
//!   top of a log seed's fault classes, crash model and workload size);
//! - [`materializer`]: the order-sensitive test Materializer, and its deliberately
//!   wrong twin for the self-check;
//! - [`model`]: the page oracle;
//! - [`report`]: what a page seed counted and how it ended;
//! - [`plan`]: the steps a page seed draws, and their text form;
//! - [`scenario_text`]: a page scenario written out in full;
//! - [`run`]: one seeded run (its own plan, or a given one);
//! - [`shrink`](mod@shrink): a failing page run down to a minimal one, and the
//!   regression test it becomes;
//! - `ops`: the clients' operations, each checked against the model.

pub mod materializer;
pub mod model;
mod ops;
pub mod plan;
pub mod report;
pub mod run;
pub mod scenario;
pub mod scenario_text;
pub mod shrink;

pub use plan::{PageOp, PageStep, generate_pages, page_plan_text, parse_page_plan};
pub use report::{PageCounts, PageReport};
pub use run::{run_page_plan, run_page_plan_traced, run_pages};
pub use scenario::PageScenario;
pub use shrink::{page_regression_test, shrink_pages};
