//! [`Config`]: every tunable of a log, validated before anything is opened.
//!
//! Build one with the builder methods over [`Config::new`] (the defaults), or with
//! struct-update syntax over [`Config::default`]; [`Config::open`] opens a log in a
//! directory with it. `Log::open` validates it first ([`Config::validate`]): each
//! rejection names the field, its value, and the rule it broke.
//!
//! ```
//! use pagelog::{Config, SegmentMode};
//! let config = Config::new()
//!     .segment_mode(SegmentMode::Linear)
//!     .segment_size(64 << 20)
//!     .io_buf_size(4 << 20);
//! config.validate().unwrap();
//! ```
//!
//! The settings that must match the log on disk are the segment size (an open with
//! another one is `Error::InvalidConfig`) and the segment mode (not recorded on disk
//! yet: open a log with the mode it was written with).

use crate::error::{Error, Result};
use crate::log::format::{MESSAGE_HEADER_LEN, SEGMENT_HEADER_LEN, VOUCH_LEN};
use crate::log::header::MAX_OFFSET;

/// How the segment accountant places new segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentMode {
    /// Always append a new segment at the end of the file; never reuse.
    Linear,
    /// Reuse free segments and drain sparse ones (garbage collection).
    Gc,
}

/// What recovery does with damage it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryMode {
    /// A torn tail is cut; damage inside data a later segment vouches for as stable is
    /// `Error::Corruption` at open.
    AbsoluteConsistency,
    /// As above, but damage inside vouched-for data also only cuts the log there (data
    /// after it is lost). For salvage, not for normal operation.
    TolerateCorruptTail,
}

