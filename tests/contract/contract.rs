//! The public contract (README.md), as a user crate exercises it, on every
//! backend (local disk, memory, and S3 when a server is configured).

#[path = "../fixtures/mod.rs"]
mod fixtures;

use fixtures::stores::{local, on_every_store, on_every_store_with_autoinc};
use persist_core::ndarray::{array, Array1, Array2, Array3};
use persist_core::{Error, Json, Lazy, Persistence, Store};

#[derive(Persistence, Debug, Clone)]
#[persist(name = "example")]
struct Example {
    #[key]
    #[filename]
    use_animal: String,
    #[key]
    use_session: String,
    #[key]
    #[filename]
    use_date: String,
    channels: Vec<i32>,
    #[record]
    data: Lazy<Array1<f64>>,
}

#[derive(Persistence, Debug, Clone)]
struct Trial {
    #[key]
    #[filename(prefix = "s")]
    subject: String,
    #[key]
    lr: u32,
    #[autoinc]
    attempt: Option<u32>,
    score: f64,
    note: String,
    #[record(file = "weights")]
    weights: Lazy<Array2<f32>>,
    #[record]
    log: Lazy<String>,
}

fn example(animal: &str, session: &str) -> Example {
    let mut e = Example::new(animal, session, "1234");
    e.channels = vec![3, 1, 4];
    e.data.set(Array1::linspace(0.0, 1.0, 11));
    e
}

#[test]
fn filename_and_display_follow_the_contract() {
    let e = Example::new("A00", "s", "1234");
    assert_eq!(e.filename(), "example-A00-1234");
    assert_eq!(e.to_string(), "example-A00-1234");
    let t = Trial::new("X", 3);
    assert_eq!(t.filename(), "trial-sX-*");
}

#[test]
fn save_then_load_round_trips_on_every_store() {
    on_every_store(|store| {
        let mut e = example("A00", "s1");
        e.save(store).unwrap();
        let back = Example::new("A00", "s1", "1234").load(store).unwrap();
        assert_eq!(back.channels, vec![3, 1, 4]);
        assert!(
            !back.data.is_loaded(),
            "record files are read on first access only"
        );
        assert_eq!(back.data.get().unwrap(), &Array1::linspace(0.0, 1.0, 11));
        assert!(back.data.is_loaded());
        assert!(e.exists(store).unwrap());
    });
}

#[test]
fn keys_not_in_the_file_name_still_keep_records_apart() {
    on_every_store(|store| {
        let mut a = example("A00", "morning");
        a.channels = vec![1];
        a.save(store).unwrap();
        let mut b = example("A00", "evening");
        b.channels = vec![2];
        b.save(store).unwrap();
        assert_eq!(a.filename(), b.filename());
        assert_eq!(
            Example::new("A00", "morning", "1234")
                .load(store)
                .unwrap()
                .channels,
            vec![1]
        );
        assert_eq!(
            Example::new("A00", "evening", "1234")
                .load(store)
                .unwrap()
                .channels,
            vec![2]
        );
    });
}

#[test]
fn missing_record_is_not_found() {
    on_every_store(|store| {
        let err = Example::new("nobody", "s", "1").load(store).unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
        assert!(err.to_string().contains("example-nobody-1"), "{err}");
        assert!(!Example::new("nobody", "s", "1").exists(store).unwrap());
        let err = Example::new("nobody", "s", "1").remove(store).unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
    });
}

#[test]
fn autoinc_numbers_are_dense_and_load_all_is_ascending() {
    on_every_store_with_autoinc(|store| {
        for i in 0..5 {
            let mut t = Trial::new("X", 3);
            t.score = f64::from(i);
            t.save(store).unwrap();
            assert_eq!(t.attempt, Some(i as u32));
            assert_eq!(t.filename(), format!("trial-sX-{i}"));
        }
        // Another key has its own numbering.
        let mut other = Trial::new("X", 4);
        other.save(store).unwrap();
        assert_eq!(other.attempt, Some(0));

        let all = Trial::new("X", 3).load_all(store).unwrap();
        let runs: Vec<_> = all.iter().map(|t| t.attempt.unwrap()).collect();
        assert_eq!(runs, vec![0, 1, 2, 3, 4]);
        let scores: Vec<_> = all.iter().map(|t| t.score).collect();
        assert_eq!(scores, vec![0.0, 1.0, 2.0, 3.0, 4.0]);
    });
}

