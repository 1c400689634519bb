//! Small files replaced whole: written under a temporary name, synced, renamed over
//! the old one, and the directory synced. A crash at any point leaves either the old
//! file or the new one, whole, never a mix (the rename is atomic, and the new bytes
//! are durable before it).
//!
//! Used for the files that sit beside the log and change rarely, the log's segment
//! table (`log/table.rs`) and the page cache's settings (`pagecache/conf.rs`), and to
//! create a new log file whole (`log/create.rs`).

use crate::error::{Error, Result};
use crate::failpoints::failpoint;

use super::traits::{OpenMode, Storage};

/// Replaces `name` by a file holding exactly `bytes`, through `tmp`: create `tmp`,
/// cut it to zero bytes (a crashed replacement may have left one), write, sync,
/// rename to `name`, sync the directory. Nothing that depends on the new contents may
/// happen before this returns.
pub fn replace(storage: &dyn Storage, name: &str, tmp: &str, bytes: &[u8]) -> Result<()> {
    failpoint!("small_file::replace::create");
    let file = storage.open(tmp, OpenMode::Create)?;
    failpoint!("small_file::replace::set_len");
    file.set_len(0)?;
    failpoint!("small_file::replace::write");
    file.write_at(bytes, 0)?;
    failpoint!("small_file::replace::sync");
    file.sync()?;
    drop(file);
    failpoint!("small_file::replace::rename");
    storage.rename(tmp, name)?;
    failpoint!("small_file::replace::sync_dir");
    storage.sync_dir()
}

/// The bytes of `name`, or None if there is no such file. A file longer than
/// `max_len` is `Error::Corruption` (no file of this kind is that long), so reading an
/// untrusted file never allocates more than `max_len` bytes.
pub fn read(storage: &dyn Storage, name: &str, max_len: u64) -> Result<Option<Vec<u8>>> {
    failpoint!("small_file::read::open");
    let file = match storage.open(name, OpenMode::Existing) {
        Ok(f) => f,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    failpoint!("small_file::read::len");
    let len = file.len()?;
    if len > max_len {
        return Err(Error::corruption(
            name,
            0,
            format!("{len} bytes, more than this file can hold ({max_len})"),
        ));
    }
    let mut bytes = vec![0; len as usize];
    failpoint!("small_file::read::read");
    file.read_at(&mut bytes, 0)?;
    Ok(Some(bytes))
}
