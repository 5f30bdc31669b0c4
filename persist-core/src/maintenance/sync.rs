//! Copying records between stores (DVC's push and pull): a local folder and a
//! bucket, either way, or any two stores.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::backend::{join, Backend};
use crate::checksum::HashingWriter;
use crate::error::{Error, Result};
use crate::meta::{Meta, META_FILE};
use crate::ops::autoinc::claim_copied;
use crate::record::{CLAIM_FILE, FILES_DIR};
use crate::store::Store;

use super::walk::{walk, RecordEntry};

/// The `concurrency` of [`SyncOptions::default`]: records copied at once.
pub const DEFAULT_SYNC_CONCURRENCY: usize = 32;

/// How [`sync`] runs.
///
/// ```
/// use persist_core::maintenance::{SyncOptions, DEFAULT_SYNC_CONCURRENCY};
/// let opts = SyncOptions::default();
/// assert_eq!(opts.concurrency, DEFAULT_SYNC_CONCURRENCY);
/// assert!(!opts.dry_run);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncOptions {
    /// Records copied at the same time (at least 1). Over the network each
    /// copy waits mostly on round trips, so several at once go faster.
    pub concurrency: usize,
    /// Only report what would be copied; write nothing.
    pub dry_run: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            concurrency: DEFAULT_SYNC_CONCURRENCY,
            dry_run: false,
        }
    }
}

/// A record [`sync`] did not copy because the destination holds something
/// else under its name that it must not overwrite.
///
/// ```
/// use persist_core::maintenance::SyncConflict;
/// let c = SyncConflict { path: "run/run-a.0123/3".into(), reason: "taken".into() };
/// assert_eq!(c.to_string(), "run/run-a.0123/3: taken");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConflict {
    /// The record folder, the same in both stores.
    pub path: String,
    /// What the destination holds there.
    pub reason: String,
}

impl fmt::Display for SyncConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

/// A record [`sync`] could not copy: a damaged source record, a file whose
/// bytes do not match their blake3, an I/O error. The destination is left
/// without it (or with its previous version), never with part of it.
#[derive(Debug)]
pub struct SyncFailure {
    /// The record folder.
    pub path: String,
    /// Why (with the record and the file).
    pub error: Error,
}

impl fmt::Display for SyncFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.error)
    }
}

/// What [`sync`] did, or with `dry_run` would do.
///
/// ```
/// use persist_core::maintenance::SyncReport;
/// let report = SyncReport::default();
/// assert!(report.is_ok());
/// assert_eq!(report.to_string(), "0 copied (0 bytes), 0 up to date, 0 newer in the destination, 0 conflicts, 0 failed");
/// ```
#[derive(Debug, Default)]
pub struct SyncReport {
    /// Record folders copied: missing in the destination, or held there in an
    /// older version (replaced).
    pub copied: Vec<String>,
    /// Records the destination already holds with the same content.
    pub up_to_date: usize,
    /// Record folders the destination holds in a version saved later than the
    /// source's: left as they are.
    pub newer_in_destination: Vec<String>,
    /// Records not copied because the destination gives their place to other
    /// content (an autoinc number taken there by another run).
    pub conflicts: Vec<SyncConflict>,
    /// Records that could not be copied.
    pub failed: Vec<SyncFailure>,
    /// Bytes copied (record files, extra files and `meta.json`).
    pub bytes: u64,
}

impl SyncReport {
    /// Whether every record is now in the destination: nothing failed and no
    /// conflict.
    pub fn is_ok(&self) -> bool {
        self.conflicts.is_empty() && self.failed.is_empty()
    }
}

impl fmt::Display for SyncReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} copied ({} bytes), {} up to date, {} newer in the destination, {} conflicts, {} failed",
            self.copied.len(),
            self.bytes,
            self.up_to_date,
            self.newer_in_destination.len(),
            self.conflicts.len(),
            self.failed.len()
        )
    }
}

