//! [`StdStorage`]: real files in one directory.
//!
//! - Positional IO (`pread`/`pwrite` through `FileExt`), completed by the shared
//!   short-transfer loops.
//! - `File::sync` is `fdatasync` (`sync_data`): data and the length, not timestamps.
//! - Every create, rename and remove is followed by an fsync of the directory, and
//!   creating the directory itself fsyncs its parent. `sync_dir` is still offered (and
//!   cheap to call again) because the trait contract requires callers to use it.
//! - Every error carries the operation and the path.
//!
//! Unix only: positional IO and directory fsync have no portable std equivalent.

use std::fs;
use std::hash::{BuildHasher, RandomState};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::exact::{read_exact_with, write_all_with};
use super::name::validate_name;
use super::traits::{File, OpenMode, Storage, StorageLock};
use crate::error::{Error, IoOp, Result};

/// Real files in one directory. Cheap to clone (it is a path).
#[derive(Debug, Clone)]
pub struct StdStorage {
    dir: PathBuf,
    /// Opened with [`StdStorage::open_read_only`]: files are opened for reading
    /// only, and nothing is created, renamed or removed.
    read_only: bool,
}

impl StdStorage {
    /// Uses the existing directory `dir` without writing to it: every file is opened
    /// for reading only, nothing is created, renamed or removed (each such call is
    /// `Error::InvalidArgument`), a missing directory is `Error::Io` (`NotFound`),
    /// and the directory lock is taken on an existing `LOCK` file (opened for reading)
    /// or, where there is none, not taken at all (a writer that starts meanwhile is
    /// then not kept out). For reading a store on a read-only mount, a backup, or
    /// another user's directory, with [`Config::read_only`](crate::Config::read_only).
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<StdStorage> {
        let dir = dir.as_ref().to_path_buf();
        if dir.as_os_str().is_empty() {
            return Err(Error::InvalidArgument(
                "an empty directory path (use \".\" for the working directory)".into(),
            ));
        }
        let shown = dir.display().to_string();
        let meta = fs::metadata(&dir).map_err(|e| Error::io(IoOp::Open, &shown, e))?;
        if !meta.is_dir() {
            return Err(Error::InvalidArgument(format!(
                "{shown} is not a directory"
            )));
        }
        Ok(StdStorage {
            dir,
            read_only: true,
        })
    }

    /// Refuses a change to the directory in a read-only storage.
    fn writable(&self, what: &str) -> Result<()> {
        match self.read_only {
            true => Err(Error::InvalidArgument(format!(
                "{what} in {}: the storage was opened read-only",
                self.dir.display()
            ))),
            false => Ok(()),
        }
    }

    /// Uses the directory `dir`, creating it (and syncing its parent) if missing.
    pub fn open(dir: impl AsRef<Path>) -> Result<StdStorage> {
        let dir = dir.as_ref().to_path_buf();
        let shown = dir.display().to_string();
        if dir.as_os_str().is_empty() {
            // An empty path would name the working directory only for some calls.
            return Err(Error::InvalidArgument(
                "an empty directory path (use \".\" for the working directory)".into(),
            ));
        }
        if !dir.is_dir() {
            fs::create_dir_all(&dir).map_err(|e| Error::io(IoOp::CreateDir, &shown, e))?;
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                fsync_dir(parent)?;
            }
        }
        Ok(StdStorage {
            dir,
            read_only: false,
        })
    }

    /// The directory this storage lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> Result<PathBuf> {
        validate_name(name)?;
        Ok(self.dir.join(name))
    }
}

/// 64 bits from the operating system's randomness: std's `RandomState` keys are drawn
/// from it once per thread and stepped at every `new`, so hashing with a fresh one
/// gives a distinct, unpredictable value per call without another dependency.
fn os_random() -> u64 {
    RandomState::new().hash_one(std::process::id())
}

fn fsync_dir(dir: &Path) -> Result<()> {
    let shown = dir.display().to_string();
    let handle = fs::File::open(dir).map_err(|e| Error::io(IoOp::SyncDir, &shown, e))?;
    handle
        .sync_all()
        .map_err(|e| Error::io(IoOp::SyncDir, &shown, e))
}

