//! Fuzz-target bodies. They live in the library so that stable tests can replay every
//! corpus file through exactly the code cargo-fuzz runs (`tests/fuzz_corpus.rs`).
//!
//! Each body takes arbitrary bytes and panics only when it finds a bug:
//! - [`recover_image`]: recovery of a log and blob files shaped by the input, or of
//!   a seeded workload's log damaged where the input says, checked against the
//!   undamaged log's messages;
//! - [`recover_pagecache`]: a page cache's open from snapshots and a log damaged
//!   where the input says (or a snapshot file that is the input), checked against
//!   the workload's model and a full replay of the log;
//! - [`ops_then_crash`]: a simulation run (operations, power cuts) checked by the
//!   oracle;
//! - [`format_roundtrip`]: header decoding of arbitrary bytes, and round trips;
//! - [`storage_crash`]: the simulated disk's own crash model.
//!
//! `scripts/fuzz.sh TARGET SECONDS` runs one under cargo-fuzz (nightly). The bodies
//! that open a `Log` are not built under `--cfg loom` (loom's `Arc` cannot hold the
//! storage trait object they build, and they are not models).

#[cfg(not(loom))]
mod damaged_log;
mod format_roundtrip;
#[cfg(not(loom))]
mod ops_then_crash;
#[cfg(not(loom))]
mod recover_image;
#[cfg(not(loom))]
mod recover_pagecache;
mod storage_crash;

pub use format_roundtrip::format_roundtrip;
#[cfg(not(loom))]
pub use ops_then_crash::ops_then_crash;
#[cfg(not(loom))]
pub use recover_image::recover_image;
#[cfg(not(loom))]
pub use recover_pagecache::recover_pagecache;
pub use storage_crash::storage_crash;