/// Where a [`sync`] is, passed to its progress callback after each record.
#[derive(Debug, Clone, Copy)]
pub struct SyncProgress<'a> {
    /// Records looked at so far (copied or not).
    pub records_done: usize,
    /// Records in the source.
    pub records_total: usize,
    /// Bytes copied so far.
    pub bytes_done: u64,
    /// The record just looked at (its folder).
    pub record: &'a str,
}

/// What one record needs.
enum Plan {
    UpToDate,
    NewerInDestination,
    Conflict(String),
    Copy,
}

/// Copies every record of `src` that `dst` lacks, or holds in an older
/// version, to `dst`, `concurrency` records at a time; `progress` is called
/// after each record, from the copying threads.
///
/// Each record is copied as a save writes one: its record files and extra
/// files first, each record file checked against the blake3 its `meta.json`
/// states while it streams, then `meta.json`, by atomic put. So `dst` never
/// holds part of a record: a sync killed half-way leaves the records it
/// finished, and files without a `meta.json` that `gc` removes; run again, it
/// copies only what is still missing.
///
/// `dst`'s type folders are listed once, first. A record whose key has no
/// folder there is copied without looking its `meta.json` up; where `dst`
/// can create an object whole only if absent
/// ([`Backend::create_is_atomic`]: memory, object storage), that `meta.json`
/// is so created, and a record another writer saved under the name since the
/// listing is compared as below, never replaced unseen. Elsewhere (the local
/// disk) each record's `meta.json` is looked up in `dst` just before its copy.
///
/// A record `dst` holds with the same content hash is up to date. One it holds
/// with other content is replaced if the source's was saved later, and left
/// (counted in [`SyncReport::newer_in_destination`]) if it was saved earlier.
/// An autoinc run is known by its number's `.claim`, which the copy keeps: if
/// `dst` gives the number to another run, the record is a
/// [`conflict`](SyncReport::conflicts), never overwritten; copied into a local
/// store, the key's counter moves past the number, so the next run there gets a
/// fresh one.
///
/// Damaged source records and copies that fail are in
/// [`SyncReport::failed`]; the call itself fails only if `src` cannot be
/// listed.
///
/// ```
/// use persist_core::maintenance::{sync, SyncOptions};
/// use persist_core::{Persistence, Store};
///
/// #[derive(Persistence)]
/// struct Run { #[key] name: String, loss: f64 }
///
/// let laptop = Store::memory();
/// let bucket = Store::memory(); // Store::open_url("s3://team/results")? in practice
/// Run { name: "a".into(), loss: 0.5 }.save(&laptop)?;
///
/// let report = sync(&laptop, &bucket, &SyncOptions::default(), |_| {})?;
/// assert_eq!(report.copied.len(), 1);
/// assert_eq!(Run::new("a").load(&bucket)?.loss, 0.5);
///
/// let again = sync(&laptop, &bucket, &SyncOptions::default(), |_| {})?;
/// assert_eq!((again.copied.len(), again.up_to_date), (0, 1));
/// # Ok::<(), persist_core::Error>(())
/// ```
pub fn sync(
    src: &Store,
    dst: &Store,
    opts: &SyncOptions,
    progress: impl Fn(&SyncProgress<'_>) + Sync,
) -> Result<SyncReport> {
    if !opts.dry_run {
        dst.check_writable("", &dst.backend().describe(""))?;
    }
    let records = walk(src)?;
    let listed = if opts.dry_run || dst.backend().create_is_atomic() {
        key_dirs(dst, &records)
    } else {
        HashMap::new()
    };
    let total = records.len();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let bytes = AtomicU64::new(0);
    let report = Mutex::new(SyncReport::default());
    let slots: Vec<Mutex<Option<RecordEntry>>> =
        records.into_iter().map(|r| Mutex::new(Some(r))).collect();
    let worker = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = slots.get(i) else { break };
        let Some(record) = slot.lock().ok().and_then(|mut s| s.take()) else {
            continue;
        };
        let path = record.path.clone();
        let absent = listed
            .get(record.type_dir.as_str())
            .is_some_and(|keys| !keys.contains(record.key_dir.as_str()));
        let outcome = sync_record(src, dst, record, opts.dry_run, absent);
        if let Ok(mut report) = report.lock() {
            match outcome {
                Ok((Plan::UpToDate, _)) => report.up_to_date += 1,
                Ok((Plan::NewerInDestination, _)) => report.newer_in_destination.push(path.clone()),
                Ok((Plan::Conflict(reason), _)) => report.conflicts.push(SyncConflict {
                    path: path.clone(),
                    reason,
                }),
                Ok((Plan::Copy, n)) => {
                    report.copied.push(path.clone());
                    report.bytes += n;
                    bytes.fetch_add(n, Ordering::Relaxed);
                }
                Err(error) => report.failed.push(SyncFailure {
                    path: path.clone(),
                    error,
                }),
            }
        }
        progress(&SyncProgress {
            records_done: done.fetch_add(1, Ordering::Relaxed) + 1,
            records_total: total,
            bytes_done: bytes.load(Ordering::Relaxed),
            record: &path,
        });
    };
    let threads = opts.concurrency.clamp(1, total.max(1));
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(worker);
        }
        worker();
    });
    let mut report = report
        .into_inner()
        .map_err(|_| Error::corrupt("a sync thread panicked"))?;
    report.copied.sort();
    report.newer_in_destination.sort();
    report.conflicts.sort_by(|a, b| a.path.cmp(&b.path));
    report.failed.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(report)
}

