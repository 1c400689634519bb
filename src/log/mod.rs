//! The log: a group-committed, crash-safe append log over segments (DESIGN.md, Write
//! path and Recovery path).
//!
//! Built bottom-up. Present so far:
//! - [`blob`]: blob files, written and made durable (file and name) before a pointer
//!   to them can be reserved;
//! - [`format`]: the on-disk bytes (segment, message and blob headers);
//! - [`header`]: the IO buffer's packed atomic header word (I9);
//! - [`interval`]: the stable-lsn tracker over out-of-order buffer writes (I3);
//! - [`segment`]: the segment accountant (placement, live pages, reuse rules of I4);
//! - [`stable`]: waiting for durability, with poisoning that wakes every waiter.
//!
//! Next: the IO-buffer ring and reservations, the `Log` that ties these together,
//! batches, recovery and iteration.

pub mod blob;
pub mod format;
pub mod header;
pub mod interval;
pub mod segment;
pub mod stable;
