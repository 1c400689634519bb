//! The IO-buffer ring: where reservations claim log space and where group commit
//! happens.
//!
//! `n` buffers (Config `io_bufs`), each `io_buf_size_bytes` of 4 KiB-aligned memory and
//! one atomic header word ([`Header`]: offset, writers, sealed, salt). A generation
//! counter `current` names the buffer taking reservations: buffer `current % n`.
//!
//! Protocol:
//! 1. Claim: load `current`, load the buffer's header; if it is unsealed and the
//!    message fits, one CAS adds the length to the offset and one writer. The claim's
//!    lsn is the buffer's base lsn plus the old offset. A stale view (the buffer was
//!    written and reused meanwhile) fails the CAS because the salt changed (I9).
//! 2. A claim that does not fit seals the buffer (`maxed`); so does a flush that needs
//!    the buffer's bytes. Sealing and installing the next generation happen under one
//!    small mutex (`rotation`); claims and releases never take it.
//! 3. Rotation installs the next buffer once its previous generation is written out
//!    (`free`). Its base lsn is where the sealed buffer's bytes end, or the next
//!    segment's start when the sealed buffer finishes its segment (see [`tail`]). A
//!    buffer starting a segment begins with the segment header. Every buffer then
//!    keeps [`VOUCH_LEN`] bytes for its Vouch message, which the writer fills in
//!    ([`Ring::stamp`]) with the stable lsn just before the write: so every buffer
//!    write records what was durable when it was made.
//! 4. Release: a writer leaving decrements the writer count by CAS. Whoever moves the
//!    word to sealed-with-no-writers (the last writer out, or the sealer of a buffer
//!    with none) receives the buffer's [`WriteJob`]: exactly one thread per generation.
//!    It writes the bytes (with a Pad filling a finished segment's tail) and calls
//!    [`Ring::finish`]; group commit (`stable.rs`) makes them durable.
//!
//! Invariants (asserted): only the current generation is ever unsealed; a message never
//! starts in the last [`MESSAGE_HEADER_LEN`] bytes of a segment nor crosses a segment's
//! end; a buffer is written only when sealed with no writers; a buffer is rewritten only
//! after its previous generation's write finished.

use super::aligned::AlignedBytes;
use super::format::{
    Lsn, MESSAGE_HEADER_LEN, MessageHeader, RunNonces, SEGMENT_HEADER_LEN, StoredKind, VOUCH_LEN,
    Vouch,
};
use super::format::{Place, decode_u64};
use super::header::Header;
use super::space::Fragment;
use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Condvar, Mutex, Ordering};

/// Space claimed by one reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// Buffer index.
    pub index: usize,
    /// The buffer generation's salt when claimed.
    pub salt: u32,
    /// Offset in the buffer.
    pub offset: usize,
    /// Bytes claimed (message header and payload).
    pub len: usize,
    /// The message's lsn.
    pub lsn: Lsn,
    /// Where the message will sit in the log file.
    pub file_offset: u64,
}

/// A sealed buffer with no writers left: the one thread holding this writes
/// `len` bytes at `file_offset`, reports `[base, next_base)` durable, then calls
/// [`Ring::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteJob {
    /// Buffer index.
    pub index: usize,
    /// Lsn of the buffer's first byte.
    pub base: Lsn,
    /// File offset of the buffer's first byte.
    pub file_offset: u64,
    /// Bytes to write (claimed bytes plus any pad).
    pub len: usize,
    /// Where the next buffer starts: the end of the interval this write makes durable.
    pub next_base: Lsn,
    /// Bytes of Pad message at the end of `len` (0 if none).
    pub pad_len: usize,
}

/// Where a sealed buffer's bytes end and where the next buffer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tail {
    /// Bytes to write from the buffer's start.
    pub write_len: usize,
    /// Bytes of Pad message ending the write (0 if none).
    pub pad_len: usize,
    /// Lsn where the next buffer starts.
    pub next_base: Lsn,
}

