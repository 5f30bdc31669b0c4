//! Keys: their canonical JSON form, their hash, and the directory name that
//! holds a record.
//!
//! A record's directory is `<readable name>.<key hash>`: the readable part is the
//! file name (`example-A00-1234`) with anything unsafe in a path replaced, cut to
//! [`READABLE_MAX`] bytes; the hash is 128 bits of blake3 over the canonical key
//! and is what keeps distinct keys apart. Two keys that differ only in a field
//! not shown in the file name, or whose values contain `-` or `/`, still get
//! different hashes; no key value can make a name that leaves its folder.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// How many bytes of the readable file name a directory name keeps.
pub const READABLE_MAX: usize = 200;

/// The hex digits of the key hash in a directory name (128 bits).
pub const HASH_HEX: usize = 32;

/// Serializes a key value to JSON, refusing values with no canonical form:
/// NaN and infinite floats (serde_json would write all of them as `null`).
pub fn to_canonical_value<T: Serialize + ?Sized>(value: &T) -> std::result::Result<Value, String> {
    value.serialize(finite::Check).map_err(|e| e.0)?;
    serde_json::to_value(value).map_err(|e| e.to_string())
}

/// The canonical text of a JSON value: compact, object fields sorted by name at
/// every depth, whatever order the map type keeps.
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::with_capacity(128);
    write_canonical(value, &mut out);
    into_text(out)
}

/// Text that only serde_json's output and ASCII punctuation went into, which
/// is UTF-8; the lossy branch is never taken.
fn into_text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Appends the canonical text of `value` to `out`.
///
/// Leaves are written by serde_json straight into the buffer (what `Display`
/// of a `Value` writes, without the formatting machinery in between): a
/// save computes several canonical texts, and this was a tenth of its time.
pub(crate) fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => write_canonical_object(map, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        leaf => write_leaf(leaf, out),
    }
}

/// [`write_canonical`] of an object.
pub(crate) fn write_canonical_object(map: &serde_json::Map<String, Value>, out: &mut Vec<u8>) {
    let mut fields: Vec<(&String, &Value)> = map.iter().collect();
    // Names in a map are distinct: an unstable sort gives the one order.
    fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push(b'{');
    for (i, (k, v)) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_leaf(k.as_str(), out);
        out.push(b':');
        write_canonical(v, out);
    }
    out.push(b'}');
}

/// Appends the compact JSON of a string, number, bool or null.
pub(crate) fn write_leaf<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    // Serializing such a value into memory cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// The blake3 of a canonical key: what tells keys apart.
///
/// ```
/// use persist_core::KeyHash;
/// let a = KeyHash::of(&serde_json::json!({"x": 1, "y": "a"}));
/// let b = KeyHash::of(&serde_json::json!({"y": "a", "x": 1}));
/// assert_eq!(a, b);
/// assert_eq!(a.short().len(), 32);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash(blake3::Hash);

impl KeyHash {
    /// Hashes the canonical text of `key`.
    pub fn of(key: &Value) -> KeyHash {
        KeyHash(blake3::hash(canonical_json(key).as_bytes()))
    }

    /// The first [`HASH_HEX`] hex digits, as used in directory names.
    pub fn short(&self) -> String {
        let mut s = self.0.to_hex().to_string();
        s.truncate(HASH_HEX);
        s
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash({})", self.0.to_hex())
    }
}

impl fmt::Display for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_hex())
    }
}

/// How a key value appears in a file name: strings as they are, numbers as JSON
/// writes them, anything else as compact JSON.
pub fn display_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => canonical_json(other),
    }
}

/// How one character appears in a folder name: itself if it is safe in a file
/// or object name, else `_`.
pub(crate) fn safe_char(c: char) -> char {
    if c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '=' | ',' | '@') {
        c
    } else {
        '_'
    }
}

/// Makes one path component out of arbitrary text: characters that are unsafe
/// in a file or object name become `_`, a leading `.` too (no hidden or `..`
/// names), and the result is cut to `max` bytes on a character boundary.
/// Returns the text and whether anything was cut.
pub fn sanitize(text: &str, max: usize) -> (String, bool) {
    let mut out = String::with_capacity(text.len().min(max));
    let mut cut = false;
    for (i, c) in text.chars().enumerate() {
        let c = if i == 0 && c == '.' {
            '_'
        } else {
            safe_char(c)
        };
        if out.len() + c.len_utf8() > max {
            cut = true;
            break;
        }
        out.push(c);
    }
    if out.is_empty() {
        out.push('_');
    }
    (out, cut)
}

/// The directory name of a key: `<readable>.<hash>`.
///
/// ```
/// use persist_core::key::record_dir_name;
/// let key = serde_json::json!({"animal": "A00", "session": "s"});
/// let name = record_dir_name("example-A00", &key);
/// assert!(name.starts_with("example-A00."));
/// assert!(name.len() <= 255);
/// ```
pub fn record_dir_name(readable: &str, key: &Value) -> String {
    dir_name(readable, KeyHash::of(key))
}

