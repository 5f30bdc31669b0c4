//! What programs built on persist use, on every backend: a record's place
//! (`location`, `Store::local_path`, `load_location`) and the run policies of
//! `Store::policy`.

#[path = "../fixtures/mod.rs"]
mod fixtures;

use fixtures::stores::{local, on_every_store, on_every_store_with_autoinc};
use persist_core::ndarray::Array1;
use persist_core::{Error, Lazy, Persistence, Policy, Store};

#[derive(Persistence, Debug, Clone)]
#[persist(name = "spectrum")]
struct Spectrum {
    #[key]
    #[filename]
    sample: String,
    #[key]
    resolution: u32,
    peak: f64,
    #[record]
    values: Lazy<Array1<f64>>,
}

#[derive(Persistence, Debug, Clone)]
struct Run {
    #[key]
    #[filename]
    model: String,
    #[autoinc]
    n: Option<u32>,
    loss: f64,
}

fn spectrum(sample: &str, peak: f64) -> Spectrum {
    let mut s = Spectrum::new(sample, 4);
    s.peak = peak;
    s.values.set(Array1::linspace(0.0, peak, 5));
    s
}

// ---- A record's place ----------------------------------------------------

#[test]
fn load_location_round_trips_a_record_without_its_key() {
    on_every_store(|store| {
        let mut a = spectrum("S1", 2.5);
        a.save(store).unwrap();
        let mut b = spectrum("S2", 7.0);
        b.save(store).unwrap();

        let place = a.location(store).unwrap();
        assert!(place.starts_with("spectrum/spectrum-S1."), "{place}");
        assert_eq!(place.split('/').count(), 2, "{place}");
        // The place depends on the key only: built again, it is the same.
        assert_eq!(Spectrum::new("S1", 4).location(store).unwrap(), place);
        assert_ne!(b.location(store).unwrap(), place);

        let back = Spectrum::load_location(store, &place).unwrap();
        assert_eq!(back.sample, "S1");
        assert_eq!(back.resolution, 4);
        assert_eq!(back.peak, 2.5);
        assert!(!back.values.is_loaded());
        assert_eq!(back.values.get().unwrap(), &Array1::linspace(0.0, 2.5, 5));
        let other = Spectrum::load_location(store, &b.location(store).unwrap()).unwrap();
        assert_eq!(other.peak, 7.0);
    });
}

#[test]
fn autoinc_runs_have_one_place_each() {
    on_every_store_with_autoinc(|store| {
        let mut places = Vec::new();
        for loss in [0.5, 0.25, 0.125] {
            let mut r = Run::new("mlp");
            let err = r.location(store).unwrap_err();
            assert!(matches!(err, Error::AutoIncUnresolved { .. }), "{err}");
            r.loss = loss;
            r.save(store).unwrap();
            places.push((r.location(store).unwrap(), r.n, loss));
        }
        for (place, n, loss) in &places {
            assert!(place.ends_with(&format!("/{}", n.unwrap())), "{place}");
            let back = Run::load_location(store, place).unwrap();
            assert_eq!(back.n, *n);
            assert_eq!(back.loss, *loss);
        }
    });
}

#[test]
fn local_path_is_the_folder_on_disk_and_none_elsewhere() {
    let (store, dir) = local();
    let mut s = spectrum("S1", 1.0);
    s.save(&store).unwrap();
    let place = s.location(&store).unwrap();
    let folder = store.local_path(&place).unwrap();
    assert_eq!(folder, dir.path().join(&place));
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["key"]["sample"], "S1");
    assert_eq!(meta["data"]["peak"], 1.0);
    // Nothing outside the store.
    assert_eq!(store.local_path("../elsewhere"), None);
    assert_eq!(store.local_path("/etc"), None);

    let memory = Store::memory();
    s.save(&memory).unwrap();
    assert_eq!(memory.local_path(&s.location(&memory).unwrap()), None);
}

#[test]
fn load_location_of_nothing_is_not_found() {
    on_every_store(|store| {
        let s = spectrum("never-saved", 1.0);
        let place = s.location(store).unwrap();
        let err = Spectrum::load_location(store, &place).unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");

        let mut s = s;
        s.save(store).unwrap();
        s.remove(store).unwrap();
        let err = Spectrum::load_location(store, &place).unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
    });
}

