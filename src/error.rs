//! The one error type of pagelog.
//!
//! Every fallible call returns [`Result`]. The variants are chosen so that a caller can
//! act on them without parsing messages:
//!
//! - [`Error::Io`]: the storage layer failed. It carries the operation and the file name,
//!   and the original `std::io::Error` as its source. After an IO error an engine
//!   instance is poisoned: nothing it acknowledged is lost, but it accepts no more work.
//! - [`Error::Corruption`]: bytes read from storage are not bytes pagelog wrote (a
//!   checksum, magic, length or position check failed) at a place where that cannot be
//!   explained by a crash. Bytes from disk are untrusted input; malformed input is this
//!   error, never a panic.
//! - [`Error::Poisoned`]: an earlier IO error poisoned the instance; `first` is that
//!   error. Reopen the instance to recover: nothing acknowledged is lost.
//! - [`Error::WouldBlock`]: a non-blocking twin (`try_*`) could not finish without
//!   waiting. Retry later; nothing was changed.
//! - [`Error::Unsupported`], [`Error::InvalidConfig`], [`Error::InvalidArgument`]: the
//!   request itself is wrong; no state was changed.
//! - [`Error::Locked`]: the storage is already open by another log, in this process or
//!   another; nothing was read or written.
//!
//! `Error` is `Clone` (the IO source sits behind an `Arc`) so that a poisoned instance
//! can hand the first error to every later caller.

use std::fmt;
use std::io;
use std::sync::Arc;

/// `Result` with pagelog's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The storage operation that failed, for [`Error::Io`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IoOp {
    /// Opening or creating a file.
    Open,
    /// `File::read_at`.
    Read,
    /// `File::write_at`.
    Write,
    /// `File::sync` (fdatasync).
    Sync,
    /// `File::len`.
    Len,
    /// `File::set_len`.
    SetLen,
    /// `Storage::remove`.
    Remove,
    /// `Storage::rename`.
    Rename,
    /// `Storage::list`.
    List,
    /// `Storage::sync_dir` (directory fsync).
    SyncDir,
    /// Creating the storage directory itself.
    CreateDir,
    /// Taking the storage's lock (`Storage::lock`).
    Lock,
}

impl IoOp {
    /// The call's name, as errors print it.
    pub fn name(self) -> &'static str {
        match self {
            IoOp::Open => "open",
            IoOp::Read => "read",
            IoOp::Write => "write",
            IoOp::Sync => "sync",
            IoOp::Len => "len",
            IoOp::SetLen => "set_len",
            IoOp::Remove => "remove",
            IoOp::Rename => "rename",
            IoOp::List => "list",
            IoOp::SyncDir => "sync_dir",
            IoOp::CreateDir => "create_dir",
            IoOp::Lock => "lock",
        }
    }
}

impl fmt::Display for IoOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where corrupt bytes were found: a file name and a byte offset in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskLocation {
    /// File name inside the storage directory.
    pub file: String,
    /// Byte offset of the first byte that failed a check.
    pub offset: u64,
}

impl fmt::Display for DiskLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.file, self.offset)
    }
}

/// Every error pagelog returns.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// A storage call failed.
    Io {
        /// What was being done.
        op: IoOp,
        /// The file (or directory) it was done to.
        path: String,
        /// The error the storage layer reported.
        source: Arc<io::Error>,
    },
    /// Bytes on storage failed a check that a crash cannot explain.
    Corruption {
        /// Where.
        at: DiskLocation,
        /// Which check failed, in words.
        reason: String,
    },
    /// An earlier IO error poisoned this instance; reopen to continue.
    Poisoned {
        /// The error that poisoned the instance.
        first: Box<Error>,
    },
    /// The request needs something this build or this storage does not offer.
    Unsupported(String),
    /// A configuration value is out of range; the message names it.
    InvalidConfig(String),
    /// An argument is malformed (a bad file name, an out-of-range offset).
    InvalidArgument(String),
    /// A non-blocking call would have had to wait. Nothing changed; retry later.
    WouldBlock,
    /// The call would wait forever for a reservation or batch that the calling thread
    /// itself holds open (at lsn `held`): complete or abort it first. Nothing changed.
    /// The non-blocking twins return it too: no retry could succeed before that.
    WouldDeadlock {
        /// The lsn of the held reservation (a batch's: its manifest's).
        held: u64,
        /// Which call, and why, in words.
        reason: String,
    },
    /// The storage is already open: another log (in this process or another) holds
    /// its lock. Nothing was read or written.
    Locked {
        /// The directory (or simulated disk) that is in use.
        path: String,
    },
}

