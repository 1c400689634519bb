//! [`Kind`]: what a message a user writes means to the log.
//!
//! The log stores more kinds than a user may write: Pad, Cancelled, batch manifests,
//! Vouch, Closed and Truncate records, and the blob forms of Append and Replace are its own
//! bookkeeping (`format.rs`, `StoredKind`). A user names only the kinds below; the
//! stored kind is chosen by the log (a value above the blob threshold becomes a blob
//! message), and reading a message back gives the user's kind again.
//!
//! The kind matters only to a log in [`SegmentMode::Gc`](crate::SegmentMode::Gc),
//! which keeps each page's live state and reclaims the rest: an `Append` adds a
//! fragment to its page, every other kind supersedes all older messages of its page.
//! In [`SegmentMode::Linear`](crate::SegmentMode::Linear) the log is a history and
//! the kind is only a label that comes back on reading.

use super::format::StoredKind;

/// The kinds of message a user writes; see the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Adds a fragment (a delta) to its page: older fragments stay live. What
    /// [`Log::append`](crate::Log::append) writes, to page 0.
    Append,
    /// A new base for its page (a consolidated page): supersedes its older messages.
    Replace,
    /// The page was freed: supersedes its older messages.
    Free,
    /// Metadata kept under one page id (named roots, say): supersedes older ones.
    Meta,
    /// A counter's high-water mark kept under one page id: supersedes older ones.
    Counter,
    /// Configuration kept under one page id: supersedes older ones.
    Config,
}

impl Kind {
    /// Every kind a user may write.
    pub const ALL: [Kind; 6] = [
        Kind::Append,
        Kind::Replace,
        Kind::Free,
        Kind::Meta,
        Kind::Counter,
        Kind::Config,
    ];

    /// The stored kind of an inline message of this kind.
    pub(crate) fn stored(self) -> StoredKind {
        match self {
            Kind::Append => StoredKind::Append,
            Kind::Replace => StoredKind::Replace,
            Kind::Free => StoredKind::Free,
            Kind::Meta => StoredKind::Meta,
            Kind::Counter => StoredKind::Counter,
            Kind::Config => StoredKind::Config,
        }
    }

    /// The user's kind of a stored message, None for the log's own records.
    pub(crate) fn of_stored(stored: StoredKind) -> Option<Kind> {
        match stored {
            StoredKind::Append | StoredKind::AppendBlob => Some(Kind::Append),
            StoredKind::Replace | StoredKind::ReplaceBlob => Some(Kind::Replace),
            StoredKind::Free => Some(Kind::Free),
            StoredKind::Meta => Some(Kind::Meta),
            StoredKind::Counter => Some(Kind::Counter),
            StoredKind::Config => Some(Kind::Config),
            StoredKind::Cancelled
            | StoredKind::Pad
            | StoredKind::BatchManifest
            | StoredKind::Vouch
            | StoredKind::Closed
            | StoredKind::Truncate
            | StoredKind::Resumed => None,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn every_user_kind_round_trips_and_no_internal_kind_is_a_user_kind() {
        for k in Kind::ALL {
            assert_eq!(Kind::of_stored(k.stored()), Some(k));
        }
        let users: Vec<StoredKind> = Kind::ALL.iter().map(|k| k.stored()).collect();
        let blobs = [StoredKind::AppendBlob, StoredKind::ReplaceBlob];
        for s in StoredKind::ALL {
            let user = Kind::of_stored(s).is_some();
            assert_eq!(user, users.contains(&s) || blobs.contains(&s), "{s:?}");
        }
    }
}
