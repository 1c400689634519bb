//! A fixed-size, zero-initialised, 4 KiB-aligned byte region: the memory of one IO
//! buffer (4 KiB alignment is what O_DIRECT needs, and it keeps buffers on separate
//! pages).
//!
//! The region is shared between threads without a lock. Its access discipline is the
//! IO buffer protocol (`iobuf.rs`): a writer copies into the range its reservation
//! claimed and no one else touches that range until the writer leaves; the buffer is
//! read for the disk write only after it is sealed with no writers; it is rewritten
//! only after that write finished and a new generation was installed. The methods that
//! touch bytes are `unsafe` and name that obligation.
//!
//! Under `--cfg loom` the region also carries a loom cell that stands for the whole
//! buffer: every range access ([`AlignedBytes::write`], [`AlignedBytes::zero`],
//! [`AlignedBytes::slice`]) registers as a shared access, and a thread taking the whole
//! buffer (installing, padding or writing it out) announces it with
//! [`AlignedBytes::exclusive`], a mutable access. Loom then fails any interleaving in
//! which a whole-buffer owner is not ordered after every writer's copy, or a new
//! generation's copy is not ordered after the previous write-out. Normal builds carry a
//! zero-sized `std` cell and the calls compile to nothing.

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::ptr::NonNull;

use crate::sync::UnsafeCell;

/// Alignment of every IO buffer.
pub const IO_ALIGN: usize = 4096;

/// An owned, aligned, zeroed allocation of `len` bytes.
#[derive(Debug)]
pub struct AlignedBytes {
    ptr: NonNull<u8>,
    len: usize,
    /// Stands for the whole region in loom's access tracking (see the module doc).
    access: UnsafeCell<()>,
}

// AlignedBytes owns its allocation; concurrent access to the bytes goes through the
// unsafe methods below, whose callers follow the IO buffer protocol (disjoint claimed
// ranges while writers are in; a single reader once sealed and empty).
// SAFETY: owned allocation; byte access only through those contracts.
unsafe impl Send for AlignedBytes {}
// SAFETY: as for Send: shared references reach the bytes only through unsafe methods.
unsafe impl Sync for AlignedBytes {}

impl AlignedBytes {
    /// A zeroed region of `len` bytes (at least 1), aligned to [`IO_ALIGN`].
    pub fn zeroed(len: usize) -> AlignedBytes {
        let layout = Self::layout(len);
        // SAFETY: the layout has a nonzero size (asserted in `layout`).
        let raw = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        AlignedBytes {
            ptr,
            len,
            access: UnsafeCell::new(()),
        }
    }

    /// Announces that the caller now owns the whole region (the IO buffer protocol's
    /// install, pad and write-out steps). Only loom builds check anything here.
    pub fn exclusive(&self) {
        self.access.with_mut(|_| ());
    }

    /// Registers a range access with loom (a no-op in normal builds).
    fn touch(&self) {
        self.access.with(|_| ());
    }

    fn layout(len: usize) -> Layout {
        assert!(len > 0, "empty IO buffer");
        Layout::from_size_align(len, IO_ALIGN).expect("IO buffer layout")
    }

    /// Bytes in the region.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: the region has at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Copies `bytes` to `at`.
    ///
    /// # Safety
    /// The caller has exclusive access to `at..at + bytes.len()` (its claimed range, or
    /// the whole buffer while installing or padding it) and no one reads it meanwhile.
    pub unsafe fn write(&self, at: usize, bytes: &[u8]) {
        assert!(
            at <= self.len && bytes.len() <= self.len - at,
            "write past buffer"
        );
        self.touch();
        // Source and destination cannot overlap: `bytes` is not inside this region
        // while the caller holds exclusive access to the destination.
        // SAFETY: in bounds (asserted); exclusive (the caller's contract); no overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr.as_ptr().add(at), bytes.len())
        }
    }

    /// Zeroes `at..at + len`.
    ///
    /// # Safety
    /// As for [`AlignedBytes::write`].
    pub unsafe fn zero(&self, at: usize, len: usize) {
        assert!(at <= self.len && len <= self.len - at, "zero past buffer");
        self.touch();
        // SAFETY: in bounds (asserted); exclusivity is the caller's contract.
        unsafe { std::ptr::write_bytes(self.ptr.as_ptr().add(at), 0, len) }
    }

    /// The bytes `at..at + len`.
    ///
    /// # Safety
    /// No one writes `at..at + len` while the returned slice lives.
    pub unsafe fn slice(&self, at: usize, len: usize) -> &[u8] {
        assert!(at <= self.len && len <= self.len - at, "read past buffer");
        self.touch();
        // SAFETY: in bounds (asserted), initialised (zeroed), no writes (caller's contract).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(at), len) }
    }
}

impl Drop for AlignedBytes {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `alloc_zeroed` with this same layout and is freed once.
        unsafe { dealloc(self.ptr.as_ptr(), Self::layout(self.len)) }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn regions_are_aligned_zeroed_and_bounds_checked() {
        let b = AlignedBytes::zeroed(10_000);
        assert_eq!(b.ptr.as_ptr() as usize % IO_ALIGN, 0);
        // SAFETY: single-threaded test, no other access.
        unsafe {
            assert!(b.slice(0, 10_000).iter().all(|&x| x == 0));
            b.write(9_998, &[7, 8]);
            assert_eq!(b.slice(9_997, 3), &[0, 7, 8]);
            b.zero(9_999, 1);
            assert_eq!(b.slice(9_998, 2), &[7, 0]);
        }
        let overflow = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: single-threaded; the call must panic on bounds before writing.
            unsafe { b.write(9_999, &[1, 2]) }
        }));
        assert!(
            overflow.is_err(),
            "write past the end must panic, not corrupt"
        );
    }
}
