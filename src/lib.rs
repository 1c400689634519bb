//! pagelog: a crash-safe, group-committed log over segments, usable as a write-ahead
//! log, tested by deterministic simulation under crashes and storage faults. It is the
//! base of a lock-free page cache (not built yet).
//!
//! Start with [`Log`]: [`Config::open`] opens one in a directory, [`Log::append`]
//! writes, [`Log::flush`] makes durable, [`Log::iter_from`] replays and
//! [`Log::truncate_before`] bounds it. The engine runs against a pluggable
//! [`io::Storage`]: [`io::StdStorage`] uses real files; [`io::SimStorage`] is an
//! in-memory disk that reorders, tears and loses unsynced writes and injects IO faults
//! under a seed, so that every crash test is reproducible from (seed, commit); its
//! fault model is the doc of [`io::sim`]. `docs/architecture.md` describes the layers,
//! `docs/invariants.md` the invariants (I1 ... I11) and `docs/format.md` the bytes.

#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod config;
pub mod error;
pub mod failpoints;
pub mod fuzzing;
pub mod internals;
pub mod io;
mod log;
pub mod pagecache;
#[cfg(not(loom))]
pub mod simulation;
mod sync;

pub use config::{Config, RecoveryMode, SegmentMode};
pub use error::{DiskLocation, Error, IoOp, Result};
pub use log::recovery::Branches as RecoveryBranches;
pub use log::{
    Batch, Kind, LOG_FILE, Log, LogIter, Lsn, Message, Pointer, RecoveryInfo, Reservation,
    SEGMENT_TABLE_FILE, Stats,
};
pub use pagecache::{
    AppendBytes, BatchUpdate, Materializer, PageBatch, PageCache, PageCacheStats, PageId, PageRef,
    Update,
};

/// The README's examples, compiled and run as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
