//! Bad input corpus: a damaged store never panics, each kind of damage gives
//! its documented error variant naming the record and the path, and listing
//! (`T::all`) yields one `Err` for the damaged record and goes on.
//!
//! Each case saves three records (`a`, `b`, `c`) in a fresh store, damages `b`
//! on disk, then loads it and lists the type. The `meta.json` cases start from
//! the real `meta.json` the store wrote and change one thing, so each case
//! tests exactly that one thing.
#![cfg(unix)]

use std::path::{Path, PathBuf};

use persist_core::ndarray::{Array1, Array2};
use persist_core::{Error, Lazy, Persistence, Storable, Store};
use serde_json::{json, Value};

#[derive(Persistence, Debug, Clone)]
#[persist(name = "sample")]
struct Sample {
    #[key]
    #[filename]
    id: String,
    count: u32,
    labels: Vec<String>,
    #[record]
    values: Lazy<Array1<f64>>,
    #[record]
    text: Lazy<String>,
}

fn sample(id: &str) -> Sample {
    let mut s = Sample::new(id);
    s.count = 3;
    s.labels = vec![format!("label of {id}")];
    s.values.set(Array1::linspace(0.0, 1.0, 64));
    s.text.set(format!("text of {id}"));
    s
}

/// The documented outcome of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// Loading the record fails with this variant.
    Load(Kind),
    /// The record loads; reading the `values` field fails with this variant.
    Values(Kind),
    /// The record loads whole (the damage is something persist tolerates).
    Fine,
    /// The record loads; `values` was never saved (`EmptyRecord`).
    ValuesEmpty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Corrupt,
    TypeMismatch,
    Integrity,
}

fn kind_of(e: &Error) -> Option<Kind> {
    match e {
        Error::Corrupt { .. } => Some(Kind::Corrupt),
        Error::TypeMismatch { .. } => Some(Kind::TypeMismatch),
        Error::Integrity { .. } => Some(Kind::Integrity),
        _ => None,
    }
}

/// The record `b`'s folder, `meta.json`, and the parsed `meta.json`.
struct Target {
    root: PathBuf,
    dir: PathBuf,
    meta: PathBuf,
    json: Value,
}

impl Target {
    fn file(&self, field: &str) -> PathBuf {
        self.dir
            .join(self.json["records"][field]["file"].as_str().unwrap())
    }

    fn write_meta(&self, value: &Value) {
        std::fs::write(&self.meta, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    }

    /// Replaces the `values` file with other bytes, and updates its size and
    /// blake3 in `meta.json` so that only the content is wrong.
    fn replace_values(&self, bytes: &[u8]) {
        std::fs::write(self.file("values"), bytes).unwrap();
        let mut v = self.json.clone();
        v["records"]["values"]["size"] = json!(bytes.len());
        v["records"]["values"]["blake3"] = json!(blake3::hash(bytes).to_hex().to_string());
        self.write_meta(&v);
    }

    /// A folder outside the store.
    fn outside(&self) -> PathBuf {
        let out = self.root.parent().unwrap().join("outside");
        std::fs::create_dir_all(&out).unwrap();
        out
    }
}

fn npy<T: Storable>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    value.write(&mut out).unwrap();
    out
}

type Damage = fn(&Target);

/// A `meta.json` with one change made by `f`.
macro_rules! meta_case {
    ($f:expr) => {
        |t: &Target| {
            let mut v = t.json.clone();
            let f: fn(&mut Value) = $f;
            f(&mut v);
            t.write_meta(&v);
        }
    };
}

