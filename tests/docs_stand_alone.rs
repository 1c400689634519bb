//! The repository stands on its own: no file points at a design document a user does
//! not have, and every invariant the code and docs cite (I1, I2, ...) is defined in
//! `docs/invariants.md`.

use std::fs;
use std::path::{Path, PathBuf};

/// Text files of the repository (sources, docs, scripts, configs), skipping build
/// output, git's files and fuzz corpora.
fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let skip = ["target", ".git", "corpus", "artifacts"];
    for entry in fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !skip.contains(&name.as_str()) {
                text_files(&path, out);
            }
            continue;
        }
        let text = ["rs", "md", "toml", "sh", "yml", "yaml", "txt"];
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if text.contains(&ext) || name == "run" {
            out.push(path);
        }
    }
}

fn repository_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    text_files(root, &mut files);
    assert!(files.len() > 50, "found only {} files", files.len());
    files
}

#[test]
fn no_file_points_at_a_design_document_outside_the_repository() {
    // Spelled in pieces so that this file does not name them itself.
    let banned = [concat!("DESIGN", ".md"), concat!("../", "shared")];
    let mut hits = Vec::new();
    for path in repository_files() {
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        for b in banned {
            if text.contains(b) {
                hits.push(format!("{} names {b}", path.display()));
            }
        }
    }
    assert!(hits.is_empty(), "{hits:#?}");
}

#[test]
fn every_cited_invariant_is_defined_in_docs_invariants_md() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let defined = fs::read_to_string(root.join("docs/invariants.md")).expect("invariants.md");
    let mut cited = std::collections::BTreeSet::new();
    for path in repository_files() {
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        let bytes = text.as_bytes();
        for (i, w) in bytes.windows(2).enumerate() {
            let boundary = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
            if boundary && w[0] == b'I' && w[1].is_ascii_digit() {
                let digits: String = text[i + 1..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                let next = text[i + 1 + digits.len()..].chars().next();
                if !next.is_some_and(|c| c.is_ascii_alphanumeric()) {
                    cited.insert(format!("I{digits}"));
                }
            }
        }
    }
    assert!(
        cited.contains("I1"),
        "the scan found no citations: {cited:?}"
    );
    for id in &cited {
        assert!(
            defined.contains(&format!("| {id} |")),
            "{id} is cited but not defined in docs/invariants.md"
        );
    }
}
