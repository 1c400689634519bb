//! The one source of concurrency primitives.
//!
//! Every atomic, lock, condition variable, `UnsafeCell` and `Arc` the engine uses comes
//! from here. A normal build maps them to `std` (and `parking_lot` for the locks); a
//! build with `RUSTFLAGS="--cfg loom"` maps them to `loom`'s instrumented versions, so
//! the loom models in `tests/` explore the interleavings of the real engine code. The
//! algorithm code never carries a `cfg`: the switch lives in this file only.
//!
//! The wrappers give std and loom one API:
//! - [`Mutex::lock`] returns the guard directly. Lock poisoning is not used: a panic
//!   inside a critical section is a broken invariant, and the engine's own poisoning
//!   (after IO errors) is explicit state, not a side effect of unwinding.
//! - [`Condvar::wait`] takes the guard by value and gives it back, as loom's does.
//! - [`UnsafeCell`] exposes `with`/`with_mut` closures, as loom's does, so loom can
//!   track every access.
//!
//! `SimStorage` deliberately does not use these: it is the environment, not a protocol
//! under test, and a loom model should treat each storage call as one atomic step.

pub use imp::{Arc, AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};

/// Epoch-based reclamation for the page table. Loom builds (`scripts/loom.sh`) add
/// `--cfg crossbeam_loom` and turn on crossbeam-epoch's `loom` feature, so the
/// collector's own atomics, thread-locals and deferred frees run under loom too.
pub use crossbeam_epoch as epoch;

/// A statistics counter: `std`'s atomic in every build, loom's included. Counters
/// order nothing (relaxed adds, read only for reports), so a model would gain nothing
/// from exploring their interleavings and would pay for every one of them.
pub use std::sync::atomic::AtomicU64 as CounterU64;

/// Declares a thread-local: `std`'s in a normal build, loom's under loom (whose
/// model threads share one OS thread).
#[cfg(not(loom))]
macro_rules! thread_local_key {
    ($($t:tt)*) => { std::thread_local!($($t)*); };
}
#[cfg(loom)]
macro_rules! thread_local_key {
    ($($t:tt)*) => { loom::thread_local!($($t)*); };
}
pub(crate) use thread_local_key;

#[cfg(not(loom))]
mod imp {
    pub use std::sync::Arc;
    pub use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
    pub type RawMutex<T> = parking_lot::Mutex<T>;
    pub type RawGuard<'a, T> = parking_lot::MutexGuard<'a, T>;
    pub type RawCondvar = parking_lot::Condvar;
    pub type RawCell<T> = std::cell::UnsafeCell<T>;

    pub fn lock<T>(m: &RawMutex<T>) -> RawGuard<'_, T> {
        m.lock()
    }

    pub fn try_lock<T>(m: &RawMutex<T>) -> Option<RawGuard<'_, T>> {
        m.try_lock()
    }

    pub fn wait<'a, T>(c: &RawCondvar, mut g: RawGuard<'a, T>) -> RawGuard<'a, T> {
        c.wait(&mut g);
        g
    }

    pub fn cell_with<T, R>(c: &RawCell<T>, f: impl FnOnce(*const T) -> R) -> R {
        f(c.get())
    }

    pub fn cell_with_mut<T, R>(c: &RawCell<T>, f: impl FnOnce(*mut T) -> R) -> R {
        f(c.get())
    }
}

#[cfg(loom)]
mod imp {
    pub use loom::sync::Arc;
    pub use loom::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
    pub type RawMutex<T> = loom::sync::Mutex<T>;
    pub type RawGuard<'a, T> = loom::sync::MutexGuard<'a, T>;
    pub type RawCondvar = loom::sync::Condvar;
    pub type RawCell<T> = loom::cell::UnsafeCell<T>;

    pub fn lock<T>(m: &RawMutex<T>) -> RawGuard<'_, T> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn try_lock<T>(m: &RawMutex<T>) -> Option<RawGuard<'_, T>> {
        match m.try_lock() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    pub fn wait<'a, T>(c: &RawCondvar, g: RawGuard<'a, T>) -> RawGuard<'a, T> {
        c.wait(g).unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn cell_with<T, R>(c: &RawCell<T>, f: impl FnOnce(*const T) -> R) -> R {
        c.with(f)
    }

    pub fn cell_with_mut<T, R>(c: &RawCell<T>, f: impl FnOnce(*mut T) -> R) -> R {
        c.with_mut(f)
    }
}

/// A mutual-exclusion lock (parking_lot in normal builds, loom's under `--cfg loom`).
#[derive(Debug, Default)]
pub struct Mutex<T>(imp::RawMutex<T>);

/// The guard [`Mutex::lock`] returns.
pub type MutexGuard<'a, T> = imp::RawGuard<'a, T>;

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`.
    pub fn new(value: T) -> Mutex<T> {
        Mutex(imp::RawMutex::new(value))
    }

    /// Blocks until the lock is held.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        imp::lock(&self.0)
    }

    /// The lock if it is free now, else None.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        imp::try_lock(&self.0)
    }
}

/// A condition variable paired with [`Mutex`].
#[derive(Debug, Default)]
pub struct Condvar(imp::RawCondvar);

impl Condvar {
    /// A new condition variable.
    pub fn new() -> Condvar {
        Condvar(imp::RawCondvar::new())
    }

    /// Releases the guard's lock, waits for a notification, relocks and returns the
    /// guard. Spurious wakeups happen: always wait in a loop over the condition.
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        imp::wait(&self.0, guard)
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        self.0.notify_all();
    }
}

/// An `UnsafeCell` whose accesses loom can track.
#[derive(Debug)]
pub struct UnsafeCell<T>(imp::RawCell<T>);

impl<T> UnsafeCell<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> UnsafeCell<T> {
        UnsafeCell(imp::RawCell::new(value))
    }

    /// Calls `f` with a shared raw pointer to the contents. The caller of `f` is
    /// responsible for the aliasing rules when dereferencing it.
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        imp::cell_with(&self.0, f)
    }

    /// Calls `f` with a mutable raw pointer to the contents. The caller of `f` is
    /// responsible for the aliasing rules when dereferencing it.
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        imp::cell_with_mut(&self.0, f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn condvar_wait_returns_guard_after_notify() {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let other = Arc::clone(&pair);
        let t = std::thread::spawn(move || {
            *other.0.lock() = true;
            other.1.notify_all();
        });
        let mut g = pair.0.lock();
        while !*g {
            g = pair.1.wait(g);
        }
        assert!(*g);
        drop(g);
        t.join().expect("notifier thread panicked");
    }

    #[test]
    fn unsafe_cell_round_trips_through_closures() {
        let c = UnsafeCell::new(41_u32);
        // SAFETY: the cell is not shared; this is the only access.
        c.with_mut(|p| unsafe { *p += 1 });
        // SAFETY: no mutable access is live.
        let v = c.with(|p| unsafe { *p });
        assert_eq!(v, 42);
    }
}
