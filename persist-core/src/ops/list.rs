//! Listing records: every number of a key, and every record of a type, read
//! one at a time (a second thread reading `meta.json` files ahead when there
//! are many).

use std::marker::PhantomData;

use crate::error::{Error, Result};
use crate::key::split_record_dir_name;
use crate::ops::autoinc;
use crate::ops::read::{read_meta_bytes, read_record, record_from_bytes};
use crate::record::{type_dir, Record, RecordDir};
use crate::schema::Schema;
use crate::store::Store;

pub(crate) fn load_all<T: Record>(value: &T, store: &Store) -> Result<Vec<T>> {
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
pub(crate) fn record_dirs(store: &Store, schema: &Schema) -> Result<Vec<Result<RecordDir>>> {
    record_dirs_where(store, schema, &|_| true)
}

/// [`record_dirs`] of the key folders `keep` accepts (by their base
/// `RecordDir`, before any autoinc number is listed), so a query never lists
/// the numbers of a key its file name already rules out.
pub(crate) fn record_dirs_where(
    store: &Store,
    schema: &Schema,
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

pub(crate) fn all<T: Record>(store: &Store) -> Result<Records<T>> {
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
            let mut dirs = dirs.unwrap_or_default().into_iter();
            loop {
                let chunk: Vec<_> = dirs.by_ref().take(PREFETCH_BATCH).collect();
                if chunk.is_empty() {
                    return;
                }
                // A batch's files read at once, which object storage overlaps.
                let paths: Vec<String> = chunk
                    .iter()
                    .filter_map(|dir| dir.as_ref().ok().map(RecordDir::meta_path))
                    .collect();
                let mut read = store.backend().read_each(&paths).into_iter();
                let batch: Vec<Prefetched> = chunk
                    .into_iter()
                    .map(|dir| {
                        dir.map(|dir| {
                            let bytes =
                                read.next().unwrap_or_else(|| read_meta_bytes(&store, &dir));
                            (dir, bytes)
                        })
                    })
                    .collect();
                // The iterator was dropped: stop.
                if tx.send(batch).is_err() {
                    return;
                }
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
/// [`Persistence::all`](crate::Persistence::all)). A damaged record is an `Err` item; the iteration goes
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

impl<T: Record> Iterator for Records<T> {
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
