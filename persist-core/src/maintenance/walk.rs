//! Finding every record folder of a store, and reading its `meta.json`.

use crate::backend::join;
use crate::error::{Error, Result};
use crate::key::{parse_number, split_record_dir_name};
use crate::meta::{Meta, META_FILE};
use crate::store::Store;

use super::visit_files;

/// One record folder of a store: a folder holding a `meta.json`.
///
/// `meta` is the parsed `meta.json`, or why it could not be read: a damaged
/// record is an entry too, never a failed listing.
///
/// ```
/// use persist_core::maintenance::walk;
/// use persist_core::Store;
/// let store = Store::memory();
/// for record in walk(&store)? {
///     println!("{} at {} ({} bytes)", record.name(), record.path, record.size);
/// }
/// # Ok::<(), persist_core::Error>(())
/// ```
#[derive(Debug)]
pub struct RecordEntry {
    /// The type's folder (`example`).
    pub type_dir: String,
    /// The key's folder name (`example-A00-1234.<32 hex>`).
    pub key_dir: String,
    /// The record folder in the store (`example/example-A00-1234.<hash>` or
    /// `…/<n>` for autoinc number `n`).
    pub path: String,
    /// The autoinc number, for a record in a numbered folder.
    pub number: Option<u64>,
    /// The parsed `meta.json`, or the error reading it (with record and path).
    pub meta: Result<Meta>,
    /// Bytes of every file in the record folder: `meta.json`, record files,
    /// extra files and any leftovers (not the numbered folders of other records).
    pub size: u64,
    /// Number of files counted in `size`.
    pub files: u64,
}

impl RecordEntry {
    /// The record's file name: the one in `meta.json`, or, if that cannot be
    /// read, the readable part of its folder name with the number.
    ///
    /// ```
    /// # use persist_core::maintenance::walk;
    /// # let store = persist_core::Store::memory();
    /// let names: Vec<String> = walk(&store)?.iter().map(|r| r.name()).collect();
    /// # Ok::<(), persist_core::Error>(())
    /// ```
    pub fn name(&self) -> String {
        match &self.meta {
            Ok(meta) => meta.name.clone(),
            Err(_) => self.folder_name(),
        }
    }

    /// The name as the folder shows it: the readable part of the key folder,
    /// then `-<n>` for a numbered record.
    ///
    /// ```
    /// # use persist_core::maintenance::walk;
    /// # let store = persist_core::Store::memory();
    /// for r in walk(&store)? { println!("{}", r.folder_name()); }
    /// # Ok::<(), persist_core::Error>(())
    /// ```
    pub fn folder_name(&self) -> String {
        let readable =
            split_record_dir_name(&self.key_dir).map_or(self.key_dir.as_str(), |(r, _)| r);
        match self.number {
            Some(n) => format!("{readable}-{n}"),
            None => readable.to_owned(),
        }
    }

    /// The record's `meta.json` in the store.
    ///
    /// ```
    /// # use persist_core::maintenance::walk;
    /// # let store = persist_core::Store::memory();
    /// for r in walk(&store)? { assert!(r.meta_path().ends_with("/meta.json")); }
    /// # Ok::<(), persist_core::Error>(())
    /// ```
    pub fn meta_path(&self) -> String {
        join(&[&self.path, META_FILE])
    }

    /// A file in the record folder.
    ///
    /// ```
    /// # use persist_core::maintenance::walk;
    /// # let store = persist_core::Store::memory();
    /// for r in walk(&store)? { println!("{}", r.file_path("files/notes.txt")); }
    /// # Ok::<(), persist_core::Error>(())
    /// ```
    pub fn file_path(&self, file: &str) -> String {
        join(&[&self.path, file])
    }
}

/// The type folders of a store, sorted: every top-level folder whose name does
/// not start with `.`.
///
/// ```
/// use persist_core::maintenance::type_dirs;
/// assert!(type_dirs(&persist_core::Store::memory())?.is_empty());
/// # Ok::<(), persist_core::Error>(())
/// ```
pub fn type_dirs(store: &Store) -> Result<Vec<String>> {
    let mut out: Vec<String> = store
        .backend()
        .list("")?
        .into_iter()
        .filter(|e| e.is_dir && !e.name.starts_with('.'))
        .map(|e| e.name)
        .collect();
    out.sort();
    Ok(out)
}

/// Every record of the store, sorted by type folder, key folder and number.
///
/// Reads each record's `meta.json` (not its record files). A folder that cannot
/// be listed is an error; a `meta.json` that does not parse is an entry whose
/// `meta` is the error.
///
/// ```
/// use persist_core::maintenance::walk;
/// let store = persist_core::Store::memory();
/// let damaged = walk(&store)?.into_iter().filter(|r| r.meta.is_err()).count();
/// assert_eq!(damaged, 0);
/// # Ok::<(), persist_core::Error>(())
/// ```
pub fn walk(store: &Store) -> Result<Vec<RecordEntry>> {
    let mut out = Vec::new();
    for t in type_dirs(store)? {
        out.extend(walk_type(store, &t)?);
    }
    Ok(out)
}

