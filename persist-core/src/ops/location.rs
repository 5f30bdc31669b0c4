//! A record's place as a string a program can print, keep and hand back:
//! `<type>/<key folder>[/<n>]`, relative to the store.

use crate::error::{Error, Result};
use crate::key::split_record_dir_name;
use crate::ops::read::{read_record, resolved_dir};
use crate::record::{type_dir, Record, RecordDir};
use crate::store::Store;

/// The store-relative folder of a value's record; [`Error::AutoIncUnresolved`]
/// if its autoinc is `None`.
pub(crate) fn location<T: Record>(value: &T) -> Result<String> {
    Ok(resolved_dir(value)?.path())
}

/// The record of type `T` at `location`.
pub(crate) fn load_location<T: Record>(store: &Store, location: &str) -> Result<T> {
    let dir = parse::<T>(location)?;
    read_record(store, &dir, None)
}

/// Checks a location string and makes it a [`RecordDir`] of `T`: plain
/// components only, `T`'s type folder, a key folder name, and a number exactly
/// when `T` has an autoinc field.
fn parse<T: Record>(location: &str) -> Result<RecordDir> {
    let schema = T::__SCHEMA;
    let bad = |why: &str| Error::InvalidKey {
        record: String::new(),
        reason: format!(
            "location `{location}` {why} (expected `<type>/<folder>[/<n>]`, as `location` gives)"
        ),
    };
    let plain = |c: &str| !c.is_empty() && c != "." && c != ".." && !c.contains(['\\', '\0']);
    let parts: Vec<&str> = location.split('/').collect();
    if !(2..=3).contains(&parts.len()) || !parts.iter().all(|c| plain(c)) {
        return Err(bad("is not a record's place"));
    }
    let (tdir, key_dir) = (parts[0], parts[1]);
    let expected = type_dir(schema);
    if tdir != expected {
        return Err(Error::TypeMismatch {
            record: String::new(),
            path: location.to_owned(),
            expected: format!("a record of type `{}`", schema.name),
            found: format!("the place of a `{tdir}` record"),
        });
    }
    let (readable, _) =
        split_record_dir_name(key_dir).ok_or_else(|| bad("has no record folder name"))?;
    let number = match parts.get(2) {
        None => None,
        Some(n) => Some(
            n.parse::<u64>()
                .ok()
                .filter(|v| v.to_string() == *n)
                .ok_or_else(|| bad("ends in something other than an autoinc number"))?,
        ),
    };
    let base = RecordDir::from_parts(tdir, key_dir, None, readable);
    match (&schema.autoinc, number) {
        (Some(_), Some(n)) => Ok(base.with_number(n, schema)),
        (None, None) => Ok(base),
        (Some(auto), None) => Err(Error::TypeMismatch {
            record: readable.to_owned(),
            path: location.to_owned(),
            expected: format!(
                "a `{}` run (a place ending in its `{}` number)",
                schema.name, auto.name
            ),
            found: "a place without a number".into(),
        }),
        (None, Some(_)) => Err(Error::TypeMismatch {
            record: readable.to_owned(),
            path: location.to_owned(),
            expected: format!("a `{}` record (no autoinc number)", schema.name),
            found: "a place ending in a number".into(),
        }),
    }
}