fn cases() -> Vec<(&'static str, Damage, Want)> {
    use Kind::*;
    use Want::*;
    let missing = |field: &'static str| -> Damage {
        match field {
            "format" => meta_case!(|v| drop(v.as_object_mut().unwrap().remove("format"))),
            "type" => meta_case!(|v| drop(v.as_object_mut().unwrap().remove("type"))),
            "version" => meta_case!(|v| drop(v.as_object_mut().unwrap().remove("version"))),
            "name" => meta_case!(|v| drop(v.as_object_mut().unwrap().remove("name"))),
            "key" => meta_case!(|v| drop(v.as_object_mut().unwrap().remove("key"))),
            "autoinc" => meta_case!(|v| drop(v.as_object_mut().unwrap().remove("autoinc"))),
            "data" => meta_case!(|v| drop(v.as_object_mut().unwrap().remove("data"))),
            "records" => meta_case!(|v| drop(v.as_object_mut().unwrap().remove("records"))),
            "content_hash" => {
                meta_case!(|v| drop(v.as_object_mut().unwrap().remove("content_hash")))
            }
            "provenance" => {
                meta_case!(|v| drop(v.as_object_mut().unwrap().remove("provenance")))
            }
            _ => meta_case!(|v| drop(v.as_object_mut().unwrap().remove("saved_at"))),
        }
    };
    let mut cases: Vec<(&'static str, Damage, Want)> = vec![
        // --- meta.json that does not parse ---
        (
            "meta.json truncated",
            |t| {
                let b = std::fs::read(&t.meta).unwrap();
                std::fs::write(&t.meta, &b[..b.len() / 2]).unwrap();
            },
            Load(Corrupt),
        ),
        (
            "meta.json empty",
            |t| std::fs::write(&t.meta, b"").unwrap(),
            Load(Corrupt),
        ),
        (
            "meta.json not JSON",
            |t| std::fs::write(&t.meta, b"\x00\xffnot json at all{").unwrap(),
            Load(Corrupt),
        ),
        (
            "meta.json not UTF-8 inside a string",
            |t| std::fs::write(&t.meta, b"{\"type\": \"\xff\xfe\"}").unwrap(),
            Load(Corrupt),
        ),
        (
            "meta.json an array",
            |t| std::fs::write(&t.meta, b"[1, 2, 3]").unwrap(),
            Load(Corrupt),
        ),
        (
            "meta.json nested 100000 deep",
            |t| std::fs::write(&t.meta, "[".repeat(100_000)).unwrap(),
            Load(Corrupt),
        ),
        // --- wrong types ---
        (
            "version a string",
            meta_case!(|v| v["version"] = json!("1")),
            Load(Corrupt),
        ),
        (
            "format a string",
            meta_case!(|v| v["format"] = json!("1")),
            Load(Corrupt),
        ),
        (
            "key an array",
            meta_case!(|v| v["key"] = json!(["b"])),
            Load(Corrupt),
        ),
        (
            "data a string",
            meta_case!(|v| v["data"] = json!("x")),
            Load(Corrupt),
        ),
        (
            "records a list",
            meta_case!(|v| v["records"] = json!([])),
            Load(Corrupt),
        ),
        (
            "provenance pid a string",
            meta_case!(|v| v["provenance"]["pid"] = json!("a process")),
            Load(Corrupt),
        ),
        (
            "autoinc a string",
            meta_case!(|v| v["autoinc"] = json!("x")),
            Load(Corrupt),
        ),
        (
            "record size a string",
            meta_case!(|v| v["records"]["values"]["size"] = json!("big")),
            Load(Corrupt),
        ),
        (
            "record blake3 a number",
            meta_case!(|v| v["records"]["values"]["blake3"] = json!(7)),
            Load(Corrupt),
        ),
        (
            "data field of another type",
            meta_case!(|v| v["data"]["count"] = json!("many")),
            Load(TypeMismatch),
        ),
        (
            "data field out of range",
            meta_case!(|v| v["data"]["count"] = json!(-1)),
            Load(TypeMismatch),
        ),
        (
            "key value of another record",
            meta_case!(|v| v["key"]["id"] = json!("a")),
            Load(Corrupt),
        ),
        (
            "key value of another type",
            meta_case!(|v| v["key"]["id"] = json!(5)),
            Load(Corrupt),
        ),
        (
            "another type name",
            meta_case!(|v| v["type"] = json!("other")),
            Load(TypeMismatch),
        ),
        (
            "another version",
            meta_case!(|v| v["version"] = json!(99)),
            Load(TypeMismatch),
        ),
        (
            "version out of range",
            meta_case!(|v| v["version"] = json!(1u64 << 40)),
            Load(Corrupt),
        ),
        (
            "an autoinc in a plain folder",
            meta_case!(|v| v["autoinc"] = json!(3)),
            Load(Corrupt),
        ),
        (
            "record file in another format",
            meta_case!(|v| v["records"]["values"]["format"] = json!("json")),
            Load(TypeMismatch),
        ),
        (
            "record file name leaving the folder",
            meta_case!(|v| v["records"]["values"]["file"] = json!("../../outside.npy")),
            Load(Corrupt),
        ),
        (
            "record file name hidden",
            meta_case!(|v| v["records"]["values"]["file"] = json!(".claim")),
            Load(Corrupt),
        ),
        // --- extra and absent fields persist tolerates ---
        (
            "extra top-level field",
            meta_case!(|v| v["comment"] = json!("hi")),
            Fine,
        ),
        (
            "extra data field",
            meta_case!(|v| v["data"]["retired"] = json!([1])),
            Fine,
        ),
        (
            "extra record entry",
            meta_case!(|v| v["records"]["old"] = v["records"]["text"].clone()),
            Fine,
        ),
        (
            "data field absent (saved before it existed)",
            meta_case!(|v| drop(v["data"].as_object_mut().unwrap().remove("labels"))),
            Fine,
        ),
        (
            "record entry absent (saved empty)",
            meta_case!(|v| drop(v["records"].as_object_mut().unwrap().remove("values"))),
            ValuesEmpty,
        ),
        (
            "extra key field",
            meta_case!(|v| v["key"]["extra"] = json!(1)),
            Load(Corrupt),
        ),
        // --- record files ---
        (
            "record file missing",
            |t| std::fs::remove_file(t.file("values")).unwrap(),
            Values(Corrupt),
        ),
        (
            "record file truncated",
            |t| {
                let f = t.file("values");
                let b = std::fs::read(&f).unwrap();
                std::fs::write(&f, &b[..b.len() - 10]).unwrap();
            },
            Values(Integrity),
        ),
        (
            "record file empty",
            |t| std::fs::write(t.file("values"), b"").unwrap(),
            Values(Integrity),
        ),
        (
            "record file checksum mismatch",
            |t| {
                let f = t.file("values");
                let mut b = std::fs::read(&f).unwrap();
                let last = b.len() - 1;
                b[last] ^= 0x40;
                std::fs::write(&f, b).unwrap();
            },
            Values(Integrity),
        ),
        (
            "record file of a wrong dtype",
            |t| t.replace_values(&npy(&Array1::<i32>::zeros(64))),
            Values(TypeMismatch),
        ),
        (
            "record file of a wrong shape",
            |t| t.replace_values(&npy(&Array2::<f64>::zeros((8, 8)))),
            Values(TypeMismatch),
        ),
        (
            "record file not npy",
            |t| t.replace_values(b"this is not an npy file"),
            Values(Corrupt),
        ),
        (
            "record file with a garbled npy header",
            |t| {
                let mut b = npy(&Array1::<f64>::zeros(64));
                b[20] = b'{';
                b[21] = b'{';
                t.replace_values(&b);
            },
            Values(Corrupt),
        ),
        // --- a directory where a file should be ---
        (
            "meta.json a directory",
            |t| {
                std::fs::remove_file(&t.meta).unwrap();
                std::fs::create_dir(&t.meta).unwrap();
            },
            Load(Corrupt),
        ),
        (
            "record file a directory",
            |t| {
                let f = t.file("values");
                std::fs::remove_file(&f).unwrap();
                std::fs::create_dir(&f).unwrap();
            },
            Values(Corrupt),
        ),
        // --- symlinks pointing outside the store ---
        (
            "meta.json a symlink outside the store",
            |t| {
                let copy = t.outside().join("meta.json");
                std::fs::rename(&t.meta, &copy).unwrap();
                std::os::unix::fs::symlink(&copy, &t.meta).unwrap();
            },
            Load(Corrupt),
        ),
        (
            "record file a symlink outside the store",
            |t| {
                let f = t.file("values");
                let copy = t.outside().join("values.npy");
                std::fs::rename(&f, &copy).unwrap();
                std::os::unix::fs::symlink(&copy, &f).unwrap();
            },
            Values(Corrupt),
        ),
        (
            "record folder a symlink outside the store",
            |t| {
                let copy = t.outside().join("record");
                std::fs::rename(&t.dir, &copy).unwrap();
                std::os::unix::fs::symlink(&copy, &t.dir).unwrap();
            },
            Load(Corrupt),
        ),
    ];
    for field in [
        "format",
        "type",
        "version",
        "name",
        "key",
        "autoinc",
        "data",
        "records",
        "content_hash",
        "saved_at",
        "provenance",
    ] {
        let name: &'static str = Box::leak(format!("meta.json without `{field}`").into_boxed_str());
        // An absent `autoinc` reads as null, which is right for a type without
        // one; a meta.json from before provenance was kept has none.
        let want = if field == "autoinc" || field == "provenance" {
            Fine
        } else {
            Load(Corrupt)
        };
        cases.push((name, missing(field), want));
    }
    cases
}

