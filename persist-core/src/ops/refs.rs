//! What follows from the `Ref`s in a key: that each one names a saved
//! upstream, the upstreams' content hashes a save remembers, staleness, and the
//! params tree. The `Ref` type itself is in `reference`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::meta::{Meta, Upstream, META_FILE};
use crate::ops::read::{read_meta, resolved_dir};
use crate::record::{key_map, Record};
use crate::store::Store;

/// The marker field of a serialized `Ref`.
const REF_TAG: &str = "$ref";

/// A `Ref` as kept in `meta.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct RefRepr {
    #[serde(rename = "$ref")]
    pub(crate) type_name: String,
    /// The upstream's key, its autoinc included under the field's name.
    pub(crate) key: Map<String, Value>,
    /// The upstream's record folder; `None` while its autoinc is unresolved.
    pub(crate) at: Option<String>,
    /// Why the upstream's key has no canonical form, if it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) invalid: Option<String>,
}

/// The error of a `Ref` that names no saved upstream.
pub(crate) fn unresolved(repr: &RefRepr, field: &str) -> Error {
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

pub(crate) fn is_stale<T: Record>(value: &T, store: &Store) -> Result<bool> {
    let dir = resolved_dir(value)?;
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

pub(crate) fn params_tree<T: Record>(value: &T) -> Value {
    let Ok(mut key) = key_map(value) else {
        return Value::Null;
    };
    if let Some(auto) = &T::__SCHEMA.autoinc {
        key.insert(auto.name.to_owned(), Value::from(value.__autoinc()));
    }
    tree(&Value::Object(key))
}
