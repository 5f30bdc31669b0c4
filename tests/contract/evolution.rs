//! Schema evolution: records saved by an older shape of a struct still load,
//! or fail with a message that says what changed, where. An "older" struct is
//! a second struct with the same `#[persist(name)]`, which reads and writes the
//! same records.

#[path = "../fixtures/mod.rs"]
mod fixtures;

use fixtures::stores::{local, on_every_store};
use persist_core::serde_json::{json, Value};
use persist_core::{Error, Lazy, Migrate, Persistence, Store};
use serde::{Deserialize, Serialize};

// ---- the shapes of one record type over time ------------------------------

/// Settings as version 1 knew them.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
struct SettingsV1 {
    rate: f64,
}

/// Settings with a field added later, defaulted for older records.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct SettingsV2 {
    rate: f64,
    #[serde(default = "default_decay")]
    decay: f64,
    #[serde(default)]
    tags: Vec<String>,
}

impl Default for SettingsV2 {
    fn default() -> Self {
        SettingsV2 {
            rate: 0.0,
            decay: default_decay(),
            tags: Vec::new(),
        }
    }
}

fn default_decay() -> f64 {
    0.9
}

/// The first shape.
#[derive(Persistence, Debug, Clone)]
#[persist(name = "model")]
struct ModelV1 {
    #[key]
    #[filename]
    dataset: String,
    #[key]
    depth: u32,
    error: f64,
    legacy_note: String,
    settings: SettingsV1,
    #[record]
    weights: Lazy<Vec<u8>>,
}

/// A field added (`epochs`, plain `Default`), one removed (`legacy_note`), and
/// a nested field added with `#[serde(default)]`.
#[derive(Persistence, Debug, Clone)]
#[persist(name = "model")]
struct ModelAdded {
    #[key]
    #[filename]
    dataset: String,
    #[key]
    depth: u32,
    error: f64,
    epochs: u32,
    history: Vec<f64>,
    settings: SettingsV2,
    #[record]
    weights: Lazy<Vec<u8>>,
}

/// `error` changed type.
#[derive(Persistence, Debug, Clone)]
#[persist(name = "model")]
struct ModelErrorIsText {
    #[key]
    #[filename]
    dataset: String,
    #[key]
    depth: u32,
    error: String,
}

/// A record field changed format (bytes → text).
#[derive(Persistence, Debug, Clone)]
#[persist(name = "model")]
struct ModelWeightsAsText {
    #[key]
    #[filename]
    dataset: String,
    #[key]
    depth: u32,
    #[record]
    weights: Lazy<String>,
}

/// Version 2, `error` renamed to `rmse`, but no migration hook.
#[derive(Persistence, Debug, Clone)]
#[persist(name = "model", version = 2)]
struct ModelV2NoHook {
    #[key]
    #[filename]
    dataset: String,
    #[key]
    depth: u32,
    rmse: f64,
}

/// Version 2 with a migration hook: `error` became `rmse`, `legacy_note` is
/// dropped, and `settings.rate` moved up to `rate`.
#[derive(Persistence, Debug, Clone)]
#[persist(name = "model", version = 2, migrate)]
struct ModelV2 {
    #[key]
    #[filename]
    dataset: String,
    #[key]
    depth: u32,
    rmse: f64,
    rate: f64,
    #[record]
    weights: Lazy<Vec<u8>>,
}

impl Migrate for ModelV2 {
    fn migrate(from_version: u32, meta: &mut Value) -> persist_core::Result<()> {
        match from_version {
            1 => {
                let data = meta["data"]
                    .as_object_mut()
                    .ok_or_else(|| Error::corrupt("`data` is not an object"))?;
                let error = data.remove("error").unwrap_or(Value::Null);
                data.insert("rmse".into(), error);
                data.remove("legacy_note");
                let rate = data
                    .remove("settings")
                    .and_then(|s| s.get("rate").cloned())
                    .unwrap_or(json!(0.0));
                data.insert("rate".into(), rate);
                Ok(())
            }
            v => Err(Error::type_mismatch(
                "model version 1 or 2",
                format!("model version {v}"),
            )),
        }
    }
}

