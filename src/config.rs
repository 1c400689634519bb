//! [`Config`]: every tunable of a log, validated before anything is opened.
//!
//! Build one with struct-update syntax over [`Config::default`] and call
//! [`Config::validate`] (the log's `open` calls it too). Each rejection names the field,
//! its value, and the rule it broke.

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

/// The log's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Bytes per segment: a power of two, 256 B to 1 GiB.
    pub segment_size_bytes: u64,
    /// Bytes per IO buffer: a multiple of 4 KiB no larger than a segment (or the
    /// segment size itself when segments are smaller than 4 KiB), and at most
    /// [`MAX_IO_BUF_BYTES`] (64 MiB less 4 KiB).
    pub io_buf_size_bytes: usize,
    /// IO buffers in the ring: 2 to 64.
    pub io_bufs: usize,
    /// Values larger than this go to their own blob file.
    pub blob_threshold_bytes: usize,
    /// Linear (append only) or Gc (reuse segments).
    pub segment_mode: SegmentMode,
    /// In Gc mode, a segment whose live share falls below this percentage is drained.
    pub cleanup_threshold_pct: u8,
    /// Start a background thread that flushes this often; None (the default) starts no
    /// thread, as simulation requires.
    pub flush_every_ms: Option<u64>,
    /// What recovery does with damage.
    pub recovery_mode: RecoveryMode,
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
        }
    }
}

impl Config {
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
                "blob_threshold_bytes = {blob}: must be 1 to {most}, so every inline message fits one IO buffer and one segment"
            ));
        }
        if !(1..=99).contains(&self.cleanup_threshold_pct) {
            return bad(format!(
                "cleanup_threshold_pct = {}: must be 1 to 99",
                self.cleanup_threshold_pct
            ));
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
pub fn max_inline_bytes(seg: u64, buf: usize) -> usize {
    let in_segment = seg as usize - SEGMENT_HEADER_LEN - VOUCH_LEN - MESSAGE_HEADER_LEN;
    let in_buffer = buf - VOUCH_LEN - MESSAGE_HEADER_LEN;
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