impl Storage for StdStorage {
    fn open(&self, name: &str, mode: OpenMode) -> Result<Box<dyn File>> {
        let path = self.path(name)?;
        let mut options = fs::OpenOptions::new();
        options.read(true).write(!self.read_only);
        if mode != OpenMode::Existing {
            self.writable(&format!("creating {name}"))?;
        }
        let created = match mode {
            OpenMode::Existing => false,
            OpenMode::CreateNew => {
                options.create_new(true);
                true
            }
            OpenMode::Create => {
                !path.exists() && {
                    options.create(true);
                    true
                }
            }
        };
        let file = options
            .open(&path)
            .map_err(|e| Error::io(IoOp::Open, path.display().to_string(), e))?;
        if created {
            fsync_dir(&self.dir)?;
        }
        Ok(Box::new(StdFile {
            name: path.display().to_string(),
            file,
        }))
    }

    fn remove(&self, name: &str) -> Result<()> {
        self.writable(&format!("removing {name}"))?;
        let path = self.path(name)?;
        fs::remove_file(&path)
            .map_err(|e| Error::io(IoOp::Remove, path.display().to_string(), e))?;
        fsync_dir(&self.dir)
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.writable(&format!("renaming {from}"))?;
        let src = self.path(from)?;
        let dst = self.path(to)?;
        fs::rename(&src, &dst).map_err(|e| {
            let what = format!("{} -> {}", src.display(), dst.display());
            Error::io(IoOp::Rename, what, e)
        })?;
        fsync_dir(&self.dir)
    }

    fn list(&self) -> Result<Vec<String>> {
        let shown = self.dir.display().to_string();
        let entries = fs::read_dir(&self.dir).map_err(|e| Error::io(IoOp::List, &shown, e))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(IoOp::List, &shown, e))?;
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            // A name that is not UTF-8 cannot have been created through this API.
            if let (true, Ok(name)) = (is_file, entry.file_name().into_string()) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn nonce(&self) -> u64 {
        os_random()
    }

    fn sync_dir(&self) -> Result<()> {
        fsync_dir(&self.dir)
    }

    /// An exclusive `flock` on the file [`LOCK_FILE`] in the directory (created if
    /// missing; its content is never used). `flock` locks belong to an open file
    /// description, so a second lock from this process conflicts as one from another
    /// process does, and the kernel drops the lock when the holder dies.
    ///
    /// Read-only storage opens an existing `LOCK` for reading (`flock` needs no write
    /// access) and takes no lock where there is none.
    fn lock(&self) -> Result<StorageLock> {
        let path = self.path(LOCK_FILE)?;
        let shown = self.dir.display().to_string();
        let opened = fs::OpenOptions::new()
            .read(true)
            .write(!self.read_only)
            .create(!self.read_only)
            .truncate(false)
            .open(&path);
        let file = match opened {
            Ok(f) => f,
            Err(e) if self.read_only && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(StorageLock::new(()));
            }
            Err(e) => return Err(Error::io(IoOp::Open, path.display().to_string(), e)),
        };
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => Ok(StorageLock::new(file)),
            Err(fs4::TryLockError::WouldBlock) => Err(Error::Locked { path: shown }),
            Err(fs4::TryLockError::Error(e)) => {
                Err(Error::io(IoOp::Lock, path.display().to_string(), e))
            }
        }
    }
}

/// The name of the lock file [`StdStorage::lock`] holds in its directory.
pub const LOCK_FILE: &str = "LOCK";

/// An open real file.
#[derive(Debug)]
struct StdFile {
    /// Its full path: every error and corruption report names the file a user can
    /// find, not its bare name in the directory.
    name: String,
    file: fs::File,
}

impl File for StdFile {
    fn name(&self) -> &str {
        &self.name
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        read_exact_with(buf, offset, |b, at| self.file.read_at(b, at))
            .map_err(|e| Error::io(IoOp::Read, &self.name, e))
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        write_all_with(buf, offset, |b, at| self.file.write_at(b, at))
            .map_err(|e| Error::io(IoOp::Write, &self.name, e))
    }

    fn sync(&self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| Error::io(IoOp::Sync, &self.name, e))
    }

    fn len(&self) -> Result<u64> {
        self.file
            .metadata()
            .map(|m| m.len())
            .map_err(|e| Error::io(IoOp::Len, &self.name, e))
    }

    fn set_len(&self, len: u64) -> Result<()> {
        self.file
            .set_len(len)
            .map_err(|e| Error::io(IoOp::SetLen, &self.name, e))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Found by a newcomer's trial: an empty path left a `LOCK` and a half-made
    /// settings file in the working directory before failing.
    #[test]
    fn an_empty_directory_path_is_refused_before_anything_is_created() {
        let e = StdStorage::open("").expect_err("empty path");
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    }
}
