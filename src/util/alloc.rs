//! The binary's global allocator: the system's, plus one thing on the
//! failure path only. Inside a checkpoint probe (see durable/probe.rs), an
//! allocation that fails writes a marker line to stderr before Rust aborts
//! the process, so the parent can tell "the probe ran out of the memory it
//! allowed itself" (the file made redb ask for too much: damage) from an
//! abort that came from outside (says nothing about the file).
//!
//! The library does not install it (a test binary may install its own, see
//! tests/zero_allocation.rs); `src/main.rs` does. Its cost on the hot path
//! is one null check of the pointer the system allocator returned.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU8, Ordering};

/// What a failed allocation says, set once by the probe.
static MARK: AtomicU8 = AtomicU8::new(UNMARKED);
const UNMARKED: u8 = 0;
const OWN: u8 = 1;
const INHERITED: u8 = 2;

/// Written when an allocation fails under the address-space limit the
/// probe set itself (sized from the file). Starts with a newline so that
/// it is a line of its own whatever was written before it.
pub(crate) const OWN_LIMIT_MARKER: &str = "fizzflow-probe: out of memory within its own limit";
/// Written when an allocation fails under a tighter limit the probe was
/// started with (`ulimit -v`), which it cannot raise.
pub(crate) const INHERITED_LIMIT_MARKER: &str =
    "fizzflow-probe: out of memory under the limit it was started with";
const OWN_LINE: &[u8] = b"\nfizzflow-probe: out of memory within its own limit\n";
const INHERITED_LINE: &[u8] =
    b"\nfizzflow-probe: out of memory under the limit it was started with\n";

/// From now on a failed allocation reports itself: as over the probe's own
/// limit (`own`), or over one it inherited.
pub(crate) fn mark_failures(own: bool) {
    MARK.store(if own { OWN } else { INHERITED }, Ordering::Relaxed);
}

/// The system allocator, reporting failures inside a probe.
pub struct ProbeAlloc;

#[cold]
#[inline(never)]
fn failed() {
    let line = match MARK.load(Ordering::Relaxed) {
        OWN => OWN_LINE,
        INHERITED => INHERITED_LINE,
        _ => return,
    };
    // SAFETY: write(2) of a static buffer; no allocation, no lock.
    unsafe { libc::write(2, line.as_ptr().cast(), line.len()) };
}

// SAFETY: every call is forwarded to `System` unchanged; only its result
// is looked at.
unsafe impl GlobalAlloc for ProbeAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            failed();
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.alloc_zeroed(layout) };
        if p.is_null() {
            failed();
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            failed();
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_written_are_the_markers() {
        let line = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        assert_eq!(line(OWN_LINE).trim(), OWN_LIMIT_MARKER);
        assert_eq!(line(INHERITED_LINE).trim(), INHERITED_LIMIT_MARKER);
    }
}
