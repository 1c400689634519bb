//! The log: a group-committed, crash-safe append log over segments, usable on its own
//! as a write-ahead log. `docs/architecture.md` walks its write and recovery paths
//! with every sync in order; `docs/invariants.md` defines the invariants (I1 ... I11)
//! the module docs below cite.
//!
//! - [`handle`]: the [`Log`] and its write path;
//! - [`reservation`]: claimed space, completed or aborted ([`aborted`]: aborted
//!   messages kept for the simulator's resurrecting liar);
//! - [`roll`]: finishing the current segment early (for the page cache's `compact`);
//! - [`mark`]: resume marks, which tell copies of one store apart in a shared segment;
//! - [`batch`]: atomic batches (I5);
//! - [`held`]: the claims each thread holds open, so a call that would wait for its
//!   own fails instead of hanging;
//! - [`iter`]: reading the log back in lsn order;
//! - [`recovery`] and [`scan`]: from file bytes to the recovered tip (I1, I2, I7);
//! - [`iobuf`], [`header`], [`aligned`]: the IO-buffer ring and its header word (I9);
//! - [`interval`], [`stable`]: the stable lsn over out-of-order writes (I3);
//! - [`segment`], [`space`]: segment placement, liveness and reuse (I4);
//! - [`blob`]: values above the blob threshold, one file each;
//! - [`create`]: finding the log file, or creating a new one whole (tmp + rename);
//! - [`sweep`]: Vouch messages outside the recovered log (rot or torn tail?);
//! - [`table`]: the durable segment table (a released segment or a destroyed header?);
//! - [`erase`]: zeroing what must never be read as log again; [`voids`]: the lsn
//!   ranges recoveries cut off;
//! - [`format`](mod@format): the on-disk bytes;
//! - [`stats`]: per-instance counters; [`flusher`]: the optional periodic flush.

pub mod aborted;
pub mod aligned;
pub mod batch;
pub mod blob;
pub mod create;
pub mod erase;
pub mod flusher;
pub mod format;
pub mod handle;
pub mod header;
pub mod held;
pub mod interval;
pub mod iobuf;
pub mod iter;
pub mod kind;
pub mod mark;
pub mod read;
pub mod recovery;
pub mod reservation;
pub mod roll;
pub mod scan;
pub mod segment;
pub mod space;
pub mod stable;
pub mod stats;
pub mod sweep;
pub mod table;
pub mod truncate;
pub mod voids;

pub use batch::Batch;
pub use format::Lsn;
pub use handle::{LOG_FILE, Log, Message, Pointer, RecoveryInfo};
pub use iter::LogIter;
pub use kind::Kind;
pub use reservation::Reservation;
pub use stats::Stats;
pub use table::SEGMENT_TABLE_FILE;
