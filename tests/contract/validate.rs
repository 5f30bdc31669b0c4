//! `#[persist(validate)]` and `persist_core::Validate`, on every backend: a
//! stored record that fails its type's check does not load
//! (`Error::Invalid`), `load_or_compute` computes it again and replaces it, and
//! a computed result that fails it is never saved.

#[path = "../fixtures/mod.rs"]
mod fixtures;

use std::cell::Cell;
use std::time::Duration;

use fixtures::stores::{local, on_every_store, on_every_store_with_autoinc};
use persist_core::{BoxError, Error, Lazy, Persistence, Policy, Store, Validate};

/// A fit whose check reads a data field and a record field: the rmse must be
/// a non-negative number and the residuals must hold `points` bytes.
#[derive(Persistence, Debug, Clone)]
#[persist(name = "fit", validate)]
struct Fit {
    #[key]
    #[filename]
    dataset: String,
    rmse: f64,
    points: usize,
    #[record]
    residuals: Lazy<Vec<u8>>,
}

impl Validate for Fit {
    fn validate(&self) -> Result<(), BoxError> {
        if !(self.rmse.is_finite() && self.rmse >= 0.0) {
            return Err(format!("rmse {} is not a non-negative number", self.rmse).into());
        }
        let residuals = self.residuals.get()?;
        if residuals.len() != self.points {
            return Err(format!("{} residuals for {} points", residuals.len(), self.points).into());
        }
        Ok(())
    }
}

/// Numbered runs with a check.
#[derive(Persistence, Debug, Clone)]
#[persist(name = "checked_run", validate)]
struct Run {
    #[key]
    #[filename]
    model: String,
    #[autoinc]
    n: Option<u32>,
    loss: f64,
}

impl Validate for Run {
    fn validate(&self) -> Result<(), BoxError> {
        if self.loss < 0.0 {
            Err(format!("negative loss {}", self.loss).into())
        } else {
            Ok(())
        }
    }
}

/// The same records without a check: another struct with the same `name`
/// reads them.
#[derive(Persistence, Debug, Clone)]
#[persist(name = "fit")]
struct UncheckedFit {
    #[key]
    #[filename]
    dataset: String,
    rmse: f64,
    points: usize,
    #[record]
    residuals: Lazy<Vec<u8>>,
}

fn fit(dataset: &str, rmse: f64, points: usize) -> Fit {
    let mut f = Fit::new(dataset);
    f.rmse = rmse;
    f.points = points;
    f.residuals.set(vec![7; 3]);
    f
}

/// `load_or_compute` of `Fit(dataset)` computing `rmse` with 3 residuals,
/// counting the computations in `runs`.
fn get_fit(store: &Store, dataset: &str, rmse: f64, runs: &Cell<u32>) -> persist_core::Result<Fit> {
    Fit::new(dataset).load_or_compute(store, |f| {
        runs.set(runs.get() + 1);
        f.rmse = rmse;
        f.points = 3;
        f.residuals.set(vec![1, 2, 3]);
        Ok(())
    })
}