/// [`record_dir_name`] of a key object, without wrapping (cloning) it in a
/// `Value` first.
pub(crate) fn record_dir_name_of(readable: &str, key: &serde_json::Map<String, Value>) -> String {
    let mut text = Vec::with_capacity(128);
    write_canonical_object(key, &mut text);
    dir_name(readable, KeyHash(blake3::hash(&text)))
}

fn dir_name(readable: &str, hash: KeyHash) -> String {
    let (text, _) = sanitize(readable, READABLE_MAX);
    format!("{text}.{}", hash.short())
}

/// Splits a directory name made by [`record_dir_name`] into its readable part
/// and its hash; `None` for anything else.
pub fn split_record_dir_name(name: &str) -> Option<(&str, &str)> {
    let (readable, hash) = name.rsplit_once('.')?;
    let ok = hash.len() == HASH_HEX && hash.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then_some((readable, hash))
}

/// Wraps a key-serialization failure as [`Error::InvalidKey`] naming the field.
pub(crate) fn invalid_key(field: &str, reason: impl fmt::Display) -> Error {
    Error::InvalidKey {
        record: String::new(),
        reason: format!("field `{field}`: {reason}"),
    }
}

/// Serializes one key field to its canonical value.
pub(crate) fn key_field_value<T: Serialize + ?Sized>(field: &str, value: &T) -> Result<Value> {
    to_canonical_value(value).map_err(|e| invalid_key(field, e))
}

/// A serde serializer that only checks that no float is NaN or infinite.
mod finite {
    use serde::ser::{self, Serialize};
    use std::fmt;

    #[derive(Debug)]
    pub struct NotFinite(pub String);
    impl fmt::Display for NotFinite {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl std::error::Error for NotFinite {}
    impl ser::Error for NotFinite {
        fn custom<T: fmt::Display>(msg: T) -> Self {
            NotFinite(msg.to_string())
        }
    }

    pub struct Check;

    type R = Result<(), NotFinite>;

    fn float(v: f64) -> R {
        if v.is_finite() {
            Ok(())
        } else {
            Err(NotFinite(format!(
                "{v} has no canonical form (NaN and infinite floats all serialize to null)"
            )))
        }
    }

    impl ser::Serializer for Check {
        type Ok = ();
        type Error = NotFinite;
        type SerializeSeq = Check;
        type SerializeTuple = Check;
        type SerializeTupleStruct = Check;
        type SerializeTupleVariant = Check;
        type SerializeMap = Check;
        type SerializeStruct = Check;
        type SerializeStructVariant = Check;