/// The log's configuration. Every field's default is stated with its reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Bytes per segment: a power of two, 256 B to 1 GiB. **Default 8 MiB**: large
    /// enough that a segment header and the Pad at a segment's end cost nothing
    /// measurable, small enough that Gc mode reclaims space in useful steps. Must match
    /// the log on disk.
    pub segment_size_bytes: u64,
    /// Bytes per IO buffer: a multiple of 4 KiB no larger than a segment (or the
    /// segment size itself when segments are smaller than 4 KiB), and at most
    /// [`MAX_IO_BUF_BYTES`] (64 MiB less 4 KiB). **Default 1 MiB**: one write and one
    /// sync carry up to this many bytes of messages (group commit), large enough to
    /// stream at disk speed, small enough that a flush does not wait on a long write.
    pub io_buf_size_bytes: usize,
    /// IO buffers in the ring: 2 to 64. **Default 4**: writers fill one buffer while
    /// others are written; more help only when syncs are slow and writers many. The
    /// ring takes `io_bufs * io_buf_size_bytes` of memory (at most 1 GiB; 4 MiB by
    /// default), allocated at open and fixed for the log's life.
    pub io_bufs: usize,
    /// Values larger than this go to their own blob file (written and synced before
    /// the log message that points at it). **Default 64 KiB**: below it, copying into
    /// the buffer is cheaper than a file of its own. At most what fits a buffer and a
    /// segment ([`max_inline_bytes`]).
    pub blob_threshold_bytes: usize,
    /// Linear (a complete history; bound it with `Log::truncate_before`) or Gc (keeps
    /// each page's live state, reuses segments). **Default Gc**, the page cache's mode;
    /// a write-ahead log wants Linear, which tracks nothing per page and appended 11 to
    /// 26% faster in the benchmarks (`docs/performance.md`). Gc memory: a hash-map
    /// entry per live page id (about 33 bytes) and 16 bytes per superseded fragment
    /// until the next segment header vouches for its replacement.
    pub segment_mode: SegmentMode,
    /// In Gc mode, a segment whose live share falls below this percentage is
    /// draining: the page cache's garbage collection (inline every
    /// `gc_every_updates`, or `maintenance()`) rewrites the pages still living there
    /// so that it can be reclaimed. It trades disk space against rewrites. On a
    /// steady skewed workload (`tests/pagecache_space.rs`: 10,000 pages, a round
    /// every 400 updates) the log file stayed under these multiples of the live
    /// bytes, at these garbage-collection rewrites per update: 40%: 2.09x, 0.88; 60%:
    /// 1.71x, 1.40; 70%: 1.56x, 1.80; 80%: 1.41x, 2.42 (1.41x to 1.47x over four
    /// seeds); 90%: 1.52x, 3.48. With no
    /// round at all (`gc_every_updates = 0` and no `maintenance()`) nothing is
    /// rewritten and a page that stops changing pins its segment. **Default 40**: the
    /// fewest rewrites, about 2x the live bytes; set 80 to keep the file under 1.5x.
    pub cleanup_threshold_pct: u8,
    /// Start a background thread that flushes this often. **Default None**: no thread
    /// (the simulator requires none; call `flush` yourself, or set a period such as
    /// `Some(10)` to bound how much a crash can lose without flushing).
    pub flush_every_ms: Option<u64>,
    /// What recovery does with damage. **Default AbsoluteConsistency**: damage inside
    /// acknowledged data is an error at open, never silently cut.
    pub recovery_mode: RecoveryMode,
    /// Page cache: a `link` that would give a page more deltas than this writes the
    /// merged page as a new base instead (a consolidation). **Default 8**: the Bw-tree
    /// measured reads slowing past about 8 small deltas (about 4 of 100-byte or larger
    /// records, which `consolidate_after_bytes` catches).
    pub consolidate_after_deltas: usize,
    /// Page cache: a `link` that would give a page more than this many bytes of
    /// deltas consolidates it instead. **Default 512** (about 4 deltas of 100-byte or
    /// larger records).
    pub consolidate_after_bytes: u64,
    /// Page cache: the most memory resident (decoded) pages may hold, in bytes, as
    /// their `Materializer::size_in_bytes` reports plus
    /// [`RESIDENT_OVERHEAD_BYTES`](crate::pagecache::RESIDENT_OVERHEAD_BYTES) each;
    /// past it, the least recently useful pages are paged out (kept as disk pointers,
    /// read back when next needed). With one thread updating it is exceeded by at
    /// most the page just installed, until that call returns; each thread updating
    /// concurrently can add one more page. Paged-out pages cost their disk pointers
    /// (72 bytes for its state and slot, plus 24 per fragment) outside this bound, and a replaced
    /// page state holds its memory until crossbeam-epoch's collector frees it (once
    /// no pinned thread can still read it; the collector batches such garbage, 64
    /// objects per thread). 0 keeps nothing resident. **Default 1 GiB**.
    pub cache_capacity_bytes: u64,
    /// Page cache: write a snapshot (the page table's disk pointers, freed ids, id
    /// lease and roots; never decoded pages) after this many bytes of log became
    /// stable since the last one, so that an open replays at most about this much of
    /// the log's tail instead of all of it. Taken inline by the update, `flush` or
    /// `maintenance` call that finds it due (no thread is spawned); costs reading the
    /// previous snapshot and this much log, and writing the new snapshot (about 50
    /// bytes per page) with two syncs. 0: only when
    /// [`PageCache::snapshot`](crate::PageCache::snapshot) is called. **Default 32
    /// MiB**.
    pub snapshot_every_bytes: u64,
    /// Page cache, Gc mode: run a round of garbage collection (what
    /// [`PageCache::maintenance`](crate::PageCache::maintenance) does, without
    /// waiting for log space) inline in the update call that completes this many
    /// updates since the last round, so that disk use stays bounded without any
    /// call of yours. A round costs a look at the segments' live shares and the
    /// rewrite of each page still living in a draining one (at most 4,096). 0: only
    /// when you call `maintenance` or `compact`. **Default 1,000**.
    pub gc_every_updates: u64,
    /// Open to read only, writing nothing: not to the log, its blob files or its
    /// segment table, not even what an open zeroes after a crash, and not a new log
    /// or page cache where there is none (a directory without a log is `Error::Io`,
    /// `NotFound`). Recovery and its damage reports are those of a writable open;
    /// reads, iteration and page-cache `get`s work; every write is
    /// `Error::InvalidArgument`. For inspecting a log, verifying it, or reading it on
    /// a full disk; on a read-only mount or without write permission, give it a
    /// [`StdStorage::open_read_only`](crate::io::StdStorage::open_read_only) (which
    /// [`Config::open`] does), which opens files for reading only. **Default false**.
    pub read_only: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            segment_size_bytes: 8 << 20,
            io_buf_size_bytes: 1 << 20,
            io_bufs: 4,
            blob_threshold_bytes: 64 << 10,
            segment_mode: SegmentMode::Gc,
            cleanup_threshold_pct: 40,
            flush_every_ms: None,
            recovery_mode: RecoveryMode::AbsoluteConsistency,
            consolidate_after_deltas: 8,
            consolidate_after_bytes: 512,
            cache_capacity_bytes: 1 << 30,
            snapshot_every_bytes: 32 << 20,
            gc_every_updates: 1000,
            read_only: false,
        }
    }
}

