//! Risk: a crash a fuzzer found once coming back. Every file under fuzz/corpus/TARGET
//! and fuzz/artifacts/TARGET is replayed through the same library body cargo-fuzz runs.

use std::fs;
use std::path::Path;

fn replay(target: &str, body: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for kind in ["corpus", "artifacts"] {
        let Ok(entries) = fs::read_dir(root.join(kind).join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let bytes = fs::read(&path).expect("read corpus file");
            body(&bytes);
            count += 1;
        }
    }
    count
}

#[test]
fn storage_crash_corpus_replays_clean() {
    let n = replay("storage_crash", pagelog::fuzzing::storage_crash);
    assert!(n >= 3, "the committed seed corpus is missing ({n} files)");
}