fn setup(root: &Path) -> (Store, Target) {
    let store = Store::open(root).unwrap().durable(false);
    for id in ["a", "b", "c"] {
        sample(id).save(&store).unwrap();
    }
    let rd = persist_core::__private::record_dir(&Sample::new("b")).unwrap();
    let dir = root.join(rd.path());
    let meta = dir.join("meta.json");
    let json = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    (
        store,
        Target {
            root: root.to_path_buf(),
            dir,
            meta,
            json,
        },
    )
}

/// Checks that an error is the wanted variant and names record `b` and a path
/// inside its folder.
fn check_error(case: &str, e: &Error, want: Kind, target: &Target) {
    assert_eq!(kind_of(e), Some(want), "{case}: got {e:?}");
    let message = e.to_string();
    assert!(
        message.contains("sample-b"),
        "{case}: the message does not name the record: {message}"
    );
    let path = e
        .path()
        .unwrap_or_else(|| panic!("{case}: no path: {message}"));
    assert!(
        path.starts_with(&t_dir(target)),
        "{case}: the path {path} is not in the record's folder"
    );
    assert!(message.contains(path), "{case}: {message}");
}

fn t_dir(t: &Target) -> String {
    t.dir.display().to_string()
}

#[test]
fn every_kind_of_damage_gives_its_error_and_listing_goes_on() {
    let all = cases();
    for (case, damage, want) in &all {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("store");
        let (store, target) = setup(&root);
        damage(&target);

        // A panic anywhere here fails the test, naming the case.
        eprintln!("-- {case}");
        let loaded = Sample::new("b").load(&store);
        match (*want, loaded) {
            (Want::Load(kind), Err(e)) => check_error(case, &e, kind, &target),
            (Want::Load(kind), Ok(s)) => {
                panic!("{case}: loaded {s:?}, expected {kind:?}")
            }
            (Want::Values(kind), Ok(s)) => {
                let e = s
                    .values
                    .get()
                    .expect_err(&format!("{case}: values read back"));
                check_error(case, &e, kind, &target);
                // The other field of the record is untouched.
                assert_eq!(s.text.get().unwrap(), "text of b", "{case}");
            }
            (Want::Fine, Ok(s)) => {
                assert_eq!(s.values.get().unwrap(), sample("b").values.get().unwrap());
                assert_eq!(s.text.get().unwrap(), "text of b", "{case}");
            }
            (Want::ValuesEmpty, Ok(s)) => {
                let e = s.values.get().unwrap_err();
                assert!(matches!(e, Error::EmptyRecord { .. }), "{case}: {e:?}");
            }
            (_, Err(e)) => panic!("{case}: load failed: {e:?}"),
        }

        // Listing: three items, `a` and `c` whole; `b` is one Err item (or,
        // for damage inside a record file, an item whose field read fails).
        let items: Vec<_> = Sample::all(&store).unwrap().collect();
        assert_eq!(items.len(), 3, "{case}: {items:?}");
        let ok: Vec<&str> = items
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|s| s.id.as_str())
            .collect();
        match want {
            Want::Load(_) => {
                assert_eq!(ok, ["a", "c"], "{case}");
                let e = items.iter().find_map(|r| r.as_ref().err()).unwrap();
                assert!(kind_of(e).is_some(), "{case}: listing gave {e:?}");
                assert!(e.path().is_some(), "{case}: {e}");
            }
            _ => assert_eq!(ok, ["a", "b", "c"], "{case}"),
        }
        for s in items.iter().filter_map(|r| r.as_ref().ok()) {
            if s.id != "b" {
                assert_eq!(s.text.get().unwrap(), &format!("text of {}", s.id));
            }
        }
    }
    eprintln!("corpus: {} cases", all.len());
}

