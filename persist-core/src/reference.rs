//! [`Ref`]: a key field naming the upstream record a result was computed from
//! (persistable's tracked dependency). What follows from it (nested keys, the
//! upstream hashes, the params tree and staleness) is in `ops::refs`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::ops::read::read_record;
use crate::ops::refs::{unresolved, RefRepr};
use crate::persistence::Persistence;
use crate::record::{file_name, RecordDir};
use crate::store::Store;

/// The identity of an upstream record, used as a `#[key]` field.
///
/// Its key nests into the downstream key, so results computed from different
/// upstream records never share a folder; when the downstream is saved, the
/// upstream's content hash is remembered, and
/// [`is_stale`](Persistence::is_stale) tells whether it changed since (or
/// whether an upstream further up the chain did).
/// [`load_fresh_or_compute`](Persistence::load_fresh_or_compute) recomputes a
/// stale record; [`params_tree`](Persistence::params_tree) shows the upstream's
/// key nested under the field's name.
///
/// In `meta.json` a `Ref` is kept as the upstream's type, key (its autoinc
/// included, by field name) and record folder:
/// `{"$ref": "points", "key": {"n": 3, "seed": 7}, "at": "points/points-…"}`.
/// A `Ref` may also sit inside a key of another type (`Vec<Ref<T>>`,
/// `Option<Ref<T>>`): each one is tracked.
///
/// ```
/// use persist_core::{Persistence, Ref, Store};
///
/// #[derive(Persistence)]
/// struct Points { #[key] n: u32, #[key] seed: u64, values: Vec<f64> }
///
/// #[derive(Persistence)]
/// struct Outliers { #[key] points: Ref<Points>, #[key] z: u32, count: usize }
///
/// let store = Store::memory();
/// let mut points = Points::new(3, 7);
/// points.values = vec![0.1, 0.2, 9.0];
/// points.save(&store)?;
///
/// let mut outliers = Outliers::new(Ref::to(&points), 3);
/// outliers.count = 1;
/// outliers.save(&store)?;
/// assert!(!outliers.is_stale(&store)?);
/// assert_eq!(outliers.params_tree()["points"]["n"], 3);
///
/// points.values[2] = 0.3;               // the upstream changes
/// points.save(&store)?;
/// assert!(outliers.is_stale(&store)?);
/// assert_eq!(outliers.points.load(&store)?.values[2], 0.3);
/// # Ok::<(), persist_core::Error>(())
/// ```
pub struct Ref<T> {
    repr: RefRepr,
    _type: PhantomData<fn() -> T>,
}

impl<T: Persistence> Ref<T> {
    /// Points at `upstream` (by its key; the value itself is not kept).
    ///
    /// An upstream with an `#[autoinc]` must be saved first (its number is part
    /// of its identity): saving a record whose `Ref` points at an unresolved
    /// autoinc is [`Error::AutoIncUnresolved`].
    ///
    /// ```
    /// use persist_core::{Persistence, Ref};
    ///
    /// #[derive(Persistence)]
    /// struct Points { #[key] n: u32, #[key] seed: u64 }
    ///
    /// let r = Ref::to(&Points::new(100, 7));
    /// assert_eq!(r.type_name(), "points");
    /// assert_eq!(r.key()["n"], 100);
    /// assert_eq!(r.key()["seed"], 7);
    /// ```
    pub fn to(upstream: &T) -> Ref<T> {
        let schema = T::__SCHEMA;
        let repr = match RecordDir::of(upstream) {
            Ok((dir, mut key)) => {
                let resolved = schema.autoinc.is_none() || dir.number().is_some();
                if let Some(auto) = &schema.autoinc {
                    key.insert(auto.name.to_owned(), Value::from(dir.number()));
                }
                RefRepr {
                    type_name: schema.name.to_owned(),
                    key,
                    at: resolved.then(|| dir.path()),
                    invalid: None,
                }
            }
            Err(e) => RefRepr {
                type_name: schema.name.to_owned(),
                key: Map::new(),
                at: None,
                invalid: Some(e.to_string()),
            },
        };
        Ref {
            repr,
            _type: PhantomData,
        }
    }

    /// Loads the upstream record (as stored now, which may be newer than
    /// what a downstream was computed from: see
    /// [`is_stale`](Persistence::is_stale)). [`Error::NotFound`] if it is gone.
    pub fn load(&self, store: &Store) -> Result<T> {
        let schema = T::__SCHEMA;
        let mut key = self.repr.key.clone();
        let number = match &schema.autoinc {
            Some(auto) => key.remove(auto.name).and_then(|v| v.as_u64()),
            None => None,
        };
        let Some(at) = &self.repr.at else {
            return Err(unresolved(&self.repr, "upstream"));
        };
        let dir = dir_from_path(at, number, &file_name(schema, &key, number, true))?;
        read_record(store, &dir, Some(&key))
    }

    /// The upstream's type name.
    pub fn type_name(&self) -> &str {
        &self.repr.type_name
    }

    /// The upstream's key as JSON (its autoinc included).
    pub fn key(&self) -> &Map<String, Value> {
        &self.repr.key
    }
}

fn dir_from_path(at: &str, number: Option<u64>, name: &str) -> Result<RecordDir> {
    let parts: Vec<&str> = at.split('/').collect();
    let (type_dir, key_dir) = match (parts.as_slice(), number) {
        ([t, k], None) | ([t, k, _], Some(_)) => (*t, *k),
        _ => {
            return Err(Error::Corrupt {
                record: name.to_owned(),
                path: at.to_owned(),
                reason: "not a record folder of this type".to_owned(),
            })
        }
    };
    Ok(RecordDir::from_parts(type_dir, key_dir, number, name))
}

impl<T> Clone for Ref<T> {
    fn clone(&self) -> Self {
        Ref {
            repr: self.repr.clone(),
            _type: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Ref<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ref")
            .field("type", &self.repr.type_name)
            .field("key", &self.repr.key)
            .finish()
    }
}

impl<T> PartialEq for Ref<T> {
    fn eq(&self, other: &Self) -> bool {
        self.repr == other.repr
    }
}

impl<T> Serialize for Ref<T> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.repr.serialize(s)
    }
}

impl<'de, T: Persistence> Deserialize<'de> for Ref<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let repr = RefRepr::deserialize(d)?;
        let expected = T::__SCHEMA.name;
        if repr.type_name != expected {
            return Err(de::Error::custom(format!(
                "a Ref to `{}` where a Ref to `{expected}` was expected",
                repr.type_name
            )));
        }
        Ok(Ref {
            repr,
            _type: PhantomData,
        })
    }
}
