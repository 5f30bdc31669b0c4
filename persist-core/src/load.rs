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
    parse_meta::<T>(store, dir, read_meta_bytes(store, dir))
}

/// The bytes of a record's `meta.json`.
fn read_meta_bytes(store: &Store, dir: &RecordDir) -> Result<Vec<u8>> {
    store.backend().read_all(&dir.meta_path())
}

/// [`read_meta`] of bytes already read (or the error reading them gave).
fn parse_meta<T: Persistence>(
    store: &Store,
    dir: &RecordDir,
    bytes: Result<Vec<u8>>,
) -> Result<Meta> {
    let schema = T::__SCHEMA;
    let backend = store.backend();
    let ctx = |e: Error| e.within(dir.name(), &backend.describe(&dir.meta_path()));
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
    let name = meta.name.clone();
    let mut parts = Parts::new(T::__SCHEMA, store, dir, meta);
    T::__from_parts(&mut parts)
        .map_err(|e| e.within(&name, &store.backend().describe(&dir.meta_path())))
}

/// Reads the record in `dir`; with `expect_key`, checks it holds that key (a
/// hash collision or a moved folder is an error, never another record).
pub(crate) fn read_record<T: Persistence>(
    store: &Store,
    dir: &RecordDir,
    expect_key: Option<&Map<String, Value>>,
) -> Result<T> {
    record_from_bytes(store, dir, expect_key, read_meta_bytes(store, dir))
}

/// [`read_record`] of `meta.json` bytes already read.
fn record_from_bytes<T: Persistence>(
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
    let mut keys: Vec<(String, usize)> = store
        .backend()
        .list_dirs(&tdir)?
        .into_iter()
        .filter_map(|name| {
            let readable = split_record_dir_name(&name)?.0.len();
            Some((name, readable))
        })
        .collect();
    keys.sort_unstable();
    let mut out = Vec::with_capacity(keys.len());
    for (key_dir, readable) in keys {
        let readable = &key_dir[..readable];
        let base = RecordDir::from_parts(&tdir, &key_dir, None, readable);
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
            Err(e) => out.push(Err(e.in_record(readable))),
        }
    }
    Ok(out)
}

/// From this many record folders on, [`all`] reads the `meta.json` files on a
/// second thread, ahead of the caller; parsing and checks stay on the caller's.
const PREFETCH_MIN: usize = 64;

/// The `meta.json` handed over at once (one wake-up of the other thread each).
const PREFETCH_BATCH: usize = 64;

/// Batches read ahead at most.
const PREFETCH_AHEAD: usize = 4;

/// A record folder (or the error listing it gave) and its `meta.json` bytes.
type Prefetched = Result<(RecordDir, Result<Vec<u8>>)>;

pub(crate) fn all<T: Persistence>(store: &Store) -> Result<Records<T>> {
    let dirs = record_dirs(store, T::__SCHEMA)?;
    let left = dirs.len();
    let (dirs, ahead) = if left >= PREFETCH_MIN {
        match prefetch(store, dirs) {
            Ok(ahead) => (Vec::new(), Some(ahead)),
            Err(dirs) => (dirs, None),
        }
    } else {
        (dirs, None)
    };
    Ok(Records {
        store: store.clone(),
        dirs: dirs.into_iter(),
        ahead,
        left,
        _type: PhantomData,
    })
}

/// The receiving end of a reading thread.
struct Ahead {
    /// In a mutex only so that `Records` stays `Sync`.
    rx: std::sync::Mutex<std::sync::mpsc::Receiver<Vec<Prefetched>>>,
    batch: std::vec::IntoIter<Prefetched>,
    worker: Option<std::thread::JoinHandle<()>>,
}

/// Starts a thread that reads the `meta.json` of each folder in order; gives
/// the folders back if no thread can be started.
fn prefetch(
    store: &Store,
    dirs: Vec<Result<RecordDir>>,
) -> std::result::Result<Ahead, Vec<Result<RecordDir>>> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Prefetched>>(PREFETCH_AHEAD);
    let handoff = std::sync::Arc::new(std::sync::Mutex::new(Some(dirs)));
    let theirs = std::sync::Arc::clone(&handoff);
    let store = store.clone();
    let spawned = std::thread::Builder::new()
        .name("persist-all".to_owned())
        .spawn(move || {
            let dirs = theirs.lock().ok().and_then(|mut d| d.take());
            let mut batch = Vec::with_capacity(PREFETCH_BATCH);
            for dir in dirs.into_iter().flatten() {
                batch.push(dir.map(|dir| {
                    let bytes = read_meta_bytes(&store, &dir);
                    (dir, bytes)
                }));
                if batch.len() == PREFETCH_BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(PREFETCH_BATCH));
                    // The iterator was dropped: stop.
                    if tx.send(full).is_err() {
                        return;
                    }
                }
            }
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
        });
    match spawned {
        Ok(worker) => Ok(Ahead {
            rx: std::sync::Mutex::new(rx),
            batch: Vec::new().into_iter(),
            worker: Some(worker),
        }),
        Err(_) => Err(handoff
            .lock()
            .ok()
            .and_then(|mut d| d.take())
            .unwrap_or_default()),
    }
}

/// The records of a type, read one at a time (see
/// [`Persistence::all`]). A damaged record is an `Err` item; the iteration goes
/// on.
///
/// With many records, a second thread reads their `meta.json` files a little
/// ahead of the iteration; parsing, checks and migrations happen on the
/// iterating thread.
pub struct Records<T> {
    store: Store,
    dirs: std::vec::IntoIter<Result<RecordDir>>,
    ahead: Option<Ahead>,
    /// Folders not handed out yet.
    left: usize,
    _type: PhantomData<fn() -> T>,
}

impl<T> Records<T> {
    /// The next folder and its `meta.json` bytes, read ahead or here.
    fn next_bytes(&mut self) -> Option<Prefetched> {
        let Some(ahead) = &mut self.ahead else {
            let store = &self.store;
            return self.dirs.next().map(|dir| {
                dir.map(|dir| {
                    let bytes = read_meta_bytes(store, &dir);
                    (dir, bytes)
                })
            });
        };
        if let Some(item) = ahead.batch.next() {
            return Some(item);
        }
        let rx = match ahead.rx.get_mut() {
            Ok(rx) => rx,
            Err(poisoned) => poisoned.into_inner(),
        };
        match rx.recv() {
            Ok(batch) => {
                ahead.batch = batch.into_iter();
                ahead.batch.next()
            }
            // Disconnected: the thread handed over every folder, or it
            // panicked, which is then this thread's panic too.
            Err(_) => {
                if let Some(worker) = ahead.worker.take() {
                    if let Err(panic) = worker.join() {
                        std::panic::resume_unwind(panic);
                    }
                }
                None
            }
        }
    }
}

impl<T: Persistence> Iterator for Records<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        loop {
            let item = self.next_bytes()?;
            self.left = self.left.saturating_sub(1);
            let (dir, bytes) = match item {
                Ok(found) => found,
                Err(e) => return Some(Err(e)),
            };
            match record_from_bytes::<T>(&self.store, &dir, None, bytes) {
                // A claim whose save never finished, or a folder with no record yet.
                Err(Error::NotFound { .. }) => continue,
                other => return Some(other),
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}
