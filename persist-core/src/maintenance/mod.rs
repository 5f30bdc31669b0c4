//! Looking after a store as a whole: listing every record, verifying checksums,
//! removing what interrupted saves left behind, copying records between stores. What the `persist` command runs.
//!
//! Everything here is type-agnostic: it works on the layout of a store (see
//! [`RecordDir`](crate::RecordDir)) and on `meta.json` ([`Meta`](crate::meta::Meta)),
//! never on the Rust types that wrote the records, so it can look after a store
//! written by any program, on any backend.
//!
//! | function | does |
//! |---|---|
//! | [`walk`] / [`walk_type`] / [`record_at`] | every record folder, with its parsed `meta.json` or the error |
//! | [`verify`] | every `meta.json` parses and fits its folder, every record file exists and matches its blake3 |
//! | [`gc`] | removes temporary files, superseded record files and the files of unfinished saves |
//! | [`du`] | records, files and bytes per type |
//! | [`prune`] | removes whole records by age, count per key and size, never young or referenced ones |
//! | [`sync`] | copies the records another store lacks or holds older, checked against their blake3 |
//!
//! ```
//! use persist_core::maintenance::{du, gc, prune, verify, walk, GcOptions, PruneOptions};
//! use persist_core::Store;
//! use std::time::Duration;
//!
//! let store = Store::memory();
//! assert!(walk(&store)?.is_empty());
//! assert!(verify(&store, |_| {})?.is_ok());
//! let report = gc(&store, &GcOptions { dry_run: true, min_age: Duration::ZERO })?;
//! assert!(report.leftovers.is_empty());
//! assert!(du(&store)?.is_empty());
//! let pruned = prune(&store, &PruneOptions::default().keep_last(3).dry_run(true))?;
//! assert!(pruned.removed.is_empty());
//! # Ok::<(), persist_core::Error>(())
//! ```

mod du;
mod gc;
mod prune;
mod sync;
mod verify;
mod walk;

#[cfg(test)]
#[cfg(feature = "derive")]
mod tests;

pub use du::{du, TypeUsage};
pub use gc::{gc, GcOptions, GcReport, Leftover, LeftoverKind, DEFAULT_MIN_AGE};
pub use prune::{
    prune, Protection, PruneCandidate, PruneOptions, PruneReason, PruneReport,
    DEFAULT_PRUNE_MIN_AGE,
};
pub use sync::{
    sync, SyncConflict, SyncFailure, SyncOptions, SyncProgress, SyncReport,
    DEFAULT_SYNC_CONCURRENCY,
};
pub use verify::{verify, Damage, VerifyProgress, VerifyReport};
pub use walk::{record_at, type_dirs, walk, walk_type, RecordEntry};

use crate::backend::{join, Entry};
use crate::error::Result;
use crate::store::Store;

/// Calls `f` with the path and listing entry of every file below `prefix`,
/// depth first. Folders are not passed to `f`.
fn visit_files(store: &Store, prefix: &str, f: &mut dyn FnMut(&str, &Entry)) -> Result<()> {
    for entry in store.backend().list(prefix)? {
        let path = join(&[prefix, &entry.name]);
        if entry.is_dir {
            visit_files(store, &path, f)?;
        } else {
            f(&path, &entry);
        }
    }
    Ok(())
}