        fn serialize_bool(self, _: bool) -> R {
            Ok(())
        }
        fn serialize_i8(self, _: i8) -> R {
            Ok(())
        }
        fn serialize_i16(self, _: i16) -> R {
            Ok(())
        }
        fn serialize_i32(self, _: i32) -> R {
            Ok(())
        }
        fn serialize_i64(self, _: i64) -> R {
            Ok(())
        }
        fn serialize_i128(self, _: i128) -> R {
            Ok(())
        }
        fn serialize_u8(self, _: u8) -> R {
            Ok(())
        }
        fn serialize_u16(self, _: u16) -> R {
            Ok(())
        }
        fn serialize_u32(self, _: u32) -> R {
            Ok(())
        }
        fn serialize_u64(self, _: u64) -> R {
            Ok(())
        }
        fn serialize_u128(self, _: u128) -> R {
            Ok(())
        }
        fn serialize_f32(self, v: f32) -> R {
            float(f64::from(v))
        }
        fn serialize_f64(self, v: f64) -> R {
            float(v)
        }
        fn serialize_char(self, _: char) -> R {
            Ok(())
        }
        fn serialize_str(self, _: &str) -> R {
            Ok(())
        }
        fn serialize_bytes(self, _: &[u8]) -> R {
            Ok(())
        }
        fn serialize_none(self) -> R {
            Ok(())
        }
        fn serialize_some<T: ?Sized + Serialize>(self, v: &T) -> R {
            v.serialize(Check)
        }
        fn serialize_unit(self) -> R {
            Ok(())
        }
        fn serialize_unit_struct(self, _: &'static str) -> R {
            Ok(())
        }
        fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> R {
            Ok(())
        }
        fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, v: &T) -> R {
            v.serialize(Check)
        }
        fn serialize_newtype_variant<T: ?Sized + Serialize>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            v: &T,
        ) -> R {
            v.serialize(Check)
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Check, NotFinite> {
            Ok(Check)
        }
        fn serialize_tuple(self, _: usize) -> Result<Check, NotFinite> {
            Ok(Check)
        }
        fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Check, NotFinite> {
            Ok(Check)
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Check, NotFinite> {
            Ok(Check)
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Check, NotFinite> {
            Ok(Check)
        }
        fn serialize_struct(self, _: &'static str, _: usize) -> Result<Check, NotFinite> {
            Ok(Check)
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Check, NotFinite> {
            Ok(Check)
        }
    }

    impl ser::SerializeSeq for Check {
        type Ok = ();
        type Error = NotFinite;
        fn serialize_element<T: ?Sized + Serialize>(&mut self, v: &T) -> R {
            v.serialize(Check)
        }
        fn end(self) -> R {
            Ok(())
        }
    }
    impl ser::SerializeTuple for Check {
        type Ok = ();
        type Error = NotFinite;
        fn serialize_element<T: ?Sized + Serialize>(&mut self, v: &T) -> R {
            v.serialize(Check)
        }
        fn end(self) -> R {
            Ok(())
        }
    }
    impl ser::SerializeTupleStruct for Check {
        type Ok = ();
        type Error = NotFinite;
        fn serialize_field<T: ?Sized + Serialize>(&mut self, v: &T) -> R {
            v.serialize(Check)
        }
        fn end(self) -> R {
            Ok(())
        }
    }
    impl ser::SerializeTupleVariant for Check {
        type Ok = ();
        type Error = NotFinite;
        fn serialize_field<T: ?Sized + Serialize>(&mut self, v: &T) -> R {
            v.serialize(Check)
        }
        fn end(self) -> R {
            Ok(())
        }
    }
    impl ser::SerializeMap for Check {
        type Ok = ();
        type Error = NotFinite;
        fn serialize_key<T: ?Sized + Serialize>(&mut self, k: &T) -> R {
            k.serialize(Check)
        }
        fn serialize_value<T: ?Sized + Serialize>(&mut self, v: &T) -> R {
            v.serialize(Check)
        }
        fn end(self) -> R {
            Ok(())
        }
    }
    impl ser::SerializeStruct for Check {
        type Ok = ();
        type Error = NotFinite;
        fn serialize_field<T: ?Sized + Serialize>(&mut self, _: &'static str, v: &T) -> R {
            v.serialize(Check)
        }
        fn end(self) -> R {
            Ok(())
        }
    }
    impl ser::SerializeStructVariant for Check {
        type Ok = ();
        type Error = NotFinite;
        fn serialize_field<T: ?Sized + Serialize>(&mut self, _: &'static str, v: &T) -> R {
            v.serialize(Check)
        }
        fn end(self) -> R {
            Ok(())
        }
    }
}

/// A number folder's name in canonical form (`0`, `17`, never `017`).
pub(crate) fn parse_number(name: &str) -> Option<u64> {
    let n: u64 = name.parse().ok()?;
    (n.to_string() == name).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn record_dir_name_of_an_object_is_that_of_its_value() {
        let key = serde_json::json!({"z": [1, {"b": 2, "a": "/~"}], "a": "x y", "n": 0.25});
        let Value::Object(map) = &key else {
            unreachable!()
        };
        assert_eq!(
            record_dir_name_of("t-x y", map),
            record_dir_name("t-x y", &key)
        );
    }

    #[test]
    fn canonical_sorts_nested_objects() {
        let v = json!({"b": {"z": 1, "a": [1, {"y": 2, "x": 1}]}, "a": "s"});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":"s","b":{"a":[1,{"x":1,"y":2}],"z":1}}"#
        );
    }

    #[test]
    fn non_finite_floats_are_refused() {
        assert!(to_canonical_value(&f64::NAN).is_err());
        assert!(to_canonical_value(&vec![1.0, f64::INFINITY]).is_err());
        assert!(to_canonical_value(&Some(f32::NEG_INFINITY)).is_err());
        assert_eq!(to_canonical_value(&1.5f64).unwrap(), json!(1.5));
    }

    #[test]
    fn sanitize_keeps_names_inside_a_folder() {
        assert_eq!(sanitize("..", 200).0, "_.");
        assert_eq!(sanitize("a/b\\c\0d", 200).0, "a_b_c_d");
        assert_eq!(sanitize("", 200).0, "_");
        let (long, cut) = sanitize(&"é".repeat(300), 200);
        assert!(cut && long.len() <= 200);
    }

    #[test]
    fn dir_names_differ_for_keys_that_print_alike() {
        let a = record_dir_name("x-A-B-C", &json!({"a": "A-B", "b": "C"}));
        let b = record_dir_name("x-A-B-C", &json!({"a": "A", "b": "B-C"}));
        assert_ne!(a, b);
        let (readable, hash) = split_record_dir_name(&a).unwrap();
        assert_eq!(readable, "x-A-B-C");
        assert_eq!(hash.len(), HASH_HEX);
    }
}
