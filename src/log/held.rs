//! What the calling thread holds open in each log: its reservations (a batch's
//! manifest among them), so that a call that would wait for one of them fails at once
//! instead of waiting forever (a self-deadlock).
//!
//! A buffer is written only once every claim in it is completed or aborted, and the
//! stable lsn passes a buffer only once it and every buffer before it are written. So
//! on a thread that holds a claim in a buffer starting at lsn B:
//! - `make_stable(lsn)` with `lsn >= B`, and `flush` (which waits for everything
//!   claimed), can never return;
//! - a blocking `reserve` that waits for the ring's next buffer to be free can never
//!   return when that buffer holds one of its claims (a batch larger than the ring).
//!
//! Those calls and their non-blocking twins return `Error::WouldDeadlock` naming the
//! held lsn, and change nothing: retrying cannot help until that reservation is
//! completed or aborted.
//!
//! Code that drives several logical clients from one thread (the simulator does) names
//! the client acting with [`act_as`]: claims are held per (thread, actor), so one
//! client's flush is not refused for another client's reservation, which that client
//! completes in a later step.
//!
//! The registry is thread-local, so a reservation must be completed on the thread that
//! made it: [`crate::Reservation`] and [`crate::Batch`] are not `Send`. Registering is
//! a push on a short per-thread list and releasing a search from its end (a thread
//! holds few claims at once): no lock, no shared memory on the reservation path.

use std::cell::{Cell, RefCell};

use super::format::Lsn;
use crate::error::Error;
use crate::sync::thread_local_key;

/// One open claim of this thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    /// The log (the address of its shared state).
    log: usize,
    /// The logical client acting when the claim was made ([`act_as`]).
    actor: u64,
    /// The claim's buffer: its index in the ring and the lsn it starts at.
    index: usize,
    base: Lsn,
    /// The claim's lsn.
    lsn: Lsn,
}

thread_local_key! {
    static HELD: RefCell<Vec<Held>> = RefCell::new(Vec::new());
    static ACTOR: Cell<u64> = Cell::new(0);
}

/// Makes `actor` the logical client acting on this thread from now on (0 by default);
/// returns the one before.
#[cfg_attr(loom, allow(dead_code))] // the simulator, its one user, is not built under loom
pub(crate) fn act_as(actor: u64) -> u64 {
    ACTOR.with(|a| a.replace(actor))
}

fn actor() -> u64 {
    ACTOR.with(Cell::get)
}

/// Records an open claim at `lsn` in buffer `index` (starting at `base`) of `log`.
pub(crate) fn hold(log: usize, index: usize, base: Lsn, lsn: Lsn) {
    let actor = actor();
    HELD.with(|h| {
        h.borrow_mut().push(Held {
            log,
            actor,
            index,
            base,
            lsn,
        })
    });
}

/// The claim at `lsn` of `log` is completed or aborted (by whichever actor).
pub(crate) fn release(log: usize, lsn: Lsn) {
    HELD.with(|h| {
        let mut held = h.borrow_mut();
        let at = held.iter().rposition(|c| c.log == log && c.lsn == lsn);
        held.swap_remove(at.expect("a claim released on the thread that made it"));
    });
}

/// The lowest lsn of a claim the acting client of this thread holds in `log` that
/// `pick` selects.
fn lowest(log: usize, pick: impl Fn(&Held) -> bool) -> Option<Lsn> {
    let actor = actor();
    HELD.with(|h| {
        let held = h.borrow();
        let mine = held.iter().filter(|c| c.log == log && c.actor == actor);
        mine.filter(|c| pick(c)).map(|c| c.lsn).min()
    })
}

/// The lowest lsn of a claim this thread holds in `log` whose buffer starts at or
/// below `lsn`: what `make_stable(lsn)` would wait for.
pub(crate) fn blocking_stable(log: usize, lsn: Lsn) -> Option<Lsn> {
    lowest(log, |c| c.base <= lsn)
}

/// The lowest lsn of a claim this thread holds in buffer `index` of `log`.
pub(crate) fn in_buffer(log: usize, index: usize) -> Option<Lsn> {
    lowest(log, |c| c.index == index)
}

/// The error for a call that would wait for this thread's claim at `held`.
pub(crate) fn deadlock(held: Lsn, call: &str) -> Error {
    Error::WouldDeadlock {
        held,
        reason: format!(
            "{call} would wait forever for this thread's own open reservation (or batch) at lsn {held}: complete or abort it first"
        ),
    }
}
