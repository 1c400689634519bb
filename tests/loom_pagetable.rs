//! Loom models of the page table (`src/pagecache/table.rs`, `view.rs`), run on the
//! real `Table` and `View` with crossbeam-epoch under loom (`--cfg crossbeam_loom`)
//! by `scripts/loom.sh`.
//!
//! 1. A link racing a replace on one page: each reads the view, takes an lsn (after
//!    the read, as a reservation is), builds its next view from what it read, and
//!    swaps. At most one swap from the same view wins; a
//!    loser's swap changes nothing; the page ends at the winner's state, and its
//!    version counts exactly the winning swaps.
//! 2. A page-out racing a link: the evictor drops the value of the view it read; the
//!    link appends a fragment to the view it read. The link's fragment is never lost:
//!    if the link won, the final view holds its fragment whether or not the page-out
//!    also won (it may only have dropped the cached value, never the fragment).
//! 3. A reader holding a view while another thread replaces it and drives the epoch
//!    collector: the replaced view (and its cached value) must not be freed while the
//!    reader's guard is pinned. The cached value is a canary whose drop sets a flag;
//!    the reader checks the flag is unset for as long as it holds the view.
//!
//! Mutations tried, each caught: `Table::cas` dropping the old view at once instead
//! of deferring it to the collector (model 3: "the cached value was freed under a
//! pinned reader"; models 1 and 2 crash on the freed memory); a table whose swap
//! stores without comparing (model 2: the link's fragment is lost to the page-out).
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use loom::thread;
use pagelog::Pointer;
use pagelog::pagecache::table::Table;
use pagelog::pagecache::view::{Frag, Resident, View};

const PID: u64 = 5;

fn frag(lsn: u64, base: bool) -> Frag {
    Frag {
        ptr: Pointer {
            lsn,
            file_offset: lsn,
        },
        len: 8,
        base,
    }
}

fn resident<P>(value: P) -> Option<Resident<P>> {
    Some(Resident {
        value: Arc::new(value),
        charge: 8,
    })
}

/// A table holding page `PID` at version 1: one base at lsn 10, cached.
fn table<P>(value: P) -> Table<P> {
    let t = Table::default();
    let g = crossbeam_epoch::pin();
    let empty = t.load(PID, &g).expect("in range");
    let first = View::based(1, frag(10, true), resident(value));
    assert!(t.cas(PID, empty, first, &g).expect("in range").is_ok());
    drop(g);
    t
}

#[test]
fn a_link_racing_a_replace_leaves_exactly_the_winners() {
    loom::model(|| {
        let t = Arc::new(table(0_u32));
        // The log: an lsn is handed out after the read it follows, as a reservation
        // is (I10).
        let lsns = Arc::new(AtomicU64::new(11));
        let linker = {
            let (t, lsns) = (Arc::clone(&t), Arc::clone(&lsns));
            thread::spawn(move || {
                let g = crossbeam_epoch::pin();
                let seen = t.load(PID, &g).expect("in range");
                // SAFETY: loaded under `g`; views are freed through the collector.
                let view = unsafe { seen.deref() };
                let lsn = lsns.fetch_add(1, Ordering::SeqCst);
                let next = view.linked(frag(lsn, false), resident(1));
                (lsn, t.cas(PID, seen, next, &g).expect("in range").is_ok())
            })
        };
        let g = crossbeam_epoch::pin();
        let seen = t.load(PID, &g).expect("in range");
        // SAFETY: as above.
        let view = unsafe { seen.deref() };
        let base = lsns.fetch_add(1, Ordering::SeqCst);
        let next = View::based(view.version + 1, frag(base, true), resident(2));
        let replaced = t.cas(PID, seen, next, &g).expect("in range").is_ok();
        drop(g);
        let (delta, linked) = linker.join().expect("linker");
        let g = crossbeam_epoch::pin();
        // SAFETY: as above.
        let end = unsafe { t.load(PID, &g).expect("in range").deref() };
        assert!(
            linked || replaced,
            "a swap from the current view always wins"
        );
        assert_eq!(
            end.version,
            1 + u64::from(linked) + u64::from(replaced),
            "the version counts the winning swaps"
        );
        let got: Vec<u64> = end.frags.iter().map(|f| f.ptr.lsn).collect();
        match (linked, replaced) {
            (true, false) => assert_eq!(got, [10, delta]),
            (false, true) => assert_eq!(got, [base]),
            // Both won: the second read the first's view. A replace after the link
            // leaves only its base; a link after the replace follows it.
            (true, true) => assert!(got == [base] || got == [base, delta], "{got:?}"),
            (false, false) => unreachable!(),
        }
    });
}

#[test]
fn a_page_out_racing_a_link_never_loses_the_linked_fragment() {
    loom::model(|| {
        let t = Arc::new(table(0_u32));
        let evictor = {
            let t = Arc::clone(&t);
            thread::spawn(move || {
                let g = crossbeam_epoch::pin();
                let seen = t.load(PID, &g).expect("in range");
                // SAFETY: loaded under `g`.
                let view = unsafe { seen.deref() };
                if view.cached.is_none() {
                    return false;
                }
                let out = view.with_cached(None);
                t.cas(PID, seen, out, &g).expect("in range").is_ok()
            })
        };
        let g = crossbeam_epoch::pin();
        let seen = t.load(PID, &g).expect("in range");
        // SAFETY: as above.
        let view = unsafe { seen.deref() };
        let next = view.linked(frag(20, false), resident(1));
        let linked = t.cas(PID, seen, next, &g).expect("in range").is_ok();
        drop(g);
        let paged_out = evictor.join().expect("evictor");
        let g = crossbeam_epoch::pin();
        // SAFETY: as above.
        let end = unsafe { t.load(PID, &g).expect("in range").deref() };
        let lsns: Vec<u64> = end.frags.iter().map(|f| f.ptr.lsn).collect();
        if linked {
            assert_eq!(lsns, [10, 20], "the link's fragment survives a page-out");
            assert_eq!(end.version, 2);
        } else {
            assert!(paged_out, "the link lost only to the page-out");
            assert_eq!((lsns.as_slice(), end.version), (&[10][..], 1));
            assert!(end.cached.is_none());
        }
    });
}

/// A value whose drop is observable.
struct Canary(Arc<AtomicBool>);

impl Drop for Canary {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_reader_holds_a_replaced_view_safely_until_it_unpins() {
    loom::model(|| {
        let dropped = Arc::new(AtomicBool::new(false));
        let t = Arc::new(table(Canary(Arc::clone(&dropped))));
        let replacer = {
            let t = Arc::clone(&t);
            thread::spawn(move || {
                let g = crossbeam_epoch::pin();
                let seen = t.load(PID, &g).expect("in range");
                let next = View::based(2, frag(30, true), None);
                assert!(t.cas(PID, seen, next, &g).expect("in range").is_ok());
                drop(g);
                // Drive the collector as hard as a busy thread would.
                for _ in 0..3 {
                    crossbeam_epoch::pin().flush();
                }
            })
        };
        let g = crossbeam_epoch::pin();
        let seen = t.load(PID, &g).expect("in range");
        // SAFETY: loaded under `g`, which stays pinned while the view is used.
        let view = unsafe { seen.deref() };
        if let Some(r) = &view.cached {
            thread::yield_now();
            assert!(
                !dropped.load(Ordering::SeqCst),
                "the cached value was freed under a pinned reader"
            );
            let _ = &r.value;
        }
        drop(g);
        replacer.join().expect("replacer");
    });
}