impl Config {
    /// The default configuration (see each field), to build on with the methods below.
    pub fn new() -> Config {
        Config::default()
    }

    /// A small configuration for testing code that uses pagelog under
    /// [`crate::io::SimStorage`]: 16 KiB segments, four 4 KiB buffers and a 1 KiB blob
    /// threshold. Small buffers keep a simulated disk's memory low (a few hundred KiB
    /// per seed instead of megabytes) and make crashes tear writes and cross segments
    /// after a few messages, where large buffers would hide both.
    pub fn for_simulation() -> Config {
        Config {
            segment_size_bytes: 16 << 10,
            io_buf_size_bytes: 4 << 10,
            io_bufs: 4,
            blob_threshold_bytes: 1 << 10,
            ..Config::default()
        }
    }

    /// Opens (creating if needed) the log in directory `dir` on real files
    /// ([`crate::io::StdStorage`]) with this configuration; with `read_only`, the
    /// directory must exist and nothing in it is written or created
    /// ([`crate::io::StdStorage::open_read_only`]).
    #[cfg(not(loom))]
    pub fn open(&self, dir: impl AsRef<std::path::Path>) -> Result<crate::Log> {
        let storage = match self.read_only {
            true => crate::io::StdStorage::open_read_only(dir)?,
            false => crate::io::StdStorage::open(dir)?,
        };
        crate::Log::open(self.clone(), std::sync::Arc::new(storage))
    }

    /// Sets `segment_size_bytes`. If the size is valid and the IO buffer no longer
    /// fits a segment, the buffer shrinks to the segment size, and the blob threshold
    /// with it (below). Nothing grows back: set a larger buffer yourself after a
    /// larger segment.
    pub fn segment_size(mut self, bytes: u64) -> Config {
        self.segment_size_bytes = bytes;
        let valid = bytes.is_power_of_two() && (256..=1 << 30).contains(&bytes);
        if valid && self.io_buf_size_bytes as u64 > bytes {
            self.io_buf_size_bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
        }
        self.clamp_blob_threshold()
    }

    /// Sets `io_buf_size_bytes`. If the blob threshold no longer fits a buffer, it is
    /// lowered to the largest that does ([`max_inline_bytes`]).
    pub fn io_buf_size(mut self, bytes: usize) -> Config {
        self.io_buf_size_bytes = bytes;
        self.clamp_blob_threshold()
    }

    /// Sets `io_bufs`.
    pub fn io_bufs(mut self, n: usize) -> Config {
        self.io_bufs = n;
        self
    }

    /// Sets `blob_threshold_bytes`. Not clamped here (a value too large is a
    /// validation error), but a later `io_buf_size` or `segment_size` that leaves it
    /// too large for the new sizes lowers it.
    pub fn blob_threshold(mut self, bytes: usize) -> Config {
        self.blob_threshold_bytes = bytes;
        self
    }

    /// Sets `segment_mode`.
    pub fn segment_mode(mut self, mode: SegmentMode) -> Config {
        self.segment_mode = mode;
        self
    }

    /// Sets `cleanup_threshold_pct`.
    pub fn cleanup_threshold_pct(mut self, pct: u8) -> Config {
        self.cleanup_threshold_pct = pct;
        self
    }