#[test]
fn unresolved_autoinc_cannot_load() {
    on_every_store(|store| {
        let err = Trial::new("X", 1).load(store).unwrap_err();
        assert!(
            matches!(err, Error::AutoIncUnresolved { ref field, .. } if field == "attempt"),
            "{err}"
        );
    });
}

#[test]
fn removed_numbers_are_never_given_again() {
    on_every_store_with_autoinc(|store| {
        let mut a = Trial::new("R", 1);
        a.save(store).unwrap();
        let mut b = Trial::new("R", 1);
        b.save(store).unwrap();
        b.remove(store).unwrap();
        assert!(!b.exists(store).unwrap());
        let mut c = Trial::new("R", 1);
        c.save(store).unwrap();
        assert_eq!(c.attempt, Some(2));
        let runs: Vec<_> = Trial::new("R", 1)
            .load_all(store)
            .unwrap()
            .iter()
            .map(|t| t.attempt)
            .collect();
        assert_eq!(runs, vec![Some(0), Some(2)]);
    });
}

#[test]
fn overwriting_replaces_the_record_and_removes_superseded_files() {
    let (store, dir) = local();
    let mut e = example("A01", "s");
    e.save(&store).unwrap();
    e.data.set(array![9.0, 8.0]);
    e.channels = vec![7];
    e.save(&store).unwrap();
    let back = e.load(&store).unwrap();
    assert_eq!(back.data.get().unwrap(), &array![9.0, 8.0]);
    assert_eq!(back.channels, vec![7]);
    let npys = walk(dir.path())
        .into_iter()
        .filter(|p| p.ends_with(".npy"))
        .count();
    assert_eq!(npys, 1, "the superseded array file is removed");
}

#[test]
fn resaving_a_loaded_record_keeps_its_unread_files() {
    let (store, dir) = local();
    let mut e = example("A02", "s");
    e.save(&store).unwrap();
    let mut back = e.load(&store).unwrap();
    back.channels.push(5);
    back.save(&store).unwrap();
    assert!(
        !back.data.is_loaded(),
        "saving did not read the unchanged array"
    );
    let again = e.load(&store).unwrap();
    assert_eq!(again.channels, vec![3, 1, 4, 5]);
    assert_eq!(again.data.get().unwrap().len(), 11);
    let npys = walk(dir.path())
        .into_iter()
        .filter(|p| p.ends_with(".npy"))
        .count();
    assert_eq!(npys, 1);
}

#[test]
fn records_copy_between_stores() {
    let (disk, _dir) = local();
    let mem = Store::memory();
    let mut e = example("A03", "s");
    e.save(&disk).unwrap();
    let mut back = e.load(&disk).unwrap();
    back.save(&mem).unwrap();
    assert_eq!(e.load(&mem).unwrap().data.get().unwrap().len(), 11);
}

#[test]
fn empty_lazy_fields_are_saved_without_files_and_load_empty() {
    on_every_store_with_autoinc(|store| {
        let mut t = Trial::new("E", 1);
        t.score = 0.5;
        t.save(store).unwrap();
        let back = t.load(store).unwrap();
        assert_eq!(back.score, 0.5);
        let err = back.weights.get().unwrap_err();
        assert!(
            matches!(err, Error::EmptyRecord { ref field, .. } if field == "weights"),
            "{err}"
        );
    });
}

#[test]
fn replace_changes_fields_and_resets_autoinc_on_key_change() {
    let mut t = Trial::new("P", 1);
    t.attempt = Some(4);
    t.score = 1.5;
    let same_key = t.replace().score(2.5).note("n").build();
    assert_eq!(same_key.attempt, Some(4));
    assert_eq!(same_key.score, 2.5);
    assert_eq!(same_key.note, "n");
    let new_key = t.replace().subject("Q").build();
    assert_eq!(new_key.attempt, None);
    assert_eq!(new_key.subject, "Q");
    assert_eq!(new_key.score, 1.5, "data fields are kept");
    assert_eq!(t.subject, "P", "the original is untouched");
}