/// The layout rule for a sealed buffer at `base` holding `offset` claimed bytes.
///
/// The buffer finishes its segment when a claim did not fit and the buffer reaches the
/// segment's end (`maxed`), or when fewer than a message header's bytes are left in the
/// segment. A finished segment's tail becomes a Pad message if a header fits, and is
/// left unread otherwise; the next buffer starts the next segment. Otherwise the next
/// buffer continues right where this one ends.
pub fn tail(base: Lsn, offset: usize, capacity: usize, maxed: bool, segment_size: u64) -> Tail {
    let seg_end = base - base % segment_size + segment_size;
    let end = base + offset as u64;
    assert!(end <= seg_end, "buffer claims past its segment");
    let left = seg_end - end;
    let reaches_end = base + capacity as u64 == seg_end;
    let header = MESSAGE_HEADER_LEN as u64;
    if !(maxed && reaches_end) && left >= header {
        return Tail {
            write_len: offset,
            pad_len: 0,
            next_base: end,
        };
    }
    let pad_len = if left >= header { left as usize } else { 0 };
    assert!(
        pad_len == 0 || reaches_end,
        "pad past the buffer's capacity"
    );
    Tail {
        write_len: offset + pad_len,
        pad_len,
        next_base: seg_end,
    }
}

/// What rotation needs from the log: a file place for a new segment.
pub trait Placement {
    /// A new segment starts at `segment_lsn`: returns its file offset and the stable
    /// lsn to record in its header.
    fn start_segment(&self, segment_lsn: Lsn) -> (u64, Lsn);
}

/// The first buffer's position, from recovery.
#[derive(Debug, Clone, Copy)]
pub struct First {
    /// Lsn of the first buffer's first byte: a segment start, or the recovered tip of
    /// a resumed segment.
    pub base: Lsn,
    /// Its file offset.
    pub file_offset: u64,
    /// The segment header already written (and synced) there, when `base` starts a
    /// segment.
    pub header: Option<[u8; SEGMENT_HEADER_LEN]>,
}

#[derive(Debug)]
struct IoBuf {
    header: AtomicU64,
    base: AtomicU64,
    file_offset: AtomicU64,
    capacity: AtomicUsize,
    maxed: AtomicBool,
    /// The previous generation is written out: the buffer may be installed again.
    free: AtomicBool,
    bytes: AlignedBytes,
}

/// The ring of IO buffers.
#[derive(Debug)]
pub struct Ring {
    bufs: Box<[IoBuf]>,
    current: AtomicU64,
    rotation: Mutex<()>,
    freed: Condvar,
    poisoned: AtomicBool,
    segment_size: u64,
    buf_size: usize,
    /// The run's nonces, for the segment headers and Pads the ring writes.
    nonces: RunNonces,
}

impl Ring {
    /// A ring of `n` buffers of `buf_size` bytes whose first buffer starts at `first`.
    pub fn new(
        n: usize,
        buf_size: usize,
        segment_size: u64,
        first: First,
        nonces: RunNonces,
    ) -> Ring {
        assert!(n >= 2, "a ring needs two buffers");
        assert_eq!(
            first.base % segment_size == 0,
            first.header.is_some(),
            "a first buffer has a segment header exactly when it starts a segment"
        );
        let bufs: Box<[IoBuf]> = (0..n)
            .map(|_| IoBuf {
                header: AtomicU64::new(Header::new(0).sealed().0),
                base: AtomicU64::new(0),
                file_offset: AtomicU64::new(0),
                capacity: AtomicUsize::new(0),
                maxed: AtomicBool::new(false),
                free: AtomicBool::new(true),
                bytes: AlignedBytes::zeroed(buf_size),
            })
            .collect();
        let b = &bufs[0];
        if let Some(header) = first.header {
            // SAFETY: the ring is not shared yet; nothing else can touch the bytes.
            unsafe { b.bytes.write(0, &header) };
        }
        let segment_end = first.base - first.base % segment_size + segment_size;
        let capacity = (buf_size as u64).min(segment_end - first.base) as usize;
        let initial = first.header.map_or(0, |h| h.len()) + VOUCH_LEN;
        assert!(capacity >= initial, "no room for the first vouch");
        b.base.store(first.base, Ordering::Relaxed);
        b.file_offset.store(first.file_offset, Ordering::Relaxed);
        b.capacity.store(capacity, Ordering::Relaxed);
        b.free.store(false, Ordering::Relaxed);
        let h = Header::new(0).sealed().reused_at(initial);
        b.header.store(h.0, Ordering::Release);
        Ring {
            bufs,
            current: AtomicU64::new(0),
            rotation: Mutex::new(()),
            freed: Condvar::new(),
            poisoned: AtomicBool::new(false),
            segment_size,
            buf_size,
            nonces,
        }
    }

