//! Finding the log file, or creating a new one so that a file named `log` always
//! holds a pagelog log.
//!
//! A new log is written whole under another name and renamed into place:
//!
//! 1. open (create) `log.new` and cut it to zero bytes (a crashed creation may have
//!    left one);
//! 2. write the first segment header at offset 0; sync the file;
//! 3. rename `log.new` to `log`; sync the directory;
//! 4. open `log`.
//!
//! So `log` never holds a torn first header: a crash before step 3 is durable leaves
//! no `log` (or the empty or all-zero one that was there) and the next open creates
//! it again. Nothing is written to the log before step 3 returns, so nothing
//! acknowledged can be lost with it. It follows that a `log` with no valid segment
//! header but some non-zero byte is not a crash's leftover: it is a foreign file or
//! a log whose every header was destroyed, and recovery reports it as
//! [`Error::Corruption`] naming the file, in every recovery mode, and writes nothing
//! (`recovery.rs`). A missing, empty or all-zero `log` is a new log.

use crate::error::{Error, Result};
use crate::failpoints::failpoint;
use crate::io::{File, OpenMode, Storage, small_file};

use super::blob;
use super::handle::LOG_FILE;

/// The name a new log is written under before it is renamed to [`LOG_FILE`].
pub const NEW_LOG_FILE: &str = "log.new";

/// The log file, or None if there is none.
pub fn existing(storage: &dyn Storage) -> Result<Option<Box<dyn File>>> {
    failpoint!("create::existing::open");
    match storage.open(LOG_FILE, OpenMode::Existing) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Creates the log file holding `header` at offset 0 (steps 1 to 4 of the module doc)
/// and returns it. Refuses, writing nothing, if blob files exist: they belong to a log
/// that is gone, and creating a new one would delete them.
pub fn create(storage: &dyn Storage, header: &[u8]) -> Result<Box<dyn File>> {
    let orphans = blob::blobs_from(storage, 0)?;
    if let Some(&first) = orphans.first() {
        return Err(Error::corruption(
            LOG_FILE,
            0,
            format!(
                "the log file is missing or empty, but {} blob files of a log exist (the first is {})",
                orphans.len(),
                blob::blob_name(first)
            ),
        ));
    }
    small_file::replace(storage, LOG_FILE, NEW_LOG_FILE, header)?;
    failpoint!("create::new::reopen");
    storage.open(LOG_FILE, OpenMode::Existing)
}