/// The key folders `dst` holds in each type folder of `records`: one listing
/// of each type folder, so that a record whose key has no folder there is
/// copied without first asking for its `meta.json` (a miss, one request per
/// record in object storage). A type folder that cannot be listed is left
/// out: its records are looked up one by one, which reports the error.
fn key_dirs(dst: &Store, records: &[RecordEntry]) -> HashMap<String, HashSet<String>> {
    let mut out = HashMap::new();
    for record in records {
        if out.contains_key(&record.type_dir) {
            continue;
        }
        if let Ok(keys) = dst.backend().list_dirs(&record.type_dir) {
            out.insert(record.type_dir.clone(), keys.into_iter().collect());
        }
    }
    out
}

/// The record [`sync_record`] is copying, as the steps after the walk need it.
struct Job<'a> {
    /// The record folder, the same in both stores.
    path: &'a str,
    /// The record's name, for errors.
    name: &'a str,
    number: Option<u64>,
    /// Whether the source folder may hold extra files (worth a listing).
    extra: bool,
}

/// Looks at one record and, unless `dry_run`, copies it if it needs copying;
/// the bytes copied come with the plan. `absent`: the destination had no
/// folder for the record's key when it was listed.
fn sync_record(
    src: &Store,
    dst: &Store,
    record: RecordEntry,
    dry_run: bool,
    absent: bool,
) -> Result<(Plan, u64)> {
    let name = record.name();
    let meta = record.meta.map_err(|e| e.in_record(&name))?;
    // The walk counted the folder's files: only more than meta.json, the
    // record files and the claim can be extra files, worth a listing.
    let expected = 1 + meta.records.len() as u64 + u64::from(record.number.is_some());
    let job = Job {
        path: &record.path,
        name: &name,
        number: record.number,
        extra: record.files > expected,
    };
    if absent {
        sync_new(src, dst, &job, &meta, dry_run)
    } else {
        sync_checked(src, dst, &job, &meta, dry_run)
    }
}

