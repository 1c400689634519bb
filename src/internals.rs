//! The log's internals, public only for pagelog's own tools: the simulator
//! (`pagelog-sim`), the loom models, the fuzz targets and the integration tests that
//! check the on-disk format and the lock-free protocols piece by piece.
//!
//! Nothing here is a stable API, and a program using pagelog needs none of it: the
//! log's API is at the crate root ([`crate::Log`], [`crate::Config`], [`crate::Kind`],
//! ...), storage is in [`crate::io`]. Each module's doc says what it keeps and which
//! invariant (`docs/invariants.md`) it holds.

pub use crate::log::{
    aligned, blob, create, erase, format, header, interval, iobuf, recovery, scan, segment, space,
    stable, sweep, table, voids,
};
