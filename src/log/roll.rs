//! Finishing the current segment early, so that the next message starts a new one.
//!
//! In Gc mode a superseded fragment dies only once a segment header written after
//! its replacement was durable vouches for the replacement (`space.rs`): recovery
//! trusts a freed segment only below what a header vouches for. So space that
//! garbage collection empties comes back when the log next starts a segment. The page
//! cache's `compact()` wants it back now: it fills the rest of the current segment
//! with aborted reservations (Cancelled messages, which recovery skips and which
//! hold no live fragment), so the next write starts a segment whose header vouches
//! for everything durable before it. It writes at most a segment of filler; it is
//! for rare calls, not for every flush.

use super::format::{Lsn, MESSAGE_HEADER_LEN};
use super::handle::Log;
use super::kind::Kind;
use crate::error::Result;

impl Log {
    /// Fills the rest of the segment the next message would go to with aborted
    /// reservations (module doc), waiting for log space like [`Log::reserve`].
    /// Returns the lsn where the next segment starts. Other writers may add messages
    /// meanwhile; they only shorten the fill.
    pub(crate) fn finish_segment(&self) -> Result<Lsn> {
        let size = self.inner.config.segment_size_bytes;
        let chunk = self.inner.config.blob_threshold_bytes.max(1);
        let filler = vec![0; chunk];
        let segment = |lsn: Lsn| lsn - lsn % size;
        let first = segment(self.inner.ring.claimed_end());
        let most = size / (chunk + MESSAGE_HEADER_LEN) as u64 + 4;
        for _ in 0..most {
            let end = self.inner.ring.claimed_end();
            // Done once a message sits in the next segment: a segment's header is
            // written with its first buffer, and an empty buffer is never written.
            if segment(end) != first && end % size != 0 {
                break;
            }
            let left = usize::try_from(first + size - end).unwrap_or(usize::MAX);
            let len = left.saturating_sub(MESSAGE_HEADER_LEN).clamp(1, chunk);
            self.reserve_any(Kind::Append.stored(), 0, &filler[..len], true)?
                .abort()?;
        }
        Ok(first + size)
    }
}