/// The records in one type folder, sorted by key folder and number.
///
/// ```
/// use persist_core::maintenance::walk_type;
/// assert!(walk_type(&persist_core::Store::memory(), "example")?.is_empty());
/// # Ok::<(), persist_core::Error>(())
/// ```
pub fn walk_type(store: &Store, type_dir: &str) -> Result<Vec<RecordEntry>> {
    let mut keys: Vec<String> = store
        .backend()
        .list(type_dir)?
        .into_iter()
        .filter(|e| e.is_dir && split_record_dir_name(&e.name).is_some())
        .map(|e| e.name)
        .collect();
    keys.sort();
    let mut out = Vec::new();
    for key_dir in keys {
        let key_path = join(&[type_dir, &key_dir]);
        let entries = store.backend().list(&key_path)?;
        if entries.iter().any(|e| e.name == META_FILE) {
            out.push(read_entry(store, type_dir, &key_dir, None)?);
        }
        let mut numbers: Vec<u64> = entries
            .iter()
            .filter(|e| e.is_dir)
            .filter_map(|e| parse_number(&e.name))
            .collect();
        numbers.sort_unstable();
        for n in numbers {
            let path = join(&[&key_path, &n.to_string()]);
            let listing = store.backend().list(&path)?;
            if listing.iter().any(|e| e.name == META_FILE) {
                out.push(read_entry(store, type_dir, &key_dir, Some(n))?);
            }
        }
    }
    Ok(out)
}

/// The record in the folder `path` of the store (`type/key folder` or
/// `type/key folder/n`; a trailing `/meta.json` is accepted).
/// [`Error::NotFound`] if the folder holds no `meta.json`, [`Error::InvalidKey`]
/// if the path cannot be a record folder.
///
/// ```
/// use persist_core::maintenance::record_at;
/// use persist_core::Error;
/// let store = persist_core::Store::memory();
/// let missing = record_at(&store, "example/example-A00.0123456789abcdef0123456789abcdef");
/// assert!(matches!(missing, Err(Error::NotFound { .. })));
/// assert!(matches!(record_at(&store, "example"), Err(Error::InvalidKey { .. })));
/// ```
pub fn record_at(store: &Store, path: &str) -> Result<RecordEntry> {
    let trimmed = path.trim_matches('/');
    let trimmed = trimmed
        .strip_suffix(META_FILE)
        .unwrap_or(trimmed)
        .trim_end_matches('/');
    let parts: Vec<&str> = trimmed.split('/').collect();
    let not_record = || Error::InvalidKey {
        record: String::new(),
        reason: format!(
            "`{path}` is not a record folder (expected <type>/<name>.<key hash>[/<n>])"
        ),
    };
    let (type_dir, key_dir, number) = match parts.as_slice() {
        [t, k] => (*t, *k, None),
        [t, k, n] => (*t, *k, Some(parse_number(n).ok_or_else(not_record)?)),
        _ => return Err(not_record()),
    };
    if split_record_dir_name(key_dir).is_none() || type_dir.is_empty() || type_dir.starts_with('.')
    {
        return Err(not_record());
    }
    let folder = match number {
        Some(n) => join(&[type_dir, key_dir, &n.to_string()]),
        None => join(&[type_dir, key_dir]),
    };
    let meta_path = join(&[&folder, META_FILE]);
    let present = store
        .backend()
        .list(&folder)?
        .iter()
        .any(|e| e.name == META_FILE);
    if !present {
        return Err(Error::NotFound {
            record: String::new(),
            path: store.backend().describe(&meta_path),
        });
    }
    read_entry(store, type_dir, key_dir, number)
}

/// Reads one record folder: its `meta.json` and the size of its files.
fn read_entry(
    store: &Store,
    type_dir: &str,
    key_dir: &str,
    number: Option<u64>,
) -> Result<RecordEntry> {
    let path = match number {
        Some(n) => join(&[type_dir, key_dir, &n.to_string()]),
        None => join(&[type_dir, key_dir]),
    };
    let mut entry = RecordEntry {
        type_dir: type_dir.to_owned(),
        key_dir: key_dir.to_owned(),
        path,
        number,
        meta: Err(Error::corrupt("not read")),
        size: 0,
        files: 0,
    };
    let name = entry.folder_name();
    let meta_path = entry.meta_path();
    let shown = store.backend().describe(&meta_path);
    entry.meta = Meta::read(store.backend(), &meta_path).map_err(|e| e.within(&name, &shown));
    let (files, size) = folder_usage(store, &entry.path, number.is_none())?;
    entry.files = files;
    entry.size = size;
    Ok(entry)
}

/// Files and bytes in a record folder; with `skip_numbers`, numbered
/// subfolders (other records under the same key) are not counted.
fn folder_usage(store: &Store, folder: &str, skip_numbers: bool) -> Result<(u64, u64)> {
    let (mut files, mut bytes) = (0, 0);
    for e in store.backend().list(folder)? {
        if e.is_dir {
            if skip_numbers && parse_number(&e.name).is_some() {
                continue;
            }
            visit_files(store, &join(&[folder, &e.name]), &mut |_, f| {
                files += 1;
                bytes += f.size;
            })?;
        } else {
            files += 1;
            bytes += e.size;
        }
    }
    Ok((files, bytes))
}