    fn buf(&self, generation: u64) -> &IoBuf {
        &self.bufs[self.index(generation)]
    }

    fn index(&self, generation: u64) -> usize {
        (generation % self.bufs.len() as u64) as usize
    }

    /// Claims `len` bytes, or None if every buffer is busy (the caller waits with
    /// [`Ring::wait_for_space`] or reports WouldBlock). Buffers this call sealed with
    /// no writers are pushed to `jobs` for the caller to write.
    pub fn try_claim(
        &self,
        len: usize,
        place: &dyn Placement,
        jobs: &mut Vec<WriteJob>,
    ) -> Option<Claim> {
        assert!(
            (MESSAGE_HEADER_LEN..=self.buf_size - VOUCH_LEN).contains(&len),
            "claim of {len} bytes"
        );
        loop {
            let k = self.current.load(Ordering::Acquire);
            let b = self.buf(k);
            let h = Header(b.header.load(Ordering::Acquire));
            if h.is_sealed() {
                if !self.rotate(k, place) {
                    return None;
                }
                continue;
            }
            let capacity = b.capacity.load(Ordering::Acquire);
            let base = b.base.load(Ordering::Acquire);
            let file_offset = b.file_offset.load(Ordering::Acquire);
            let Some(next) = h.claimed(len, capacity) else {
                let full = h.offset() + len > capacity;
                self.seal(k, full, place, jobs);
                continue;
            };
            let swapped =
                b.header
                    .compare_exchange(h.0, next.0, Ordering::AcqRel, Ordering::Acquire);
            if swapped.is_ok() {
                let claim = Claim {
                    index: self.index(k),
                    salt: h.salt(),
                    offset: h.offset(),
                    len,
                    lsn: base + h.offset() as u64,
                    file_offset: file_offset + h.offset() as u64,
                };
                self.assert_placed(&claim);
                return Some(claim);
            }
        }
    }

    fn assert_placed(&self, c: &Claim) {
        let seg_end = c.lsn - c.lsn % self.segment_size + self.segment_size;
        assert!(
            seg_end - c.lsn >= c.len as u64 && c.len >= MESSAGE_HEADER_LEN,
            "message at {} of {} bytes crosses or starts in the tail of its segment",
            c.lsn,
            c.len
        );
    }

    /// Copies `bytes` into the claimed space at `at` bytes from its start.
    pub fn fill(&self, claim: &Claim, at: usize, bytes: &[u8]) {
        assert!(at + bytes.len() <= claim.len, "fill past the claim");
        let b = &self.bufs[claim.index];
        // The claim holds a writer on this generation: the buffer is not written out or
        // reused meanwhile.
        // SAFETY: so the claimed range belongs to this claim alone.
        unsafe { b.bytes.write(claim.offset + at, bytes) }
    }

    /// The claimed bytes, for rewriting an aborted message's header.
    pub fn claimed_bytes(&self, claim: &Claim) -> Vec<u8> {
        let b = &self.bufs[claim.index];
        // SAFETY: as for `fill`: the range is this claim's alone while it is held.
        unsafe { b.bytes.slice(claim.offset, claim.len) }.to_vec()
    }