#[test]
fn load_location_of_another_types_record_is_a_type_mismatch() {
    on_every_store_with_autoinc(|store| {
        let mut r = Run::new("mlp");
        r.save(store).unwrap();
        let mut s = spectrum("S1", 1.0);
        s.save(store).unwrap();
        let run_place = r.location(store).unwrap();
        let spectrum_place = s.location(store).unwrap();

        let err = Spectrum::load_location(store, &run_place).unwrap_err();
        assert!(matches!(err, Error::TypeMismatch { .. }), "{err}");
        let err = Run::load_location(store, &spectrum_place).unwrap_err();
        assert!(matches!(err, Error::TypeMismatch { .. }), "{err}");
        // The right type folder, the wrong shape: an autoinc run's key folder
        // without its number is not a Run.
        let key_folder = run_place.rsplit_once('/').unwrap().0;
        let err = Run::load_location(store, key_folder).unwrap_err();
        assert!(matches!(err, Error::TypeMismatch { .. }), "{err}");
    });
}

#[test]
fn a_record_of_another_type_with_the_same_name_is_a_type_mismatch() {
    // Another struct named "spectrum" whose fields do not fit.
    #[derive(Persistence, Debug)]
    #[persist(name = "spectrum")]
    struct Impostor {
        #[key]
        #[filename]
        sample: String,
        #[key]
        resolution: u32,
        peak: String,
    }
    on_every_store(|store| {
        let mut s = spectrum("S1", 1.0);
        s.save(store).unwrap();
        let err = Impostor::load_location(store, &s.location(store).unwrap()).unwrap_err();
        assert!(
            matches!(err, Error::TypeMismatch { .. } | Error::Corrupt { .. }),
            "{err}"
        );
    });
}

#[test]
fn malformed_locations_are_invalid_never_a_panic_or_another_file() {
    on_every_store(|store| {
        let mut s = spectrum("S1", 1.0);
        s.save(store).unwrap();
        let place = s.location(store).unwrap();
        let folder = place.split('/').nth(1).unwrap().to_owned();
        let bad = [
            String::new(),
            "/".into(),
            "spectrum".into(),
            "spectrum/".into(),
            format!("/{place}"),
            format!("{place}/"),
            format!("spectrum//{folder}"),
            format!("spectrum/{folder}/meta.json"),
            format!("spectrum/{folder}/00"),
            format!("spectrum/{folder}/-1"),
            format!("spectrum/{folder}/1/2"),
            format!("spectrum/../spectrum/{folder}"),
            format!("spectrum/./{folder}"),
            "spectrum/..".into(),
            "spectrum/no-hash-here".into(),
            format!("spectrum/{folder}\0"),
            format!("spectrum\\{folder}"),
            "spectrum/x.0123456789abcdef0123456789abcdeg".into(),
        ];
        for location in &bad {
            match Spectrum::load_location(store, location) {
                Err(Error::InvalidKey { .. }) => {}
                // `spectrum/<folder>/<n>` for a type without autoinc.
                Err(Error::TypeMismatch { .. }) if location.ends_with("/1/2") => {}
                other => panic!("{location:?}: expected InvalidKey, got {other:?}"),
            }
        }
        // A folder name that parses but names no record is simply absent.
        let err = Spectrum::load_location(store, "spectrum/x.0123456789abcdef0123456789abcdef")
            .unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
    });
}

#[test]
fn a_meta_json_moved_into_another_records_folder_is_not_that_record() {
    let (store, dir) = local();
    let mut a = spectrum("S1", 1.0);
    a.save(&store).unwrap();
    let mut b = spectrum("S2", 2.0);
    b.save(&store).unwrap();
    let pa = store.local_path(&a.location(&store).unwrap()).unwrap();
    let pb = store.local_path(&b.location(&store).unwrap()).unwrap();
    std::fs::copy(pa.join("meta.json"), pb.join("meta.json")).unwrap();
    let err = Spectrum::load_location(&store, &b.location(&store).unwrap()).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    drop(dir);
}

// ---- Run policies ----------------------------------------------------------

#[derive(Persistence, Debug, Clone)]
#[persist(name = "signal")]
struct Signal {
    #[key]
    #[filename]
    sample: String,
    level: f64,
}

/// `load_or_compute` of `Spectrum(sample, 4)` computing a peak of `peak`,
/// counting the computations in `runs`.
fn get_spectrum(
    store: &Store,
    sample: &str,
    peak: f64,
    runs: &std::cell::Cell<u32>,
) -> persist_core::Result<Spectrum> {
    Spectrum::new(sample, 4).load_or_compute(store, |s| {
        runs.set(runs.get() + 1);
        s.peak = peak;
        s.values.set(Array1::linspace(0.0, peak, 5));
        Ok(())
    })
}

fn get_signal(
    store: &Store,
    level: f64,
    runs: &std::cell::Cell<u32>,
) -> persist_core::Result<Signal> {
    Signal::new("S1").load_or_compute(store, |s| {
        runs.set(runs.get() + 1);
        s.level = level;
        Ok(())
    })
}