#[test]
fn load_or_compute_computes_once() {
    on_every_store(|store| {
        let mut calls = 0;
        let first = example("C", "s").replace().build();
        let first = Example::new(first.use_animal, "s", "1234")
            .load_or_compute(store, |e| {
                calls += 1;
                e.channels = vec![42];
                e.data.set(array![1.0]);
                Ok(())
            })
            .unwrap();
        assert_eq!(first.channels, vec![42]);
        let second = Example::new("C", "s", "1234")
            .load_or_compute(store, |_| {
                calls += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(second.channels, vec![42]);
        assert_eq!(calls, 1);
    });
}

/// A computation that changes a key field: the result is saved under the key
/// it has when it is saved, as `save` would, and loads by that key.
#[test]
fn load_or_compute_saves_under_the_key_the_computation_left() {
    on_every_store(|store| {
        let computed = Example::new("K", "s", "1")
            .load_or_compute(store, |e| {
                e.use_session = "t".to_owned();
                e.channels = vec![7];
                e.data.set(array![2.0]);
                Ok(())
            })
            .unwrap();
        assert_eq!(computed.use_session, "t");
        let back = Example::new("K", "t", "1").load(store).unwrap();
        assert_eq!(back.channels, vec![7]);
        assert_eq!(back.data.get().unwrap(), &array![2.0]);
        assert!(!Example::new("K", "s", "1").exists(store).unwrap());
    });
}

#[test]
fn load_or_compute_failure_saves_nothing() {
    on_every_store(|store| {
        let err = Example::new("F", "s", "1")
            .load_or_compute(store, |_| Err("the fit diverged".into()))
            .unwrap_err();
        assert!(matches!(err, Error::Compute { .. }), "{err}");
        assert!(err.to_string().contains("the fit diverged"), "{err}");
        assert!(!Example::new("F", "s", "1").exists(store).unwrap());
    });
}

#[test]
fn load_or_compute_with_unresolved_autoinc_adds_a_run() {
    on_every_store_with_autoinc(|store| {
        for i in 0..3 {
            let t = Trial::new("L", 1)
                .load_or_compute(store, |t| {
                    t.score = 1.0;
                    Ok(())
                })
                .unwrap();
            assert_eq!(t.attempt, Some(i));
        }
    });
}

#[test]
fn all_lists_every_record_and_reports_a_damaged_one_as_one_item() {
    let (store, dir) = local();
    for animal in ["A", "B", "C"] {
        example(animal, "s").save(&store).unwrap();
    }
    let damaged = example("B", "s");
    let meta = dir.path().join(
        persist_core::__private::record_dir(&damaged)
            .unwrap()
            .meta_path(),
    );
    std::fs::write(&meta, b"{ not json").unwrap();
    let items: Vec<_> = Example::all(&store).unwrap().collect();
    assert_eq!(items.len(), 3);
    let ok: Vec<_> = items
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|e| e.use_animal.clone())
        .collect();
    assert_eq!(ok, vec!["A", "C"]);
    let err = items.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("meta.json"), "{err}");
}

#[test]
fn extra_files_live_beside_the_record() {
    on_every_store(|store| {
        let mut e = example("X", "s");
        let err = e
            .save_file(store, "notes.txt", &"early".to_string())
            .unwrap_err();
        assert!(
            matches!(err, Error::NotFound { .. }),
            "a file needs a saved record: {err}"
        );
        e.save(store).unwrap();
        e.save_file(store, "notes.txt", &"hello".to_string())
            .unwrap();
        e.save_file(store, "config.json", &Json(vec![1, 2]))
            .unwrap();
        e.save_file(store, "grid.npy", &Array3::<u8>::zeros((2, 2, 2)))
            .unwrap();
        // A name that looks like a record file never clashes with one.
        e.save_file(store, "meta.json", &serde_json::json!({"mine": true}))
            .unwrap();
        assert_eq!(e.load_file::<String>(store, "notes.txt").unwrap(), "hello");
        assert_eq!(
            e.load_file::<Json<Vec<i32>>>(store, "config.json")
                .unwrap()
                .0,
            vec![1, 2]
        );
        assert_eq!(
            e.load_file::<Array3<u8>>(store, "grid.npy")
                .unwrap()
                .shape(),
            &[2, 2, 2]
        );
        assert_eq!(
            e.load(store).unwrap().channels,
            vec![3, 1, 4],
            "the record is intact"
        );

        let err = e.load_file::<String>(store, "config.json").unwrap_err();
        assert!(matches!(err, Error::TypeMismatch { .. }), "{err}");
        let err = e
            .save_file(store, "../escape.txt", &"x".to_string())
            .unwrap_err();
        assert!(matches!(err, Error::InvalidKey { .. }), "{err}");
        let err = e.load_file::<String>(store, "absent.txt").unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");

        // Saving the record again keeps them; remove takes them along.
        e.save(store).unwrap();
        assert_eq!(e.load_file::<String>(store, "notes.txt").unwrap(), "hello");
        e.remove(store).unwrap();
        let err = e.load_file::<String>(store, "notes.txt").unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
    });
}

