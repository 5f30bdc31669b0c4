//! The on-disk layout of a store, for tools that read a store without the
//! Rust types that wrote it (such as the `persist` command).
//!
//! ```text
//! <store>/<type>/<readable>.<key hash>/meta.json          a record without autoinc
//! <store>/<type>/<readable>.<key hash>/<n>/meta.json      autoinc number n of that key
//!                                     /<n>/.claim         the number is taken
//! <record folder>/<stem>-<uuid>.<ext>                     record files
//! <record folder>/<stem>-<uuid>.<ext>.zst (or .gz)        compressed record files
//! <record folder>/files/<name>                            extra files (save_file)
//! ```
//!
//! Paths are `/`-separated and relative to the store root, as a
//! [`Backend`](crate::backend::Backend) takes them. To find the record folders
//! themselves, use [`maintenance::walk`](crate::maintenance::walk); for the
//! folder of a known type and key, [`RecordDir`](crate::RecordDir).
//!
//! ```
//! use persist_core::layout;
//!
//! assert_eq!(layout::type_dir("example"), "example");
//! assert_eq!(layout::type_dir("my type/v2"), "my_type_v2");
//! let record = "example/example-A00.0123456789abcdef0123456789abcdef";
//! assert_eq!(layout::meta_path(record), format!("{record}/meta.json"));
//! assert_eq!(layout::extra_files_dir(record), format!("{record}/files"));
//! assert!(layout::is_record_file_name("data-0123.npy"));
//! assert!(!layout::is_record_file_name("../elsewhere.npy"));
//! ```

use crate::backend::join;
use crate::key::{sanitize, READABLE_MAX};

pub use crate::meta::META_FILE;
pub use crate::record::{CLAIM_FILE, FILES_DIR};

/// The folder name of a type, from its name (`#[persist(name)]`, or the
/// struct's name in snake case): the name with every character that is unsafe
/// in a file or object name replaced by `_`, cut to 200 bytes.
pub fn type_dir(type_name: &str) -> String {
    sanitize(type_name, READABLE_MAX).0
}

/// The `meta.json` of the record in folder `record_dir`.
pub fn meta_path(record_dir: &str) -> String {
    join(&[record_dir, META_FILE])
}

/// A record file of the record in folder `record_dir`, by the name its
/// `meta.json` gives ([`RecordFile::file`](crate::meta::RecordFile::file)).
///
/// Check the name with [`is_record_file_name`] first: a `meta.json` from
/// elsewhere may name any path.
pub fn record_file_path(record_dir: &str, file: &str) -> String {
    join(&[record_dir, file])
}

/// The folder of extra files (`save_file`) of the record in `record_dir`.
pub fn extra_files_dir(record_dir: &str) -> String {
    join(&[record_dir, FILES_DIR])
}

/// Whether `name` can be a record file that persist wrote: a plain file name
/// in the record's folder, not a path (`/`) and not hidden (a leading `.`, so
/// neither `..` nor bookkeeping such as [`CLAIM_FILE`]).
pub fn is_record_file_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('/') && !name.starts_with('.')
}
