//! Failpoints: a named point just before every storage call the engine makes, so a
//! test can cut the power (or do anything else the `fail` crate offers) exactly there.
//!
//! They exist only in builds with the `failpoints` feature; without it the
//! [`failpoint!`] macro expands to nothing and the engine carries no trace of them.
//! Names follow `module::operation::point`: the source module, the engine operation,
//! and the storage call about to happen. [`REGISTRY`] lists every one of them;
//! `tests/failpoints.rs` checks that the list and the source agree, crashes at each
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
    "erase::zero::sync",
    "erase::zero::write",
    "handle::cut_tail::len",
    "handle::cut_tail::set_len",
    "handle::cut_tail::sync",
    "handle::open::create",
    "handle::open::sync_dir",
    "handle::open::sync_header",
    "handle::open::sync_recovered",
    "handle::open::write_header",
    "handle::read::header",
    "handle::read::payload",
    "handle::write_out::sync",
    "handle::write_out::write",
    "iter::segment::len",
    "iter::segment::read",
    "recovery::headers::read",
    "recovery::open::len",
    "recovery::scan::read",
    "recovery::tip::read",
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::REGISTRY;
    use std::path::Path;

    /// Every failpoint name marked in `dir`, recursively, with its file.
    fn marked(dir: &Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("read src")
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                marked(&path, out);
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read source");
            for piece in text.split("failpoint!(\"").skip(1) {
                let name = piece.split('"').next().expect("closing quote");
                out.push((name.to_string(), path.display().to_string()));
            }
        }
    }

    #[test]
    fn the_registry_lists_every_failpoint_in_the_source_once() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        marked(&src, &mut found);
        let mut names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        let mut registry = REGISTRY.to_vec();
        registry.sort_unstable();
        assert_eq!(names, registry, "source failpoints vs REGISTRY");
        let mut deduped = names.clone();
        deduped.dedup();
        assert_eq!(deduped.len(), names.len(), "a failpoint name used twice");
        for name in REGISTRY {
            let parts: Vec<&str> = name.split("::").collect();
            assert_eq!(parts.len(), 3, "{name}: not module::operation::point");
        }
    }
}
