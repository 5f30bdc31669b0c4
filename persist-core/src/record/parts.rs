//! [`Parts`]: a stored record taken apart, from which the derive rebuilds the
//! struct field by field.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::dir::RecordDir;
use crate::backend::join;
use crate::compress::Codec;
use crate::error::{Error, Result};
use crate::format::Storable;
use crate::lazy::{Lazy, Origin};
use crate::meta::{Meta, RecordFile, META_FILE};
use crate::record_file::RecordFileRef;
use crate::schema::Schema;
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

/// The fields of a stored record, in schema order.
pub struct Parts {
    schema: &'static Schema,
    store: Store,
    /// The record's folder (`RecordDir::path`).
    dir_path: String,
    record: String,
    /// Where meta.json is, as messages show it (made only for an error).
    meta_shown: std::sync::OnceLock<String>,
    keys: Vec<Option<Value>>,
    autoinc: Option<u64>,
    data: Vec<Option<Value>>,
    records: Vec<Option<RecordFile>>,
}

impl Parts {
    pub(crate) fn new(
        schema: &'static Schema,
        store: &Store,
        dir: &RecordDir,
        mut meta: Meta,
    ) -> Parts {
        let keys = schema
            .keys
            .iter()
            .map(|f| meta.key.remove(f.name))
            .collect();
        let data = schema.data.iter().map(|f| meta.data.remove(*f)).collect();
        let records = schema
            .records
            .iter()
            .map(|f| meta.records.remove(f.name))
            .collect();
        Parts {
            schema,
            store: store.clone(),
            dir_path: dir.path(),
            record: meta.name,
            meta_shown: std::sync::OnceLock::new(),
            keys,
            autoinc: meta.autoinc,
            data,
            records,
        }
    }

    fn meta_shown(&self) -> String {
        self.meta_shown
            .get_or_init(|| {
                self.store
                    .backend()
                    .describe(&join(&[&self.dir_path, META_FILE]))
            })
            .clone()
    }

    fn mismatch<T>(&self, kind: &str, field: &str, value: &Value, err: serde_json::Error) -> Error {
        let mut shown = value.to_string();
        if shown.len() > 80 {
            let mut cut = 77;
            while !shown.is_char_boundary(cut) {
                cut -= 1;
            }
            shown.truncate(cut);
            shown.push_str("...");
        }
        Error::TypeMismatch {
            record: self.record.clone(),
            path: self.meta_shown(),
            expected: format!(
                "{kind} field `{field}` of type {}",
                std::any::type_name::<T>()
            ),
            found: format!("{shown} ({err})"),
        }
    }

    /// Key field `i`.
    pub fn key<T: DeserializeOwned>(&mut self, i: usize) -> Result<T> {
        let field = self.schema.keys.get(i).map_or("?", |f| f.name);
        match self.keys.get_mut(i).and_then(Option::take) {
            Some(v) => T::deserialize(&v).map_err(|e| self.mismatch::<T>("key", field, &v, e)),
            None => Err(Error::Corrupt {
                record: self.record.clone(),
                path: self.meta_shown(),
                reason: format!("key field `{field}` is missing from meta.json"),
            }),
        }
    }

    /// The autoinc field.
    pub fn autoinc<T: AutoIncInt>(&mut self) -> Result<Option<T>> {
        match self.autoinc {
            None => Ok(None),
            Some(n) => T::from_u64(n).map(Some).ok_or_else(|| Error::TypeMismatch {
                record: self.record.clone(),
                path: self.meta_shown(),
                expected: format!("an autoinc number that fits {}", std::any::type_name::<T>()),
                found: n.to_string(),
            }),
        }
    }

    /// Data field `i`; its `Default` if the record was saved before the field
    /// existed.
    pub fn data<T: DeserializeOwned + Default>(&mut self, i: usize) -> Result<T> {
        let field = self.schema.data.get(i).copied().unwrap_or("?");
        match self.data.get_mut(i).and_then(Option::take) {
            Some(v) => T::deserialize(&v).map_err(|e| self.mismatch::<T>("data", field, &v, e)),
            None => Ok(T::default()),
        }
    }

    /// Record field `i`, unread.
    pub fn record<T: Storable>(&mut self, i: usize) -> Result<Lazy<T>> {
        let field = self.schema.records.get(i).map_or("?", |f| f.name);
        let Some(entry) = self.records.get_mut(i).and_then(Option::take) else {
            return Ok(Lazy::with_origin(Origin::SavedEmpty {
                record: self.record.clone(),
                field: field.to_owned(),
            }));
        };
        let path = join(&[&self.dir_path, &entry.file]);
        if entry.format != T::EXTENSION {
            return Err(Error::TypeMismatch {
                record: self.record.clone(),
                path: self.store.backend().describe(&path),
                expected: format!("record field `{field}` in format `{}`", T::EXTENSION),
                found: format!("format `{}`", entry.format),
            });
        }
        if entry.file.contains('/') || entry.file.starts_with('.') {
            return Err(Error::Corrupt {
                record: self.record.clone(),
                path: self.meta_shown(),
                reason: format!("record file name `{}` is not a plain file name", entry.file),
            });
        }
        let codec = match entry.compression.as_deref().map(Codec::parse) {
            None => None,
            Some(Ok(codec)) => Some(codec),
            Some(Err(e)) => {
                return Err(Error::Corrupt {
                    record: self.record.clone(),
                    path: self.meta_shown(),
                    reason: format!("record field `{field}` ({}): {e}", entry.file),
                })
            }
        };
        Ok(Lazy::with_origin(Origin::File(Box::new(RecordFileRef {
            store: self.store.clone(),
            path,
            record: self.record.clone(),
            entry,
            codec,
        }))))
    }
}