    /// Sets `flush_every_ms`.
    pub fn flush_every_ms(mut self, period: Option<u64>) -> Config {
        self.flush_every_ms = period;
        self
    }

    /// Sets `consolidate_after_deltas` (the page cache's chain-length threshold).
    pub fn consolidate_after_deltas(mut self, deltas: usize) -> Config {
        self.consolidate_after_deltas = deltas;
        self
    }

    /// Sets `gc_every_updates` (0: garbage collection only when called).
    pub fn gc_every(mut self, updates: u64) -> Config {
        self.gc_every_updates = updates;
        self
    }

    /// Sets `snapshot_every_bytes` (0: snapshots only on demand).
    pub fn snapshot_every(mut self, bytes: u64) -> Config {
        self.snapshot_every_bytes = bytes;
        self
    }

    /// Sets `consolidate_after_bytes` (the page cache's chain-bytes threshold).
    pub fn consolidate_after_bytes(mut self, bytes: u64) -> Config {
        self.consolidate_after_bytes = bytes;
        self
    }

    /// Sets `read_only`: the open writes nothing (see the field).
    pub fn read_only(mut self, read_only: bool) -> Config {
        self.read_only = read_only;
        self
    }

    /// Sets `cache_capacity_bytes` (the page cache's memory bound).
    pub fn cache_capacity(mut self, bytes: u64) -> Config {
        self.cache_capacity_bytes = bytes;
        self
    }

    /// Sets `recovery_mode`.
    pub fn recovery_mode(mut self, mode: RecoveryMode) -> Config {
        self.recovery_mode = mode;
        self
    }

    /// Lowers the blob threshold to what fits the buffer and segment, when both are
    /// large enough to hold any value at all (validation reports the rest).
    fn clamp_blob_threshold(mut self) -> Config {
        let room = VOUCH_LEN + MESSAGE_HEADER_LEN + SEGMENT_HEADER_LEN;
        let seg = self.segment_size_bytes;
        let buf = self.io_buf_size_bytes;
        if seg > room as u64 && buf > room && seg <= 1 << 30 {
            let most = max_inline_bytes(seg, buf);
            self.blob_threshold_bytes = self.blob_threshold_bytes.min(most);
        }
        self
    }

    /// Checks every field and their relations; the error names the first that fails.
    pub fn validate(&self) -> Result<()> {
        let seg = self.segment_size_bytes;
        if !seg.is_power_of_two() || !(256..=1 << 30).contains(&seg) {
            return bad(format!(
                "segment_size_bytes = {seg}: must be a power of two from 256 B to 1 GiB"
            ));
        }
        let buf = self.io_buf_size_bytes;
        let aligned = buf % 4096 == 0 || buf as u64 == seg;
        let most = (seg as usize).min(MAX_IO_BUF_BYTES);
        if buf == 0 || !aligned || buf > most {
            return bad(format!(
                "io_buf_size_bytes = {buf}: must be a non-zero multiple of 4096 (or equal the segment size), at most {most} (the smaller of segment_size_bytes = {seg} and the buffer limit {MAX_IO_BUF_BYTES})"
            ));
        }
        if !(2..=64).contains(&self.io_bufs) {
            return bad(format!("io_bufs = {}: must be 2 to 64", self.io_bufs));
        }
        if self.io_bufs * buf > MAX_RING_BYTES {
            return bad(format!(
                "io_bufs = {} with io_buf_size_bytes = {buf}: the ring would take {} bytes of memory, more than the limit of {MAX_RING_BYTES} (1 GiB)",
                self.io_bufs,
                self.io_bufs * buf
            ));
        }
        let blob = self.blob_threshold_bytes;
        let most = max_inline_bytes(seg, buf);
        if blob == 0 || blob > most {
            return bad(format!(
                "blob_threshold_bytes = {blob}: must be 1 to {most}, so every inline message fits one IO buffer (io_buf_size_bytes = {buf}) and one segment (segment_size_bytes = {seg}); lower it with the buffer (the builder's io_buf_size does)"
            ));
        }
        if !(1..=99).contains(&self.cleanup_threshold_pct) {
            return bad(format!(
                "cleanup_threshold_pct = {}: must be 1 to 99",
                self.cleanup_threshold_pct
            ));
        }
        if self.consolidate_after_deltas == 0 {
            return bad(
                "consolidate_after_deltas = 0: must be at least 1 (0 would rewrite the whole page on every link)".into(),
            );
        }
        if self.flush_every_ms == Some(0) {
            return bad(
                "flush_every_ms = 0: use None for no flusher, or a period of at least 1 ms".into(),
            );
        }
        Ok(())
    }
}

