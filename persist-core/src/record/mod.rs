//! The record layer: what a stored type is to the runtime.
//!
//! [`Record`] is the set of hooks `#[derive(Persistence)]` implements (the
//! schema, the key and data as JSON, the record fields type-erased, and the
//! way back from [`Parts`]). Beside it: [`RecordDir`], where a record of a
//! given key lives, [`Parts`], a stored record taken apart, and [`RecordOut`],
//! a `#[record]` field on its way to a file. The operations in `ops` are
//! generic over `T: Record`; the user-facing
//! [`Persistence`](crate::Persistence) trait sits above them.

mod dir;
mod out;
mod parts;

use serde_json::{Map, Value};

pub(crate) use dir::{file_name, type_dir};
pub use dir::{RecordDir, CLAIM_FILE, FILES_DIR};
pub use out::{record_out, RecordOut};
pub use parts::{AutoIncInt, Parts};

use crate::error::{BoxError, Error, Result};
use crate::schema::Schema;

/// The hooks of a stored type, implemented by `#[derive(Persistence)]` (never
/// by hand); every `Record` is a [`Persistence`](crate::Persistence).
///
/// Not public API: names and signatures change with the derive, which is
/// pinned to this exact version of the runtime.
pub trait Record: Sized {
    /// The type's name, version and fields.
    const __SCHEMA: &'static Schema;
    /// The key fields' canonical values, in schema order (the autoinc apart).
    fn __key(&self) -> Result<Vec<Value>>;
    /// The autoinc number, if the type has one and it is set.
    fn __autoinc(&self) -> Option<u64>;
    /// Sets the autoinc, failing if the number does not fit the field.
    fn __set_autoinc(&mut self, n: Option<u64>) -> Result<()>;
    /// The data fields' values, in schema order.
    fn __data(&self) -> Result<Vec<Value>>;
    /// The record fields, type-erased, in schema order.
    fn __records(&self) -> Vec<RecordOut<'_>>;
    /// Rebuilds the struct from a stored record.
    fn __from_parts(parts: &mut Parts) -> Result<Self>;
    /// Rewrites the `meta.json` of an older version (`#[persist(migrate)]`);
    /// without it, another version is an error.
    fn __migrate(from_version: u32, _meta: &mut Value) -> Result<()> {
        Err(Error::TypeMismatch {
            record: String::new(),
            path: String::new(),
            expected: format!(
                "version {} of `{}`",
                Self::__SCHEMA.version,
                Self::__SCHEMA.name
            ),
            found: format!(
                "a record saved with version {from_version} (add #[persist(migrate)] and implement persist_core::Migrate to convert it)"
            ),
        })
    }
    /// The type's own check of a loaded or computed value
    /// (`#[persist(validate)]` calls [`Validate`](crate::Validate)); without
    /// it, every value passes.
    fn __validate(&self) -> std::result::Result<(), BoxError> {
        Ok(())
    }
}

/// The key of a value as a map by field name.
pub(crate) fn key_map<T: Record>(value: &T) -> Result<Map<String, Value>> {
    let values = value.__key()?;
    Ok(T::__SCHEMA
        .keys
        .iter()
        .zip(values)
        .map(|(f, v)| (f.name.to_owned(), v))
        .collect())
}

/// The file name of a value (`example-A00-1234`).
pub(crate) fn filename<T: Record>(v: &T) -> String {
    match key_map(v) {
        Ok(key) => file_name(T::__SCHEMA, &key, v.__autoinc(), true),
        // A key with no canonical form still gets a readable name.
        Err(_) => format!("{}-<invalid key>", T::__SCHEMA.name),
    }
}

impl RecordDir {
    /// The folder of a value's record (number: its autoinc, possibly `None`).
    pub(crate) fn of<T: Record>(value: &T) -> Result<(RecordDir, Map<String, Value>)> {
        let key = key_map::<T>(value)?;
        Ok((
            RecordDir::for_key(T::__SCHEMA, &key, value.__autoinc()),
            key,
        ))
    }
}
