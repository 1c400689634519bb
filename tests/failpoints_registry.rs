//! Risk: a failpoint in the source that the registry misses (never crash-tested), or
//! a registry name no code marks. Reads the source tree, so it lives here and not in
//! the library.

use pagelog::failpoints::REGISTRY;
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
