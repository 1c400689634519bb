//! Reading one message back by its [`Pointer`]: [`Log::read`].
//!
//! A pointer comes from a completed reservation, from [`Log::append`] or from
//! iteration. A pointer that does not name a message (a hand-made or stale one: an
//! lsn no segment in use holds, a file offset that does not match the lsn, an lsn that
//! falls inside a message or on one of the log's own records) is
//! `Error::InvalidArgument`; only bytes that fail their checks where a message does
//! start are `Error::Corruption`. Telling the two apart costs a scan of the segment,
//! done only when the first checks fail.

use crate::failpoints::failpoint;

use super::blob;
use super::format::{
    Lsn, MESSAGE_HEADER_LEN, MessageHeader, Nonce, Place, SEGMENT_HEADER_LEN, SegmentHeader,
    StoredKind,
};
use super::handle::{Inner, LOG_FILE, Log, Message, Pointer};
use super::kind::Kind;
use super::scan::{SegmentBytes, scan};
use crate::error::{Error, Result};

impl Log {
    /// Reads the message at `ptr` (written by this run or recovered), waiting for it
    /// to be durable first if it is not yet. A pointer that names no message is
    /// `Error::InvalidArgument` (module doc).
    pub fn read(&self, ptr: Pointer) -> Result<Message> {
        self.inner.read(ptr)
    }
}

impl Inner {
    /// Reads and checks the message at `ptr`, resolving blobs.
    pub(crate) fn read(&self, ptr: Pointer) -> Result<Message> {
        self.check()?;
        if ptr.lsn >= self.info.tip && self.read_only {
            return Err(Error::InvalidArgument(format!(
                "lsn {} is past the end of a log opened read-only ({})",
                ptr.lsn, self.info.tip
            )));
        }
        if self.stable.try_until(ptr.lsn + 1).is_err() {
            self.make_stable(ptr.lsn, true)?;
        }
        let start = self.space.lock().truncated();
        if ptr.lsn < start {
            return Err(Error::InvalidArgument(format!(
                "lsn {} is below the log's start {start} (truncate_before)",
                ptr.lsn
            )));
        }
        if self.voids.covers(ptr.lsn) {
            return Err(Error::InvalidArgument(format!(
                "lsn {} was cut by recovery",
                ptr.lsn
            )));
        }
        let held = self.space.lock().accountant().try_file_offset(ptr.lsn);
        match held {
            None => {
                return Err(Error::InvalidArgument(format!(
                    "no segment in use holds lsn {}",
                    ptr.lsn
                )));
            }
            Some(at) if at != ptr.file_offset => {
                return Err(Error::InvalidArgument(format!(
                    "pointer names lsn {} at file offset {}, but that lsn is at offset {at}",
                    ptr.lsn, ptr.file_offset
                )));
            }
            Some(_) => {}
        }
        if !self.space.lock().accountant_mut().try_pin(ptr.lsn) {
            return Err(Error::InvalidArgument(format!(
                "no segment in use holds lsn {}",
                ptr.lsn
            )));
        }
        let result = match self.read_pinned(ptr) {
            Err(Error::Corruption { .. }) if !self.starts_message(ptr)? => {
                Err(Error::InvalidArgument(format!(
                    "no message starts at lsn {} (a pointer must come from the log)",
                    ptr.lsn
                )))
            }
            other => other,
        };
        self.space.lock().accountant_mut().unpin(ptr.lsn);
        result.map_err(|e| self.fail_on_io(e))
    }

    fn read_pinned(&self, ptr: Pointer) -> Result<Message> {
        let size = self.config.segment_size_bytes;
        let place = Place {
            file: LOG_FILE,
            offset: ptr.file_offset,
        };
        let in_segment = ptr.lsn % size;
        if in_segment < SEGMENT_HEADER_LEN as u64 || in_segment + (MESSAGE_HEADER_LEN as u64) > size
        {
            return Err(Error::InvalidArgument(format!(
                "no message starts at lsn {}",
                ptr.lsn
            )));
        }
        let mut hb = [0; MESSAGE_HEADER_LEN];
        failpoint!("handle::read::header");
        self.file.read_at(&mut hb, ptr.file_offset)?;
        let max_len = size - in_segment - MESSAGE_HEADER_LEN as u64;
        let header = MessageHeader::decode(&hb, max_len, place)?;
        header.check_lsn(ptr.lsn, place)?;
        let mut payload = vec![0; header.len as usize];
        failpoint!("handle::read::payload");
        self.file
            .read_at(&mut payload, ptr.file_offset + MESSAGE_HEADER_LEN as u64)?;
        let nonce = self.nonce_at(ptr.lsn)?;
        header.check_payload(&payload, nonce, place)?;
        self.message(header.kind, header.pid, ptr, payload, nonce, place)
    }

