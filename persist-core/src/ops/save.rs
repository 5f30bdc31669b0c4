//! The save protocol, and removal.
//!
//! 1. Record files are written under new names (`<stem>-<uuid>.<ext>`), each
//!    in place (`Backend::put_new`: nobody reads them yet), flushed (and
//!    fsynced when durable) and hashed on the way.
//! 2. `meta.json` is written last by atomic rename: the record becomes visible
//!    whole, or not at all.
//! 3. Files the previous version named and this one does not are removed.
//!
//! A crash at any point leaves the old complete version or the new one, plus
//! files nobody names, which `gc` removes.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{Map, Value};

use crate::checksum::HashingWriter;
use crate::compress::Codec;
use crate::error::{Error, Result};
use crate::key::{sanitize, READABLE_MAX};
use crate::lease::{Folder, Leased};
use crate::meta::{now_rfc3339, Meta, Provenance, RecordFile, FORMAT};
use crate::ops::read::{meta_exists, resolved_dir};
use crate::ops::{autoinc, refs};
use crate::record::{Record, RecordDir, RecordOut, CLAIM_FILE};
use crate::schema::RecordField;
use crate::store::Store;

/// [`Error::ReadOnly`] if `store` may not be written (`Policy::ReadOnly`),
/// naming the value's record.
pub(crate) fn check_writable<T: Record>(value: &T, store: &Store) -> Result<()> {
    if store.current_policy().is_read_only() {
        let (dir, _) = RecordDir::of(value).map_err(|e| e.in_record(T::__SCHEMA.name))?;
        store.check_writable(dir.name(), &dir.path())?;
    }
    Ok(())
}

pub(crate) fn save<T: Record>(value: &mut T, store: &Store) -> Result<()> {
    save_with(value, store, None, &Leased::NONE, None)
}

/// [`save`] of a value `load_or_compute` computed in `seconds`, which its
/// provenance records, under the lease `leased` (whose end its `meta.json`
/// is). `place`: the value's folder and key, where the caller has them for
/// the value as it is now.
pub(crate) fn save_computed<T: Record>(
    value: &mut T,
    store: &Store,
    seconds: f64,
    leased: &Leased<'_>,
    place: Option<(RecordDir, Map<String, Value>)>,
) -> Result<()> {
    save_with(value, store, Some(seconds), leased, place)
}

fn save_with<T: Record>(
    value: &mut T,
    store: &Store,
    compute_seconds: Option<f64>,
    leased: &Leased<'_>,
    place: Option<(RecordDir, Map<String, Value>)>,
) -> Result<()> {
    let schema = T::__SCHEMA;
    let (dir, key) = match place {
        Some(place) => place,
        None => RecordDir::of(value).map_err(|e| e.in_record(schema.name))?,
    };
    store.check_writable(dir.name(), &dir.path())?;
    let in_rec = |e: Error, d: &RecordDir| e.in_record(d.name());
    refs::check_resolved(&key).map_err(|e| in_rec(e, &dir))?;
    let data: Map<String, Value> = schema
        .data
        .iter()
        .map(|f| (*f).to_owned())
        .zip(value.__data().map_err(|e| in_rec(e, &dir))?)
        .collect();

    let (dir, leased) = match (&schema.autoinc, value.__autoinc()) {
        (Some(_), None) => (
            autoinc::claim_next(store, &dir, schema).map_err(|e| in_rec(e, &dir))?,
            leased.with_folder(Folder::NewNumber),
        ),
        (Some(_), Some(_)) => {
            autoinc::claim_exact(store, &dir).map_err(|e| in_rec(e, &dir))?;
            (dir, *leased)
        }
        (None, _) => (dir, *leased),
    };
    // A number that does not fit the field's integer type fails before anything is written.
    let before = value.__autoinc();
    value
        .__set_autoinc(dir.number())
        .map_err(|e| in_rec(e, &dir))?;

    let started = Instant::now();
    let result = write_version(value, store, &dir, key, data, &leased, compute_seconds);
    if let Ok(bytes) = result {
        store.counters().saved(bytes);
        tracing::debug!(
            target: "persist",
            record = dir.name(),
            path = %store.backend().describe(&dir.meta_path()),
            bytes,
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "saved"
        );
    }
    if result.is_err() {
        // The field names a stored record only once the save succeeded.
        let _ = value.__set_autoinc(before);
    }
    result.map(|_| ())
}

