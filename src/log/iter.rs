//! Reading the log as a write-ahead log: [`Log::iter_from`] yields every user message
//! at or after an lsn that was durable when the iterator was made, in lsn order.
//!
//! The iterator reads one segment at a time from the file (memory: one segment plus
//! its messages) through the same scanner as recovery, stops at cuts made by recovery,
//! and skips the log's own records (Pad, Cancelled, batch manifests, Vouch, Closed).
//! Each message carries its [`Pointer`], so an index rebuilt from a replay can read
//! it again with [`Log::read`]. Each segment is read under a pin, so
//! it cannot be reclaimed and reused mid-read. In Gc mode a segment reclaimed before
//! the iterator reaches it is skipped, and so are messages whose blob was reclaimed:
//! Gc mode keeps live state, not history.

use crate::failpoints::failpoint;
use std::collections::VecDeque;

use super::format::{Lsn, Place, SEGMENT_HEADER_LEN, SegmentHeader};
use super::handle::{Inner, LOG_FILE, Log, Message, Pointer};
use super::kind::Kind;
use super::scan::{Found, ScanEnd, SegmentBytes, scan};
use crate::config::SegmentMode;
use crate::error::Result;
use crate::sync::Arc;

/// Iterator over durable messages; see the module doc.
pub struct LogIter {
    inner: Arc<Inner>,
    segments: VecDeque<(Lsn, u64)>,
    from: Lsn,
    end: Lsn,
    /// Messages read and not yet yielded, with their file offsets.
    ready: VecDeque<(Found, u64, Vec<u8>)>,
    failed: bool,
}

impl std::fmt::Debug for LogIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogIter")
            .field("from", &self.from)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl Log {
    /// Every durable message with lsn >= `from`, in lsn order (and at or past the
    /// log's start, after [`Log::truncate_before`]).
    pub fn iter_from(&self, from: Lsn) -> Result<LogIter> {
        self.inner.check()?;
        let from = from.max(self.inner.space.lock().truncated());
        let end = self.stable_lsn();
        let size = self.inner.config.segment_size_bytes;
        let segments = self
            .inner
            .space
            .lock()
            .accountant()
            .segments()
            .into_iter()
            .filter(|&(lsn, _)| lsn + size > from && lsn < end)
            .collect();
        Ok(LogIter {
            inner: Arc::clone(&self.inner),
            segments,
            from,
            end,
            ready: VecDeque::new(),
            failed: false,
        })
    }
}

impl LogIter {
    fn load_next_segment(&mut self) -> Result<bool> {
        let Some((lsn, offset)) = self.segments.pop_front() else {
            return Ok(false);
        };
        let size = self.inner.config.segment_size_bytes;
        let Some(bytes) = self.read_segment(lsn, offset)? else {
            return Ok(true);
        };
        let place = Place {
            file: LOG_FILE,
            offset,
        };
        let head = bytes.get(..SEGMENT_HEADER_LEN).unwrap_or(&[]);
        let nonce = match SegmentHeader::decode(head, place) {
            Ok(h) if h.segment_lsn == lsn => h.nonce,
            _ if self.inner.config.segment_mode == SegmentMode::Gc => return Ok(true),
            Err(e) => return Err(e),
            Ok(_) => return Err(place_error(offset, "segment header names another lsn")),
        };
        let seg = SegmentBytes {
            bytes: &bytes,
            lsn,
            size,
            file: LOG_FILE,
            file_offset: offset,
            nonce,
        };
        let (from, end) = (self.from, self.end);
        let voids = &self.inner.voids;
        let stop = |l: Lsn| l >= end || voids.is_cut_point(l);
        let mut found = Vec::new();
        let (_, why) = scan(seg, &stop, &mut |f| found.push(f));
        if let ScanEnd::Invalid(e) = why {
            // Durable bytes below the stable lsn must scan; anything else is damage.
            let stopped_early = found.last().map_or(lsn, |f| f.lsn) < end;
            if stopped_early && lsn + size <= end {
                return Err(e);
            }
        }
        let wanted = |f: &Found| f.lsn >= from && Kind::of_stored(f.kind).is_some();
        for f in found.into_iter().filter(wanted) {
            let payload = bytes[f.payload_at..f.payload_at + f.payload_len].to_vec();
            let file_offset = offset + (f.lsn - lsn);
            self.ready.push_back((f, file_offset, payload));
        }
        Ok(true)
    }

    /// The bytes of the segment at `lsn`, read under a pin so it cannot be reclaimed
    /// and reused meanwhile; None if it left the log since the iterator was made.
    fn read_segment(&self, lsn: Lsn, offset: u64) -> Result<Option<Vec<u8>>> {
        if !self.inner.space.lock().accountant_mut().try_pin(lsn) {
            return Ok(None);
        }
        let size = self.inner.config.segment_size_bytes;
        failpoint!("iter::segment::len");
        let read = self.inner.file.len().and_then(|file_len| {
            let len = size.min(file_len.saturating_sub(offset)) as usize;
            let mut bytes = vec![0; len];
            failpoint!("iter::segment::read");
            self.inner.file.read_at(&mut bytes, offset).map(|()| bytes)
        });
        self.inner.space.lock().accountant_mut().unpin(lsn);
        read.map(Some).map_err(|e| self.inner.fail_on_io(e))
    }

    fn yield_one(&self, f: Found, file_offset: u64, payload: Vec<u8>) -> Option<Result<Message>> {
        let place = Place {
            file: LOG_FILE,
            offset: file_offset,
        };
        let ptr = Pointer {
            lsn: f.lsn,
            file_offset,
        };
        let msg = self
            .inner
            .message(f.kind, f.pid, ptr, payload, f.nonce, place)
            .map_err(|e| self.inner.fail_on_io(e));
        let reclaimed = self.inner.config.segment_mode == SegmentMode::Gc
            && f.kind.is_blob()
            && matches!(&msg, Err(e) if e.is_not_found());
        (!reclaimed).then_some(msg)
    }
}

fn place_error(offset: u64, reason: &str) -> crate::error::Error {
    crate::error::Error::corruption(LOG_FILE, offset, reason)
}

impl Iterator for LogIter {
    type Item = Result<Message>;

    fn next(&mut self) -> Option<Result<Message>> {
        loop {
            if self.failed {
                return None;
            }
            if let Some((f, file_offset, payload)) = self.ready.pop_front() {
                match self.yield_one(f, file_offset, payload) {
                    Some(Err(e)) => {
                        self.failed = true;
                        return Some(Err(e));
                    }
                    Some(ok) => return Some(ok),
                    None => continue,
                }
            }
            match self.load_next_segment() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