fn v1(dataset: &str, depth: u32) -> ModelV1 {
    let mut m = ModelV1::new(dataset, depth);
    m.error = 0.25;
    m.legacy_note = "from the old pipeline".into();
    m.settings = SettingsV1 { rate: 0.01 };
    m.weights.set(vec![1, 2, 3]);
    m
}

// ---- added and removed fields ----------------------------------------------

#[test]
fn an_added_field_loads_from_older_records_with_its_default() {
    on_every_store(|store| {
        v1("mnist", 3).save(store).unwrap();
        let m = ModelAdded::new("mnist", 3).load(store).unwrap();
        assert_eq!(m.error, 0.25);
        assert_eq!(m.epochs, 0, "Default for a field the record lacks");
        assert!(m.history.is_empty());
        assert_eq!(
            m.settings,
            SettingsV2 {
                rate: 0.01,
                decay: 0.9,
                tags: vec![]
            },
            "#[serde(default)] inside a data field"
        );
        assert_eq!(m.weights.get().unwrap(), &vec![1, 2, 3]);
        // Also through queries and `all`.
        assert_eq!(ModelAdded::query().run(store).unwrap()[0].epochs, 0);
        assert_eq!(ModelAdded::all(store).unwrap().count(), 1);
    });
}

#[test]
fn a_removed_field_is_ignored() {
    on_every_store(|store| {
        v1("cifar", 1).save(store).unwrap();
        // ModelAdded has no `legacy_note`: the stored value is ignored.
        let mut m = ModelAdded::new("cifar", 1).load(store).unwrap();
        m.epochs = 7;
        m.save(store).unwrap();
        // Saved by the new shape, the removed field is gone from the record,
        // so the old shape sees its default; the fields both know survive.
        let old = ModelV1::new("cifar", 1).load(store).unwrap();
        assert_eq!(old.legacy_note, "");
        assert_eq!(old.error, 0.25);
        assert_eq!(old.settings.rate, 0.01);
        assert_eq!(old.weights.get().unwrap(), &vec![1, 2, 3]);
    });
}

// ---- changed types ----------------------------------------------------------

#[test]
fn a_changed_type_is_a_type_mismatch_naming_field_record_and_path() {
    let (store, dir) = local();
    v1("imagenet", 2).save(&store).unwrap();
    let err = ModelErrorIsText::new("imagenet", 2)
        .load(&store)
        .unwrap_err();
    let Error::TypeMismatch {
        record,
        path,
        expected,
        found,
    } = &err
    else {
        panic!("expected TypeMismatch, got {err:?}");
    };
    assert_eq!(record, "model-imagenet");
    assert!(path.ends_with("meta.json"), "{path}");
    assert!(
        path.starts_with(&*dir.path().to_string_lossy()),
        "a full path: {path}"
    );
    assert!(expected.contains("`error`"), "{expected}");
    assert!(expected.contains("String"), "{expected}");
    assert!(found.contains("0.25"), "{found}");
    let msg = err.to_string();
    for part in ["model-imagenet", "`error`", "meta.json"] {
        assert!(msg.contains(part), "{part} in {msg}");
    }
    // The same through a query.
    let err = ModelErrorIsText::query().run(&store).unwrap_err();
    assert!(matches!(err, Error::TypeMismatch { .. }), "{err}");
    assert!(err.to_string().contains("`error`"), "{err}");
}