    /// Whether a message starts at `ptr` (its segment pinned), judged by scanning the
    /// segment from its start: false if the scan passed `ptr.lsn` without a message
    /// starting there; true if one starts there or the scan stopped at or before it
    /// (the bytes there are damaged, whatever was meant to be there).
    fn starts_message(&self, ptr: Pointer) -> Result<bool> {
        let size = self.config.segment_size_bytes;
        let segment = ptr.lsn - ptr.lsn % size;
        let start = ptr.file_offset - ptr.lsn % size;
        let file_len = self.file.len()?;
        let mut bytes = vec![0; size.min(file_len.saturating_sub(start)) as usize];
        failpoint!("handle::read::scan");
        self.file.read_at(&mut bytes, start)?;
        let place = Place {
            file: LOG_FILE,
            offset: start,
        };
        let head = bytes.get(..SEGMENT_HEADER_LEN).unwrap_or(&[]);
        let Ok(header) = SegmentHeader::decode(head, place) else {
            return Ok(true);
        };
        let seg = SegmentBytes {
            bytes: &bytes,
            lsn: segment,
            size,
            file: LOG_FILE,
            file_offset: start,
            nonce: header.nonce,
        };
        let mut starts = false;
        let (end, _) = scan(seg, &|_| false, &mut |f| starts |= f.lsn == ptr.lsn);
        Ok(starts || end <= ptr.lsn)
    }

    /// The nonce of the run that wrote the segment holding `lsn`: this run's from its
    /// start on, the recovered header's below.
    fn nonce_at(&self, lsn: Lsn) -> Result<Nonce> {
        let segment = lsn - lsn % self.config.segment_size_bytes;
        if let Some(&nonce) = self.recovered_nonces.get(&segment) {
            return Ok(nonce);
        }
        if lsn >= self.info.start {
            return Ok(self.nonces.own);
        }
        Err(Error::InvalidArgument(format!(
            "lsn {lsn} is in no recovered segment"
        )))
    }

    /// A blob read failed with `e`: a missing blob file of a message still live
    /// (every message in Linear mode) is damage; of a superseded Gc message it is a
    /// reclaimed blob, and `e` stands (iteration skips it).
    fn missing_blob(&self, e: Error, pid: u64, lsn: Lsn, blob_lsn: Lsn) -> Error {
        if !e.is_not_found() || !self.space.lock().blob_is_live(pid, lsn) {
            return e;
        }
        Error::corruption(
            blob::blob_name(blob_lsn),
            0,
            format!("the blob file of the message at lsn {lsn} is missing"),
        )
    }

    /// The user-facing message for a stored one at `ptr`, written with `nonce`.
    pub(crate) fn message(
        &self,
        kind: StoredKind,
        pid: u64,
        ptr: Pointer,
        payload: Vec<u8>,
        nonce: Nonce,
        place: Place<'_>,
    ) -> Result<Message> {
        let Some(user_kind) = Kind::of_stored(kind) else {
            return Err(Error::InvalidArgument(format!(
                "lsn {} holds one of the log's own records ({kind:?}), not a message",
                ptr.lsn
            )));
        };
        let value = if kind.is_blob() {
            let blob_lsn = super::format::decode_u64(&payload, place)?;
            blob::read_blob(self.storage.as_ref(), blob_lsn, nonce)
                .map_err(|e| self.missing_blob(e, pid, ptr.lsn, blob_lsn))?
        } else {
            payload
        };
        Ok(Message {
            pointer: ptr,
            kind: user_kind,
            pid,
            value,
        })
    }
}