fn write_version<T: Record>(
    value: &T,
    store: &Store,
    dir: &RecordDir,
    key: Map<String, Value>,
    data: Map<String, Value>,
    leased: &Leased<'_>,
    compute_seconds: Option<f64>,
) -> Result<u64> {
    let folder = leased.folder();
    let schema = T::__SCHEMA;
    let backend = store.backend();
    // A folder this save (or the lease it ran under) has just made holds no
    // previous version to look up. One the lease made is not made again:
    // that would only find it there, look at it, and look for a previous
    // `meta.json` in it.
    let made = if folder == Folder::MadeByLease {
        Some(true)
    } else {
        backend
            .make_dir(&dir.path(), store.is_durable())
            .map_err(|e| e.within(dir.name(), &backend.describe(&dir.path())))?
    };
    let previous = if folder == Folder::NewNumber || made == Some(true) {
        None
    } else {
        Meta::read(backend, &dir.meta_path()).ok()
    };

    let mut records = BTreeMap::new();
    let mut written = Vec::new();
    let outcome = (|| -> Result<u64> {
        for (field, out) in schema.records.iter().zip(value.__records()) {
            if let Some(entry) = write_record_file(store, dir, field, &out, &mut written)? {
                records.insert(field.name.to_owned(), entry);
            }
        }
        let upstream = refs::upstream_hashes(store, &key)?;
        let content_hash = Meta::compute_content_hash(&key, dir.number(), &data, &records);
        let meta = Meta {
            format: FORMAT,
            type_name: schema.name.to_owned(),
            version: schema.version,
            name: dir.name().to_owned(),
            key,
            autoinc: dir.number(),
            data,
            records: records.clone(),
            upstream,
            content_hash,
            saved_at: now_rfc3339(),
            provenance: Some(Provenance::here(
                schema.crate_name,
                schema.crate_version,
                compute_seconds,
            )),
        };
        let bytes = meta.to_bytes()?;
        leased.put_meta(store, &dir.meta_path(), &mut |w| {
            w.write_all(&bytes).map_err(Error::io)
        })?;
        Ok(bytes.len() as u64 + records.values().map(|r| r.size).sum::<u64>())
    })();
    let written_bytes = *outcome.as_ref().unwrap_or(&0);
    if let Err(e) = outcome {
        // A put can fail after its rename (the folder's fsync, say): if
        // meta.json already names this version's files, they are the record
        // now, and removing them would leave it half there.
        let visible = Meta::read(backend, &dir.meta_path()).ok().is_some_and(|m| {
            m.records
                .values()
                .any(|r| written.contains(&dir.file_path(&r.file)))
        });
        if !visible {
            for path in &written {
                let _ = backend.delete(path);
            }
        }
        return Err(e.within(dir.name(), &backend.describe(&dir.meta_path())));
    }

    if let Some(previous) = previous {
        for old in previous.records.values() {
            let still_named = records.values().any(|r| r.file == old.file);
            if !still_named && !old.file.contains('/') && !old.file.starts_with('.') {
                // Best effort: a file left behind is only clutter, which gc removes.
                let _ = backend.delete(&dir.file_path(&old.file));
            }
        }
    }
    Ok(written_bytes)
}

/// A new record file name: `<stem>-<uuid>.<ext>`, plus `.zst` / `.gz` when
/// compressed.
fn new_file_name(stem: &str, ext: &str, codec: Option<Codec>) -> String {
    let uuid = uuid::Uuid::new_v4().simple();
    match codec {
        None => format!("{stem}-{uuid}.{ext}"),
        Some(codec) => format!("{stem}-{uuid}.{ext}.{}", codec.extension()),
    }
}