/// Every object of a record's folder (leases and claims included) with its
/// bytes, read through the store's backend: equal only if nothing changed.
fn record_objects(store: &Store, location: &str) -> Vec<(String, Vec<u8>)> {
    let backend = store.backend();
    let mut out = Vec::new();
    let mut todo = vec![location.to_owned()];
    while let Some(dir) = todo.pop() {
        for entry in backend.list(&dir).unwrap() {
            let path = format!("{dir}/{}", entry.name);
            if entry.is_dir {
                todo.push(path);
            } else {
                let bytes = backend.read_all(&path).unwrap();
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    out
}

fn assert_invalid(err: &Error, record: &str, reason: &str) {
    match err {
        Error::Invalid {
            record: r,
            path,
            source,
        } => {
            assert_eq!(r, record, "{err}");
            assert!(!path.is_empty(), "{err}");
            assert!(source.to_string().contains(reason), "{err}");
        }
        other => panic!("expected Error::Invalid, got {other:?}"),
    }
    let shown = err.to_string();
    assert!(shown.contains(record), "{shown}");
    assert!(shown.contains(reason), "{shown}");
}

// ---- load ------------------------------------------------------------------

#[test]
fn load_of_a_record_that_fails_the_check_is_invalid_naming_record_and_path() {
    on_every_store(|store| {
        // `save` does not check.
        let mut bad = fit("d1", -1.0, 3);
        bad.save(store).unwrap();
        assert!(Fit::new("d1").exists(store).unwrap());

        let err = Fit::new("d1").load(store).unwrap_err();
        assert_invalid(&err, "fit-d1", "rmse -1 is not a non-negative number");
        let location = bad.location(store).unwrap();
        let Error::Invalid { path, .. } = &err else {
            unreachable!()
        };
        assert!(path.ends_with("meta.json"), "{path}");
        assert!(path.contains(&location), "{path} does not name {location}");
        assert_eq!(err.path(), Some(path.as_str()));
        assert_eq!(err.record(), Some("fit-d1"));

        let err = Fit::load_location(store, &location).unwrap_err();
        assert_invalid(&err, "fit-d1", "rmse -1");

        // The check reads record fields too.
        fit("d2", 0.5, 4).save(store).unwrap();
        let err = Fit::new("d2").load(store).unwrap_err();
        assert_invalid(&err, "fit-d2", "3 residuals for 4 points");

        // The stored data is intact: a type without the check reads it.
        let raw = UncheckedFit::new("d1").load(store).unwrap();
        assert_eq!(raw.rmse, -1.0);
    });
}

#[test]
fn valid_records_load_as_ever() {
    on_every_store(|store| {
        let mut good = fit("d1", 0.25, 3);
        good.save(store).unwrap();
        let back = Fit::new("d1").load(store).unwrap();
        assert_eq!(back.rmse, 0.25);
        assert_eq!(back.residuals.get().unwrap(), &vec![7; 3]);

        let runs = Cell::new(0);
        let loaded = get_fit(store, "d1", 9.0, &runs).unwrap();
        assert_eq!(loaded.rmse, 0.25);
        assert_eq!(runs.get(), 0);
        assert_eq!(Fit::all(store).unwrap().count(), 1);
    });
}

// ---- load_or_compute -------------------------------------------------------

#[test]
fn load_or_compute_computes_an_invalid_record_again_and_replaces_it() {
    on_every_store(|store| {
        fit("d1", -1.0, 3).save(store).unwrap();
        let runs = Cell::new(0);

        let got = get_fit(store, "d1", 0.5, &runs).unwrap();
        assert_eq!(runs.get(), 1);
        assert_eq!(got.rmse, 0.5);
        let back = Fit::new("d1").load(store).unwrap();
        assert_eq!(back.rmse, 0.5);
        assert_eq!(back.residuals.get().unwrap(), &vec![1, 2, 3]);

        // Now valid: loaded, not computed.
        assert_eq!(get_fit(store, "d1", 2.0, &runs).unwrap().rmse, 0.5);
        assert_eq!(runs.get(), 1);
    });
}

#[test]
fn load_fresh_or_compute_computes_an_invalid_record_again() {
    on_every_store(|store| {
        fit("d1", 0.5, 9).save(store).unwrap();
        let runs = Cell::new(0);
        let got = Fit::new("d1")
            .load_fresh_or_compute(store, |f| {
                runs.set(runs.get() + 1);
                f.rmse = 0.75;
                f.points = 2;
                f.residuals.set(vec![0, 0]);
                Ok(())
            })
            .unwrap();
        assert_eq!((runs.get(), got.rmse), (1, 0.75));
        assert_eq!(Fit::new("d1").load(store).unwrap().points, 2);
    });
}

#[test]
fn a_computed_result_that_fails_the_check_is_invalid_and_not_saved() {
    on_every_store(|store| {
        let runs = Cell::new(0);
        // Nothing stored: nothing is saved.
        let err = get_fit(store, "d1", f64::NAN, &runs).unwrap_err();
        assert_invalid(&err, "fit-d1", "rmse NaN");
        assert_eq!(runs.get(), 1);
        assert!(!Fit::new("d1").exists(store).unwrap());
        assert_eq!(Fit::all(store).unwrap().count(), 0);

        // An invalid record stored: computed again, invalid again, and the
        // stored record stays exactly as it was.
        let mut bad = fit("d2", -1.0, 3);
        bad.save(store).unwrap();
        let location = bad.location(store).unwrap();
        let before = record_objects(store, &location);
        assert!(before.iter().any(|(p, _)| p.ends_with("meta.json")));
        let err = get_fit(store, "d2", -2.0, &runs).unwrap_err();
        assert_invalid(&err, "fit-d2", "rmse -2");
        let Error::Invalid { path, .. } = &err else {
            unreachable!()
        };
        assert!(
            path.contains(&location) && path.ends_with("meta.json"),
            "{path}"
        );
        assert_eq!(runs.get(), 2);
        assert_eq!(record_objects(store, &location), before);
        assert_eq!(UncheckedFit::new("d2").load(store).unwrap().rmse, -1.0);

        // The lease was released: the next call computes at once (a lease
        // left behind would make it wait past the timeout).
        let impatient = store.clone().wait_timeout(Duration::from_millis(300));
        let got = get_fit(&impatient, "d2", 1.5, &runs).unwrap();
        assert_eq!((runs.get(), got.rmse), (3, 1.5));
        assert_eq!(Fit::new("d2").load(store).unwrap().rmse, 1.5);
        let objects = record_objects(store, &location);
        assert!(
            !objects.iter().any(|(p, _)| p.ends_with(".lease")),
            "{objects:?}"
        );
    });
}

#[test]
fn a_failed_check_under_recompute_keeps_the_old_record() {
    on_every_store(|store| {
        let runs = Cell::new(0);
        get_fit(store, "d1", 0.5, &runs).unwrap();
        let location = Fit::new("d1").location(store).unwrap();
        let before = record_objects(store, &location);

        let recompute = store.clone().policy(Policy::Recompute);
        let err = get_fit(&recompute, "d1", -3.0, &runs).unwrap_err();
        assert_invalid(&err, "fit-d1", "rmse -3");
        assert_eq!(runs.get(), 2);
        assert_eq!(record_objects(store, &location), before);
        assert_eq!(Fit::new("d1").load(store).unwrap().rmse, 0.5);

        assert_eq!(get_fit(&recompute, "d1", 0.25, &runs).unwrap().rmse, 0.25);
        assert_eq!(Fit::new("d1").load(store).unwrap().rmse, 0.25);
    });
}

#[test]
fn a_new_autoinc_run_that_fails_the_check_takes_no_number() {
    on_every_store_with_autoinc(|store| {
        let err = Run::new("mlp")
            .load_or_compute(store, |r| {
                r.loss = -0.5;
                Ok(())
            })
            .unwrap_err();
        assert_invalid(&err, "checked_run-mlp-*", "negative loss -0.5");
        assert_eq!(Run::all(store).unwrap().count(), 0);

        let run = Run::new("mlp")
            .load_or_compute(store, |r| {
                r.loss = 0.5;
                Ok(())
            })
            .unwrap();
        assert_eq!(run.n, Some(0));
    });
}

// ---- listings --------------------------------------------------------------

#[test]
fn all_yields_one_err_item_for_an_invalid_record() {
    on_every_store(|store| {
        fit("a", 0.5, 3).save(store).unwrap();
        fit("b", -1.0, 3).save(store).unwrap();
        fit("c", 1.5, 3).save(store).unwrap();

        let items: Vec<_> = Fit::all(store).unwrap().collect();
        assert_eq!(items.len(), 3);
        let mut good: Vec<_> = items
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|f| f.dataset.clone())
            .collect();
        good.sort();
        assert_eq!(good, ["a", "c"]);
        let errs: Vec<_> = items.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(errs.len(), 1);
        assert_invalid(errs[0], "fit-b", "rmse -1");
    });
}

#[test]
fn query_and_load_all_fail_whole_on_an_invalid_record() {
    on_every_store_with_autoinc(|store| {
        for loss in [0.5, -1.0, 0.25] {
            let mut r = Run::new("mlp");
            r.loss = loss;
            r.save(store).unwrap();
        }
        let err = Run::new("mlp").load_all(store).unwrap_err();
        assert_invalid(&err, "checked_run-mlp-1", "negative loss -1");
        let err = Run::query().model("mlp").run(store).unwrap_err();
        assert_invalid(&err, "checked_run-mlp-1", "negative loss -1");
        // The valid ones load one by one.
        let mut first = Run::new("mlp");
        first.n = Some(0);
        assert_eq!(first.load(store).unwrap().loss, 0.5);
    });
    on_every_store(|store| {
        fit("a", 0.5, 3).save(store).unwrap();
        fit("b", -1.0, 3).save(store).unwrap();
        let err = Fit::query().run(store).unwrap_err();
        assert_invalid(&err, "fit-b", "rmse -1");
        let one = Fit::query().dataset("a").run(store).unwrap();
        assert_eq!(one.len(), 1);
    });
}

// ---- ReadOnly --------------------------------------------------------------

#[test]
fn read_only_reports_an_invalid_record_and_computes_nothing() {
    on_every_store(|store| {
        fit("d1", -1.0, 3).save(store).unwrap();
        let location = Fit::new("d1").location(store).unwrap();
        let before = record_objects(store, &location);
        let ro = store.clone().policy(Policy::ReadOnly);
        let runs = Cell::new(0);

        let err = get_fit(&ro, "d1", 0.5, &runs).unwrap_err();
        assert_invalid(&err, "fit-d1", "rmse -1");
        let err = Fit::new("d1")
            .load_fresh_or_compute(&ro, |_| {
                runs.set(runs.get() + 1);
                Ok(())
            })
            .unwrap_err();
        assert_invalid(&err, "fit-d1", "rmse -1");
        assert_eq!(runs.get(), 0);
        assert_eq!(record_objects(store, &location), before);
    });
}

#[test]
fn a_local_store_keeps_an_invalid_record_byte_for_byte_when_the_new_one_fails() {
    // The same as above through the file system itself, meta.json and
    // record files included.
    let (store, dir) = local();
    fit("d1", -1.0, 3).save(&store).unwrap();
    let folder = store
        .local_path(&Fit::new("d1").location(&store).unwrap())
        .unwrap();
    let read = || {
        let mut files: Vec<_> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let bytes = if p.is_file() {
                    std::fs::read(&p).unwrap()
                } else {
                    Vec::new()
                };
                (p, bytes)
            })
            .collect();
        files.sort();
        files
    };
    let before = read();
    assert!(before.len() >= 2, "{before:?}");
    let runs = Cell::new(0);
    get_fit(&store, "d1", -5.0, &runs).unwrap_err();
    assert_eq!(read(), before);
    assert!(folder.starts_with(dir.path()));
}