#[test]
fn hostile_key_values_stay_inside_the_store_and_apart() {
    let (store, dir) = local();
    let hostile = [
        "..",
        "../..",
        "/etc/passwd",
        "a/b",
        "a\\b",
        "nul\0byte",
        "",
        " ",
        "-",
        "a-b",
        "ünïcødé 🧪",
        "CON",
        ".hidden",
        "*",
        "?",
    ];
    let long = "x".repeat(10_000);
    let mut keys: Vec<String> = hostile.iter().map(|s| s.to_string()).collect();
    keys.push(long.clone());
    keys.push(format!("{long}y"));
    for (i, k) in keys.iter().enumerate() {
        let mut e = Example::new(k.clone(), k.clone(), "d");
        e.channels = vec![i as i32];
        e.save(&store).unwrap();
    }
    for (i, k) in keys.iter().enumerate() {
        let back = Example::new(k.clone(), k.clone(), "d")
            .load(&store)
            .unwrap();
        assert_eq!(back.channels, vec![i as i32], "key {k:?}");
        assert_eq!(&back.use_animal, k);
    }
    let root = dir.path().canonicalize().unwrap();
    for path in walk(dir.path()) {
        let p = std::path::Path::new(&path);
        assert!(
            p.canonicalize().unwrap().starts_with(&root),
            "{path} escaped the store"
        );
        for c in p.strip_prefix(dir.path()).unwrap().components() {
            assert!(
                c.as_os_str().len() <= 255,
                "{path} has a component over 255 bytes"
            );
        }
    }
    assert_eq!(
        Example::all(&store).unwrap().filter(|r| r.is_ok()).count(),
        keys.len()
    );
}

#[test]
fn keys_that_print_alike_do_not_collide() {
    on_every_store(|store| {
        let mut a = Example::new("A-B", "s", "C");
        a.channels = vec![1];
        a.save(store).unwrap();
        let mut b = Example::new("A", "s", "B-C");
        b.channels = vec![2];
        b.save(store).unwrap();
        assert_eq!(a.filename(), b.filename());
        assert_eq!(a.load(store).unwrap().channels, vec![1]);
        assert_eq!(b.load(store).unwrap().channels, vec![2]);
    });
}

#[derive(Persistence, Debug)]
struct FloatKey {
    #[key]
    #[filename]
    x: f64,
    y: u8,
}

#[test]
fn non_finite_float_keys_are_invalid() {
    let store = Store::memory();
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let err = FloatKey::new(bad).save(&store).unwrap_err();
        assert!(matches!(err, Error::InvalidKey { .. }), "{err}");
        assert!(err.to_string().contains('x'), "names the field: {err}");
    }
    let mut ok = FloatKey::new(1.5);
    ok.y = 3;
    ok.save(&store).unwrap();
    assert_eq!(FloatKey::new(1.5).load(&store).unwrap().y, 3);
    assert_eq!(FloatKey::new(1.5).filename(), "float_key-1.5");
}

