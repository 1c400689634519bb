//! [`Table`]: the page table, a lock-free three-level radix array of page slots
//! indexed by dense page id.
//!
//! Each slot is an epoch-protected atomic pointer to the page's current [`View`]
//! (null: never allocated). The root is allocated with the table; middle nodes and
//! leaves are allocated on first use and installed with a compare-and-swap, so the
//! table grows without a lock and a lookup is three loads. A view swapped out of a
//! slot is handed to the epoch collector and freed once no thread that could have
//! loaded it is still pinned. Nodes are installed once and freed only by `Drop`.
//!
//! Sizes: 2^8 root cells, 2^10 per middle node, 2^10 slots per leaf (2^28 ids).
//! The middle node of the first 2^20 ids is part of the table, so a lookup there
//! takes no more loads than in a two-level table. A fresh table costs 10 KiB and its first
//! page 8 KiB more; with two levels of 2^14
//! it cost 256 KiB, zeroed at every open and scanned at every drop, which was a
//! sixth of a simulated page seed's time (measured with `pagelog-sim run --kind
//! page`: 95,000 page ops/s on one core before, see `docs/performance.md`).

use crate::sync::epoch::{Atomic, Guard, Owned, Shared};

use super::view::View;
use crate::error::{Error, Result};
use crate::sync::Ordering;

#[cfg(not(loom))]
const ROOT_BITS: u32 = 8;
#[cfg(not(loom))]
const MID_BITS: u32 = 10;
#[cfg(not(loom))]
const LEAF_BITS: u32 = 10;
// Under loom every atomic is a modelled object: a table of 32 ids keeps the models'
// state small; the code paths are the same.
#[cfg(loom)]
const ROOT_BITS: u32 = 1;
#[cfg(loom)]
const MID_BITS: u32 = 1;
#[cfg(loom)]
const LEAF_BITS: u32 = 3;

/// Highest page id the table can hold, plus one.
pub const MAX_PAGES: u64 = 1 << (ROOT_BITS + MID_BITS + LEAF_BITS);

/// An array of atomic pointers to `C`, each null until installed.
struct Node<C> {
    cells: Box<[Atomic<C>]>,
}

impl<C> Node<C> {
    fn new(bits: u32) -> Node<C> {
        Node {
            cells: (0..1usize << bits).map(|_| Atomic::null()).collect(),
        }
    }
}

impl<D> Node<Node<D>> {
    /// The node in cell `at`, installing a fresh one of `2^bits` cells if there is
    /// none yet.
    fn child<'g>(&self, at: usize, bits: u32, guard: &'g Guard) -> &'g Node<D> {
        let cell = &self.cells[at];
        let mut current = cell.load(Ordering::Acquire, guard);
        if current.is_null() {
            let fresh = Owned::new(Node::new(bits));
            current = match cell.compare_exchange(
                Shared::null(),
                fresh,
                Ordering::AcqRel,
                Ordering::Acquire,
                guard,
            ) {
                Ok(installed) => installed,
                Err(lost) => lost.current,
            };
        }
        // SAFETY: nodes are installed once and freed only by `Drop` (with `&mut
        // self`), so a non-null node loaded under `guard` lives as long as it.
        unsafe { current.deref() }
    }
}

type Leaf<P> = Node<View<P>>;
type Mid<P> = Node<Leaf<P>>;

/// The outcome of [`Table::cas`]: the installed view, or the view found and the one
/// that was not installed.
pub type Swap<'g, P> = std::result::Result<Shared<'g, View<P>>, (Shared<'g, View<P>>, View<P>)>;

/// The page table; see the module doc.
pub struct Table<P> {
    /// The middle node of root cell 0 (ids below 2^20), allocated with the table: a
    /// lookup there is as many loads as in a two-level table.
    low: Mid<P>,
    /// The other middle nodes (cell 0 stays null).
    root: Node<Mid<P>>,
}

impl<P> std::fmt::Debug for Table<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").finish_non_exhaustive()
    }
}

impl<P> Default for Table<P> {
    fn default() -> Table<P> {
        Table {
            low: Node::new(MID_BITS),
            root: Node::new(ROOT_BITS),
        }
    }
}

/// The root cell, middle-node cell and leaf slot of `pid`.
fn split(pid: u64) -> Result<(usize, usize, usize)> {
    if pid >= MAX_PAGES {
        return Err(Error::InvalidArgument(format!(
            "page id {pid} is past the page table's {MAX_PAGES} ids"
        )));
    }
    let pid = pid as usize;
    let low = |bits: u32, shift: u32| (pid >> shift) & ((1 << bits) - 1);
    Ok((
        pid >> (MID_BITS + LEAF_BITS),
        low(MID_BITS, LEAF_BITS),
        low(LEAF_BITS, 0),
    ))
}

