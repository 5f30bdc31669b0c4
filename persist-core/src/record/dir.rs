//! [`RecordDir`]: the folder of one record, from its type and key.
//!
//! ```text
//! <store>/<type>/<readable>.<key hash>/meta.json          a record without autoinc
//! <store>/<type>/<readable>.<key hash>/<n>/meta.json      autoinc number n of that key
//!                                     /<n>/.claim         the number is taken
//! <record folder>/<stem>-<uuid>.<ext>                     record files
//! <record folder>/files/<name>                            extra files (save_file)
//! ```

use serde_json::{Map, Value};

use crate::backend::join;
use crate::key::{display_value, record_dir_name_of, sanitize, READABLE_MAX};
use crate::meta::META_FILE;
use crate::schema::Schema;

/// The file that marks an autoinc number as taken, in the number's folder.
pub const CLAIM_FILE: &str = ".claim";

/// The folder of extra files (`save_file`) in a record's folder.
pub const FILES_DIR: &str = "files";

/// Where one record lives, and its file name.
///
/// ```
/// use persist_core::RecordDir;
/// let dir = RecordDir::from_parts("example", "example-A00.0123456789abcdef0123456789abcdef", Some(3), "example-A00-3");
/// assert_eq!(dir.path(), "example/example-A00.0123456789abcdef0123456789abcdef/3");
/// assert_eq!(dir.meta_path(), "example/example-A00.0123456789abcdef0123456789abcdef/3/meta.json");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordDir {
    type_dir: String,
    key_dir: String,
    number: Option<u64>,
    /// The file name without the autoinc.
    base: String,
    name: String,
}

impl RecordDir {
    /// A record folder from its parts, as found in a listing.
    pub fn from_parts(type_dir: &str, key_dir: &str, number: Option<u64>, name: &str) -> RecordDir {
        RecordDir {
            type_dir: type_dir.to_owned(),
            key_dir: key_dir.to_owned(),
            number,
            base: name.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The folder of `key` (the autoinc apart) for a type, with `number` if the
    /// type has an autoinc.
    pub(crate) fn for_key(
        schema: &Schema,
        key: &Map<String, Value>,
        number: Option<u64>,
    ) -> RecordDir {
        let base = file_name(schema, key, None, false);
        let key_dir = record_dir_name_of(&base, key);
        // Without an autoinc field the name is the base.
        let name = match schema.autoinc {
            Some(_) => file_name(schema, key, number, true),
            None => base.clone(),
        };
        RecordDir {
            type_dir: type_dir(schema),
            key_dir,
            number,
            base,
            name,
        }
    }

    /// The same key with another number.
    pub(crate) fn with_number(&self, number: u64, schema: &Schema) -> RecordDir {
        let prefix = schema.autoinc.as_ref().map_or("", |a| a.prefix);
        RecordDir {
            number: Some(number),
            name: format!("{}-{prefix}{number}", self.base),
            ..self.clone()
        }
    }

    /// The record's file name (`example-A00-1234-3`; `*` for an unresolved number).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The autoinc number, if any.
    pub fn number(&self) -> Option<u64> {
        self.number
    }

    /// The type's folder (`example`).
    pub fn type_dir(&self) -> &str {
        &self.type_dir
    }

    /// The key's folder (`example/example-A00.<hash>`).
    pub fn key_path(&self) -> String {
        join(&[&self.type_dir, &self.key_dir])
    }

    /// The record's folder.
    pub fn path(&self) -> String {
        match self.number {
            Some(n) => join(&[&self.type_dir, &self.key_dir, &n.to_string()]),
            None => self.key_path(),
        }
    }

    /// The record's `meta.json`.
    pub fn meta_path(&self) -> String {
        join(&[&self.path(), META_FILE])
    }

    /// A file in the record's folder.
    pub fn file_path(&self, file: &str) -> String {
        join(&[&self.path(), file])
    }

    /// The folder of extra files.
    pub fn files_path(&self) -> String {
        join(&[&self.path(), FILES_DIR])
    }

    /// The autoinc claim of this number.
    pub fn claim_path(&self) -> String {
        join(&[&self.path(), CLAIM_FILE])
    }
}

/// The type's folder name.
pub(crate) fn type_dir(schema: &Schema) -> String {
    sanitize(schema.name, READABLE_MAX).0
}

/// The file name: the type name, each `#[filename]` value with its prefix, and
/// (with `with_number`) the autoinc or `*`, joined by `-`.
pub(crate) fn file_name(
    schema: &Schema,
    key: &Map<String, Value>,
    number: Option<u64>,
    with_number: bool,
) -> String {
    // The parts joined by `-`, written into one string: a save computes this
    // for every record.
    let mut name = String::with_capacity(64);
    name.push_str(schema.name);
    for field in schema.keys.iter().filter(|f| f.filename) {
        name.push('-');
        name.push_str(field.prefix);
        match key.get(field.name) {
            Some(Value::String(s)) => name.push_str(s),
            Some(other) => name.push_str(&display_value(other)),
            None => name.push('?'),
        }
    }
    if let (Some(auto), true) = (&schema.autoinc, with_number) {
        name.push('-');
        name.push_str(auto.prefix);
        match number {
            Some(n) => name.push_str(&n.to_string()),
            None => name.push('*'),
        }
    }
    name
}
