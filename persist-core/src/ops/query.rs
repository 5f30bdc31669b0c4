//! Partial-key queries: neuralib's `load_all` with wildcards, typed.
//!
//! Fixed `#[filename]` fields are matched against the readable part of each key
//! folder's name first, so records whose name already rules them out are never
//! read; only the survivors' `meta.json` is read and compared field by field.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::key::{
    canonical_json, display_value, safe_char, sanitize, split_record_dir_name, READABLE_MAX,
};
use crate::ops::list::record_dirs_where;
use crate::ops::read::{build, read_meta};
use crate::record::{Record, RecordDir};
use crate::schema::Schema;
use crate::store::Store;

pub(crate) fn run<T: Record>(
    store: &Store,
    filters: &[Option<Value>],
    autoinc: Option<u64>,
) -> Result<Vec<T>> {
    let schema = T::__SCHEMA;
    let pattern = name_pattern(schema, filters);
    let mut found: Vec<(String, T)> = Vec::new();
    // Key folders whose name rules them out are skipped before their autoinc
    // numbers are even listed.
    for dir in record_dirs_where(store, schema, &|base| may_match(&pattern, base))? {
        let dir = dir?;
        if autoinc.is_some() && dir.number() != autoinc {
            continue;
        }
        let meta = match read_meta::<T>(store, &dir) {
            Ok(meta) => meta,
            Err(Error::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        if !key_matches(schema, filters, &meta.key) {
            continue;
        }
        let name = meta.name.clone();
        found.push((name, build(store, &dir, meta)?));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found.into_iter().map(|(_, v)| v).collect())
}

/// The readable name as pieces: fixed text, or `None` for "anything".
fn name_pattern(schema: &Schema, filters: &[Option<Value>]) -> Vec<Option<String>> {
    let mut pieces = vec![Some(sanitize(schema.name, READABLE_MAX).0)];
    for (field, filter) in schema.keys.iter().zip(filters) {
        if !field.filename {
            continue;
        }
        pieces.push(filter.as_ref().map(|v| {
            let text = format!("{}{}", field.prefix, display_value(v));
            // The same mapping as the folder name, but a leading `.` is only
            // replaced at the very start of the name.
            text.chars().map(safe_char).collect()
        }));
    }
    pieces
}

/// Whether a folder's readable name can belong to a match. A name that may
/// have been cut short always may.
fn may_match(pattern: &[Option<String>], dir: &RecordDir) -> bool {
    let key_path = dir.key_path();
    let key_dir = key_path.rsplit('/').next().unwrap_or("");
    let Some((readable, _)) = split_record_dir_name(key_dir) else {
        return true;
    };
    if readable.len() + 8 >= READABLE_MAX {
        return true;
    }
    glob(pattern, readable)
}

/// Matches `text` against pieces joined by `-`, where a `None` piece stands for
/// any text (which may itself contain `-`).
fn glob(pattern: &[Option<String>], text: &str) -> bool {
    fn go(pattern: &[Option<String>], text: &str, first: bool) -> bool {
        let Some((head, rest)) = pattern.split_first() else {
            return text.is_empty();
        };
        let text = if first {
            text
        } else {
            match text.strip_prefix('-') {
                Some(t) => t,
                None => return false,
            }
        };
        match head {
            Some(fixed) => text
                .strip_prefix(fixed.as_str())
                .is_some_and(|t| go(rest, t, false)),
            None => (0..=text.len())
                .filter(|&i| text.is_char_boundary(i))
                .any(|i| go(rest, &text[i..], false)),
        }
    }
    go(pattern, text, true)
}

fn key_matches(schema: &Schema, filters: &[Option<Value>], key: &Map<String, Value>) -> bool {
    schema
        .keys
        .iter()
        .zip(filters)
        .all(|(field, filter)| match filter {
            None => true,
            Some(want) => key
                .get(field.name)
                .is_some_and(|have| canonical_json(have) == canonical_json(want)),
        })
}

#[cfg(test)]
mod tests {
    use super::glob;

    fn p(parts: &[Option<&str>]) -> Vec<Option<String>> {
        parts.iter().map(|p| p.map(str::to_owned)).collect()
    }

    #[test]
    fn glob_matches_pieces_with_dashes() {
        assert!(glob(&p(&[Some("x"), None, Some("d1")]), "x-A-B-d1"));
        assert!(glob(&p(&[Some("x"), Some("A-B"), None]), "x-A-B-C"));
        assert!(!glob(&p(&[Some("x"), Some("A"), Some("C")]), "x-A-B-C"));
        assert!(glob(&p(&[Some("x"), None]), "x-"));
        assert!(!glob(&p(&[Some("x"), Some("A")]), "x-AB"));
    }
}