#[test]
fn normal_policy_loads_what_is_stored() {
    on_every_store(|store| {
        assert_eq!(store.current_policy(), &Policy::Normal);
        let runs = std::cell::Cell::new(0);
        assert_eq!(get_spectrum(store, "S1", 1.0, &runs).unwrap().peak, 1.0);
        assert_eq!(get_spectrum(store, "S1", 2.0, &runs).unwrap().peak, 1.0);
        assert_eq!(runs.get(), 1);
    });
}

#[test]
fn recompute_computes_every_time_and_replaces() {
    on_every_store(|store| {
        let runs = std::cell::Cell::new(0);
        get_spectrum(store, "S1", 1.0, &runs).unwrap();
        let recompute = store.clone().policy(Policy::Recompute);
        assert!(recompute.same_backend(store));

        // While the new result is computed, the old one is still there.
        let fresh = Spectrum::new("S1", 4)
            .load_or_compute(&recompute, |s| {
                let old = Spectrum::new("S1", 4).load(store)?;
                assert_eq!(old.peak, 1.0);
                assert_eq!(old.values.get()?, &Array1::linspace(0.0, 1.0, 5));
                s.peak = 2.0;
                s.values.set(Array1::linspace(0.0, 2.0, 5));
                Ok(())
            })
            .unwrap();
        assert_eq!(fresh.peak, 2.0);
        let stored = Spectrum::new("S1", 4).load(store).unwrap();
        assert_eq!(stored.peak, 2.0);
        assert_eq!(stored.values.get().unwrap(), &Array1::linspace(0.0, 2.0, 5));

        assert_eq!(
            get_spectrum(&recompute, "S1", 3.0, &runs).unwrap().peak,
            3.0
        );
        assert_eq!(
            get_spectrum(&recompute, "S1", 4.0, &runs).unwrap().peak,
            4.0
        );
        assert_eq!(runs.get(), 3);
        // The original store keeps its own policy.
        assert_eq!(get_spectrum(store, "S1", 9.0, &runs).unwrap().peak, 4.0);
        assert_eq!(runs.get(), 3);
    });
}

#[test]
fn a_failed_recomputation_keeps_the_old_record() {
    on_every_store(|store| {
        let runs = std::cell::Cell::new(0);
        get_spectrum(store, "S1", 1.0, &runs).unwrap();
        let recompute = store.clone().policy(Policy::Recompute);
        let err = Spectrum::new("S1", 4)
            .load_or_compute(&recompute, |s| {
                s.peak = 5.0;
                Err("diverged".into())
            })
            .unwrap_err();
        assert!(matches!(err, Error::Compute { .. }), "{err}");
        assert!(err.to_string().contains("diverged"), "{err}");
        let kept = Spectrum::new("S1", 4).load(store).unwrap();
        assert_eq!(kept.peak, 1.0);
        assert_eq!(kept.values.get().unwrap(), &Array1::linspace(0.0, 1.0, 5));
    });
}

#[test]
fn recompute_types_recomputes_only_the_types_named() {
    on_every_store(|store| {
        let (spectra, signals) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
        get_spectrum(store, "S1", 1.0, &spectra).unwrap();
        get_signal(store, 1.0, &signals).unwrap();
        let some = store
            .clone()
            .policy(Policy::RecomputeTypes(vec!["spectrum".into()]));
        assert_eq!(get_spectrum(&some, "S1", 2.0, &spectra).unwrap().peak, 2.0);
        assert_eq!(get_signal(&some, 2.0, &signals).unwrap().level, 1.0);
        assert_eq!((spectra.get(), signals.get()), (2, 1));
        assert_eq!(Spectrum::new("S1", 4).load(store).unwrap().peak, 2.0);
        assert_eq!(Signal::new("S1").load(store).unwrap().level, 1.0);
    });
}

#[test]
fn recompute_also_applies_to_load_fresh_or_compute() {
    on_every_store(|store| {
        let runs = std::cell::Cell::new(0);
        let get = |store: &Store, level: f64| {
            Signal::new("S1").load_fresh_or_compute(store, |s| {
                runs.set(runs.get() + 1);
                s.level = level;
                Ok(())
            })
        };
        get(store, 1.0).unwrap();
        assert_eq!(get(store, 2.0).unwrap().level, 1.0);
        let recompute = store.clone().policy(Policy::Recompute);
        assert_eq!(get(&recompute, 3.0).unwrap().level, 3.0);
        assert_eq!(runs.get(), 2);
    });
}

