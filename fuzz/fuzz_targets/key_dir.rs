//! The key -> directory mapping: for any readable name and key value, the
//! directory name is one safe path component of at most 255 bytes that splits
//! back into its parts; `sanitize` is idempotent and within its bound; keys
//! with different canonical forms never share a directory.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use persist_core::key::{
    canonical_json, record_dir_name, sanitize, split_record_dir_name, HASH_HEX, READABLE_MAX,
};
use serde_json::{Map, Value};

#[derive(Arbitrary, Debug)]
enum Leaf {
    Str(String),
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    Null,
    List(Vec<String>),
}

impl Leaf {
    fn value(&self) -> Value {
        match self {
            Leaf::Str(s) => Value::String(s.clone()),
            Leaf::Int(i) => Value::from(*i),
            Leaf::UInt(u) => Value::from(*u),
            // Non-finite floats have no canonical form: the runtime refuses them
            // before this mapping is reached.
            Leaf::Float(f) if f.is_finite() => Value::from(*f),
            Leaf::Float(_) => Value::Null,
            Leaf::Bool(b) => Value::Bool(*b),
            Leaf::Null => Value::Null,
            Leaf::List(items) => Value::Array(items.iter().cloned().map(Value::String).collect()),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    readable: String,
    max: u8,
    a: Vec<(String, Leaf)>,
    b: Vec<(String, Leaf)>,
}

fn key(fields: &[(String, Leaf)]) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(k, v)| (k.clone(), v.value()))
            .collect::<Map<_, _>>(),
    )
}

fn check_component(name: &str) {
    assert!(!name.is_empty());
    assert!(name.len() <= 255, "{} bytes", name.len());
    assert!(!name.starts_with('.'), "{name:?}");
    assert!(!name.contains(['/', '\\', '\0']), "{name:?}");
}

fuzz_target!(|input: Input| {
    // sanitize: bounded, safe, idempotent.
    let max = usize::from(input.max).max(1);
    let (s, cut) = sanitize(&input.readable, max);
    assert!(s.len() <= max.max(1));
    check_component(&s);
    assert_eq!(
        sanitize(&s, max),
        (s.clone(), false),
        "sanitize is not idempotent"
    );
    if !cut {
        assert_eq!(s.chars().count(), input.readable.chars().count().max(1));
    }

    // record_dir_name: one safe component that splits back.
    let (ka, kb) = (key(&input.a), key(&input.b));
    let da = record_dir_name(&input.readable, &ka);
    check_component(&da);
    let (readable, hash) = split_record_dir_name(&da).expect("splits");
    assert_eq!(readable, sanitize(&input.readable, READABLE_MAX).0);
    assert_eq!(hash.len(), HASH_HEX);

    // Distinct canonical keys, distinct folders (same readable name on purpose).
    let db = record_dir_name(&input.readable, &kb);
    assert_eq!(
        canonical_json(&ka) == canonical_json(&kb),
        da == db,
        "{ka} vs {kb}"
    );
});
