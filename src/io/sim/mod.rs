//! `SimStorage`: an in-memory disk that crashes, tears, loses and corrupts on a seed.
//!
//! This module doc is pagelog's storage fault model. Each fault below says what may
//! happen and what the engine must do so that recovery still meets the invariants
//! (`docs/invariants.md`). Every random choice is drawn from one ChaCha8 generator seeded at
//! construction, in the order calls are made, so a run is a function of
//! (seed, sequence of calls); [`SimStorage::trace_hash`] digests that sequence and its
//! outcomes so that determinism can be checked.
//!
//! # State
//!
//! Per file: a durable image, the current view reads see, and the ordered list of
//! unsynced writes and length changes between them. Per directory: durable names,
//! current names, and the unsynced creates, renames and removes. `File::sync` makes a
//! file's list durable; `Storage::sync_dir` makes the directory's list durable. Nothing
//! else ever makes anything durable.
//!
//! # Crash (power cut): [`SimStorage::crash`]
//!
//! | unsynced state | at a crash it may | engine duty |
//! |---|---|---|
//! | a write | persist whole, vanish, or tear (weights in [`CrashModel`]) | recover the longest valid prefix (I1); never return a torn message (I2) |
//! | a torn write, sector-granular | keep each sector it touched or not, independently; a piece past the old end leaves a zero-filled hole before it | checksums over every message; a message is valid only whole |
//! | a torn write, byte-granular | keep a prefix up to a random byte; zeros or garbage after it, to the write's end ([`CrashReport::filler`] lists these) | the same; a zero-filled tail must not parse as a message |
//! | several writes | reach the medium in any order: no order is kept between unsynced writes | never rely on write order; only on sync |
//! | a length change | persist or not (`set_len_persist`) | a truncation that matters is synced before it is relied upon |
//! | a create, rename, remove | persist or not (`dir_op_persist`), each only if its source still names the same file | `sync_dir` after any name change recovery depends on (a snapshot's rename) |
//!
//! What is synced always survives a crash, byte for byte, unless a runtime fault below
//! damaged it. A crash resolves once: the returned storage boots from the surviving
//! image with nothing pending, and every handle of the old storage fails.
//!
//! # Crash points
//!
//! [`SimStorage::crash_after`]`(n)`: the next `n` calls run, the one after and all later
//! fail as crashed, so a crash can land between any two storage calls an engine
//! operation makes. The caller then resolves it with `crash()`. (Failpoints inside the
//! engine are the other crash point, in the failpoint suite.)
//!
//! # Runtime faults ([`FaultRates`]; each class off by default, each with its own rate)
//!
//! | fault | what happens | engine duty |
//! |---|---|---|
//! | read EIO | a sector of the read range goes bad; every read touching it fails until a write covers the whole sector | return the error; poison; never treat unreadable data as absent |
//! | write EIO | the call fails; a random prefix of the bytes may have landed (unsynced) | poison; acknowledge nothing that depended on it |
//! | sync EIO (fsyncgate) | the call fails and the file's (or directory's) unsynced changes are dropped: reads still show them, a crash loses them, and the next sync returns Ok without writing them | poison; never retry the sync and claim durability |
//! | ENOSPC | a write or extension past the byte quota fails; nothing of it lands | return the error; poison; earlier data intact |
//! | short read / write | a transfer moves fewer bytes than asked | the shared exact loops finish the transfer |
//! | misdirected write | the bytes land 1 to 8 sectors off, or at the same offset in another file; Ok is returned and the intended place is not written | position-checked, checksummed records: a misplaced record is rejected, a missing one is detected |
//! | bit flip | at a crash, one bit of a file's surviving image flips | checksums detect it; inside acknowledged data it is `Error::Corruption` at open, never data |
//!
//! Runtime faults damage only what the engine can detect or must report; the crash
//! model is the only source of legal loss. Anything outside this model (a disk that
//! acknowledges a sync and keeps nothing) is a bug in the disk, and the simulator's
//! oracle must catch an engine that is only correct on such a disk.
//!
//! # Limits
//!
//! Files live in memory up to `max_file_bytes` (default 1 GiB; past it writes fail with
//! `FileTooLarge`). The directory is flat, like every [`crate::io::Storage`].

mod config;
mod crash;
mod inode;
mod names;
mod site;
mod stats;
mod storage;
mod trace;
mod world;

pub use config::{CrashModel, FaultRates, Filler, SimConfig, Tearing};
pub use crash::{CrashReport, TornRange};
pub use site::{FaultMask, FaultSite};
pub use stats::SimStats;
pub use storage::SimStorage;
