//! Resume marks: what tells two copies of one store apart inside a segment they share.
//!
//! After a clean close the next open resumes the tip's segment under that segment's
//! nonce (`recovery.rs`, step 6). If the store's files were copied while it was
//! closed and both copies were then opened, both continue the same segment under the
//! same nonce: from that lsn on they hold different messages that checksum alike.
//! So a resumed run's first buffer holds, after its Vouch, a Resumed record whose
//! payload is a random draw of that run (the one its own nonce comes from): the two
//! copies differ at that lsn, up to a 2^-64 chance.
//!
//! A page cache's snapshot records the last mark below its lsn (`Log::mark_before`);
//! a store that does not hold it parted from the snapshot's store at or before that
//! mark, and the snapshot is not its own (`pagecache/snapshot.rs`). The log keeps
//! every mark recovery found (each read and checked by the walk) and the one this
//! run wrote, 16 bytes per resumed open, so telling needs no read. Say a copy was
//! taken at lsn C and a snapshot of one copy is at S. If S <= C, the snapshot is
//! shared history and right for both. If S lies in a segment created after C, one
//! store alone created it, under a nonce it drew, and the snapshot's segment nonces
//! tell the stores apart. Otherwise S lies in the segment both resumed at C, past C,
//! and its last mark is the one its store wrote at C or later, which the other store
//! cannot hold. A mark in a segment since reclaimed proves nothing either way.

use super::format::{Lsn, StoredKind, VOUCH_LEN, encode_u64};
use super::handle::Log;
use super::recovery::Recovered;
use crate::error::Result;

/// The marks among recovery's `specials`, ascending.
pub(crate) fn recovered(specials: &[Recovered]) -> Vec<(Lsn, u64)> {
    specials
        .iter()
        .filter(|m| m.kind == StoredKind::Resumed)
        .filter_map(|m| Some((m.lsn, m.word?)))
        .collect()
}

/// Whether a log whose marks are `marks` holds `mark`, given whether it still holds
/// the mark's segment: a reclaimed segment proves nothing either way (true).
pub(crate) fn holds(marks: &[(Lsn, u64)], mark: (Lsn, u64), segment_held: bool) -> bool {
    !segment_held || marks.binary_search(&mark).is_ok()
}

impl Log {
    /// Writes this resumed run's mark and waits until it is durable, before the
    /// open hands out any lsn: the log then no longer ends with a Closed record, so
    /// if this run crashes, the next open does not resume below lsns it handed out
    /// (`recovery.rs`, step 6).
    pub(crate) fn write_resume_mark(&self, token: u64) -> Result<()> {
        let r = self.reserve_any(StoredKind::Resumed, 0, &encode_u64(token), true)?;
        let (lsn, end) = (r.lsn(), r.end());
        let start = self.inner.info.start;
        assert_eq!(
            lsn,
            start + VOUCH_LEN as u64,
            "the resume mark must follow the first buffer's Vouch at {start}"
        );
        r.complete()?;
        self.inner.write_now(end)?;
        let mut marks = self.inner.marks.lock();
        assert!(
            marks.last().is_none_or(|&(l, _)| l < lsn),
            "resume mark {lsn} below a recovered one"
        );
        marks.push((lsn, token));
        Ok(())
    }

    /// The last mark below `lsn`, if any: what a snapshot at `lsn` records.
    pub(crate) fn mark_before(&self, lsn: Lsn) -> Option<(Lsn, u64)> {
        let marks = self.inner.marks.lock();
        marks.iter().rev().find(|&&(at, _)| at < lsn).copied()
    }

    /// Whether this log holds `mark` (true too when its segment was reclaimed:
    /// [`holds`]).
    pub(crate) fn holds_mark(&self, mark: (Lsn, u64)) -> bool {
        let size = self.inner.config.segment_size_bytes;
        let held = self.segment_lsns().contains(&(mark.0 - mark.0 % size));
        holds(&self.inner.marks.lock(), mark, held)
    }
}
