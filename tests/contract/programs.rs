//! What programs built on persist use, on every backend: a record's place
//! (`location`, `Store::local_path`, `load_location`) and the run policies of
//! `Store::policy`.

#[path = "../fixtures/mod.rs"]
mod fixtures;

use fixtures::stores::{local, on_every_store, on_every_store_with_autoinc};
use persist_core::ndarray::Array1;
use persist_core::{Error, Lazy, Persistence, Store};

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
