//! pagelog: a lock-free page cache over a log-structured store, tested by deterministic
//! simulation under crashes and storage faults.
//!
//! The engine runs against a pluggable [`io::Storage`]. [`io::StdStorage`] uses real
//! files; [`io::SimStorage`] is an in-memory disk that reorders, tears and loses
//! unsynced writes and injects IO faults under a seed, so that every crash test is
//! reproducible from (seed, commit). See `docs/architecture.md` for the layers and
//! DESIGN.md for the invariants.

#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod config;
pub mod error;
pub mod failpoints;
pub mod fuzzing;
pub mod io;
pub mod log;
#[cfg(not(loom))]
pub mod simulation;
pub mod sync;

pub use config::{Config, RecoveryMode, SegmentMode};
pub use error::{DiskLocation, Error, IoOp, Result};
pub use log::{Batch, Kind, Log, LogIter, Lsn, Message, Pointer, Reservation};

/// The README's examples, compiled and run as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
