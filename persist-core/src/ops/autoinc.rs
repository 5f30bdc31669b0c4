//! Autoinc numbers: claimed once, never given twice.
//!
//! A number is taken by creating `<key folder>/<n>/.claim` with create-if-absent,
//! which the backend makes atomic across processes. The next number is one past
//! the highest folder under the key, so numbers are dense unless a save was
//! interrupted, and only the key's own folder is listed.
//!
//! On the local disk, listing a key with thousands of numbers would make every
//! save slower than the last. There (on Linux) the key folder also carries a
//! counter, the next number, in its extended attribute [`COUNTER_XATTR`], read
//! and advanced under an exclusive lock on the folder (`flock`, dropped by the
//! OS with its process) by every claim, so it stays one past the highest
//! number claimed. It is only a place to start: the claim itself is still the
//! create-if-absent of the number's `.claim`, which steps past numbers already
//! taken (after a process was killed between its claim and the counter's
//! update). Where there is no counter (a new key, a copy that dropped extended
//! attributes, a file system without them), the folder is listed as before.
//! The counter is no file, so tools that walk the store never see it.

use crate::error::Result;
use crate::record::{parse_number, RecordDir};
use crate::schema::Schema;
use crate::store::Store;

/// After this many lost races in a row, list again to jump past the winners.
const RELIST_AFTER: u32 = 32;

/// The extended attribute of a key folder that holds the next number (ASCII
/// digits).
pub(crate) const COUNTER_XATTR: &str = "user.persist.next";

/// The locked counter of a key folder (Linux).
#[cfg(target_os = "linux")]
struct Counter {
    dir: std::fs::File,
}

#[cfg(target_os = "linux")]
impl Counter {
    /// Opens and locks the key folder `key_path`; `None` if the store is not on
    /// the local disk, the folder does not exist yet, or it cannot be locked.
    fn lock(store: &Store, key_path: &str) -> Option<Counter> {
        let local = store.backend().local_path(key_path)?;
        let dir = std::fs::File::open(local).ok()?;
        if !dir.metadata().ok()?.is_dir() {
            return None;
        }
        dir.lock().ok()?;
        Some(Counter { dir })
    }

    /// The next number, if the folder holds one.
    fn get(&self) -> Option<u64> {
        use std::os::fd::AsRawFd;
        let mut buf = [0u8; 32];
        let name = std::ffi::CString::new(COUNTER_XATTR).ok()?;
        // SAFETY: a valid fd, a NUL-terminated name and a buffer of the length given.
        let n = unsafe {
            libc::fgetxattr(
                self.dir.as_raw_fd(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        let text = std::str::from_utf8(buf.get(..usize::try_from(n).ok()?)?).ok()?;
        parse_number(text)
    }

    /// Sets the next number; with `durable`, the folder is fsynced after. A
    /// failure only costs a listing later, so it is not an error.
    fn set(&self, next: u64, durable: bool) {
        use std::os::fd::AsRawFd;
        let Ok(name) = std::ffi::CString::new(COUNTER_XATTR) else {
            return;
        };
        let value = next.to_string();
        // SAFETY: a valid fd, a NUL-terminated name and a value of the length given.
        let rc = unsafe {
            libc::fsetxattr(
                self.dir.as_raw_fd(),
                name.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        };
        if rc == 0 && durable {
            let _ = self.dir.sync_all();
        }
    }
}

/// Elsewhere there is no counter: every claim lists the key folder.
#[cfg(not(target_os = "linux"))]
struct Counter;

#[cfg(not(target_os = "linux"))]
impl Counter {
    fn lock(_store: &Store, _key_path: &str) -> Option<Counter> {
        None
    }
    fn get(&self) -> Option<u64> {
        None
    }
    fn set(&self, _next: u64, _durable: bool) {}
}

/// The numbers in use under a key (claimed, saved or removed), unsorted.
pub(crate) fn numbers(store: &Store, key_path: &str) -> Result<Vec<u64>> {
    Ok(store
        .backend()
        .list_dirs(key_path)?
        .into_iter()
        .filter_map(|name| parse_number(&name))
        .collect())
}

fn claim_body() -> Vec<u8> {
    format!(
        "{{\"pid\": {}, \"claimed_at\": \"{}\"}}\n",
        std::process::id(),
        crate::meta::now_rfc3339()
    )
    .into_bytes()
}

/// Claims the next free number under `dir`'s key.
pub(crate) fn claim_next(store: &Store, dir: &RecordDir, schema: &Schema) -> Result<RecordDir> {
    let key_path = dir.key_path();
    if let Some(counter) = Counter::lock(store, &key_path) {
        let listed_next = || -> Result<u64> {
            Ok(numbers(store, &key_path)?
                .into_iter()
                .max()
                .map_or(0, |m| m + 1))
        };
        let mut n = match counter.get() {
            Some(n) => n,
            None => listed_next()?,
        };
        let mut lost = 0;
        loop {
            let candidate = dir.with_number(n, schema);
            if store
                .backend()
                .create(&candidate.claim_path(), &claim_body(), store.is_durable())?
            {
                // A lower counter after a crash is found again by the claims
                // it steps over, so this write need not be durable.
                counter.set(n + 1, false);
                return Ok(candidate);
            }
            n += 1;
            lost += 1;
            if lost % RELIST_AFTER == 0 {
                n = n.max(listed_next()?);
            }
        }
    }
    loop {
        let first = numbers(store, &key_path)?
            .into_iter()
            .max()
            .map_or(0, |m| m + 1);
        for n in first..first + u64::from(RELIST_AFTER) {
            let candidate = dir.with_number(n, schema);
            if store
                .backend()
                .create(&candidate.claim_path(), &claim_body(), store.is_durable())?
            {
                return Ok(candidate);
            }
        }
    }
}

/// Marks a number chosen by the caller as taken (no error if it already is).
pub(crate) fn claim_exact(store: &Store, dir: &RecordDir) -> Result<()> {
    let counter = Counter::lock(store, &dir.key_path());
    store
        .backend()
        .create(&dir.claim_path(), &claim_body(), store.is_durable())?;
    if let (Some(counter), Some(n)) = (counter, dir.number()) {
        // The counter must not fall behind a number above it: the next
        // automatic number is one past this one. Durable, since probing from a
        // lower counter would not find a number this far above.
        // Without a counter the next claim lists the folder, which sees it.
        if counter.get().is_some_and(|next| next <= n) {
            counter.set(n + 1, store.is_durable());
        }
    }
    Ok(())
}
