//! Shared by every fuzz target: an allocation guard.
//!
//! The harnesses check that a decoder's *read buffer* grows only with bytes that arrived.
//! This guard checks the rest of the process: a global allocator records the largest single
//! allocation made while a harness runs, and [`guarded`] fails the input if it is out of
//! proportion to the input's size. That catches a `Vec::with_capacity(declared)` or a
//! `reserve(len)` on a length read off the wire anywhere in the decode path, which no
//! assertion on the decoded values would see. (The main crate forbids `unsafe`, so the
//! allocator lives here; `cargo test` replays run without it.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Fixed allowance for targets whose inputs are streams: read buffers start at 16 KiB
/// (`net::READ_CHUNK`) and may double once.
pub const BASE: usize = 64 * 1024;

/// Fixed allowance for `round_trip`, which builds keys and values of up to 64 KiB from a
/// couple of input bytes (up to 256 KiB of them per input) and encodes and quotes them.
pub const ROUND_TRIP_BASE: usize = 4 * 1024 * 1024;

/// Allowance per input byte: decoded items, their `Vec`s and bookkeeping nodes are a few
/// dozen bytes per input byte at most.
pub const PER_INPUT_BYTE: usize = 64;

/// Passes everything to the system allocator, noting the largest request while armed.
struct Guard;

static ARMED: AtomicBool = AtomicBool::new(false);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

fn note(size: usize) {
    if ARMED.load(Ordering::Relaxed) {
        LARGEST.fetch_max(size, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; `note`
// only touches atomics and never allocates.
unsafe impl GlobalAlloc for Guard {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: forwarded as is; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: as above; `ptr` and `layout` come from this allocator, i.e. from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Guard = Guard;

/// Runs `harness(data)` and panics (a libFuzzer crash) if any single allocation during it
/// exceeded `base + PER_INPUT_BYTE * data.len()` bytes.
pub fn guarded(data: &[u8], base: usize, harness: fn(&[u8])) {
    LARGEST.store(0, Ordering::Relaxed);
    ARMED.store(true, Ordering::Relaxed);
    harness(data);
    ARMED.store(false, Ordering::Relaxed);
    let largest = LARGEST.load(Ordering::Relaxed);
    let budget = base + PER_INPUT_BYTE * data.len();
    assert!(
        largest <= budget,
        "one allocation of {largest} bytes for a {}-byte input (budget {budget})",
        data.len()
    );
}
