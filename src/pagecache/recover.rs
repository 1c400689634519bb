//! Rebuilding the page table from the log at open, and the state a snapshot holds.
//!
//! A [`Replay`] is the fold of the log's messages, in lsn order, into what the page
//! cache needs: for each page id at or above [`FIRST_PAGE`](super::FIRST_PAGE), a
//! Replace resets the page to that base, an Append adds a delta, a Free frees the id;
//! below it, the newest roots and the highest id lease. Only disk pointers are kept:
//! no page is read or decoded at open (a page is read on its first `get`).
//!
//! The fold is a pure function of the messages below its `lsn`, so it can stop at any
//! lsn, be written down (`snapshot.rs`) and go on later from the messages at or past
//! that lsn: the state it reaches is the same as a fold of the whole log (I7). This is
//! what makes a snapshot plus the log's tail equal to a full replay.
//!
//! In Gc mode the log reclaims superseded messages, so the replay can meet a delta
//! whose base was reclaimed because a later Replace or Free superseded both: such a
//! delta is dropped when that later message arrives. A delta that nothing later
//! explains (a page whose chain has no base at the end) is damage:
//! `Error::Corruption` naming the page. The same holds after a snapshot: a message
//! the snapshot points at is reclaimed only once a later message supersedes it, and
//! that message is past the snapshot (else the snapshot would not point there), so
//! the tail's replay replaces the pointer.

use std::collections::{BTreeMap, BTreeSet};

use super::ids::{self, IDS_PID};
use super::page_ref::PageId;
use super::roots::{self, ROOTS_PID, Roots};
use super::table::Table;
use super::view::{Frag, View};
use crate::error::{Error, Result};
use crate::log::{Kind, LOG_FILE, Log, Lsn, Message};
use crate::sync::epoch;

/// One page as the replay has it so far.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Building {
    /// Messages seen for the page (its version once recovered).
    pub updates: u64,
    /// Base first, then deltas, in lsn order; empty when freed.
    pub frags: Vec<Frag>,
    /// The chain starts with a delta (its base was not seen), at this file offset:
    /// fine only if a later base or free resets it.
    pub orphan: Option<u64>,
}

/// The fold of every message below `lsn`; see the module doc.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Replay {
    /// Every message below this lsn is folded in, none at or past it.
    pub lsn: Lsn,
    /// The pages seen, by id.
    pub pages: BTreeMap<PageId, Building>,
    /// The named roots of the newest roots message.
    pub roots: Roots,
    /// The highest id lease end (0: none).
    pub leased: u64,
    /// The last message folded in, to tell this log from another (`snapshot.rs`).
    pub anchor: Option<Anchor>,
}

/// A message of the log named by where it is and what it holds: a snapshot records
/// the last one it folded in, and a log that holds something else there is not the
/// log the snapshot was taken of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    /// Where it is.
    pub ptr: crate::log::Pointer,
    /// Its page id.
    pub pid: PageId,
    /// CRC-32C of its value.
    pub crc: u32,
}

impl Anchor {
    /// The anchor of `m`.
    pub fn of(m: &Message) -> Anchor {
        Anchor {
            ptr: m.pointer,
            pid: m.pid,
            crc: crc32c::crc32c(&m.value),
        }
    }

    /// Whether `m` is the message this anchor names.
    pub fn names(&self, m: &Message) -> bool {
        m.pointer == self.ptr && m.pid == self.pid && crc32c::crc32c(&m.value) == self.crc
    }
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

impl Replay {
    /// Folds in every message of `log` from `self.lsn` up to `upto` (exclusive; a
    /// stable lsn of `log`, read before this call, so every message below it is
    /// durable and whole); ids below `first` are not pages. Returns how many messages
    /// it folded in.
    pub fn extend(&mut self, log: &Log, first: PageId, upto: Lsn) -> Result<u64> {
        let mut folded = 0;
        if upto <= self.lsn {
            return Ok(0);
        }
        for m in log.iter_from(self.lsn)? {
            let m = m?;
            if m.lsn() >= upto {
                break;
            }
            self.apply(&m, first)?;
            folded += 1;
        }
        self.lsn = upto;
        Ok(folded)
    }

    /// The fold of all of `log`'s stable messages, reading no snapshot.
    pub fn whole(log: &Log, first: PageId) -> Result<Replay> {
        let mut replay = Replay::default();
        replay.extend(log, first, log.stable_lsn())?;
        Ok(replay)
    }

    /// Whether `self` and `other` give the page cache the same state: the same
    /// pages with the same fragments, the same roots and lease. Versions aside: a
    /// fold of a Gc log from its start no longer sees the updates the log
    /// reclaimed, and counts fewer than a fold from a snapshot taken before. Freed
    /// pages aside too: a page freed in one and absent from the other is free in
    /// both (the log drops a Free message once nothing older of its page is left,
    /// while a snapshot taken before still lists the page as freed).
    pub fn same_state(&self, other: &Replay) -> bool {
        let live = |r: &Replay| {
            r.pages
                .iter()
                .filter(|(_, b)| !b.frags.is_empty())
                .map(|(&pid, b)| (pid, b.frags.clone()))
                .collect::<Vec<_>>()
        };
        live(self) == live(other) && self.roots == other.roots && self.leased == other.leased
    }

    /// Folds in one message.
    pub fn apply(&mut self, m: &Message, first: PageId) -> Result<()> {
        assert!(m.lsn() >= self.lsn, "replay out of lsn order");
        self.anchor = Some(Anchor::of(m));
        if m.pid >= first {
            apply(self.pages.entry(m.pid).or_default(), m)
        } else {
            self.apply_own(m)
        }
    }

    /// Takes in a message below the first page id: the roots or an id lease, each
    /// under its own id and kind; anything else there is damage.
    fn apply_own(&mut self, m: &Message) -> Result<()> {
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

    /// Fails if the fold, taken as the whole log, leaves a page whose chain has no
    /// base (a delta nothing later explained): `Error::Corruption` naming it.
    pub fn check(&self) -> Result<()> {
        let orphan = self
            .pages
            .iter()
            .find_map(|(pid, b)| b.orphan.map(|o| (pid, o)));
        match orphan {
            None => Ok(()),
            Some((pid, offset)) => Err(Error::corruption(
                LOG_FILE,
                offset,
                format!("page {pid}: a delta with no base before it in the log"),
            )),
        }
    }

    /// Installs the pages into `table` (empty); ids below `first` are not pages.
    pub fn install<P>(self, table: &Table<P>, first: PageId) -> Result<Rebuilt> {
        self.check()?;
        let next_pid = self.pages.keys().next_back().map_or(first, |&p| p + 1);
        let mut free: BTreeSet<PageId> = (first..next_pid).collect();
        let guard = epoch::pin();
        for (pid, b) in self.pages {
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
            roots: self.roots,
            leased: self.leased,
        })
    }
}

/// Replays all of `log` into `table` (empty); ids below `first` are not pages.
pub fn rebuild<P>(log: &Log, table: &Table<P>, first: PageId) -> Result<Rebuilt> {
    Replay::whole(log, first)?.install(table, first)
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