#[test]
fn a_changed_record_format_is_a_type_mismatch() {
    on_every_store(|store| {
        v1("svhn", 2).save(store).unwrap();
        let err = ModelWeightsAsText::new("svhn", 2).load(store).unwrap_err();
        assert!(matches!(err, Error::TypeMismatch { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("`weights`"), "{msg}");
        assert!(msg.contains("model-svhn"), "{msg}");
        assert!(msg.contains("txt") && msg.contains("bin"), "{msg}");
    });
}

#[test]
fn a_changed_key_type_is_not_found_or_a_mismatch_never_another_record() {
    /// `depth` became a string: another key, so another folder.
    #[derive(Persistence, Debug)]
    #[persist(name = "model")]
    struct ModelDepthText {
        #[key]
        #[filename]
        dataset: String,
        #[key]
        depth: String,
        error: f64,
    }
    on_every_store(|store| {
        v1("k", 3).save(store).unwrap();
        let err = ModelDepthText::new("k", "3").load(store).unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
        // Listing every record reads the stored number into a String field.
        let err = ModelDepthText::all(store)
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err();
        assert!(matches!(err, Error::TypeMismatch { .. }), "{err}");
        assert!(err.to_string().contains("`depth`"), "{err}");
    });
}

// ---- versions and migration -------------------------------------------------

#[test]
fn another_version_without_a_hook_names_both_versions() {
    let (store, _dir) = local();
    v1("mnist", 3).save(&store).unwrap();
    let err = ModelV2NoHook::new("mnist", 3).load(&store).unwrap_err();
    let Error::TypeMismatch {
        record,
        path,
        expected,
        found,
    } = &err
    else {
        panic!("expected TypeMismatch, got {err:?}");
    };
    assert_eq!(record, "model-mnist");
    assert!(path.ends_with("meta.json"), "{path}");
    assert!(expected.contains("version 2"), "{expected}");
    assert!(found.contains("version 1"), "{found}");
    assert!(found.contains("migrate"), "says how to fix it: {found}");

    // The other way round: a version-1 struct reading a version-2 record.
    let mut newer = ModelV2NoHook::new("mnist", 4);
    newer.rmse = 0.1;
    newer.save(&store).unwrap();
    let err = ModelV1::new("mnist", 4).load(&store).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::TypeMismatch { .. }), "{msg}");
    assert!(
        msg.contains("version 1") && msg.contains("version 2"),
        "{msg}"
    );
}

#[test]
fn the_version_is_stored_in_meta_json() {
    let (store, dir) = local();
    let mut m = ModelV2NoHook::new("v", 1);
    m.save(&store).unwrap();
    let path = dir
        .path()
        .join(persist_core::__private::record_dir(&m).unwrap().meta_path());
    let meta: Value = persist_core::serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(meta["version"], 2);
    assert_eq!(meta["type"], "model");
}

#[test]
fn a_migration_hook_converts_version_1_to_2() {
    on_every_store(|store| {
        v1("mnist", 3).save(store).unwrap();
        v1("mnist", 5).save(store).unwrap();

        let m = ModelV2::new("mnist", 3).load(store).unwrap();
        assert_eq!(m.rmse, 0.25);
        assert_eq!(m.rate, 0.01);
        assert_eq!(m.weights.get().unwrap(), &vec![1, 2, 3]);

        // Every way of reading migrates.
        let all: Vec<f64> = ModelV2::query()
            .dataset("mnist")
            .run(store)
            .unwrap()
            .iter()
            .map(|m| m.rmse)
            .collect();
        assert_eq!(all, vec![0.25, 0.25]);
        assert_eq!(
            ModelV2::all(store)
                .unwrap()
                .filter(|m| m.as_ref().unwrap().rate == 0.01)
                .count(),
            2
        );
        let loaded = ModelV2::new("mnist", 3)
            .load_or_compute(store, |_| panic!("stored: migrated, not computed"))
            .unwrap();
        assert_eq!(loaded.rmse, 0.25);

        // Saved again, it is a version-2 record, unchanged by loading again.
        let mut m = m;
        m.rmse = 0.2;
        m.save(store).unwrap();
        assert_eq!(ModelV2::new("mnist", 3).load(store).unwrap().rmse, 0.2);
        assert_eq!(
            ModelV2NoHook::new("mnist", 3).load(store).unwrap().rmse,
            0.2
        );
        // The unsaved one is still version 1 on disk.
        assert!(ModelV2NoHook::new("mnist", 5).load(store).is_err());
    });
}

#[test]
fn a_failing_migration_names_the_record() {
    #[derive(Persistence, Debug)]
    #[persist(name = "model", version = 3)]
    struct ModelV3 {
        #[key]
        #[filename]
        dataset: String,
        #[key]
        depth: u32,
    }
    let store = Store::memory();
    ModelV3::new("future", 1).save(&store).unwrap();
    // ModelV2's hook refuses version 3.
    let err = ModelV2::new("future", 1).load(&store).unwrap_err();
    assert!(matches!(err, Error::TypeMismatch { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("model-future"), "{msg}");
    assert!(msg.contains("model version 3"), "{msg}");
}
