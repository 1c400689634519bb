//! [`Table`]: the page table, a lock-free two-level array of page slots indexed by
//! dense page id.
//!
//! Each slot is an epoch-protected atomic pointer to the page's current [`View`]
//! (null: never allocated). Leaves of `LEAF` slots are allocated on first use and
//! installed with a compare-and-swap, so the table grows without a lock and a lookup
//! is two loads. A view swapped out of a slot is handed to the epoch collector and
//! freed once no thread that could have loaded it is still pinned.

use crate::sync::epoch::{Atomic, Guard, Owned, Shared};

use super::view::View;
use crate::error::{Error, Result};
use crate::sync::{AtomicUsize, Ordering};

/// Slots per leaf.
#[cfg(not(loom))]
const LEAF_BITS: u32 = 14;
/// Leaves: the table holds up to `LEAVES * LEAF` (2^28) page ids.
#[cfg(not(loom))]
const LEAVES: usize = 1 << 14;
// Under loom every atomic is a modelled object: a table of 32 ids keeps the models'
// state small; the code paths are the same.
#[cfg(loom)]
const LEAF_BITS: u32 = 3;
#[cfg(loom)]
const LEAVES: usize = 4;
const LEAF: usize = 1 << LEAF_BITS;

/// Highest page id the table can hold, plus one.
pub const MAX_PAGES: u64 = (LEAVES * LEAF) as u64;

struct Leaf<P> {
    slots: Box<[Atomic<View<P>>]>,
}

impl<P> Leaf<P> {
    fn new() -> Leaf<P> {
        Leaf {
            slots: (0..LEAF).map(|_| Atomic::null()).collect(),
        }
    }
}

/// The outcome of [`Table::cas`]: the installed view, or the view found and the one
/// that was not installed.
pub type Swap<'g, P> = std::result::Result<Shared<'g, View<P>>, (Shared<'g, View<P>>, View<P>)>;

/// The page table; see the module doc.
pub struct Table<P> {
    leaves: Box<[Atomic<Leaf<P>>]>,
    /// Leaves below this index may be installed (raised when one is): `Drop` looks
    /// at no cell past it.
    leaves_used: AtomicUsize,
}

impl<P> std::fmt::Debug for Table<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").finish_non_exhaustive()
    }
}

impl<P> Default for Table<P> {
    fn default() -> Table<P> {
        Table {
            leaves: (0..LEAVES).map(|_| Atomic::null()).collect(),
            leaves_used: AtomicUsize::new(0),
        }
    }
}

fn split(pid: u64) -> Result<(usize, usize)> {
    if pid >= MAX_PAGES {
        return Err(Error::InvalidArgument(format!(
            "page id {pid} is past the page table's {MAX_PAGES} ids"
        )));
    }
    let pid = pid as usize;
    Ok((pid >> LEAF_BITS, pid & (LEAF - 1)))
}

impl<P> Table<P> {
    /// The slot of `pid`, creating its leaf if needed.
    fn slot<'g>(&self, pid: u64, guard: &'g Guard) -> Result<&'g Atomic<View<P>>> {
        let (leaf, at) = split(pid)?;
        let cell = &self.leaves[leaf];
        let mut current = cell.load(Ordering::Acquire, guard);
        if current.is_null() {
            let fresh = Owned::new(Leaf::new());
            current = match cell.compare_exchange(
                Shared::null(),
                fresh,
                Ordering::AcqRel,
                Ordering::Acquire,
                guard,
            ) {
                Ok(installed) => {
                    self.leaves_used.fetch_max(leaf + 1, Ordering::Relaxed);
                    installed
                }
                Err(lost) => lost.current,
            };
        }
        // Leaves are installed once and freed only by `Drop` (with `&mut self`).
        // SAFETY: so a non-null leaf loaded under `guard` lives as long as the guard.
        let leaf = unsafe { current.deref() };
        Ok(&leaf.slots[at])
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
        // dropping a page cache cost 32,768 locked instructions per leaf.
        let used = self.leaves_used.load(Ordering::Relaxed);
        for cell in self.leaves[..used].iter() {
            let leaf = cell.load(Ordering::Relaxed, guard);
            if leaf.is_null() {
                continue;
            }
            // SAFETY: as above; the leaf was installed by `slot` and is owned here.
            let leaf = unsafe { leaf.into_owned() };
            for slot in leaf.slots.iter() {
                let view = slot.load(Ordering::Relaxed, guard);
                if !view.is_null() {
                    // SAFETY: as above; each view is referenced by this slot only.
                    drop(unsafe { view.into_owned() });
                }
            }
        }
    }
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
}
