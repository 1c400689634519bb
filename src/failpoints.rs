//! Failpoints: a named point just before every storage call the engine makes, so a
//! test can cut the power (or do anything else the `fail` crate offers) exactly there.
//!
//! They exist only in builds with the `failpoints` feature; without it the
//! `failpoint!` macro expands to nothing and the engine carries no trace of them.
//! Names follow `module::operation::point`: the source module, the engine operation,
//! and the storage call about to happen. [`REGISTRY`] lists every one of them;
//! `tests/failpoints_registry.rs` checks that the list and the source agree;
//! `tests/failpoints.rs` crashes at each
//! point on its first hits, recovers, checks the simulator's oracle, and asserts that
//! its workload reached every registered point.
//!
//! Using them from a test (feature on, one test at a time: the `fail` registry is
//! process-wide):
//!
//! ```ignore
//! fail::cfg_callback("handle::write_out::sync", move || disk.crash_after(0))?;
//! ```

/// Every failpoint in the engine, grouped by module.
pub const REGISTRY: &[&str] = &[
    "blob::list::list",
    "blob::read::header",
    "blob::read::len",
    "blob::read::open",
    "blob::read::value",
    "blob::remove::remove",
    "blob::remove::sync_dir",
    "blob::write::create",
    "blob::write::header",
    "blob::write::sync",
    "blob::write::sync_dir",
    "blob::write::truncate",
    "blob::write::value",
    "create::existing::open",
    "create::new::reopen",
    "erase::zero::sync",
    "erase::zero::write",
    "handle::cut_tail::len",
    "handle::cut_tail::set_len",
    "handle::cut_tail::sync",
    "handle::open::sync_header",
    "handle::open::sync_recovered",
    "handle::open::write_header",
    "handle::read::header",
    "handle::read::payload",
    "handle::read::scan",
    "handle::write_out::sync",
    "handle::write_out::write",
    "iter::segment::len",
    "iter::segment::read",
    "recovery::foreign::read",
    "recovery::headers::read",
    "recovery::open::len",
    "recovery::scan::read",
    "recovery::sweep::read",
    "recovery::tip::read",
    "small_file::read::len",
    "small_file::read::open",
    "small_file::read::read",
    "small_file::replace::create",
    "small_file::replace::rename",
    "small_file::replace::set_len",
    "small_file::replace::sync",
    "small_file::replace::sync_dir",
    "small_file::replace::write",
    "snapshot::remove::file",
    "snapshot::write::start",
];

/// Marks a failpoint named by a string literal that must be in [`REGISTRY`]. Expands
/// to nothing without the `failpoints` feature.
macro_rules! failpoint {
    ($name:literal) => {
        #[cfg(feature = "failpoints")]
        fail::fail_point!($name);
    };
}

pub(crate) use failpoint;
