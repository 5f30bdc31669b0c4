//! Space used per type.

use crate::error::Result;
use crate::key::{parse_number, split_record_dir_name};
use crate::lease::is_lease_file;
use crate::meta::META_FILE;
use crate::store::Store;

use super::visit_files;
use super::walk::type_dirs;

/// The space one type takes in a store.
///
/// ```
/// use persist_core::maintenance::TypeUsage;
/// let u = TypeUsage { type_dir: "example".into(), records: 2, files: 5, bytes: 1024 };
/// assert_eq!(u.bytes, 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeUsage {
    /// The type's folder.
    pub type_dir: String,
    /// Records (folders with a `meta.json`).
    pub records: usize,
    /// Files of every kind under the type's folder (record files, `meta.json`,
    /// extra files, claims, leftovers).
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Records, files and bytes per type, sorted by type folder. Lists folders
/// only; no file is read.
///
/// ```
/// use persist_core::maintenance::du;
/// let store = persist_core::Store::memory();
/// let total: u64 = du(&store)?.iter().map(|t| t.bytes).sum();
/// assert_eq!(total, 0);
/// # Ok::<(), persist_core::Error>(())
/// ```
pub fn du(store: &Store) -> Result<Vec<TypeUsage>> {
    let mut out = Vec::new();
    for type_dir in type_dirs(store)? {
        let mut usage = TypeUsage {
            type_dir: type_dir.clone(),
            records: 0,
            files: 0,
            bytes: 0,
        };
        visit_files(store, &type_dir, &mut |path, entry| {
            // A lease is a computation in progress, not part of any record.
            if is_lease_file(&entry.name) {
                return;
            }
            usage.files += 1;
            usage.bytes += entry.size;
            if entry.name == META_FILE && is_record_meta(&type_dir, path) {
                usage.records += 1;
            }
        })?;
        out.push(usage);
    }
    Ok(out)
}

/// Whether `path` is the `meta.json` of a key folder or of a numbered folder
/// under one (not a file of the same name among extra files).
fn is_record_meta(type_dir: &str, path: &str) -> bool {
    let Some(rest) = path
        .strip_prefix(type_dir)
        .and_then(|r| r.strip_prefix('/'))
    else {
        return false;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [key, _meta] => split_record_dir_name(key).is_some(),
        [key, n, _meta] => split_record_dir_name(key).is_some() && parse_number(n).is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::join;

    #[test]
    fn record_meta_positions() {
        let key = "t-a.0123456789abcdef0123456789abcdef";
        assert!(is_record_meta("t", &join(&["t", key, META_FILE])));
        assert!(is_record_meta("t", &join(&["t", key, "3", META_FILE])));
        assert!(!is_record_meta("t", &join(&["t", key, "files", META_FILE])));
        assert!(!is_record_meta("t", &join(&["t", "plain", META_FILE])));
        assert!(!is_record_meta("t", &join(&["t", key, "03", META_FILE])));
    }
}
