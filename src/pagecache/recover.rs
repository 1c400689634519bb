//! Rebuilding the page table from the log at open.
//!
//! The log's messages are replayed in lsn order; for each page id at or above
//! [`FIRST_PAGE`](super::FIRST_PAGE): a Replace resets the page to that base, an
//! Append adds a delta, a Free frees the id. Only disk pointers are kept: no page is
//! read or decoded at open (a page is read on its first `get`).
//!
//! In Gc mode the log reclaims superseded messages, so the replay can meet a delta
//! whose base was reclaimed because a later Replace or Free superseded both: such a
//! delta is dropped when that later message arrives. A delta that nothing later
//! explains (a page whose chain has no base at the end) is damage:
//! `Error::Corruption` naming the page.

use std::collections::{BTreeMap, BTreeSet};

use super::ids::{self, IDS_PID};
use super::page_ref::PageId;
use super::roots::{self, ROOTS_PID, Roots};
use super::table::Table;
use super::view::{Frag, View};
use crate::error::{Error, Result};
use crate::log::{Kind, LOG_FILE, Log, Message};
use crate::sync::epoch;

/// One page as the replay has it so far.
#[derive(Debug, Default)]
struct Building {
    updates: u64,
    frags: Vec<Frag>,
    /// The chain starts with a delta (its base was not seen): fine only if a later
    /// base or free resets it.
    orphan: Option<u64>,
}

/// What the replay found besides the pages.
#[derive(Debug)]
pub struct Rebuilt {
    /// The next never-used page id.
    pub next_pid: PageId,
    /// Ids below `next_pid` that are free.
    pub free: BTreeSet<PageId>,
    /// The named roots of the newest roots message.
    pub roots: Roots,
    /// The highest id lease end (0: none).
    pub leased: u64,
}

/// The page cache's own records (below the first page id) as the replay has them.
#[derive(Debug, Default)]
struct Own {
    roots: Roots,
    leased: u64,
}

impl Own {
    /// Takes in a message below the first page id: the roots or an id lease, each
    /// under its own id and kind; anything else there is damage.
    fn apply(&mut self, m: &Message) -> Result<()> {
        let at = m.pointer.file_offset;
        match (m.pid, m.kind) {
            (ROOTS_PID, Kind::Meta) => self.roots = roots::decode(&m.value, at)?,
            (IDS_PID, Kind::Counter) => {
                self.leased = self.leased.max(ids::decode_lease(&m.value, at)?);
            }
            _ => {
                return Err(Error::corruption(
                    LOG_FILE,
                    at,
                    format!(
                        "a {:?} message for page {}, which holds no page cache record of that kind",
                        m.kind, m.pid
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Replays `log` into `table` (empty); ids below `first` are not pages.
pub fn rebuild<P>(log: &Log, table: &Table<P>, first: PageId) -> Result<Rebuilt> {
    let mut pages: BTreeMap<PageId, Building> = BTreeMap::new();
    let mut own = Own::default();
    for m in log.iter_from(0)? {
        let m = m?;
        if m.pid >= first {
            apply(pages.entry(m.pid).or_default(), &m)?;
        } else {
            own.apply(&m)?;
        }
    }
    let next_pid = pages.keys().next_back().map_or(first, |&p| p + 1);
    let mut free: BTreeSet<PageId> = (first..next_pid).collect();
    let guard = epoch::pin();
    for (pid, b) in pages {
        if let Some(offset) = b.orphan {
            return Err(Error::corruption(
                LOG_FILE,
                offset,
                format!("page {pid}: a delta with no base before it in the log"),
            ));
        }
        let view = View::recovered(b.updates, b.frags);
        if !view.is_free() {
            free.remove(&pid);
        }
        let empty = table.load(pid, &guard)?;
        let installed = table.cas(pid, empty, view, &guard)?;
        assert!(installed.is_ok(), "page {pid} rebuilt twice");
    }
    Ok(Rebuilt {
        next_pid,
        free,
        roots: own.roots,
        leased: own.leased,
    })
}

/// Applies one recovered message to its page.
fn apply(b: &mut Building, m: &Message) -> Result<()> {
    b.updates += 1;
    let len = u32::try_from(m.value.len()).unwrap_or(u32::MAX);
    let frag = |base| Frag {
        ptr: m.pointer,
        len,
        base,
    };
    match m.kind {
        Kind::Replace => {
            b.frags = vec![frag(true)];
            b.orphan = None;
        }
        Kind::Free => {
            b.frags.clear();
            b.orphan = None;
        }
        Kind::Append => {
            if b.frags.is_empty() && b.orphan.is_none() {
                b.orphan = Some(m.pointer.file_offset);
            }
            b.frags.push(frag(false));
        }
        Kind::Meta | Kind::Counter | Kind::Config => {
            return Err(Error::corruption(
                LOG_FILE,
                m.pointer.file_offset,
                format!(
                    "page {}: a {:?} message where page fragments live",
                    m.pid, m.kind
                ),
            ));
        }
    }
    Ok(())
}
