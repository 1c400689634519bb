//! The storage seam: everything pagelog persists goes through [`Storage`] and [`File`].
//!
//! The engine never touches `std::fs`. It is handed a `Storage` (a flat directory of
//! named files) and does all its IO through it. Two implementations ship:
//!
//! - [`StdStorage`]: real files in one directory, positional IO, `fdatasync`, and a
//!   directory fsync after every create, rename and remove;
//! - [`SimStorage`]: an in-memory, seeded, fault-injecting disk whose module doc is the
//!   fault model the engine is tested against. It is public so that systems built on
//!   pagelog can be simulation-tested the same way.
//!
//! # Contract
//!
//! Reads see every write made through any handle of the same storage, synced or not.
//! Durability is explicit and only what is listed here survives a power cut for sure:
//!
//! 1. `File::sync` makes that file's written bytes and its length durable (fdatasync).
//! 2. `Storage::sync_dir` makes every create, rename and remove done so far durable.
//!    `StdStorage` also syncs the directory after each of those calls; the engine must
//!    not rely on it, because `SimStorage` does not, and a rename or create the engine
//!    depends on must be followed by `sync_dir` before it is acknowledged.
//! 3. Anything not yet synced may, after a crash, be present, absent, or torn, and
//!    unsynced writes reach the medium in no particular order.
//!
//! `read_at` fills the whole buffer or fails (`UnexpectedEof` past the end); `write_at`
//! writes every byte or fails. Both may have been short underneath: the retry loops
//! live in one place (`exact`), shared by both implementations, so the simulator's
//! short-transfer faults exercise the very loops real files use. After a failed
//! `write_at` any prefix of the bytes may have been written.
//!
//! `Storage::nonce` hands out fresh random bits (OS randomness for real files, derived
//! from the seed and the call history in the simulator): they tell the bytes of one
//! run of the engine from those of another.
//!
//! # Why the traits look like this
//!
//! - **Object safe, used as `Arc<dyn Storage>` and `Box<dyn File>`.** The engine holds
//!   one storage chosen at open. Making every engine type generic over the storage would
//!   put a type parameter on the whole public API and compile the engine twice; the
//!   price of dynamic dispatch is one indirect call per IO, nanoseconds against the
//!   microseconds of a syscall, and the hot path (reserving buffer space, installing a
//!   page update) makes no storage call at all.
//! - **Positional, `&self` IO.** `read_at`/`write_at` take an offset and a shared
//!   reference, so several threads can write different IO buffers of one segment file
//!   at once (group commit writes buffers out of order) without a seek position or a
//!   lock around the file.
//! - **Flat names, not paths.** A storage is one directory. Names are validated (no `/`,
//!   no NUL, not `.` or `..`, at most 255 bytes) so that a name can never escape it.
//! - **Errors carry the operation and the name** ([`crate::Error::Io`]); the engine adds
//!   no context of its own on the IO path.
//! - **Sizes are `u64`, buffers are caller-owned.** No call allocates on behalf of the
//!   caller, so the engine controls memory: a length read from disk is checked against
//!   `File::len` before anything is allocated for it.

mod exact;
mod name;
pub mod sim;
pub mod small_file;
mod std_fs;
mod traits;

pub use name::validate_name;
pub use sim::{
    CrashModel, CrashReport, FaultRates, FaultSite, Filler, SimConfig, SimStats, SimStorage,
    Tearing, TornRange,
};
pub use std_fs::{LOCK_FILE, StdStorage};
pub use traits::{File, OpenMode, Storage, StorageLock};
