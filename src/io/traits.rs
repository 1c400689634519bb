//! The two storage traits; see the module doc of [`crate::io`] for the contract.

use std::any::Any;
use std::fmt;

use crate::error::Result;

/// How [`Storage::open`] treats an existing or missing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// The file must exist (`NotFound` otherwise).
    Existing,
    /// Open the file, creating it empty if it does not exist.
    Create,
    /// Create the file; fail with `AlreadyExists` if it exists.
    CreateNew,
}

/// A flat directory of named files.
pub trait Storage: Send + Sync + fmt::Debug {
    /// Opens (or creates, per `mode`) the file `name`.
    fn open(&self, name: &str, mode: OpenMode) -> Result<Box<dyn File>>;
    /// Removes the name `name`. Open handles keep working on the old file.
    fn remove(&self, name: &str) -> Result<()>;
    /// Atomically renames `from` to `to`, replacing `to` if it exists.
    fn rename(&self, from: &str, to: &str) -> Result<()>;
    /// Every name in the directory, sorted bytewise (so order never depends on the
    /// platform or a hash seed).
    fn list(&self) -> Result<Vec<String>>;
    /// Makes every create, rename and remove done so far durable.
    fn sync_dir(&self) -> Result<()>;
    /// 64 unpredictable bits, different at every call: each log open draws its run
    /// nonce here (see `log/format.rs`). Real storage takes them from the operating
    /// system; the simulator derives them from its seed and history, so a seed still
    /// replays exactly. Not a storage call: it does no IO and cannot fail.
    fn nonce(&self) -> u64;
    /// Takes the storage's exclusive lock, held until the returned guard is dropped, or
    /// fails at once with [`crate::Error::Locked`] if another holder (in this process
    /// or another) has it. A log takes it at open and keeps it until it is dropped, so
    /// two logs never write one directory. Not a storage call in the simulator: it
    /// injects no faults and leaves the trace alone.
    fn lock(&self) -> Result<StorageLock>;
}

/// The guard of [`Storage::lock`]: the lock is released when it is dropped.
pub struct StorageLock {
    _guard: Box<dyn Any + Send + Sync>,
}

impl StorageLock {
    /// A lock released when `guard` is dropped (for implementors of [`Storage`]).
    pub fn new(guard: impl Any + Send + Sync) -> StorageLock {
        StorageLock {
            _guard: Box::new(guard),
        }
    }
}

impl fmt::Debug for StorageLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StorageLock")
    }
}

/// An open file. All IO is positional; `&self` methods may run concurrently.
pub trait File: Send + Sync + fmt::Debug {
    /// The file, for error messages: its full path on real files, its name in a
    /// simulated storage.
    fn name(&self) -> &str;
    /// Fills all of `buf` from `offset`, or fails (`UnexpectedEof` past the end).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()>;
    /// Writes all of `buf` at `offset`, extending the file if needed, or fails; after a
    /// failure any prefix of `buf` may have been written.
    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()>;
    /// Makes the file's written bytes and length durable (fdatasync).
    fn sync(&self) -> Result<()>;
    /// The current length in bytes (as reads see it, synced or not).
    fn len(&self) -> Result<u64>;
    /// Truncates or zero-extends the file to `len` bytes.
    fn set_len(&self, len: u64) -> Result<()>;
    /// True when `len()` is zero.
    fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
}
