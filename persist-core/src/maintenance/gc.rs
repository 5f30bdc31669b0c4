//! Removing what interrupted saves left behind, and nothing else.

use std::collections::BTreeSet;
use std::fmt;
use std::time::{Duration, SystemTime};

use crate::backend::local::{self, TEMP_PREFIX};
use crate::backend::{join, Entry};
use crate::error::{Error, Result};
use crate::key::{parse_number, split_record_dir_name};
use crate::lease::{is_lease_file, stated_ttl};
use crate::meta::{Meta, META_FILE};
use crate::record::{CLAIM_FILE, FILES_DIR};
use crate::store::Store;

use super::walk::type_dirs;

/// The `min_age` of [`GcOptions::default`]: one hour. Nothing written more
/// recently is touched, so a save in progress is never disturbed.
pub const DEFAULT_MIN_AGE: Duration = Duration::from_secs(3600);

/// How [`gc`] runs.
///
/// ```
/// use persist_core::maintenance::{GcOptions, DEFAULT_MIN_AGE};
/// let opts = GcOptions::default();
/// assert!(!opts.dry_run);
/// assert_eq!(opts.min_age, DEFAULT_MIN_AGE);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcOptions {
    /// Only report what would be removed.
    pub dry_run: bool,
    /// Files written less than this long ago are left alone (and counted in
    /// [`GcReport::young`]). `Duration::ZERO` takes everything, which is only
    /// safe when no process is writing to the store.
    pub min_age: Duration,
}

impl Default for GcOptions {
    fn default() -> Self {
        GcOptions {
            dry_run: false,
            min_age: DEFAULT_MIN_AGE,
        }
    }
}

/// Why a file is a leftover.
///
/// ```
/// use persist_core::maintenance::LeftoverKind;
/// assert_eq!(LeftoverKind::TempFile.to_string(), "temporary file");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum LeftoverKind {
    /// A `.tmp-*` file of a write that never finished.
    TempFile,
    /// A record file the record's `meta.json` does not name: replaced by a newer
    /// save, or written by a save that died before its `meta.json`.
    Superseded,
    /// A file in a folder with no `meta.json`: a save that died before its
    /// record became visible. For an autoinc number, its `.claim` is kept.
    Unfinished,
    /// A lease (or takeover claim) of a `load_or_compute` whose holder
    /// stopped renewing it more than its time to live ago: the holder died.
    ExpiredLease,
}

impl fmt::Display for LeftoverKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LeftoverKind::TempFile => "temporary file",
            LeftoverKind::Superseded => "superseded record file",
            LeftoverKind::Unfinished => "file of an unfinished save",
            LeftoverKind::ExpiredLease => "expired lease",
        })
    }
}

/// One file [`gc`] removed, would remove, or left because it is too young.
///
/// ```
/// use persist_core::maintenance::{Leftover, LeftoverKind};
/// let l = Leftover { path: "t/k/.tmp-1".into(), bytes: 3, kind: LeftoverKind::TempFile };
/// assert_eq!(l.kind.to_string(), "temporary file");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// The file in the store.
    pub path: String,
    /// Its size.
    pub bytes: u64,
    /// Why it is a leftover.
    pub kind: LeftoverKind,
}

/// What [`gc`] did (or, with `dry_run`, would do).
///
/// ```
/// use persist_core::maintenance::{gc, GcOptions};
/// let report = gc(&persist_core::Store::memory(), &GcOptions::default())?;
/// assert!(report.leftovers.is_empty() && report.failed.is_empty());
/// assert_eq!(report.bytes(), 0);
/// # Ok::<(), persist_core::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct GcReport {
    /// Whether this was a dry run (nothing removed).
    pub dry_run: bool,
    /// The leftovers removed (or that would be), sorted by path.
    pub leftovers: Vec<Leftover>,
    /// Leftovers younger than `min_age`, left alone: possibly a save in progress.
    pub young: Vec<Leftover>,
    /// Record folders whose files were left alone because their `meta.json`
    /// cannot be read (so which files it names is unknown), with the reason.
    pub skipped: Vec<(String, Error)>,
    /// Leftovers whose removal failed, with the error.
    pub failed: Vec<(Leftover, Error)>,
}

