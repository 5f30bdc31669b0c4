//! Reading records: by key, by key with any autoinc, and every record of a type.

use std::marker::PhantomData;

use serde_json::{Map, Value};

use crate::autoinc;
use crate::error::{Error, Result};
use crate::key::{canonical_json, split_record_dir_name, KeyHash};
use crate::meta::{parse_value, Meta};
use crate::parts::Parts;
use crate::persistence::Persistence;
use crate::record_dir::{type_dir, RecordDir};
use crate::store::Store;

/// The folder of a value's record; [`Error::AutoIncUnresolved`] if its autoinc
/// is `None`.
pub(crate) fn resolved_dir<T: Persistence>(value: &T) -> Result<RecordDir> {
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

pub(crate) fn load<T: Persistence>(value: &T, store: &Store) -> Result<T> {
    let dir = resolved_dir(value)?;
    let key = crate::record_dir::key_map(value)?;
    read_record(store, &dir, Some(&key))
}

pub(crate) fn exists<T: Persistence>(value: &T, store: &Store) -> Result<bool> {
    meta_exists(store, &resolved_dir(value)?)
}

/// Reads and checks a record's `meta.json`, migrating an older version.
pub(crate) fn read_meta<T: Persistence>(store: &Store, dir: &RecordDir) -> Result<Meta> {
    let schema = T::__SCHEMA;
    let backend = store.backend();
    let path = dir.meta_path();
    let shown = backend.describe(&path);
    let ctx = |e: Error| e.within(dir.name(), &shown);
    let bytes = backend.read_all(&path).map_err(ctx)?;
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
fn read_meta_value<T: Persistence>(bytes: &[u8], ctx: &dyn Fn(Error) -> Error) -> Result<Meta> {
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

/// Builds the struct from a checked `meta.json`.
pub(crate) fn build<T: Persistence>(store: &Store, dir: &RecordDir, meta: Meta) -> Result<T> {
    let shown = store.backend().describe(&dir.meta_path());
    let name = meta.name.clone();
    let mut parts = Parts::new(T::__SCHEMA, store, dir, meta);
    T::__from_parts(&mut parts).map_err(|e| e.within(&name, &shown))
}

/// Reads the record in `dir`; with `expect_key`, checks it holds that key (a
/// hash collision or a moved folder is an error, never another record).
pub(crate) fn read_record<T: Persistence>(
    store: &Store,
    dir: &RecordDir,
    expect_key: Option<&Map<String, Value>>,
) -> Result<T> {
    let meta = read_meta::<T>(store, dir)?;
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
        let hash = KeyHash::of(&Value::Object(meta.key.clone())).short();
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

pub(crate) fn load_all<T: Persistence>(value: &T, store: &Store) -> Result<Vec<T>> {
    let schema = T::__SCHEMA;
    let (dir, key) = RecordDir::of(value).map_err(|e| e.in_record(schema.name))?;
    if schema.autoinc.is_none() {
        return match read_record(store, &dir, Some(&key)) {
            Ok(v) => Ok(vec![v]),
            Err(Error::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        };
    }
    let mut numbers =
        autoinc::numbers(store, &dir.key_path()).map_err(|e| e.in_record(dir.name()))?;
    numbers.sort_unstable();
    let mut out = Vec::with_capacity(numbers.len());
    for n in numbers {
        match read_record(store, &dir.with_number(n, schema), Some(&key)) {
            Ok(v) => out.push(v),
            // Claimed but never finished (or removed): not a record.
            Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The record folders of a type, sorted; a key folder that cannot be listed
/// is an `Err` item.
pub(crate) fn record_dirs(
    store: &Store,
    schema: &crate::schema::Schema,
) -> Result<Vec<Result<RecordDir>>> {
    record_dirs_where(store, schema, &|_| true)
}

/// [`record_dirs`] of the key folders `keep` accepts (by their base
/// `RecordDir`, before any autoinc number is listed), so a query never lists
/// the numbers of a key its file name already rules out.
pub(crate) fn record_dirs_where(
    store: &Store,
    schema: &crate::schema::Schema,
    keep: &dyn Fn(&RecordDir) -> bool,
) -> Result<Vec<Result<RecordDir>>> {
    let tdir = type_dir(schema);
    let mut keys: Vec<String> = store
        .backend()
        .list_dirs(&tdir)?
        .into_iter()
        .filter(|name| split_record_dir_name(name).is_some())
        .collect();
    keys.sort();
    let mut out = Vec::new();
    for key_dir in keys {
        let readable = split_record_dir_name(&key_dir)
            .map_or("", |(r, _)| r)
            .to_owned();
        let base = RecordDir::from_parts(&tdir, &key_dir, None, &readable);
        if !keep(&base) {
            continue;
        }
        if schema.autoinc.is_none() {
            out.push(Ok(base));
            continue;
        }
        match autoinc::numbers(store, &base.key_path()) {
            Ok(mut numbers) => {
                numbers.sort_unstable();
                out.extend(numbers.into_iter().map(|n| Ok(base.with_number(n, schema))));
            }
            Err(e) => out.push(Err(e.in_record(&readable))),
        }
    }
    Ok(out)
}

pub(crate) fn all<T: Persistence>(store: &Store) -> Result<Records<T>> {
    let dirs = record_dirs(store, T::__SCHEMA)?;
    Ok(Records {
        store: store.clone(),
        dirs: dirs.into_iter(),
        _type: PhantomData,
    })
}

/// The records of a type, read one at a time (see
/// [`Persistence::all`]). A damaged record is an `Err` item; the iteration goes
/// on.
pub struct Records<T> {
    store: Store,
    dirs: std::vec::IntoIter<Result<RecordDir>>,
    _type: PhantomData<fn() -> T>,
}

impl<T: Persistence> Iterator for Records<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        loop {
            let dir = match self.dirs.next()? {
                Ok(dir) => dir,
                Err(e) => return Some(Err(e)),
            };
            match read_record::<T>(&self.store, &dir, None) {
                // A claim whose save never finished, or a folder with no record yet.
                Err(Error::NotFound { .. }) => continue,
                other => return Some(other),
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.dirs.len()))
    }
}
