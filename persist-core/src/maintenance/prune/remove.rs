//! Removing one record, if it is still the version chosen.

use crate::backend::join;
use crate::backend::local::TEMP_PREFIX;
use crate::error::{Error, Result};
use crate::meta::{Meta, META_FILE};
use crate::record::FILES_DIR;
use crate::store::Store;

/// What became of one record prune set out to remove.
pub(super) enum Removal {
    Removed,
    /// A save replaced it since it was listed (or it is gone): left alone.
    Replaced,
}

/// Removes one record if it is still the version the prune chose.
pub(super) fn remove_record(store: &Store, folder: &str, chosen: &Meta) -> Result<Removal> {
    let backend = store.backend();
    let durable = store.is_durable();
    let name = chosen.name.as_str();
    let meta_path = join(&[folder, META_FILE]);
    let aside = join(&[
        folder,
        &format!("{TEMP_PREFIX}prune-{}", uuid::Uuid::new_v4().simple()),
    ]);
    // The record is gone at this instant, as a whole: readers see its
    // meta.json or nothing.
    match backend.rename(&meta_path, &aside, durable) {
        Ok(()) => {}
        Err(Error::NotFound { .. }) => return Ok(Removal::Replaced),
        Err(e) => return Err(e.in_record(name)),
    }
    let taken = Meta::read(backend, &aside);
    if taken.as_ref().ok() != Some(chosen) {
        // A save replaced the version chosen: put what was taken back,
        // unless a newer save already wrote its own.
        backend
            .create_from(&aside, &meta_path, durable)
            .map_err(|e| e.within(name, &backend.describe(&meta_path)))?;
        backend.delete(&aside).map_err(|e| e.in_record(name))?;
        return Ok(Removal::Replaced);
    }
    for file in chosen.records.values() {
        // Only plain names in the folder, as a save removes superseded files.
        if !file.file.contains('/') && !file.file.starts_with('.') {
            backend
                .delete(&join(&[folder, &file.file]))
                .map_err(|e| e.in_record(name))?;
        }
    }
    backend.delete(&aside).map_err(|e| e.in_record(name))?;
    backend
        .delete_all(&join(&[folder, FILES_DIR]))
        .map_err(|e| e.in_record(name))?;
    // The folder stays (with a number's `.claim`, so that the number is
    // never given again): a save may have just found it there, and would
    // fail to write into it if it went.
    Ok(Removal::Removed)
}
