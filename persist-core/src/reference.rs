//! [`Ref`]: a key field naming the upstream record a result was computed from
//! (persistable's tracked dependency), and what follows from it: nested keys,
//! the params tree, and staleness.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::marker::PhantomData;

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::load::{read_meta, read_record};
use crate::meta::{Meta, Upstream, META_FILE};
use crate::persistence::Persistence;
use crate::record_dir::{file_name, key_map, RecordDir};
use crate::store::Store;

/// The marker field of a serialized `Ref`.
const REF_TAG: &str = "$ref";

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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct RefRepr {
    #[serde(rename = "$ref")]
    type_name: String,
    /// The upstream's key, its autoinc included under the field's name.
    key: Map<String, Value>,
    /// The upstream's record folder; `None` while its autoinc is unresolved.
    at: Option<String>,
    /// Why the upstream's key has no canonical form, if it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    invalid: Option<String>,
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

fn unresolved(repr: &RefRepr, field: &str) -> Error {
    match &repr.invalid {
        Some(reason) => Error::InvalidKey {
            record: String::new(),
            reason: format!(
                "`{field}` refers to a `{}` whose key is invalid: {reason}",
                repr.type_name
            ),
        },
        None => Error::AutoIncUnresolved {
            record: String::new(),
            field: format!(
                "{field} (a Ref to a `{}` whose autoinc is None: save it first)",
                repr.type_name
            ),
        },
    }
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

/// Calls `f` with the JSON pointer and body of every `Ref` inside `value`.
fn each_ref<'a>(
    value: &'a Value,
    pointer: &mut String,
    f: &mut dyn FnMut(&str, &'a Map<String, Value>),
) {
    match value {
        Value::Object(map) => each_ref_in_object(map, pointer, f),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let len = pointer.len();
                let _ = write!(pointer, "/{i}");
                each_ref(v, pointer, f);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

/// [`each_ref`] of an object, which is a `Ref` itself or holds some.
fn each_ref_in_object<'a>(
    map: &'a Map<String, Value>,
    pointer: &mut String,
    f: &mut dyn FnMut(&str, &'a Map<String, Value>),
) {
    if is_ref(map) {
        return f(pointer, map);
    }
    for (k, v) in map {
        let len = pointer.len();
        pointer.push('/');
        // JSON Pointer escapes, only where a name needs them: every save
        // walks its key, and most names have neither character.
        if k.contains(['~', '/']) {
            pointer.push_str(&k.replace('~', "~0").replace('/', "~1"));
        } else {
            pointer.push_str(k);
        }
        each_ref(v, pointer, f);
        pointer.truncate(len);
    }
}

/// The `Ref`s in a key, by JSON Pointer.
fn refs_in(key: &Map<String, Value>) -> Vec<(String, RefRepr)> {
    let mut out = Vec::new();
    each_ref_in_object(key, &mut String::new(), &mut |p, body| {
        if let Ok(repr) = serde_json::from_value::<RefRepr>(Value::Object(body.clone())) {
            out.push((p.to_owned(), repr));
        }
    });
    out
}

/// Fails if a `Ref` in the key points at an unresolved or invalid upstream.
pub(crate) fn check_resolved(key: &Map<String, Value>) -> Result<()> {
    for (pointer, repr) in refs_in(key) {
        if repr.at.is_none() {
            return Err(unresolved(&repr, pointer.trim_start_matches('/')));
        }
    }
    Ok(())
}

/// The `meta.json` of the record in folder `at`, `None` if it is gone or
/// unreadable (either way it is not the content a downstream was computed from).
fn meta_at(store: &Store, at: &str) -> Option<Meta> {
    Meta::read(store.backend(), &format!("{at}/{META_FILE}")).ok()
}

/// The upstreams of a key, with their content hashes now.
pub(crate) fn upstream_hashes(
    store: &Store,
    key: &Map<String, Value>,
) -> Result<BTreeMap<String, Upstream>> {
    Ok(refs_in(key)
        .into_iter()
        .filter_map(|(pointer, repr)| {
            let at = repr.at?;
            Some((
                pointer,
                Upstream {
                    content_hash: meta_at(store, &at).map(|m| m.content_hash),
                    at,
                },
            ))
        })
        .collect())
}

/// How deep [`is_stale`] follows a chain of upstreams (keys nest, so a real
/// chain is finite; this only guards against a hand-edited store).
const MAX_DEPTH: usize = 64;

pub(crate) fn is_stale<T: Persistence>(value: &T, store: &Store) -> Result<bool> {
    let dir = crate::load::resolved_dir(value)?;
    let meta = read_meta::<T>(store, &dir)?;
    let mut seen = std::collections::BTreeSet::new();
    Ok(any_upstream_changed(store, &meta.upstream, &mut seen, 0))
}

/// Whether any of these upstreams now has other content than remembered, is
/// gone, or (recursively) is itself stale: a record computed from a stale
/// upstream was not computed from the data the store holds now.
fn any_upstream_changed(
    store: &Store,
    upstream: &BTreeMap<String, Upstream>,
    seen: &mut std::collections::BTreeSet<String>,
    depth: usize,
) -> bool {
    upstream.values().any(|up| {
        let Some(now) = meta_at(store, &up.at) else {
            return true;
        };
        if up.content_hash.as_deref() != Some(now.content_hash.as_str()) {
            return true;
        }
        if depth >= MAX_DEPTH || !seen.insert(up.at.clone()) {
            return false;
        }
        any_upstream_changed(store, &now.upstream, seen, depth + 1)
    })
}

/// Whether a JSON object is a serialized `Ref` (and not a user value that
/// merely has a `$ref` field).
fn is_ref(map: &Map<String, Value>) -> bool {
    map.get(REF_TAG).is_some_and(Value::is_string)
        && map.get("key").is_some_and(Value::is_object)
        && map.contains_key("at")
}

/// A key with every `Ref` replaced by its upstream's params tree.
fn tree(value: &Value) -> Value {
    match value {
        Value::Object(map) if is_ref(map) => map.get("key").map_or(Value::Null, tree),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), tree(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(tree).collect()),
        other => other.clone(),
    }
}

pub(crate) fn params_tree<T: Persistence>(value: &T) -> Value {
    let Ok(mut key) = key_map(value) else {
        return Value::Null;
    };
    if let Some(auto) = &T::__SCHEMA.autoinc {
        key.insert(auto.name.to_owned(), Value::from(value.__autoinc()));
    }
    tree(&Value::Object(key))
}