impl GcReport {
    /// Bytes of [`leftovers`](GcReport::leftovers).
    ///
    /// ```
    /// assert_eq!(persist_core::maintenance::GcReport::default().bytes(), 0);
    /// ```
    pub fn bytes(&self) -> u64 {
        self.leftovers.iter().map(|l| l.bytes).sum()
    }
}

/// Finds and removes what interrupted saves left behind:
///
/// * `.tmp-*` files (in-flight writes of the local backend),
/// * record files that the `meta.json` of their folder does not name
///   (superseded versions, files of a save that died before its `meta.json`),
/// * files in key or number folders without a `meta.json` (unfinished saves;
///   an autoinc number's `.claim` is kept, so the number is never given again),
/// * leases of `load_or_compute` not renewed for longer than their time to
///   live (their holder died; a live lease is renewed every third of it).
///
/// Never touched: a whole record (its `meta.json` and every file it names),
/// claims, extra files (`files/`), folders persist does not know, files in a
/// folder whose `meta.json` cannot be read, and anything written less than
/// `min_age` ago (a save in progress) or whose time the backend does not know.
/// Folders are left in place, even when empty.
///
/// ```
/// use persist_core::maintenance::{gc, GcOptions};
/// use std::time::Duration;
/// let store = persist_core::Store::memory();
/// let preview = gc(&store, &GcOptions { dry_run: true, ..GcOptions::default() })?;
/// for l in &preview.leftovers {
///     println!("would remove {} ({}, {} bytes)", l.path, l.kind, l.bytes);
/// }
/// let done = gc(&store, &GcOptions { dry_run: false, min_age: Duration::from_secs(600) })?;
/// # Ok::<(), persist_core::Error>(())
/// ```
pub fn gc(store: &Store, options: &GcOptions) -> Result<GcReport> {
    if !options.dry_run {
        store.check_writable("", "")?;
    }
    let mut gc = Gc {
        store,
        options,
        now: SystemTime::now(),
        report: GcReport {
            dry_run: options.dry_run,
            ..GcReport::default()
        },
    };
    for entry in store.backend().list("")? {
        gc.temp_file("", &entry);
    }
    for type_dir in type_dirs(store)? {
        for entry in store.backend().list(&type_dir)? {
            if entry.is_dir && split_record_dir_name(&entry.name).is_some() {
                gc.record_folder(&join(&[&type_dir, &entry.name]), true)?;
            } else {
                gc.temp_file(&type_dir, &entry);
            }
        }
    }
    let mut report = gc.report;
    report.leftovers.sort_by(|a, b| a.path.cmp(&b.path));
    report.young.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(report)
}

struct Gc<'a> {
    store: &'a Store,
    options: &'a GcOptions,
    now: SystemTime,
    report: GcReport,
}