impl Error {
    /// Builds an [`Error::Io`].
    pub fn io(op: IoOp, path: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            op,
            path: path.into(),
            source: Arc::new(source),
        }
    }

    /// Builds an [`Error::Corruption`].
    pub fn corruption(file: impl Into<String>, offset: u64, reason: impl Into<String>) -> Error {
        Error::Corruption {
            at: DiskLocation {
                file: file.into(),
                offset,
            },
            reason: reason.into(),
        }
    }

    /// The `io::ErrorKind` of an [`Error::Io`] (also through [`Error::Poisoned`]).
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            Error::Io { source, .. } => Some(source.kind()),
            Error::Poisoned { first } => first.io_kind(),
            _ => None,
        }
    }

    /// True for an [`Error::Io`] whose kind is `NotFound`.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }

    /// True for [`Error::Corruption`], directly or as the cause of a poisoning.
    pub fn is_corruption(&self) -> bool {
        match self {
            Error::Corruption { .. } => true,
            Error::Poisoned { first } => first.is_corruption(),
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { op, path, source } => write!(f, "io error: {op} {path:?}: {source}"),
            Error::Corruption { at, reason } => write!(f, "corruption at {at}: {reason}"),
            Error::Poisoned { first } => {
                write!(
                    f,
                    "instance poisoned by an earlier error ({first}); reopen it"
                )
            }
            Error::Unsupported(what) => write!(f, "unsupported: {what}"),
            Error::InvalidConfig(what) => write!(f, "invalid config: {what}"),
            Error::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            Error::WouldBlock => f.write_str("operation would block"),
            Error::WouldDeadlock { reason, .. } => write!(f, "would deadlock: {reason}"),
            Error::Locked { path } => write!(
                f,
                "{path} is already open: another log, in this process or another, holds its lock"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source.as_ref()),
            Error::Poisoned { first } => Some(first.as_ref()),
            _ => None,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn io_error_names_operation_and_path_and_keeps_source() {
        let e = Error::io(IoOp::Sync, "seg.0", io::Error::other("disk gone"));
        let text = e.to_string();
        assert!(text.contains("sync"), "{text}");
        assert!(text.contains("seg.0"), "{text}");
        assert!(text.contains("disk gone"), "{text}");
        assert!(e.source().is_some());
        assert_eq!(e.io_kind(), Some(io::ErrorKind::Other));
    }

    #[test]
    fn poisoned_reports_first_error_and_its_kind() {
        let first = Error::io(
            IoOp::Write,
            "log",
            io::Error::from(io::ErrorKind::StorageFull),
        );
        let p = Error::Poisoned {
            first: Box::new(first.clone()),
        };
        assert_eq!(p.io_kind(), Some(io::ErrorKind::StorageFull));
        assert!(p.to_string().contains("reopen"));
        assert!(!p.is_corruption());
    }

    #[test]
    fn corruption_names_file_and_offset() {
        let e = Error::corruption("seg.3", 4096, "bad crc");
        assert!(e.is_corruption());
        assert_eq!(e.to_string(), "corruption at seg.3@4096: bad crc");
        assert!(!e.is_not_found());
    }
}