/// The largest inline value (so the largest `blob_threshold_bytes`) for segments of
/// `seg` bytes and IO buffers of `buf` bytes: a message (header and value) must fit
/// in a segment after its header and a buffer's Vouch, and in a buffer after its
/// Vouch.
/// 0 when nothing fits (sizes too small to be valid).
pub fn max_inline_bytes(seg: u64, buf: usize) -> usize {
    let seg = usize::try_from(seg).unwrap_or(usize::MAX);
    let in_segment = seg.saturating_sub(SEGMENT_HEADER_LEN + VOUCH_LEN + MESSAGE_HEADER_LEN);
    let in_buffer = buf.saturating_sub(VOUCH_LEN + MESSAGE_HEADER_LEN);
    in_segment.min(in_buffer)
}

/// The largest IO buffer: the largest multiple of 4 KiB the buffer header's offset
/// field can count to (64 MiB less 4 KiB).
pub const MAX_IO_BUF_BYTES: usize = MAX_OFFSET / 4096 * 4096;

/// The most memory the IO-buffer ring may take (`io_bufs * io_buf_size_bytes`).
pub const MAX_RING_BYTES: usize = 1 << 30;

fn bad(message: String) -> Result<()> {
    Err(Error::InvalidConfig(message))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn rejects(c: Config, field: &str) {
        let msg = c.validate().expect_err("must be rejected").to_string();
        assert!(msg.contains(field), "{field} not named in: {msg}");
    }

    #[test]
    fn the_default_and_small_simulation_configs_are_valid() {
        Config::default().validate().expect("default");
        let tiny = Config {
            segment_size_bytes: 256,
            io_buf_size_bytes: 256,
            io_bufs: 2,
            blob_threshold_bytes: 64,
            ..Config::default()
        };
        tiny.validate().expect("the smallest simulated config");
    }

    #[test]
    fn every_out_of_range_field_is_named() {
        let d = Config::default;
        rejects(
            Config {
                segment_size_bytes: 1000,
                ..d()
            },
            "segment_size_bytes",
        );
        rejects(
            Config {
                segment_size_bytes: 128,
                ..d()
            },
            "segment_size_bytes",
        );
        rejects(
            Config {
                io_buf_size_bytes: 5000,
                ..d()
            },
            "io_buf_size_bytes",
        );
        rejects(
            Config {
                io_buf_size_bytes: 16 << 20,
                ..d()
            },
            "io_buf_size_bytes",
        );
        rejects(
            Config {
                io_buf_size_bytes: 0,
                ..d()
            },
            "io_buf_size_bytes",
        );
        rejects(
            Config {
                segment_size_bytes: 1 << 30,
                io_buf_size_bytes: 32 << 20,
                io_bufs: 64,
                ..d()
            },
            "the ring would take",
        );
        rejects(Config { io_bufs: 1, ..d() }, "io_bufs");
        rejects(Config { io_bufs: 65, ..d() }, "io_bufs");
        rejects(
            Config {
                blob_threshold_bytes: 0,
                ..d()
            },
            "blob_threshold_bytes",
        );
        rejects(
            Config {
                blob_threshold_bytes: 2 << 20,
                ..d()
            },
            "blob_threshold_bytes",
        );
        rejects(
            Config {
                cleanup_threshold_pct: 0,
                ..d()
            },
            "cleanup_threshold_pct",
        );
        rejects(
            Config {
                cleanup_threshold_pct: 100,
                ..d()
            },
            "cleanup_threshold_pct",
        );
        rejects(
            Config {
                flush_every_ms: Some(0),
                ..d()
            },
            "flush_every_ms",
        );
    }
}