/// Writes one record field's file under a new name; `None` for an empty field.
///
/// An unchanged file loaded from the same store is not rewritten: the backend
/// gives its bytes the new name (a hard link on disk), so this version owns its
/// files and removing the previous version's never takes them away. Such a
/// file keeps the compression it was stored with; a value in memory is
/// written with the field's (`#[record(compress = "…")]`), compressed as it
/// streams and hashed as stored.
fn write_record_file(
    store: &Store,
    dir: &RecordDir,
    field: &RecordField,
    out: &RecordOut<'_>,
    written: &mut Vec<String>,
) -> Result<Option<RecordFile>> {
    let record = out.erased();
    let source = record.file();
    if source.is_none() && !record.has_value() {
        return Ok(None);
    }
    let ext = record.extension();
    let stem = sanitize(field.stem, READABLE_MAX).0;
    if let Some(file) = source.filter(|f| f.store.same_backend(store)) {
        let name = new_file_name(&stem, ext, file.codec);
        let path = dir.file_path(&name);
        // Listed before the copy: one that fails after its link leaves a
        // file for the caller to remove.
        written.push(path.clone());
        match store.backend().copy(&file.path, &path, store.is_durable()) {
            Ok(()) => {
                return Ok(Some(RecordFile {
                    file: name,
                    ..file.entry.clone()
                }))
            }
            // Replaced by another save since it was loaded: write the value if it
            // was read, else say so.
            Err(Error::NotFound { .. }) if record.has_value() => {}
            Err(Error::NotFound { .. }) => {
                return Err(Error::Superseded {
                    record: file.record.clone(),
                    path: file.shown(),
                })
            }
            Err(e) => return Err(e),
        }
    }
    // A value in memory is written with the field's compression; a file
    // from another store is copied as it is stored.
    let codec = match source {
        Some(file) if !record.has_value() => file.codec,
        _ => field.compress,
    };
    let name = new_file_name(&stem, ext, codec);
    let path = dir.file_path(&name);
    // Listed before the write: a write that fails part way leaves a file for
    // the caller to remove.
    written.push(path.clone());
    let mut summary = None;
    // Nothing reads the file before meta.json names it, so it is written in
    // place; if the write fails, the caller deletes everything in `written`.
    store
        .backend()
        .put_new(&path, store.is_durable(), &mut |w| {
            let mut hw = HashingWriter::new(w);
            let in_rec = |e: Error| e.within(dir.name(), "");
            match (codec, source) {
                (Some(codec), _) if record.has_value() => {
                    let mut enc = codec.encoder(&mut hw).map_err(Error::io)?;
                    if let Some(written) = record.write_value(&mut enc) {
                        written.map_err(in_rec)?;
                    }
                    enc.finish().map_err(Error::io)?;
                }
                _ => match (record.write_value(&mut hw), source) {
                    (Some(written), _) => written.map_err(in_rec)?,
                    (None, Some(file)) => file.copy_to(&mut hw)?,
                    (None, None) => {}
                },
            }
            summary = Some(hw.finish());
            Ok(())
        })?;
    let (blake3, size) = summary.unwrap_or_default();
    Ok(Some(RecordFile {
        file: name,
        format: ext.to_owned(),
        compression: codec.map(|c| c.to_string()),
        size,
        blake3,
    }))
}

pub(crate) fn remove<T: Record>(value: &T, store: &Store) -> Result<()> {
    let dir = resolved_dir(value)?;
    store.check_writable(dir.name(), &dir.path())?;
    let backend = store.backend();
    let meta = dir.meta_path();
    if !meta_exists(store, &dir)? {
        return Err(Error::NotFound {
            record: dir.name().to_owned(),
            path: backend.describe(&meta),
        });
    }
    // meta.json first: from here on the record is gone as a whole. With
    // `durable` its folder is fsynced before anything else goes, so that a
    // power loss cannot bring back a record whose `remove` returned.
    backend.delete(&meta).map_err(|e| e.in_record(dir.name()))?;
    if store.is_durable() {
        backend
            .sync_deletes(&dir.path())
            .map_err(|e| e.in_record(dir.name()))?;
    }
    match dir.number() {
        // Keep the claim so the number is never given again.
        Some(_) => {
            for entry in backend.list(&dir.path())? {
                if entry.name == CLAIM_FILE {
                    continue;
                }
                let path = dir.file_path(&entry.name);
                if entry.is_dir {
                    backend.delete_all(&path)?;
                } else {
                    backend.delete(&path)?;
                }
            }
        }
        None => backend.delete_all(&dir.path())?,
    }
    Ok(())
}
