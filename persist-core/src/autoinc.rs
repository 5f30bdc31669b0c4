//! Autoinc numbers: claimed once, never given twice.
//!
//! A number is taken by creating `<key folder>/<n>/.claim` with create-if-absent,
//! which the backend makes atomic across processes. The next number is one past
//! the highest folder under the key, so numbers are dense unless a save was
//! interrupted, and only the key's own folder is listed.

use crate::error::Result;
use crate::record_dir::RecordDir;
use crate::schema::Schema;
use crate::store::Store;

/// After this many lost races in a row, list again to jump past the winners.
const RELIST_AFTER: u32 = 32;

/// The numbers in use under a key (claimed, saved or removed), unsorted.
pub(crate) fn numbers(store: &Store, key_path: &str) -> Result<Vec<u64>> {
    Ok(store
        .backend()
        .list(key_path)?
        .into_iter()
        .filter(|e| e.is_dir)
        .filter_map(|e| parse_number(&e.name))
        .collect())
}

/// A number folder's name in canonical form (`0`, `17`, never `017`).
pub(crate) fn parse_number(name: &str) -> Option<u64> {
    let n: u64 = name.parse().ok()?;
    (n.to_string() == name).then_some(n)
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
    loop {
        let mut n = numbers(store, &key_path)?
            .into_iter()
            .max()
            .map_or(0, |m| m + 1);
        for _ in 0..RELIST_AFTER {
            let candidate = dir.with_number(n, schema);
            if store
                .backend()
                .create(&candidate.claim_path(), &claim_body(), store.is_durable())?
            {
                return Ok(candidate);
            }
            n += 1;
        }
    }
}

/// Marks a number chosen by the caller as taken (no error if it already is).
pub(crate) fn claim_exact(store: &Store, dir: &RecordDir) -> Result<()> {
    store
        .backend()
        .create(&dir.claim_path(), &claim_body(), store.is_durable())?;
    Ok(())
}
