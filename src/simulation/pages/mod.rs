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
//! - [`run`]: one seeded run;
//! - `ops`: the clients' operations, each checked against the model.

pub mod materializer;
pub mod model;
mod ops;
pub mod report;
pub mod run;
pub mod scenario;

pub use report::{PageCounts, PageReport};
pub use run::run_pages;
pub use scenario::PageScenario;