/// A record whose key the destination had no folder for: nothing there to
/// compare with, so nothing is read there. Its `meta.json` is created rather
/// than put, so that a record another writer saved under the name since the
/// listing is found and compared as [`sync_checked`] would, never replaced
/// unseen.
fn sync_new(
    src: &Store,
    dst: &Store,
    job: &Job<'_>,
    meta: &Meta,
    dry_run: bool,
) -> Result<(Plan, u64)> {
    if dry_run {
        return Ok((Plan::Copy, 0));
    }
    if let Some(n) = job.number {
        // The claim's create decides, as in `sync_checked`, whether the number
        // is this run's in the destination.
        let body = claim_body(src.backend(), job.path, meta)?;
        if !claim_copied(dst, key_path(job.path), n, &body).map_err(|e| e.in_record(job.name))? {
            return Ok((Plan::Conflict(number_taken(n)), 0));
        }
    }
    let copied = copy_files(src, dst, job).map_err(|e| e.in_record(job.name))?;
    let meta_path = join(&[job.path, META_FILE]);
    match dst
        .backend()
        .create(&meta_path, &copied.meta_bytes, dst.is_durable())
    {
        Ok(true) => Ok((Plan::Copy, copied.bytes)),
        // Saved there since the listing, or a store without create-only
        // writes: decide as for a record the destination holds. The files
        // just copied are the source's, under the source's names; if the
        // destination keeps its own version they are leftovers `gc` removes.
        Ok(false) | Err(Error::Unsupported { .. }) => {
            let held = held_meta(dst, &meta_path).map_err(|e| e.in_record(job.name))?;
            if let Some(held) = &held {
                match versus(&copied.meta, held) {
                    Plan::Copy => {}
                    plan => return Ok((plan, 0)),
                }
            }
            put_meta(dst, &meta_path, &copied.meta_bytes, job.name)?;
            Ok((Plan::Copy, copied.bytes))
        }
        Err(e) => Err(e.in_record(job.name)),
    }
}

/// A record whose key the destination has a folder for (or whose folders
/// were not listed): its `meta.json` there, if any, decides.
fn sync_checked(
    src: &Store,
    dst: &Store,
    job: &Job<'_>,
    meta: &Meta,
    dry_run: bool,
) -> Result<(Plan, u64)> {
    let meta_path = join(&[job.path, META_FILE]);
    let held = held_meta(dst, &meta_path).map_err(|e| e.in_record(job.name))?;
    if held
        .as_ref()
        .is_some_and(|h| h.content_hash == meta.content_hash)
    {
        return Ok((Plan::UpToDate, 0));
    }
    // An autoinc number is one run's: the copy may only go where the
    // destination's claim is the same run's, or where there is none.
    let claim = match job.number {
        Some(n) => {
            let body = claim_body(src.backend(), job.path, meta)?;
            let there = read_if_present(dst.backend(), &join(&[job.path, CLAIM_FILE]))?;
            if there.as_ref().is_some_and(|t| *t != body) {
                return Ok((Plan::Conflict(number_taken(n)), 0));
            }
            Some((n, body))
        }
        None => None,
    };
    if let Some(held) = &held {
        match versus(meta, held) {
            Plan::Copy => {}
            plan => return Ok((plan, 0)),
        }
    }
    if dry_run {
        return Ok((Plan::Copy, 0));
    }
    if let Some((n, body)) = claim {
        if !claim_copied(dst, key_path(job.path), n, &body).map_err(|e| e.in_record(job.name))? {
            return Ok((Plan::Conflict(number_taken(n)), 0));
        }
    }
    let copied = copy_files(src, dst, job).map_err(|e| e.in_record(job.name))?;
    put_meta(dst, &meta_path, &copied.meta_bytes, job.name)?;
    Ok((Plan::Copy, copied.bytes))
}

