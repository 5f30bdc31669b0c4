//! Reading one record: its folder from the key, its `meta.json` checked (and
//! migrated from an older version), the struct rebuilt from its parts.

use std::time::Instant;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::key::{canonical_json, split_record_dir_name, KeyHash};
use crate::meta::{parse_value, Meta};
use crate::record::{key_map, Parts, Record, RecordDir};
use crate::store::Store;

/// The folder of a value's record; [`Error::AutoIncUnresolved`] if its autoinc
/// is `None`.
pub(crate) fn resolved_dir<T: Record>(value: &T) -> Result<RecordDir> {
    let schema = T::__SCHEMA;
    let (dir, _) = RecordDir::of(value).map_err(|e| e.in_record(schema.name))?;
    if let (Some(auto), None) = (&schema.autoinc, dir.number()) {
        return Err(Error::AutoIncUnresolved {
            record: dir.name().to_owned(),
            field: auto.name.to_owned(),
        });
    }
    Ok(dir)
}

pub(crate) fn meta_exists(store: &Store, dir: &RecordDir) -> Result<bool> {
    match store.backend().get(&dir.meta_path()) {
        Ok(_) => Ok(true),
        Err(Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(e.in_record(dir.name())),
    }
}

pub(crate) fn load<T: Record>(value: &T, store: &Store) -> Result<T> {
    let dir = resolved_dir(value)?;
    let key = key_map(value)?;
    read_record(store, &dir, Some(&key))
}

pub(crate) fn exists<T: Record>(value: &T, store: &Store) -> Result<bool> {
    meta_exists(store, &resolved_dir(value)?)
}

/// Reads and checks a record's `meta.json`, migrating an older version.
pub(crate) fn read_meta<T: Record>(store: &Store, dir: &RecordDir) -> Result<Meta> {
    parse_meta::<T>(store, dir, read_meta_bytes(store, dir))
}

/// The bytes of a record's `meta.json`.
pub(crate) fn read_meta_bytes(store: &Store, dir: &RecordDir) -> Result<Vec<u8>> {
    store.backend().read_all(&dir.meta_path())
}

/// [`read_meta`] of bytes already read (or the error reading them gave).
fn parse_meta<T: Record>(store: &Store, dir: &RecordDir, bytes: Result<Vec<u8>>) -> Result<Meta> {
    let schema = T::__SCHEMA;
    let backend = store.backend();
    let ctx = |e: Error| e.within_at(dir.name(), || backend.describe(&dir.meta_path()));
    let bytes = bytes.map_err(ctx)?;
    // The usual case, a meta.json of this version, parses straight into `Meta`;
    // anything else (another version to migrate, damage to report) takes the
    // way through a JSON value, which gives the same result more slowly.
    let meta = match serde_json::from_slice::<Meta>(&bytes) {
        Ok(meta) if meta.version == schema.version => meta,
        _ => read_meta_value::<T>(&bytes, &ctx)?,
    };
    if meta.type_name != schema.name {
        return Err(ctx(Error::type_mismatch(
            format!("a record of type `{}`", schema.name),
            format!("type `{}`", meta.type_name),
        )));
    }
    if meta.autoinc != dir.number() {
        return Err(ctx(Error::corrupt(format!(
            "meta.json holds autoinc {:?} but lies in the folder of {:?}",
            meta.autoinc,
            dir.number()
        ))));
    }
    Ok(meta)
}

/// Parses `meta.json` through a JSON value, migrating an older version.
fn read_meta_value<T: Record>(bytes: &[u8], ctx: &dyn Fn(Error) -> Error) -> Result<Meta> {
    let schema = T::__SCHEMA;
    let mut raw = parse_value(bytes).map_err(ctx)?;
    let version = raw.get("version").and_then(Value::as_u64);
    match version {
        Some(v) if v == u64::from(schema.version) => {}
        Some(v) => {
            let v = u32::try_from(v)
                .map_err(|_| ctx(Error::corrupt(format!("version {v} is out of range"))))?;
            T::__migrate(v, &mut raw).map_err(ctx)?;
            raw["version"] = Value::from(schema.version);
        }
        None => return Err(ctx(Error::corrupt("meta.json has no numeric `version`"))),
    }
    Meta::from_value(raw).map_err(ctx)
}

/// Builds the struct from a checked `meta.json` and runs the type's own
/// check on it ([`Error::Invalid`] if it fails).
pub(crate) fn build<T: Record>(store: &Store, dir: &RecordDir, meta: Meta) -> Result<T> {
    let name = meta.name.clone();
    let at = || store.backend().describe(&dir.meta_path());
    let mut parts = Parts::new(T::__SCHEMA, store, dir, meta);
    let value = T::__from_parts(&mut parts).map_err(|e| e.within(&name, &at()))?;
    value.__validate().map_err(|source| Error::Invalid {
        record: name,
        path: at(),
        source,
    })?;
    Ok(value)
}

/// Reads the record in `dir`; with `expect_key`, checks it holds that key (a
/// hash collision or a moved folder is an error, never another record).
pub(crate) fn read_record<T: Record>(
    store: &Store,
    dir: &RecordDir,
    expect_key: Option<&Map<String, Value>>,
) -> Result<T> {
    let started = Instant::now();
    let bytes = read_meta_bytes(store, dir);
    record_from_bytes_since(store, dir, expect_key, bytes, started)
}

/// [`read_record`] of `meta.json` bytes already read.
pub(crate) fn record_from_bytes<T: Record>(
    store: &Store,
    dir: &RecordDir,
    expect_key: Option<&Map<String, Value>>,
    bytes: Result<Vec<u8>>,
) -> Result<T> {
    record_from_bytes_since(store, dir, expect_key, bytes, Instant::now())
}

/// [`record_from_bytes`], counted in the store's stats and logged as a load
/// that began at `started`.
fn record_from_bytes_since<T: Record>(
    store: &Store,
    dir: &RecordDir,
    expect_key: Option<&Map<String, Value>>,
    bytes: Result<Vec<u8>>,
    started: Instant,
) -> Result<T> {
    let size = bytes.as_ref().map_or(0, |b| b.len() as u64);
    let record = checked_record(store, dir, expect_key, bytes)?;
    store.counters().loaded(size);
    tracing::debug!(
        target: "persist",
        record = dir.name(),
        path = %store.backend().describe(&dir.meta_path()),
        bytes = size,
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "loaded"
    );
    Ok(record)
}

fn checked_record<T: Record>(
    store: &Store,
    dir: &RecordDir,
    expect_key: Option<&Map<String, Value>>,
    bytes: Result<Vec<u8>>,
) -> Result<T> {
    let mut meta = parse_meta::<T>(store, dir, bytes)?;
    if let Some(key) = expect_key {
        if !same_key(key, &meta.key) {
            return Err(Error::Corrupt {
                record: dir.name().to_owned(),
                path: store.backend().describe(&dir.meta_path()),
                reason: format!(
                    "meta.json holds the key {} where {} was expected",
                    canonical_json(&Value::Object(meta.key.clone())),
                    canonical_json(&Value::Object(key.clone()))
                ),
            });
        }
    } else {
        // Listing: a meta.json copied or moved into another key's folder is
        // not the record of that folder.
        let key_path = dir.key_path();
        let folder = key_path.rsplit('/').next().unwrap_or("");
        // Hashed in place: the key goes back into `meta` right after.
        let key = Value::Object(std::mem::take(&mut meta.key));
        let hash = KeyHash::of(&key).short();
        if let Value::Object(key) = key {
            meta.key = key;
        }
        if split_record_dir_name(folder).map(|(_, h)| h) != Some(hash.as_str()) {
            return Err(Error::Corrupt {
                record: dir.name().to_owned(),
                path: store.backend().describe(&dir.meta_path()),
                reason: format!(
                    "meta.json holds the key {}, which is not the key of its folder",
                    canonical_json(&Value::Object(meta.key.clone()))
                ),
            });
        }
    }
    build(store, dir, meta)
}

pub(crate) fn same_key(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    a.len() == b.len()
        && a.iter().all(|(k, v)| {
            b.get(k)
                .is_some_and(|w| canonical_json(v) == canonical_json(w))
        })
}
