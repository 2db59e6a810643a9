//! The binary's global allocator: mimalloc, entered the way C's `malloc` is.
//!
//! The `mimalloc` crate passes every Rust allocation to `mi_malloc_aligned`. In mimalloc
//! v3 that call has a fast path only for blocks up to 1 KiB; a larger block whose size
//! class is not a power of two (a router's per-run future, a connection's buffers) takes
//! the over-allocating path, which adds padding, marks the page as holding interior
//! pointers and makes its free slower. Every mimalloc block is already aligned to 16
//! bytes (`MI_MAX_ALIGN_SIZE`, as `malloc` must be for `max_align_t`), so, as std's own
//! `System` allocator does with libc, a layout that needs no more than that takes plain
//! `mi_malloc`; only larger alignments take the aligned entry points.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment every mimalloc block has (mimalloc's `MI_MAX_ALIGN_SIZE`).
const MIN_ALIGN: usize = 16;

/// mimalloc with plain entry points for ordinary alignments.
pub struct Mimalloc;

/// Whether a plain mimalloc block of `size` bytes has alignment `align`: Rust layouts
/// have sizes that are multiples of their alignment, and a block of at least 16 bytes is
/// 16-aligned, a smaller one aligned to its size class (the same test std's `System`
/// makes).
fn plain(align: usize, size: usize) -> bool {
    align <= MIN_ALIGN && align <= size
}

// SAFETY: each method forwards to mimalloc, which returns null or a block of at least
// `size` bytes at the asked alignment (checked by `plain` for the unaligned entry
// points); `mi_free` and `mi_realloc*` accept blocks from any mimalloc entry point.
unsafe impl GlobalAlloc for Mimalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe {
            if plain(layout.align(), layout.size()) {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe {
            if plain(layout.align(), layout.size()) {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator (GlobalAlloc's contract).
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout` (GlobalAlloc's contract).
        unsafe {
            if plain(layout.align(), new_size) {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_have_the_alignment_their_layouts_ask() {
        let a = Mimalloc;
        for size in [1usize, 8, 16, 24, 48, 100, 1000, 1025, 1600, 5000, 70_000] {
            for align in [1usize, 2, 4, 8, 16, 32, 64, 128, 4096] {
                let Ok(layout) = Layout::from_size_align(size.next_multiple_of(align), align)
                else {
                    continue;
                };
                // SAFETY: a non-zero layout, freed with the same allocator.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    let q = a.realloc(p, layout, layout.size() * 3);
                    assert_eq!(q as usize % align, 0, "realloc size {size} align {align}");
                    a.dealloc(q, Layout::from_size_align_unchecked(layout.size() * 3, align));
                    let z = a.alloc_zeroed(layout);
                    assert!(std::slice::from_raw_parts(z, layout.size()).iter().all(|&b| b == 0));
                    a.dealloc(z, layout);
                }
            }
        }
    }
}