/// The `meta.json` the destination holds at `meta_path`, if any. A damaged
/// one counts as none: the record is replaced, as a save would.
fn held_meta(dst: &Store, meta_path: &str) -> Result<Option<Meta>> {
    match Meta::read(dst.backend(), meta_path) {
        Ok(held) => Ok(Some(held)),
        Err(Error::NotFound { .. } | Error::Corrupt { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What a record needs where the destination holds `held` under its name:
/// nothing if the content is the same; else the version saved later wins,
/// and two different versions saved in the same second are a conflict.
fn versus(meta: &Meta, held: &Meta) -> Plan {
    if held.content_hash == meta.content_hash {
        return Plan::UpToDate;
    }
    match meta.saved_at.cmp(&held.saved_at) {
        std::cmp::Ordering::Less => Plan::NewerInDestination,
        std::cmp::Ordering::Equal => Plan::Conflict(format!(
            "the destination holds other content saved at the same time ({})",
            held.saved_at
        )),
        std::cmp::Ordering::Greater => Plan::Copy,
    }
}

/// The key folder of a numbered record folder.
fn key_path(record_path: &str) -> &str {
    record_path.rsplit_once('/').map_or("", |(key, _)| key)
}

fn number_taken(n: u64) -> String {
    format!("the destination gives autoinc number {n} to another run")
}

/// The source run's claim bytes; a record copied without its claim (a store
/// assembled by hand) is known by its content instead.
fn claim_body(src: &dyn Backend, record_path: &str, meta: &Meta) -> Result<Vec<u8>> {
    Ok(
        read_if_present(src, &join(&[record_path, CLAIM_FILE]))?.unwrap_or_else(|| {
            format!("{{\"content_hash\": \"{}\"}}\n", meta.content_hash).into_bytes()
        }),
    )
}

fn read_if_present(backend: &dyn Backend, path: &str) -> Result<Option<Vec<u8>>> {
    match backend.read_all(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A record's files in the destination, its `meta.json` not yet written.
struct Copied {
    /// The source's `meta.json` the files were copied by, parsed and as bytes.
    meta: Meta,
    meta_bytes: Vec<u8>,
    /// Bytes copied, `meta.json` included.
    bytes: u64,
}

/// Copies one record's files as the source holds them now (and its extra
/// files, if `job.extra`), each record file checked against its blake3; the
/// caller writes `meta.json` after them.
fn copy_files(src: &Store, dst: &Store, job: &Job<'_>) -> Result<Copied> {
    let (from, to, durable) = (src.backend(), dst.backend(), dst.is_durable());
    let (record_path, name) = (job.path, job.name);
    // The meta.json read now names the files copied: if a save replaced the
    // record since the walk, this copies the new version whole.
    let meta_path = join(&[record_path, META_FILE]);
    let meta_bytes = from.read_all(&meta_path)?;
    let meta = Meta::parse(&meta_bytes).map_err(|e| e.within(name, &from.describe(&meta_path)))?;
    to.make_dir(record_path, durable)?;
    let mut bytes = meta_bytes.len() as u64;
    for file in meta.records.values() {
        let path = join(&[record_path, &file.file]);
        let mut source = from.get(&path)?;
        to.put(&path, durable, &mut |w| {
            let mut hashing = HashingWriter::new(w);
            io::copy(&mut source, &mut hashing)
                .map_err(|e| Error::io(e).within(name, &from.describe(&path)))?;
            let (found, size) = hashing.finish();
            if found != file.blake3 || size != file.size {
                // Failing the put leaves nothing under the name.
                return Err(Error::Integrity {
                    record: name.to_owned(),
                    path: from.describe(&path),
                    expected: format!("{} ({} bytes)", file.blake3, file.size),
                    found: format!("{found} ({size} bytes)"),
                });
            }
            Ok(())
        })?;
        bytes += file.size;
    }
    let files_dir = join(&[record_path, FILES_DIR]);
    let extra_files = if job.extra {
        from.list(&files_dir)?
    } else {
        Vec::new()
    };
    for entry in extra_files {
        if entry.is_dir {
            continue;
        }
        let path = join(&[&files_dir, &entry.name]);
        let mut source = from.get(&path)?;
        to.put(&path, durable, &mut |w| {
            io::copy(&mut source, w)
                .map_err(|e| Error::io(e).within(name, &from.describe(&path)))?;
            Ok(())
        })?;
        bytes += entry.size;
    }
    Ok(Copied {
        meta,
        meta_bytes,
        bytes,
    })
}

/// Writes a record's `meta.json` in the destination, replacing what is there.
fn put_meta(dst: &Store, meta_path: &str, bytes: &[u8], name: &str) -> Result<()> {
    let to = dst.backend();
    to.put(meta_path, dst.is_durable(), &mut |w| {
        w.write_all(bytes)
            .map_err(|e| Error::io(e).within(name, &to.describe(meta_path)))
    })
    .map_err(|e| e.in_record(name))
}
