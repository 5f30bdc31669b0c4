//! What generated code calls. Not public API: names and signatures here change
//! with the derive, which is pinned to this exact version of the runtime.
//!
//! A leaf: nothing in the crate imports it; it only gathers what the derive
//! names (the [`Record`] trait it implements, [`Parts`] and [`RecordOut`]) and
//! the few conversions its code calls.

use serde::de::DeserializeOwned;
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

pub use crate::compress::Codec;
pub use crate::record::{record_out, AutoIncInt, Parts, Record, RecordOut};
pub use crate::schema::{AutoIncField, KeyField, RecordField, Schema};
pub use crate::validate::Validate;

pub use crate::error::BoxError;

use crate::error::{Error, Result as PResult};
use crate::key::{invalid_key, key_field_value};
use crate::record::RecordDir;
use crate::store::Store;

/// What a key field's type needs. The derive of a generic struct bounds the
/// key fields whose type mentions a parameter with it (a trait of its own, so
/// serde's traits are not re-exported here and error messages keep naming
/// them by their own path).
pub trait KeyType: Serialize + DeserializeOwned {}
impl<T: Serialize + DeserializeOwned> KeyType for T {}

/// What a data field's type needs (see [`KeyType`]).
pub trait DataType: Serialize + DeserializeOwned + Default {}
impl<T: Serialize + DeserializeOwned + Default> DataType for T {}

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

/// An `option_env!` value, or `""` outside Cargo.
pub const fn or_empty(v: Option<&'static str>) -> &'static str {
    match v {
        Some(s) => s,
        None => "",
    }
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
pub fn filename<T: Record>(v: &T) -> String {
    crate::record::filename(v)
}

/// Runs a typed partial-key query (see the generated `<Name>Query`).
pub fn query<T: Record>(
    store: &Store,
    filters: Vec<Option<Value>>,
    autoinc: Option<u64>,
) -> PResult<Vec<T>> {
    crate::ops::query::run::<T>(store, &filters, autoinc)
}

/// The record folder of a value, for tools and tests.
pub fn record_dir<T: Record>(v: &T) -> PResult<RecordDir> {
    RecordDir::of(v).map(|(d, _)| d)
}