#[test]
fn read_only_loads_and_never_computes_a_missing_record() {
    on_every_store(|store| {
        let runs = std::cell::Cell::new(0);
        get_spectrum(store, "S1", 1.0, &runs).unwrap();
        let ro = store.clone().policy(Policy::ReadOnly);
        assert!(ro.current_policy().is_read_only());
        assert_eq!(get_spectrum(&ro, "S1", 2.0, &runs).unwrap().peak, 1.0);
        let err = get_spectrum(&ro, "S2", 2.0, &runs).unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
        assert!(err.to_string().contains("spectrum-S2"), "{err}");
        assert_eq!(runs.get(), 1, "read-only never runs a computation");
        assert!(!Spectrum::new("S2", 4).exists(store).unwrap());
    });
}

#[test]
fn read_only_refuses_every_write_naming_record_and_path() {
    on_every_store_with_autoinc(|store| {
        let mut s = spectrum("S1", 1.0);
        s.save(store).unwrap();
        let mut r = Run::new("mlp");
        r.save(store).unwrap();
        let ro = store.clone().policy(Policy::ReadOnly);

        let read_only = |e: Error, record: &str| {
            assert!(matches!(e, Error::ReadOnly { .. }), "{e}");
            assert_eq!(e.record(), Some(record), "{e}");
            assert!(e.path().is_some_and(|p| !p.is_empty()), "{e}");
        };
        let mut changed = s.clone();
        changed.peak = 9.0;
        read_only(changed.save(&ro).unwrap_err(), "spectrum-S1");
        read_only(spectrum("S3", 3.0).save(&ro).unwrap_err(), "spectrum-S3");
        read_only(s.remove(&ro).unwrap_err(), "spectrum-S1");
        read_only(
            s.save_file(&ro, "notes.txt", &"x".to_string()).unwrap_err(),
            "spectrum-S1",
        );
        let mut new_run = Run::new("mlp");
        read_only(new_run.save(&ro).unwrap_err(), "run-mlp-*");
        assert_eq!(new_run.n, None);
        read_only(
            Run::new("mlp")
                .load_or_compute(&ro, |_| panic!("read-only never computes"))
                .unwrap_err(),
            "run-mlp-*",
        );
        let err = persist_core::maintenance::gc(
            &ro,
            &persist_core::maintenance::GcOptions {
                dry_run: false,
                min_age: std::time::Duration::ZERO,
            },
        )
        .unwrap_err();
        assert!(matches!(err, Error::ReadOnly { .. }), "{err}");

        // Nothing changed: the record, its number, no extra file.
        let back = Spectrum::new("S1", 4).load(store).unwrap();
        assert_eq!(back.peak, 1.0);
        assert!(!Spectrum::new("S3", 4).exists(store).unwrap());
        assert!(s.load_file::<String>(store, "notes.txt").is_err());
        let runs = Run::new("mlp").load_all(store).unwrap();
        assert_eq!(runs.iter().map(|r| r.n).collect::<Vec<_>>(), vec![Some(0)]);
        // The number the refused save did not claim is the next one given.
        let mut next = Run::new("mlp");
        next.save(store).unwrap();
        assert_eq!(next.n, Some(1));
    });
}

#[test]
fn read_only_leaves_every_file_of_a_local_store_as_it_was() {
    let (store, dir) = local();
    let (spectra, signals) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    get_spectrum(&store, "S1", 1.0, &spectra).unwrap();
    let mut r = Run::new("mlp");
    r.save(&store).unwrap();
    let before = snapshot(dir.path());

    let ro = store.clone().policy(Policy::ReadOnly);
    get_spectrum(&ro, "S1", 2.0, &spectra).unwrap();
    get_spectrum(&ro, "S2", 2.0, &spectra).unwrap_err();
    get_signal(&ro, 1.0, &signals).unwrap_err();
    spectrum("S1", 5.0).save(&ro).unwrap_err();
    Run::new("mlp").save(&ro).unwrap_err();
    r.remove(&ro).unwrap_err();
    let _ = Spectrum::all(&ro).unwrap().count();
    Spectrum::new("S1", 4)
        .load_fresh_or_compute(&ro, |_| Ok(()))
        .unwrap();

    assert_eq!(snapshot(dir.path()), before);
    assert_eq!((spectra.get(), signals.get()), (1, 0));
}

/// Every file and folder under `root` with its size, modification time and
/// contents: two snapshots are equal only if nothing was written.
fn snapshot(
    root: &std::path::Path,
) -> Vec<(std::path::PathBuf, u64, std::time::SystemTime, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let bytes = if meta.is_dir() {
                todo.push(path.clone());
                Vec::new()
            } else {
                std::fs::read(&path).unwrap()
            };
            out.push((path, meta.len(), meta.modified().unwrap(), bytes));
        }
    }
    out.sort();
    out
}