impl Gc<'_> {
    /// Whether a file was last written (or given its name) at least `min_age` ago.
    fn old_enough(&self, path: &str, entry: &Entry) -> bool {
        if self.options.min_age.is_zero() {
            return true;
        }
        match self.changed(path, entry) {
            // A time in the future (clock skew) is young.
            Some(t) => self
                .now
                .duration_since(t)
                .is_ok_and(|age| age >= self.options.min_age),
            None => false,
        }
    }

    /// When a file last changed. On a local disk that is the later of its
    /// modification and status-change times: a save links an unchanged record
    /// file under a new name, which keeps the old modification time but sets
    /// the change time, and such a file must count as young as any other
    /// file of a save in progress.
    fn changed(&self, path: &str, entry: &Entry) -> Option<SystemTime> {
        match self.store.backend().local_path(path) {
            Some(local) => local::changed_at(&local),
            None => entry.modified,
        }
    }

    /// Removes (or records) one leftover.
    fn take(&mut self, folder: &str, entry: &Entry, kind: LeftoverKind) {
        let leftover = Leftover {
            path: join(&[folder, &entry.name]),
            bytes: entry.size,
            kind,
        };
        if !self.old_enough(&leftover.path, entry) {
            self.report.young.push(leftover);
            return;
        }
        if !self.options.dry_run {
            if let Err(e) = self.store.backend().delete(&leftover.path) {
                self.report.failed.push((leftover, e));
                return;
            }
        }
        self.report.leftovers.push(leftover);
    }

    /// A `.tmp-*` file in `folder` is a leftover; anything else is left alone.
    fn temp_file(&mut self, folder: &str, entry: &Entry) {
        if !entry.is_dir && entry.name.starts_with(TEMP_PREFIX) {
            self.take(folder, entry, LeftoverKind::TempFile);
        }
    }

    /// A key folder (`key`) or a numbered folder under one.
    fn record_folder(&mut self, folder: &str, key: bool) -> Result<()> {
        let entries = self.store.backend().list(folder)?;
        let has_meta = entries.iter().any(|e| e.name == META_FILE);
        // The files the record's meta.json names; None if it has no meta.json.
        let named: Option<BTreeSet<String>> = if has_meta {
            match self.named_files(folder) {
                Ok(named) => Some(named),
                Err(e) => {
                    self.report.skipped.push((folder.to_owned(), e));
                    // Still look after temp files and the numbered folders below.
                    for entry in &entries {
                        if entry.is_dir {
                            self.subfolder(folder, entry, key)?;
                        } else {
                            self.temp_file(folder, entry);
                        }
                    }
                    return Ok(());
                }
            }
        } else {
            None
        };
        for entry in &entries {
            if entry.is_dir {
                self.subfolder(folder, entry, key)?;
                continue;
            }
            let name = entry.name.as_str();
            if name.starts_with(TEMP_PREFIX) {
                self.take(folder, entry, LeftoverKind::TempFile);
            } else if is_lease_file(name) {
                self.lease(folder, entry);
            } else if name == META_FILE || name == CLAIM_FILE || name.starts_with('.') {
                // The record itself, the number ledger, or nothing persist wrote.
            } else {
                match &named {
                    Some(named) if named.contains(name) => {}
                    Some(_) => self.take(folder, entry, LeftoverKind::Superseded),
                    None => self.take(folder, entry, LeftoverKind::Unfinished),
                }
            }
        }
        Ok(())
    }

    /// A lease is a leftover once it went unrenewed for longer than the time
    /// to live it states (and `min_age`); a live one is renewed long before.
    fn lease(&mut self, folder: &str, entry: &Entry) {
        let path = join(&[folder, &entry.name]);
        let ttl = match self.store.backend().read_all(&path) {
            // An unreadable lease expires as a waiter on this store sees it.
            Ok(bytes) => stated_ttl(&bytes, self.store.lease_time()),
            // Gone since the listing: its holder let go.
            Err(_) => return,
        };
        let unrenewed = self
            .changed(&path, entry)
            .and_then(|t| self.now.duration_since(t).ok());
        if unrenewed.is_some_and(|age| age > ttl) {
            self.take(folder, entry, LeftoverKind::ExpiredLease);
        }
    }

    /// Subfolders of a record folder: numbered records under a key, and the
    /// extra files folder (only its temp files are leftovers).
    fn subfolder(&mut self, folder: &str, entry: &Entry, key: bool) -> Result<()> {
        let path = join(&[folder, &entry.name]);
        if key && parse_number(&entry.name).is_some() {
            self.record_folder(&path, false)
        } else if entry.name == FILES_DIR {
            for e in self.store.backend().list(&path)? {
                self.temp_file(&path, &e);
            }
            Ok(())
        } else {
            Ok(())
        }
    }

    /// The record file names a folder's `meta.json` names.
    fn named_files(&self, folder: &str) -> Result<BTreeSet<String>> {
        let meta_path = join(&[folder, META_FILE]);
        let shown = self.store.backend().describe(&meta_path);
        let meta =
            Meta::read(self.store.backend(), &meta_path).map_err(|e| e.within("", &shown))?;
        Ok(meta.records.into_values().map(|f| f.file).collect())
    }
}
