//! What generated code calls. Not public API: names and signatures here change
//! with the derive, which is pinned to this exact version of the runtime.

use std::io::Write;

use serde::Serialize;

pub use serde_json::Value;
pub use std::clone::Clone;
pub use std::convert::Into;
pub use std::default::Default;
pub use std::fmt;
pub use std::marker::PhantomData;
pub use std::option::Option::{self, None, Some};
pub use std::result::Result::{self, Err, Ok};
pub use std::string::String;
pub use std::vec;
pub use std::vec::Vec;

pub use crate::parts::Parts;
pub use crate::schema::{AutoIncField, KeyField, RecordField, Schema};

use crate::error::{Error, Result as PResult};
use crate::format::Storable;
use crate::key::{invalid_key, key_field_value};
use crate::lazy::Lazy;
use crate::persistence::Persistence;
use crate::record_dir::{file_name, RecordDir};
use crate::record_file::RecordFileRef;
use crate::store::Store;

/// The integer types an `#[autoinc]` field may hold.
pub trait AutoIncInt: Copy {
    /// Widens to `u64`.
    fn to_u64(self) -> u64;
    /// Narrows from `u64`, `None` if it does not fit.
    fn from_u64(n: u64) -> Option<Self>;
}

macro_rules! autoinc_int {
    ($($t:ty),*) => {$(
        impl AutoIncInt for $t {
            fn to_u64(self) -> u64 {
                self as u64
            }
            fn from_u64(n: u64) -> Option<Self> {
                <$t>::try_from(n).ok()
            }
        }
    )*};
}
autoinc_int!(u32, u64, usize);

/// A key field's canonical value.
pub fn key_value<T: Serialize + ?Sized>(field: &str, v: &T) -> PResult<Value> {
    key_field_value(field, v)
}

/// A data field's value as stored in `meta.json`.
pub fn data_value<T: Serialize + ?Sized>(field: &str, v: &T) -> PResult<Value> {
    crate::key::to_canonical_value(v).map_err(|reason| Error::InvalidData {
        record: String::new(),
        reason: format!("data field `{field}`: {reason}; JSON cannot hold it (use an Option or a #[record] field)"),
    })
}

/// A query filter: `None` matches anything.
pub fn filter_value<T: Serialize>(field: &str, v: &Option<T>) -> PResult<Option<Value>> {
    v.as_ref().map(|v| key_field_value(field, v)).transpose()
}

/// The autoinc as `u64`.
pub fn autoinc_get<T: AutoIncInt>(v: &Option<T>) -> Option<u64> {
    v.map(AutoIncInt::to_u64)
}

/// Sets the autoinc from a `u64`, failing if it does not fit the field's type.
pub fn autoinc_set<T: AutoIncInt>(v: &mut Option<T>, n: Option<u64>) -> PResult<()> {
    *v = match n {
        None => None,
        Some(n) => Some(T::from_u64(n).ok_or_else(|| {
            invalid_key(
                "autoinc",
                format!("number {n} does not fit in {}", std::any::type_name::<T>()),
            )
        })?),
    };
    Ok(())
}

/// The file name of a value (`example-A00-1234`).
pub fn filename<T: Persistence>(v: &T) -> String {
    match crate::record_dir::key_map(v) {
        Ok(key) => file_name(T::__SCHEMA, &key, v.__autoinc(), true),
        // A key with no canonical form still gets a readable name.
        Err(_) => format!("{}-<invalid key>", T::__SCHEMA.name),
    }
}

/// Runs a typed partial-key query (see the generated `<Name>Query`).
pub fn query<T: Persistence>(
    store: &Store,
    filters: Vec<Option<Value>>,
    autoinc: Option<u64>,
) -> PResult<Vec<T>> {
    crate::query::run::<T>(store, &filters, autoinc)
}

/// A `#[record]` field, type-erased for the save path.
pub struct RecordOut<'a>(&'a dyn ErasedRecord);

/// Erases the `T` of a `Lazy<T>` for saving.
pub(crate) trait ErasedRecord {
    fn extension(&self) -> &'static str;
    /// The file it was loaded from, if it is unchanged since.
    fn file(&self) -> Option<&RecordFileRef>;
    /// Whether a value is in memory.
    fn has_value(&self) -> bool;
    /// Writes the in-memory value; `None` if there is none.
    fn write_value(&self, w: &mut dyn Write) -> Option<PResult<()>>;
}

impl<T: Storable> ErasedRecord for Lazy<T> {
    fn extension(&self) -> &'static str {
        T::EXTENSION
    }
    fn file(&self) -> Option<&RecordFileRef> {
        Lazy::file(self)
    }
    fn has_value(&self) -> bool {
        self.loaded().is_some()
    }
    fn write_value(&self, w: &mut dyn Write) -> Option<PResult<()>> {
        self.loaded().map(|v| v.write(w))
    }
}

impl<'a> RecordOut<'a> {
    pub(crate) fn erased(&self) -> &'a dyn ErasedRecord {
        self.0
    }
}

/// Erases a record field for the save path.
pub fn record_out<T: Storable>(v: &Lazy<T>) -> RecordOut<'_> {
    RecordOut(v)
}

/// The record folder of a value, for tools and tests.
pub fn record_dir<T: Persistence>(v: &T) -> PResult<RecordDir> {
    RecordDir::of(v).map(|(d, _)| d)
}