#[test]
fn tampered_record_file_is_an_integrity_error() {
    let (store, dir) = local();
    let e = {
        let mut e = example("T", "s");
        e.save(&store).unwrap();
        e
    };
    let npy = walk(dir.path())
        .into_iter()
        .find(|p| p.ends_with(".npy"))
        .unwrap();
    let mut bytes = std::fs::read(&npy).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&npy, &bytes).unwrap();

    let back = e.load(&store).unwrap();
    let err = back.data.get().unwrap_err();
    assert!(matches!(err, Error::Integrity { .. }), "{err}");
    assert!(err.to_string().contains(&npy), "names the path: {err}");
    assert!(
        err.to_string().contains("example-T-1234"),
        "names the record: {err}"
    );

    // With verification off the changed bytes are read as they are.
    let unchecked = e.load(&store.clone().verify(false)).unwrap();
    assert!(unchecked.data.get().is_ok());
}

#[derive(Persistence, Debug)]
#[persist(name = "example")]
struct ExampleAsMatrix {
    #[key]
    #[filename]
    use_animal: String,
    #[key]
    use_session: String,
    #[key]
    #[filename]
    use_date: String,
    channels: Vec<i32>,
    #[record]
    data: Lazy<Array2<f64>>,
}

#[derive(Persistence, Debug)]
#[persist(name = "example")]
struct ExampleAsInts {
    #[key]
    #[filename]
    use_animal: String,
    #[key]
    use_session: String,
    #[key]
    #[filename]
    use_date: String,
    channels: Vec<i32>,
    #[record]
    data: Lazy<Array1<i64>>,
}

#[derive(Persistence, Debug)]
#[persist(name = "example")]
struct ExampleWithTextChannels {
    #[key]
    #[filename]
    use_animal: String,
    #[key]
    use_session: String,
    #[key]
    #[filename]
    use_date: String,
    channels: String,
}

#[test]
fn wrong_shape_or_type_reads_are_type_mismatches() {
    on_every_store(|store| {
        example("W", "s").save(store).unwrap();
        let m = ExampleAsMatrix::new("W", "s", "1234").load(store).unwrap();
        let err = m.data.get().unwrap_err();
        assert!(matches!(err, Error::TypeMismatch { .. }), "{err}");
        let i = ExampleAsInts::new("W", "s", "1234").load(store).unwrap();
        let err = i.data.get().unwrap_err();
        assert!(matches!(err, Error::TypeMismatch { .. }), "{err}");
        let err = ExampleWithTextChannels::new("W", "s", "1234")
            .load(store)
            .unwrap_err();
        assert!(matches!(err, Error::TypeMismatch { .. }), "{err}");
        assert!(
            err.to_string().contains("channels"),
            "names the field: {err}"
        );
    });
}

#[test]
fn meta_json_is_readable() {
    let (store, dir) = local();
    let mut t = Trial::new("M", 7);
    t.score = 0.25;
    t.note = "first".into();
    t.weights.set(Array2::eye(2));
    t.log.set("epoch 1\n".into());
    t.save(&store).unwrap();
    let path = dir
        .path()
        .join(persist_core::__private::record_dir(&t).unwrap().meta_path());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains('\n'), "pretty printed");
    let meta: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(meta["type"], "trial");
    assert_eq!(meta["version"], 1);
    assert_eq!(meta["key"]["subject"], "M");
    assert_eq!(meta["key"]["lr"], 7);
    assert_eq!(meta["autoinc"], 0);
    assert_eq!(meta["data"]["score"], 0.25);
    assert_eq!(meta["data"]["note"], "first");
    let weights = &meta["records"]["weights"];
    assert_eq!(weights["format"], "npy");
    let file = weights["file"].as_str().unwrap();
    assert!(
        file.starts_with("weights-") && file.ends_with(".npy"),
        "{file}"
    );
    assert_eq!(weights["blake3"].as_str().unwrap().len(), 64);
    assert_eq!(meta["records"]["log"]["format"], "txt");
    let on_disk = std::fs::metadata(path.parent().unwrap().join(file))
        .unwrap()
        .len();
    assert_eq!(weights["size"], on_disk);
    // The folder shows the file name.
    assert!(
        path.to_string_lossy().contains("trial-sM."),
        "{}",
        path.display()
    );
}

#[test]
fn memory_store_clones_share_records() {
    let a = Store::memory();
    let b = a.clone();
    example("S", "s").save(&a).unwrap();
    assert!(Example::new("S", "s", "1234").exists(&b).unwrap());
    assert!(!Example::new("S", "s", "1234")
        .exists(&Store::memory())
        .unwrap());
}