impl<P> Table<P> {
    /// The slot of `pid`, creating its middle node and leaf if needed.
    fn slot<'g>(&self, pid: u64, guard: &'g Guard) -> Result<&'g Atomic<View<P>>> {
        let (top, mid, at) = split(pid)?;
        let middle: &Mid<P> = match top {
            0 => &self.low,
            _ => self.root.child(top, MID_BITS, guard),
        };
        let leaf: &Leaf<P> = middle.child(mid, LEAF_BITS, guard);
        Ok(&leaf.cells[at])
    }

    /// The current view of `pid` (null if never allocated).
    pub fn load<'g>(&self, pid: u64, guard: &'g Guard) -> Result<Shared<'g, View<P>>> {
        Ok(self.slot(pid, guard)?.load(Ordering::Acquire, guard))
    }

    /// Swaps `pid`'s view from `current` to `new`; on success the old view is
    /// retired. On failure returns the view found and gives `new` back.
    pub fn cas<'g>(
        &self,
        pid: u64,
        current: Shared<'g, View<P>>,
        new: View<P>,
        guard: &'g Guard,
    ) -> Result<Swap<'g, P>> {
        let slot = self.slot(pid, guard)?;
        let swapped = slot.compare_exchange(
            current,
            Owned::new(new),
            Ordering::AcqRel,
            Ordering::Acquire,
            guard,
        );
        Ok(match swapped {
            Ok(installed) => {
                if !current.is_null() {
                    // This swap unlinked `current` from its only slot: no new reader
                    // can load it, and readers pinned before may still hold it.
                    // SAFETY: so the collector frees it only after they unpin.
                    unsafe { guard.defer_destroy(current) };
                }
                Ok(installed)
            }
            Err(e) => Err((e.current, *e.new.into_box())),
        })
    }
}

impl<P> Drop for Table<P> {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no other thread can reach the table, so nothing is
        // pinned on these pointers and they can be freed at once.
        let guard = unsafe { crate::sync::epoch::unprotected() };
        // Plain loads (no swaps): `&mut self` already ordered every store before
        // this, and a dropped table is never read again. A swap per slot made
        // dropping a page cache cost a locked instruction per slot.
        for cell in self.root.cells.iter() {
            // SAFETY: as above; each node was installed by `child` and is owned
            // here through its one cell.
            if let Some(mid) = unsafe { owned(cell, guard) } {
                free_leaves(&mid, guard);
            }
        }
        free_leaves(&self.low, guard);
    }
}

/// Frees the leaves of `mid` and every view in them.
fn free_leaves<P>(mid: &Mid<P>, guard: &Guard) {
    for leaf in mid.cells.iter() {
        // SAFETY: only `Drop` calls this, with no other thread able to reach the
        // table; each leaf is owned through its one cell.
        let Some(leaf) = (unsafe { owned(leaf, guard) }) else {
            continue;
        };
        for slot in leaf.cells.iter() {
            // SAFETY: as above; each view is referenced by this slot only.
            drop(unsafe { owned(slot, guard) });
        }
    }
}

/// What `cell` points at, owned (None if null).
///
/// # Safety
/// No other thread may reach `cell`, and nothing else may own what it points at.
unsafe fn owned<T>(cell: &Atomic<T>, guard: &Guard) -> Option<Owned<T>> {
    let p = cell.load(Ordering::Relaxed, guard);
    // SAFETY: the caller's contract: the pointee is owned through this cell alone.
    (!p.is_null()).then(|| unsafe { p.into_owned() })
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::log::Pointer;
    use crate::pagecache::view::Frag;

    fn base(lsn: u64) -> View<u32> {
        let ptr = Pointer {
            lsn,
            file_offset: lsn,
        };
        View::based(
            1,
            Frag {
                ptr,
                len: 1,
                base: true,
            },
            None,
        )
    }

    #[test]
    fn a_slot_swaps_only_from_the_view_it_was_read_at() {
        let t: Table<u32> = Table::default();
        let g = crate::sync::epoch::pin();
        let empty = t.load(70_000, &g).expect("in range");
        assert!(empty.is_null());
        let first = t.cas(70_000, empty, base(10), &g).expect("in range");
        let first = first.expect("swap from null");
        let stale = t.cas(70_000, empty, base(20), &g).expect("in range");
        let (found, _) = stale.expect_err("the slot moved on");
        assert_eq!(found, first);
        assert!(t.load(MAX_PAGES, &g).is_err(), "past the table");
    }

    #[test]
    fn ids_far_apart_land_in_their_own_slots_and_all_are_freed() {
        let t: Table<u32> = Table::default();
        let g = crate::sync::epoch::pin();
        let ids = [0, 1, 1023, 1024, 1 << 20, (1 << 20) + 1, MAX_PAGES - 1];
        for (i, &pid) in ids.iter().enumerate() {
            let empty = t.load(pid, &g).expect("in range");
            assert!(empty.is_null(), "page {pid} starts empty");
            let put = t.cas(pid, empty, base(i as u64 + 1), &g).expect("in range");
            assert!(put.is_ok(), "page {pid}");
        }
        for (i, &pid) in ids.iter().enumerate() {
            let v = t.load(pid, &g).expect("in range");
            // SAFETY: loaded under `g`, which is still pinned.
            let v = unsafe { v.deref() };
            assert_eq!(v.frags[0].ptr.lsn, i as u64 + 1, "page {pid}");
        }
        assert_eq!(MAX_PAGES, 1 << 28);
    }
}
