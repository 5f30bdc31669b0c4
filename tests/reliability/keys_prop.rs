//! Keys and paths, property-tested: for arbitrary key values (any Unicode,
//! separators, `..`, NUL, empty, 10 kB strings, any finite float), distinct
//! keys get distinct directories, every path stays inside the store root,
//! every name is at most 255 bytes, and save -> load round-trips exactly.
//!
//! `PROPTEST_CASES` changes the number of cases (default 256 per property).

use std::collections::HashSet;
use std::path::Path;

use persist_core::key::{record_dir_name, sanitize, split_record_dir_name, READABLE_MAX};
use persist_core::{Lazy, Persistence, Store};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::json;

#[derive(Persistence, Debug, Clone)]
#[persist(name = "prop")]
struct Keyed {
    #[key]
    #[filename]
    a: String,
    #[key]
    b: String,
    #[key]
    #[filename(prefix = "x")]
    c: String,
    #[key]
    f: f64,
    score: f64,
    label: String,
    #[record]
    blob: Lazy<Vec<u8>>,
}

#[derive(Persistence, Debug, Clone)]
#[persist(name = "prop_auto")]
struct Numbered {
    #[key]
    #[filename]
    a: String,
    #[autoinc]
    n: Option<u32>,
    label: String,
}

/// Key strings: anything, with the hostile ones made likely.
fn key_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        2 => "[./\\\\\\-\u{0}a_ ]{0,12}",
        1 => Just(String::new()),
        1 => Just("..".to_owned()),
        1 => Just(".".to_owned()),
        1 => Just("/".to_owned()),
        1 => Just("../../etc/passwd".to_owned()),
        1 => Just("\u{0}".to_owned()),
        1 => Just("-".to_owned()),
        1 => Just("a-b".to_owned()),
        1 => (9_000usize..10_240).prop_map(|n| "x".repeat(n)),
        1 => (1usize..3_500, any::<char>()).prop_map(|(n, c)| c.to_string().repeat(n)),
        1 => prop::collection::vec(any::<char>(), 0..600).prop_map(String::from_iter),
    ]
}

fn key_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>().prop_filter("finite", |f| f.is_finite()),
        1 => Just(0.0),
        1 => Just(-0.0),
        1 => Just(f64::MIN_POSITIVE),
        1 => Just(5e-324),
        1 => Just(f64::MAX),
        1 => Just(9.999_999_999_995_001e28),
    ]
}

type Key = (String, String, String, f64);

fn key() -> impl Strategy<Value = Key> {
    (key_string(), key_string(), key_string(), key_float())
}

/// Every file and folder below `root`, as paths relative to it.
fn tree(root: &Path, dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let path = e.path();
        out.push(path.strip_prefix(root).unwrap().to_path_buf());
        let t = e.file_type().unwrap();
        assert!(
            !t.is_symlink(),
            "a symlink in the store: {}",
            path.display()
        );
        if t.is_dir() {
            tree(root, &path, out);
        }
    }
}

fn identity(k: &Key) -> String {
    // Keys are distinct when their JSON differs (so 0.0 and -0.0 are two keys).
    serde_json::to_string(&json!([k.0, k.1, k.2, k.3])).unwrap()
}

proptest! {
    #![proptest_config(Config { failure_persistence: None, ..Config::default() })]

    #[test]
    fn distinct_keys_get_distinct_folders_inside_the_store(
        keys in prop::collection::vec(key(), 1..6),
        score in any::<f64>().prop_filter("finite", |f| f.is_finite()),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap().join("store");
        let store = Store::open(&root).unwrap().durable(false);
        let mut seen = HashSet::new();
        let keys: Vec<Key> = keys.into_iter().filter(|k| seen.insert(identity(k))).collect();

        let mut folders = HashSet::new();
        for (i, k) in keys.iter().enumerate() {
            let mut v = Keyed::new(k.0.clone(), k.1.clone(), k.2.clone(), k.3);
            v.score = score / (i + 1) as f64;
            v.label = identity(k);
            v.blob.set(identity(k).into_bytes());
            v.save(&store).unwrap();
            let dir = persist_core::__private::record_dir(&v).unwrap();
            prop_assert!(folders.insert(dir.path()), "two keys share {}", dir.path());

            let mut n = Numbered::new(k.0.clone());
            n.label = identity(k);
            n.save(&store).unwrap();
        }

        // Every path stays inside the root; every name fits in 255 bytes; one
        // meta.json per record, nothing else written anywhere.
        let mut paths = Vec::new();
        tree(&root, &root, &mut paths);
        let mut metas = 0;
        for p in &paths {
            let full = root.join(p).canonicalize().unwrap();
            prop_assert!(full.starts_with(&root), "{} leaves the store", full.display());
            for c in p.components() {
                let name = c.as_os_str();
                prop_assert!(matches!(c, std::path::Component::Normal(_)), "{}", p.display());
                prop_assert!(name.len() <= 255, "{} bytes: {:?}", name.len(), name);
            }
            metas += usize::from(p.ends_with("meta.json"));
        }
        let numbered_keys: HashSet<&str> = keys.iter().map(|k| k.0.as_str()).collect();
        prop_assert_eq!(metas, keys.len() + keys.len());
        prop_assert!(numbered_keys.len() <= keys.len());

        // Save -> load round-trips exactly (floats to the bit).
        for (i, k) in keys.iter().enumerate() {
            let back = Keyed::new(k.0.clone(), k.1.clone(), k.2.clone(), k.3).load(&store).unwrap();
            prop_assert_eq!(&back.a, &k.0);
            prop_assert_eq!(&back.b, &k.1);
            prop_assert_eq!(&back.c, &k.2);
            prop_assert_eq!(back.f.to_bits(), k.3.to_bits());
            prop_assert_eq!(back.score.to_bits(), (score / (i + 1) as f64).to_bits());
            prop_assert_eq!(&back.label, &identity(k));
            prop_assert_eq!(back.blob.get().unwrap(), &identity(k).into_bytes());
        }
        let listed = Keyed::all(&store).unwrap().collect::<Result<Vec<_>, _>>().unwrap();
        prop_assert_eq!(listed.len(), keys.len());

        // Autoinc numbering per key: a key that came twice (same `a`) counts on.
        for a in numbered_keys {
            let runs = Numbered::new(a).load_all(&store).unwrap();
            let want: Vec<u32> = (0..runs.len() as u32).collect();
            prop_assert_eq!(runs.iter().map(|r| r.n.unwrap()).collect::<Vec<_>>(), want);
            for r in &runs {
                prop_assert_eq!(&r.a, &a.to_owned());
            }
        }
    }

    #[test]
    fn folder_names_are_safe_bounded_and_split_back(
        readable in key_string(),
        a in key_string(),
        b in key_string(),
    ) {
        let ka = json!({"k": a});
        let kb = json!({"k": b});
        let da = record_dir_name(&readable, &ka);
        let db = record_dir_name(&readable, &kb);
        for name in [&da, &db] {
            prop_assert!(!name.is_empty() && name.len() <= 255, "{} bytes", name.len());
            prop_assert!(!name.starts_with('.'));
            prop_assert!(!name.contains(['/', '\\', '\0']));
        }
        prop_assert_eq!(a == b, da == db);
        let (r, _) = split_record_dir_name(&da).unwrap();
        prop_assert_eq!(r, sanitize(&readable, READABLE_MAX).0);
    }
}
