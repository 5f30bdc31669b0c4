//! [`Stats`]: what a store did since it was opened, to tell hits from
//! computations.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// The counters behind [`Store::stats`](crate::Store::stats), shared by the
/// clones of a store.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    loaded: AtomicU64,
    computed: AtomicU64,
    waited: AtomicU64,
    saved: AtomicU64,
    bytes_read: AtomicU64,
    bytes_written: AtomicU64,
}

impl Counters {
    pub(crate) fn loaded(&self, bytes: u64) {
        self.loaded.fetch_add(1, Ordering::Relaxed);
        self.read(bytes);
    }

    pub(crate) fn read(&self, bytes: u64) {
        self.bytes_read.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn saved(&self, bytes: u64) {
        self.saved.fetch_add(1, Ordering::Relaxed);
        self.bytes_written.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn computed(&self) {
        self.computed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn waited(&self) {
        self.waited.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            loaded: self.loaded.load(Ordering::Relaxed),
            computed: self.computed.load(Ordering::Relaxed),
            waited: self.waited.load(Ordering::Relaxed),
            saved: self.saved.load(Ordering::Relaxed),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
        }
    }
}

/// What a [`Store`](crate::Store) (and every clone of it) did since it was
/// opened: a snapshot taken by [`Store::stats`](crate::Store::stats).
///
/// `Display` prints one line, for the end of a program:
///
/// ```
/// use persist_core::{Persistence, Store};
///
/// #[derive(Persistence)]
/// struct Square { #[key] n: u64, value: u64 }
///
/// let store = Store::memory();
/// for _ in 0..3 {
///     Square::new(7).load_or_compute(&store, |s| { s.value = s.n * s.n; Ok(()) })?;
/// }
/// let stats = store.stats();
/// assert_eq!((stats.computed, stats.loaded, stats.saved), (1, 2, 1));
/// assert!(stats.to_string().starts_with("1 computed, 2 loaded, 0 waited"));
/// # Ok::<(), persist_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Records loaded (by `load`, `load_or_compute` and the listings).
    pub loaded: u64,
    /// Computations `load_or_compute` ran (whether or not they succeeded).
    pub computed: u64,
    /// Calls of `load_or_compute` that waited for another thread, process or
    /// machine computing the same key.
    pub waited: u64,
    /// Records saved.
    pub saved: u64,
    /// Bytes read: `meta.json` files and the record files read.
    pub bytes_read: u64,
    /// Bytes written: `meta.json` files and record files.
    pub bytes_written: u64,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} computed, {} loaded, {} waited for another process or thread, {} saved, {} read, {} written",
            self.computed,
            self.loaded,
            self.waited,
            self.saved,
            Bytes(self.bytes_read),
            Bytes(self.bytes_written)
        )
    }
}

/// A byte count as people read it (`512 B`, `1.5 kB`, `3.2 MB`).
struct Bytes(u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
        if self.0 < 1000 {
            return write!(f, "{} B", self.0);
        }
        let mut value = self.0 as f64 / 1000.0;
        let mut unit = 0;
        while value >= 1000.0 && unit + 1 < UNITS.len() {
            value /= 1000.0;
            unit += 1;
        }
        write!(f, "{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_every_counter() {
        let c = Counters::default();
        c.computed();
        c.loaded(1500);
        c.waited();
        c.saved(2_500_000);
        assert_eq!(
            c.snapshot().to_string(),
            "1 computed, 1 loaded, 1 waited for another process or thread, 1 saved, 1.5 kB read, 2.5 MB written"
        );
        assert_eq!(Bytes(999).to_string(), "999 B");
    }
}
