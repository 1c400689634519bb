//! File-name validation: a name must stay inside its storage directory.

use crate::error::{Error, Result};

/// The longest name accepted, in bytes (the common filesystem limit).
pub const NAME_MAX_BYTES: usize = 255;

/// Checks that `name` is a plain file name: not empty, at most 255 bytes, no `/`, no
/// `\\`, no NUL, and not `.` or `..`. Every storage call validates its names with this,
/// so no name can reach outside the storage's directory.
pub fn validate_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "is empty"
    } else if name.len() > NAME_MAX_BYTES {
        "is longer than 255 bytes"
    } else if name == "." || name == ".." {
        "is a directory reference"
    } else if name.contains(['/', '\\', '\0']) {
        "contains a path separator or NUL"
    } else {
        return Ok(());
    };
    Err(Error::InvalidArgument(format!(
        "file name {name:?} {reason}"
    )))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_escape_the_directory_are_rejected() {
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "/etc",
            "a\\b",
            "nul\0",
            &"x".repeat(256),
        ] {
            assert!(
                matches!(validate_name(bad), Err(Error::InvalidArgument(_))),
                "{bad:?} accepted"
            );
        }
        for good in ["seg.0", "blob-000001", ".snapshot.tmp", &"y".repeat(255)] {
            assert!(validate_name(good).is_ok(), "{good:?} rejected");
        }
    }
}