/// Without checksum verification a truncated file is still caught, by its size.
#[test]
fn without_verify_a_short_file_is_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let (store, target) = setup(&root);
    let f = target.file("values");
    let b = std::fs::read(&f).unwrap();
    std::fs::write(&f, &b[..b.len() - 8]).unwrap();
    let store = store.verify(false);
    let s = Sample::new("b").load(&store).unwrap();
    let e = s.values.get().unwrap_err();
    assert!(
        matches!(e, Error::Corrupt { .. } | Error::TypeMismatch { .. }),
        "{e:?}"
    );
    check_error("short file, no verify", &e, kind_of(&e).unwrap(), &target);
}

/// An extra file that is a symlink out of the store is refused too.
#[test]
fn extra_file_symlink_outside_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let (store, target) = setup(&root);
    let b = Sample::new("b");
    b.save_file(&store, "notes.txt", &"mine".to_string())
        .unwrap();
    let f = target.dir.join("files").join("notes.txt");
    let secret = target.outside().join("secret.txt");
    std::fs::write(&secret, "secret").unwrap();
    std::fs::remove_file(&f).unwrap();
    std::os::unix::fs::symlink(&secret, &f).unwrap();
    let e = b.load_file::<String>(&store, "notes.txt").unwrap_err();
    assert!(matches!(e, Error::Corrupt { .. }), "{e:?}");
    assert!(e.to_string().contains("notes.txt"), "{e}");
}
