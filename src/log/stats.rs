//! Per-instance counters of the log. No globals: two logs in one process count apart.

use crate::sync::{CounterU64 as AtomicU64, Ordering};

/// Live counters, bumped with relaxed atomics.
#[derive(Debug, Default)]
pub struct Counters {
    bytes_written: AtomicU64,
    buffers_written: AtomicU64,
    messages: AtomicU64,
    syncs: AtomicU64,
    reservations: AtomicU64,
    aborts: AtomicU64,
    stalls: AtomicU64,
    pads: AtomicU64,
    blobs_written: AtomicU64,
    blobs_removed: AtomicU64,
    segments_released: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes written to the log file by buffer writes (pads included).
    pub bytes_written: u64,
    /// Buffer writes.
    pub buffers_written: u64,
    /// Messages completed.
    pub messages: u64,
    /// File and directory syncs issued by the log.
    pub syncs: u64,
    /// Reservations granted.
    pub reservations: u64,
    /// Reservations aborted (written as Cancelled).
    pub aborts: u64,
    /// Times a reservation found every buffer busy.
    pub stalls: u64,
    /// Pad messages written.
    pub pads: u64,
    /// Blob files written.
    pub blobs_written: u64,
    /// Blob files removed.
    pub blobs_removed: u64,
    /// Segments that left the log (header zeroed on disk) and became reusable.
    pub segments_released: u64,
    /// Segments in the log now (not free): the space it occupies, in segments.
    pub segments_in_use: u64,
    /// Segment slots the log file spans now, free ones included (only free slots at
    /// its end are cut off).
    pub segment_slots: u64,
}

/// Which counter to bump.
#[derive(Debug, Clone, Copy)]
pub enum Counter {
    /// See [`Stats::bytes_written`].
    BytesWritten,
    /// See [`Stats::buffers_written`].
    BuffersWritten,
    /// See [`Stats::messages`].
    Messages,
    /// See [`Stats::syncs`].
    Syncs,
    /// See [`Stats::reservations`].
    Reservations,
    /// See [`Stats::aborts`].
    Aborts,
    /// See [`Stats::stalls`].
    Stalls,
    /// See [`Stats::pads`].
    Pads,
    /// See [`Stats::blobs_written`].
    BlobsWritten,
    /// See [`Stats::blobs_removed`].
    BlobsRemoved,
    /// See [`Stats::segments_released`].
    SegmentsReleased,
}

impl Counters {
    fn cell(&self, c: Counter) -> &AtomicU64 {
        match c {
            Counter::BytesWritten => &self.bytes_written,
            Counter::BuffersWritten => &self.buffers_written,
            Counter::Messages => &self.messages,
            Counter::Syncs => &self.syncs,
            Counter::Reservations => &self.reservations,
            Counter::Aborts => &self.aborts,
            Counter::Stalls => &self.stalls,
            Counter::Pads => &self.pads,
            Counter::BlobsWritten => &self.blobs_written,
            Counter::BlobsRemoved => &self.blobs_removed,
            Counter::SegmentsReleased => &self.segments_released,
        }
    }

    /// Adds `n` to counter `c`.
    pub fn add(&self, c: Counter, n: u64) {
        self.cell(c).fetch_add(n, Ordering::Relaxed);
    }

    /// The counters now (the two segment gauges are the caller's to fill).
    pub fn snapshot(&self) -> Stats {
        let get = |c| self.cell(c).load(Ordering::Relaxed);
        Stats {
            bytes_written: get(Counter::BytesWritten),
            buffers_written: get(Counter::BuffersWritten),
            messages: get(Counter::Messages),
            syncs: get(Counter::Syncs),
            reservations: get(Counter::Reservations),
            aborts: get(Counter::Aborts),
            stalls: get(Counter::Stalls),
            pads: get(Counter::Pads),
            blobs_written: get(Counter::BlobsWritten),
            blobs_removed: get(Counter::BlobsRemoved),
            segments_released: get(Counter::SegmentsReleased),
            segments_in_use: 0,
            segment_slots: 0,
        }
    }
}