    /// Ends a claim. If it was the last writer of a sealed buffer, the buffer's write
    /// job is pushed to `jobs`.
    pub fn release(&self, claim: &Claim, jobs: &mut Vec<WriteJob>) {
        let b = &self.bufs[claim.index];
        let mut h = Header(b.header.load(Ordering::Acquire));
        loop {
            assert_eq!(h.salt(), claim.salt, "buffer reused under a writer");
            let next = h.released();
            match b
                .header
                .compare_exchange(h.0, next.0, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    if next.is_writable() {
                        jobs.push(self.job(claim.index));
                    }
                    return;
                }
                Err(now) => h = Header(now),
            }
        }
    }

    /// Seals generation `k` if it is still current and unsealed, then tries to rotate.
    fn seal(&self, k: u64, maxed: bool, place: &dyn Placement, jobs: &mut Vec<WriteJob>) {
        let _guard = self.rotation.lock();
        self.seal_locked(k, maxed, jobs);
        self.rotate_locked(k, place);
    }

    fn seal_locked(&self, k: u64, maxed: bool, jobs: &mut Vec<WriteJob>) {
        if self.current.load(Ordering::Acquire) != k {
            return;
        }
        let b = self.buf(k);
        if Header(b.header.load(Ordering::Acquire)).is_sealed() {
            return;
        }
        // Published by the sealing CAS below; read only by whoever sees it sealed.
        b.maxed.store(maxed, Ordering::Relaxed);
        let mut h = Header(b.header.load(Ordering::Acquire));
        loop {
            match b
                .header
                .compare_exchange(h.0, h.sealed().0, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(now) => h = Header(now),
            }
        }
        if h.writers() == 0 {
            jobs.push(self.job(self.index(k)));
        }
    }

    /// Installs generation `k + 1` if `k` is current, sealed, and the next buffer is
    /// free. True if `current` is now past `k`.
    fn rotate(&self, k: u64, place: &dyn Placement) -> bool {
        let _guard = self.rotation.lock();
        self.rotate_locked(k, place)
    }

    fn rotate_locked(&self, k: u64, place: &dyn Placement) -> bool {
        if self.current.load(Ordering::Acquire) != k {
            return true;
        }
        let b = self.buf(k);
        let h = Header(b.header.load(Ordering::Acquire));
        if !h.is_sealed() {
            return false;
        }
        let next = self.buf(k + 1);
        if !next.free.load(Ordering::Acquire) {
            return false;
        }
        let t = tail(
            b.base.load(Ordering::Relaxed),
            h.offset(),
            b.capacity.load(Ordering::Relaxed),
            b.maxed.load(Ordering::Relaxed),
            self.segment_size,
        );
        self.install(next, t.next_base, b, place);
        self.current.store(k + 1, Ordering::Release);
        true
    }

    fn install(&self, next: &IoBuf, base: Lsn, prev: &IoBuf, place: &dyn Placement) {
        let seg_lsn = base - base % self.segment_size;
        let capacity = (self.buf_size as u64).min(seg_lsn + self.segment_size - base) as usize;
        let (file_offset, initial) = if base == seg_lsn {
            let (file_offset, stable) = place.start_segment(base);
            let header = super::format::SegmentHeader {
                segment_lsn: base,
                stable_lsn: stable,
                prev_end: base,
                size_log2: self.segment_size.trailing_zeros() as u16,
                nonce: self.nonces.own,
            };
            // `next` is free (its last write finished) and not current; we hold the
            // rotation lock.
            next.bytes.exclusive();
            // SAFETY: so no claim, writer or reader can reach its bytes.
            unsafe { next.bytes.write(0, &header.encode()) };
            (file_offset, self.initial(base))
        } else {
            let prev_base = prev.base.load(Ordering::Relaxed);
            let prev_offset = prev.file_offset.load(Ordering::Relaxed);
            (prev_offset + (base - prev_base), self.initial(base))
        };
        assert!(
            capacity >= self.initial(base),
            "no room for the vouch at {base}"
        );
        next.base.store(base, Ordering::Relaxed);
        next.file_offset.store(file_offset, Ordering::Relaxed);
        next.capacity.store(capacity, Ordering::Relaxed);
        next.maxed.store(false, Ordering::Relaxed);
        next.free.store(false, Ordering::Relaxed);
        let old = Header(next.header.load(Ordering::Acquire));
        next.header
            .store(old.reused_at(initial).0, Ordering::Release);
    }

    /// The write job of buffer `index`, which the caller just saw sealed with no
    /// writers. Writes the Pad, if any, into the buffer.
    fn job(&self, index: usize) -> WriteJob {
        let b = &self.bufs[index];
        let h = Header(b.header.load(Ordering::Acquire));
        assert!(h.is_writable(), "write job for a buffer in use: {h:?}");
        let base = b.base.load(Ordering::Relaxed);
        let t = tail(
            base,
            h.offset(),
            b.capacity.load(Ordering::Relaxed),
            b.maxed.load(Ordering::Relaxed),
            self.segment_size,
        );
        if t.pad_len > 0 {
            self.write_pad(b, base, h.offset(), t.pad_len);
        }
        WriteJob {
            index,
            base,
            file_offset: b.file_offset.load(Ordering::Relaxed),
            len: t.write_len,
            next_base: t.next_base,
            pad_len: t.pad_len,
        }
    }

    fn write_pad(&self, b: &IoBuf, base: Lsn, at: usize, pad_len: usize) {
        let payload_len = pad_len - MESSAGE_HEADER_LEN;
        let zeros = vec![0; payload_len];
        b.bytes.exclusive();
        let header = MessageHeader::new(
            StoredKind::Pad,
            0,
            base + at as u64,
            &zeros,
            self.nonces.at(base),
        )
        .expect("pad shorter than a buffer");
        // Sealed with no writers and the write job not yet handed out.
        // SAFETY: so the caller is the only thread that can reach these bytes.
        unsafe {
            b.bytes.write(at, &header.encode());
            b.bytes.zero(at + MESSAGE_HEADER_LEN, payload_len);
        }
    }

    /// Where a buffer starting at `base` keeps its Vouch: after the segment header if
    /// it starts a segment, else at its start.
    fn vouch_at(&self, base: Lsn) -> usize {
        if base % self.segment_size == 0 {
            SEGMENT_HEADER_LEN
        } else {
            0
        }
    }

    /// The offset of a buffer's first claim: past its segment header, if any, and its
    /// Vouch.
    fn initial(&self, base: Lsn) -> usize {
        self.vouch_at(base) + VOUCH_LEN
    }

    /// Fills in `job`'s Vouch with `stable`, the stable lsn now. Called by the job's
    /// holder before [`Ring::job_bytes`]; nothing of the buffer is durable yet, so
    /// `stable` is at most the Vouch's own lsn (asserted).
    pub fn stamp(&self, job: &WriteJob, stable: Lsn) {
        let at = self.vouch_at(job.base);
        assert!(job.len >= at + VOUCH_LEN, "a write job without its vouch");
        let vouch = Vouch::new(job.base + at as u64, stable).encode();
        let b = &self.bufs[job.index];
        b.bytes.exclusive();
        // The job's holder is the only thread with access to a sealed buffer with no
        // writers until it calls `finish`.
        // SAFETY: so nothing else reads or writes these bytes meanwhile.
        unsafe { b.bytes.write(at, &vouch) };
    }

    /// The bytes `job` must write.
    pub fn job_bytes(&self, job: &WriteJob) -> &[u8] {
        self.bufs[job.index].bytes.exclusive();
        // The job's holder is the only thread with access to a sealed buffer with no
        // writers until it calls `finish`.
        // SAFETY: so nothing writes these bytes while the slice lives.
        unsafe { self.bufs[job.index].bytes.slice(0, job.len) }
    }

    /// The messages `job` holds, read back from their headers (for the Gc
    /// bookkeeping, `space.rs`): every claim between the Vouch and the Pad, in lsn
    /// order. Called by the job's holder before [`Ring::finish`].
    pub fn fragments(&self, job: &WriteJob) -> Vec<Fragment> {
        let mut at = self.initial(job.base);
        let end = job.len - job.pad_len;
        let mut frags = Vec::new();
        if end <= at {
            return frags;
        }
        let bytes = self.job_bytes(job);
        while at < end {
            let place = Place {
                file: "io buffer",
                offset: job.file_offset + at as u64,
            };
            let h = MessageHeader::decode(&bytes[at..], self.buf_size as u64, place)
                .expect("a claim's own header");
            assert_eq!(
                h.lsn,
                job.base + at as u64,
                "a claim's header names its lsn"
            );
            let payload = at + MESSAGE_HEADER_LEN;
            let blob = h
                .kind
                .is_blob()
                .then(|| decode_u64(&bytes[payload..payload + 8], place).expect("blob lsn"));
            frags.push(Fragment {
                kind: h.kind,
                pid: h.pid,
                lsn: h.lsn,
                blob,
            });
            at = payload + h.len as usize;
        }
        assert_eq!(at, end, "claims overrun the buffer's claimed bytes");
        frags
    }

    /// The job's write finished: the buffer may be installed again.
    pub fn finish(&self, job: &WriteJob) {
        let _guard = self.rotation.lock();
        self.bufs[job.index].free.store(true, Ordering::Release);
        self.freed.notify_all();
    }

    /// Seals the current buffer if it holds claims that start below `end` (`None`:
    /// any claims), so a flush does not wait for bytes that sit in an unsealed buffer.
    /// Returns the end of everything claimed before the call (the flush target when
    /// `end` is None).
    pub fn seal_for_flush(
        &self,
        end: Option<Lsn>,
        place: &dyn Placement,
        jobs: &mut Vec<WriteJob>,
    ) -> Lsn {
        let _guard = self.rotation.lock();
        let k = self.current.load(Ordering::Acquire);
        let b = self.buf(k);
        let h = Header(b.header.load(Ordering::Acquire));
        let base = b.base.load(Ordering::Relaxed);
        let claimed = h.offset() > self.initial(base);
        let target = if claimed {
            base + h.offset() as u64
        } else {
            base
        };
        let wanted = end.is_none_or(|e| e > base);
        if claimed && wanted && !h.is_sealed() {
            self.seal_locked(k, false, jobs);
        }
        self.rotate_locked(k, place);
        target
    }

    /// The lsn the next claim would get at the earliest: the current buffer's base
    /// plus its offset. Lsns only grow, so any lsn below this was handed out (or
    /// skipped) already.
    pub fn claimed_end(&self) -> Lsn {
        let _guard = self.rotation.lock();
        let b = self.buf(self.current.load(Ordering::Acquire));
        let h = Header(b.header.load(Ordering::Acquire));
        b.base.load(Ordering::Relaxed) + h.offset() as u64
    }

    /// The index of the buffer after the current one: the buffer a claim that finds
    /// the current one sealed waits for.
    pub fn next_index(&self) -> usize {
        self.index(self.current.load(Ordering::Acquire) + 1)
    }

    /// Seals the current buffer even if it holds no claim, so that its write (its
    /// Vouch, at least) happens now: a resumed run's open uses it to put a durable
    /// record past the Closed one before handing out any lsn (`recovery.rs`, step 6).
    pub fn seal_now(&self, place: &dyn Placement, jobs: &mut Vec<WriteJob>) {
        let _guard = self.rotation.lock();
        let k = self.current.load(Ordering::Acquire);
        self.seal_locked(k, false, jobs);
        self.rotate_locked(k, place);
    }

    /// Blocks until generation `k` is no longer current, the next buffer is free, or
    /// the ring is poisoned.
    pub fn wait_for_space(&self) {
        let mut guard = self.rotation.lock();
        let k = self.current.load(Ordering::Acquire);
        loop {
            let moved = self.current.load(Ordering::Acquire) != k;
            let sealed = Header(self.buf(k).header.load(Ordering::Acquire)).is_sealed();
            let next_free = self.buf(k + 1).free.load(Ordering::Acquire);
            if moved || !sealed || next_free || self.poisoned.load(Ordering::Acquire) {
                return;
            }
            guard = self.freed.wait(guard);
        }
    }

    /// Wakes every thread waiting for space; later waits return at once.
    pub fn poison(&self) {
        let _guard = self.rotation.lock();
        self.poisoned.store(true, Ordering::Release);
        self.freed.notify_all();
    }

    /// The lsn the next claim would get if it fits the current buffer (for tests and
    /// diagnostics).
    pub fn next_lsn(&self) -> Lsn {
        let b = self.buf(self.current.load(Ordering::Acquire));
        let h = Header(b.header.load(Ordering::Acquire));
        b.base.load(Ordering::Acquire) + h.offset() as u64
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const SEG: u64 = 1024;
    const H: usize = MESSAGE_HEADER_LEN;

    #[test]
    fn a_buffer_continues_its_segment_unless_it_finishes_it() {
        let t = tail(SEG, 100, 512, false, SEG);
        assert_eq!((t.write_len, t.pad_len, t.next_base), (100, 0, SEG + 100));
        let maxed_mid = tail(SEG, 100, 512, true, SEG);
        assert_eq!(maxed_mid.next_base, SEG + 100, "full buffer mid-segment");
        let maxed_end = tail(SEG + 512, 100, 512, true, SEG);
        assert_eq!(
            (maxed_end.write_len, maxed_end.pad_len, maxed_end.next_base),
            (512, 412, 2 * SEG),
            "the tail of a finished segment is one Pad"
        );
    }

    #[test]
    fn every_tail_shorter_than_a_header_ends_the_segment_unpadded() {
        for left in 0..H {
            let offset = 512 - left;
            let t = tail(SEG + 512, offset, 512, false, SEG);
            assert_eq!(
                (t.write_len, t.pad_len, t.next_base),
                (offset, 0, 2 * SEG),
                "{left} bytes left"
            );
        }
        let t = tail(SEG + 512, 512 - H, 512, false, SEG);
        assert_eq!(t.next_base, SEG + 1024 - H as u64, "a header still fits");
    }
}