#[test]
fn store_is_clone_send_sync_and_lazy_is_send_sync() {
    fn error_is_send_sync<T: Send + Sync + 'static>() {}
    error_is_send_sync::<Error>();
    fn check<T: Clone + Send + Sync>() {}
    check::<Store>();
    check::<Lazy<Array1<f64>>>();
}

#[test]
fn lazy_debug_never_reads() {
    let (store, _dir) = local();
    example("D", "s").save(&store).unwrap();
    let back = Example::new("D", "s", "1234").load(&store).unwrap();
    let shown = format!("{back:?}");
    assert!(shown.contains("unread"), "{shown}");
    assert!(!back.data.is_loaded());
}

#[test]
fn query_matches_partial_keys_sorted_by_file_name() {
    on_every_store(|store| {
        for (animal, session, date) in [
            ("B", "s1", "d1"),
            ("A", "s1", "d1"),
            ("A", "s2", "d2"),
            ("C", "s1", "d2"),
        ] {
            let mut e = Example::new(animal, session, date);
            e.channels = vec![1];
            e.save(store).unwrap();
        }
        let names = |v: Vec<Example>| {
            v.iter()
                .map(|e| format!("{}/{}", e.filename(), e.use_session))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(Example::query().use_date("d1").run(store).unwrap()),
            vec!["example-A-d1/s1", "example-B-d1/s1"]
        );
        assert_eq!(
            names(Example::query().use_animal("A").run(store).unwrap()),
            vec!["example-A-d1/s1", "example-A-d2/s2"]
        );
        assert_eq!(
            names(Example::query().use_session("s2").run(store).unwrap()),
            vec!["example-A-d2/s2"]
        );
        assert_eq!(Example::query().run(store).unwrap().len(), 4);
        assert!(Example::query()
            .use_animal("Z")
            .run(store)
            .unwrap()
            .is_empty());
    });
}

#[test]
fn query_by_autoinc() {
    on_every_store_with_autoinc(|store| {
        for _ in 0..3 {
            Trial::new("Q", 1).save(store).unwrap();
        }
        Trial::new("Q", 2).save(store).unwrap();
        let runs: Vec<_> = Trial::query().subject("Q").attempt(3).run(store).unwrap();
        assert!(runs.is_empty());
        let one = Trial::query().subject("Q").attempt(1).run(store).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!((one[0].lr, one[0].attempt), (1, Some(1)));
        assert_eq!(Trial::query().lr(1).run(store).unwrap().len(), 3);
    });
}

#[test]
fn the_same_name_reads_the_same_records() {
    let store = Store::memory();
    let mut e = example("N", "s");
    e.channels = vec![8];
    e.save(&store).unwrap();
    let other = ExampleAsMatrix::new("N", "s", "1234").load(&store).unwrap();
    assert_eq!(other.channels, vec![8]);
}

/// Every file below `dir`, as strings.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.to_string_lossy().into_owned());
            }
        }
    }
    out
}

#[test]
fn resaving_after_another_overwrite_never_names_a_removed_file() {
    on_every_store(|store| {
        let mut first = example("O", "s");
        first.save(store).unwrap();
        let unread = first.load(store).unwrap();
        let read = first.load(store).unwrap();
        read.data.get().unwrap();

        // Another writer replaces the record (and removes the old array file).
        let mut other = example("O", "s");
        other.data.set(array![5.0]);
        other.save(store).unwrap();

        // The value that was read is written again, whole.
        let mut read = read;
        read.save(store).unwrap();
        let back = first.load(store).unwrap();
        assert_eq!(back.data.get().unwrap(), &Array1::linspace(0.0, 1.0, 11));

        // The value that was never read cannot be saved: it is gone.
        let mut unread = unread;
        let err = unread.save(store).unwrap_err();
        assert!(matches!(err, Error::Superseded { .. }), "{err}");
        let back = first.load(store).unwrap();
        assert_eq!(
            back.data.get().unwrap(),
            &Array1::linspace(0.0, 1.0, 11),
            "nothing was half-written"
        );
    });
}
