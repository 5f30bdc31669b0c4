//! Filling in the pages of a large read's fresh buffer on the second core
//! while the reader copies into its front (Linux `MADV_POPULATE_WRITE`).

use std::sync::atomic::{AtomicUsize, Ordering};

/// Whether large reads fill in their buffer's pages on another thread.
pub(crate) const ENABLED: bool = cfg!(target_os = "linux");

/// The step of [`backwards`].
const STEP: usize = 2 << 20;

/// Fills in the pages of the buffer at `base..base + len` from its end
/// backwards, one `STEP` at a time, until the next step would reach
/// what the reader has claimed (`reached`, bytes from `base`).
///
/// A large read into fresh memory takes a page fault per 4 KiB page (65,536
/// for 256 MiB), and on a virtual machine those can cost more than copying
/// the bytes. `MADV_POPULATE_WRITE` (Linux 5.14) makes them in one call per
/// step, on the second core, while the reader copies from the front: the
/// reader meets memory that is already there for most of the buffer.
///
/// Earlier versions asked for transparent huge pages instead (128 faults
/// instead of 65,536), which is faster on a machine that keeps all its memory,
/// and far slower on a VM whose host takes back memory the guest freed (free
/// page reporting): a 256 MB load took 0.07 s right after another, and
/// 0.3–0.6 s after two seconds of idle, numpy's `np.load` the same. Prefaulting 4 KiB pages costs the same either way.
///
/// Filling in a page never changes its contents (the kernel only maps it), so
/// racing with the reader's copy into the same pages is harmless; the range
/// stays inside the buffer; an error (an older kernel) only ends the
/// prefaulting, and the reader takes its own faults as before.
#[cfg(target_os = "linux")]
pub(crate) fn backwards(base: usize, len: usize, reached: &AtomicUsize) {
    const PAGE: usize = 4096;
    let first = base.next_multiple_of(PAGE);
    let mut end = (base + len) / PAGE * PAGE;
    while end > first {
        let start = end.saturating_sub(STEP).max(first);
        if reached.load(Ordering::Acquire) >= start - base {
            return;
        }
        // `start..end` lies inside the buffer, which outlives this thread (a
        // scoped thread of `read_large`, which borrows it).
        if !super::parallel_read::populate_range(start, end - start) {
            return;
        }
        end = start;
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn backwards(_base: usize, _len: usize, _reached: &AtomicUsize) {}
