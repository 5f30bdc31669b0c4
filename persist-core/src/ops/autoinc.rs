//! Autoinc numbers: claimed once, never given twice.
//!
//! A number is taken by creating `<key folder>/<n>/.claim` with create-if-absent,
//! which the backend makes atomic across processes. The next number is one past
//! the highest folder under the key, so numbers are dense unless a save was
//! interrupted, and only the key's own folder is listed.
//!
//! On the local disk, listing a key with thousands of numbers would make every
//! save slower than the last. There (on Linux) the key folder also carries a
//! counter, the next number, in its extended attribute `user.persist.next`
//! (`backend::local::counter`), read and advanced under an exclusive lock on
//! the folder (`flock`, dropped by the OS with its process) by every claim, so
//! it stays one past the highest number claimed. It is only a place to start: the claim itself is still the
//! create-if-absent of the number's `.claim`, which steps past numbers already
//! taken (after a process was killed between its claim and the counter's
//! update). Where there is no counter (a new key, a copy that dropped extended
//! attributes, a file system without them), the folder is listed as before.
//! The counter is no file, so tools that walk the store never see it.

use crate::backend::local::counter::KeyCounter;
use crate::error::Result;
use crate::key::parse_number;
use crate::record::RecordDir;
use crate::schema::Schema;
use crate::store::Store;

/// After this many lost races in a row, list again to jump past the winners.
const RELIST_AFTER: u32 = 32;

/// The locked counter of the key folder `key_path`; `None` if the store is
/// not on the local disk or the folder has no counter to lock.
fn lock_counter(store: &Store, key_path: &str) -> Option<KeyCounter> {
    KeyCounter::lock(&store.backend().local_path(key_path)?)
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

/// The bytes of a new claim. The uuid makes them this run's alone: `sync`
/// tells a copy of the same run from another run given the same number
/// elsewhere by them, and two claims by one process in one second would
/// otherwise be the same.
fn claim_body() -> Vec<u8> {
    format!(
        "{{\"pid\": {}, \"claimed_at\": \"{}\", \"run\": \"{}\"}}\n",
        std::process::id(),
        crate::meta::now_rfc3339(),
        uuid::Uuid::new_v4().simple()
    )
    .into_bytes()
}

/// Claims the next free number under `dir`'s key.
pub(crate) fn claim_next(store: &Store, dir: &RecordDir, schema: &Schema) -> Result<RecordDir> {
    let key_path = dir.key_path();
    if let Some(counter) = lock_counter(store, &key_path) {
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
    let counter = lock_counter(store, &dir.key_path());
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

/// Takes the number `n` under the key folder `key_path` for a run copied from
/// another store, whose `.claim` held `body`: creates the claim with the same
/// bytes, so that the copy of the same run is recognised by a later sync, and
/// moves the key's counter past `n`, so that the next automatic number on this
/// store is a fresh one. Returns `Ok(false)` if the number is already claimed
/// here by a run with other claim bytes: another run's number, which the copy
/// must not take.
pub(crate) fn claim_copied(store: &Store, key_path: &str, n: u64, body: &[u8]) -> Result<bool> {
    let claim = crate::backend::join(&[key_path, &n.to_string(), crate::record::CLAIM_FILE]);
    let counter = lock_counter(store, key_path);
    let ours = store.backend().create(&claim, body, store.is_durable())?
        || store.backend().read_all(&claim)? == body;
    if let Some(counter) = counter {
        // As in `claim_exact`: a counter at or below `n` would hand `n` out
        // again only to step past it, or, listed away, never see it.
        if counter.get().is_some_and(|next| next <= n) {
            counter.set(n + 1, store.is_durable());
        }
    }
    Ok(ours)
}
