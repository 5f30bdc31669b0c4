//! Tracked dependencies (`Ref<T>`): nested keys, chains, several refs in one
//! struct, `params_tree`, staleness, `load_fresh_or_compute`, and how a `Ref`
//! is kept in `meta.json`.

#[path = "../fixtures/mod.rs"]
mod fixtures;

use std::cell::Cell;

use fixtures::stores::{local, on_every_store, on_every_store_with_autoinc};
use persist_core::serde_json::{json, Value};
use persist_core::{Error, Lazy, Persistence, Ref, Store};

/// The upstream: samples drawn for `(n, seed)`.
#[derive(Persistence, Debug, Clone)]
#[persist(name = "points")]
struct Points {
    #[key]
    #[filename(prefix = "n")]
    n: u32,
    #[key]
    seed: u64,
    values: Vec<f64>,
    #[record]
    raw: Lazy<String>,
}

/// Computed from one `Points`.
#[derive(Persistence, Debug, Clone)]
#[persist(name = "stats")]
struct Stats {
    #[key]
    points: Ref<Points>,
    #[key]
    #[filename(prefix = "z")]
    z: u32,
    mean: f64,
}

/// Computed from one `Stats`: the third link of a chain.
#[derive(Persistence, Debug, Clone)]
#[persist(name = "report")]
struct Report {
    #[key]
    stats: Ref<Stats>,
    #[key]
    #[filename]
    label: String,
    text: String,
}

/// Two upstreams of the same type in one struct.
#[derive(Persistence, Debug, Clone)]
#[persist(name = "compare")]
struct Compare {
    #[key]
    left: Ref<Points>,
    #[key]
    right: Ref<Points>,
    diff: f64,
}

/// An upstream with an autoinc.
#[derive(Persistence, Debug, Clone)]
#[persist(name = "run")]
struct Run {
    #[key]
    #[filename]
    name: String,
    #[autoinc]
    attempt: Option<u32>,
    score: f64,
}

/// Computed from one numbered `Run`.
#[derive(Persistence, Debug, Clone)]
#[persist(name = "eval")]
struct Eval {
    #[key]
    source: Ref<Run>,
    metric: f64,
}

fn points(n: u32, seed: u64, values: &[f64]) -> Points {
    let mut p = Points::new(n, seed);
    p.values = values.to_vec();
    p.raw.set(format!("{values:?}"));
    p
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn stats_of(store: &Store, p: &Points, z: u32) -> Stats {
    let mut s = Stats::new(Ref::to(p), z);
    s.mean = mean(&s.points.load(store).unwrap().values);
    s.save(store).unwrap();
    s
}

#[test]
fn downstreams_of_different_upstreams_stay_apart() {
    on_every_store(|store| {
        let mut a = points(3, 1, &[1.0, 2.0, 3.0]);
        let mut b = points(3, 2, &[10.0, 20.0, 30.0]);
        a.save(store).unwrap();
        b.save(store).unwrap();

        // Same z, and the upstreams differ only in `seed`, which is not in any
        // file name: the keys must still be told apart.
        let sa = stats_of(store, &a, 3);
        let sb = stats_of(store, &b, 3);
        assert_eq!(sa.filename(), sb.filename());
        assert_ne!(
            persist_core::__private::record_dir(&sa).unwrap().path(),
            persist_core::__private::record_dir(&sb).unwrap().path(),
        );

        let back_a = Stats::new(Ref::to(&a), 3).load(store).unwrap();
        let back_b = Stats::new(Ref::to(&b), 3).load(store).unwrap();
        assert_eq!(back_a.mean, 2.0);
        assert_eq!(back_b.mean, 20.0);
        assert_eq!(back_a.points, Ref::to(&a));
        assert_eq!(back_b.points.load(store).unwrap().seed, 2);
        assert_eq!(Stats::query().z(3).run(store).unwrap().len(), 2);
        assert_eq!(
            Stats::query()
                .points(Ref::to(&b))
                .run(store)
                .unwrap()
                .iter()
                .map(|s| s.mean)
                .collect::<Vec<_>>(),
            vec![20.0]
        );
    });
}

#[test]
fn a_chain_of_three_loads_link_by_link() {
    on_every_store(|store| {
        let mut a = points(2, 9, &[4.0, 6.0]);
        a.save(store).unwrap();
        let b = stats_of(store, &a, 2);
        let mut c = Report::new(Ref::to(&b), "final");
        c.text = format!("mean {}", b.mean);
        c.save(store).unwrap();

        let c_back = Report::new(Ref::to(&Stats::new(Ref::to(&a), 2)), "final")
            .load(store)
            .unwrap();
        assert_eq!(c_back.text, "mean 5");
        let b_back = c_back.stats.load(store).unwrap();
        assert_eq!(b_back.mean, 5.0);
        let a_back = b_back.points.load(store).unwrap();
        assert_eq!(a_back.values, vec![4.0, 6.0]);
        assert_eq!(a_back.raw.get().unwrap(), "[4.0, 6.0]");

        assert_eq!(
            c.params_tree(),
            json!({
                "stats": {"points": {"n": 2, "seed": 9}, "z": 2},
                "label": "final",
            })
        );
        assert!(!c.is_stale(store).unwrap());
        assert!(!b.is_stale(store).unwrap());
    });
}

#[test]
fn staleness_reaches_down_a_chain() {
    on_every_store(|store| {
        let mut a = points(2, 9, &[4.0, 6.0]);
        a.save(store).unwrap();
        let b = stats_of(store, &a, 2);
        let mut c = Report::new(Ref::to(&b), "final");
        c.save(store).unwrap();

        // A changes: B was computed from old data, and so (through B) was C.
        a.values = vec![4.0, 8.0];
        a.save(store).unwrap();
        assert!(b.is_stale(store).unwrap());
        assert!(c.is_stale(store).unwrap(), "C depends on A through B");

        // B is computed again from the new A; C is still stale (B changed).
        let b2 = stats_of(store, &a, 2);
        assert!(!b2.is_stale(store).unwrap());
        assert!(c.is_stale(store).unwrap());
        c.text = format!("mean {}", b2.mean);
        c.save(store).unwrap();
        assert!(!c.is_stale(store).unwrap());
    });
}

#[test]
fn several_refs_in_one_struct() {
    on_every_store(|store| {
        let mut l = points(2, 1, &[1.0, 1.0]);
        let mut r = points(2, 2, &[3.0, 3.0]);
        l.save(store).unwrap();
        r.save(store).unwrap();
        let mut c = Compare::new(Ref::to(&l), Ref::to(&r));
        c.diff = 2.0;
        c.save(store).unwrap();
        // Swapped upstreams are another key.
        let mut swapped = Compare::new(Ref::to(&r), Ref::to(&l));
        swapped.diff = -2.0;
        swapped.save(store).unwrap();

        let back = Compare::new(Ref::to(&l), Ref::to(&r)).load(store).unwrap();
        assert_eq!(back.diff, 2.0);
        assert_eq!(back.left.load(store).unwrap().seed, 1);
        assert_eq!(back.right.load(store).unwrap().seed, 2);
        assert_eq!(
            Compare::new(Ref::to(&r), Ref::to(&l))
                .load(store)
                .unwrap()
                .diff,
            -2.0
        );
        assert_eq!(
            c.params_tree(),
            json!({"left": {"n": 2, "seed": 1}, "right": {"n": 2, "seed": 2}})
        );

        // Either upstream changing makes it stale.
        assert!(!c.is_stale(store).unwrap());
        r.values = vec![5.0, 5.0];
        r.save(store).unwrap();
        assert!(c.is_stale(store).unwrap());
        c.save(store).unwrap();
        assert!(!c.is_stale(store).unwrap());
        l.remove(store).unwrap();
        assert!(c.is_stale(store).unwrap());
    });
}

#[test]
fn params_tree_nests_the_upstream_key_under_the_field_name() {
    let a = points(5, 42, &[]);
    let s = Stats::new(Ref::to(&a), 3);
    assert_eq!(a.params_tree(), json!({"n": 5, "seed": 42}));
    assert_eq!(
        s.params_tree(),
        json!({"points": {"n": 5, "seed": 42}, "z": 3})
    );
    // Data fields are not parameters.
    let mut a2 = a.clone();
    a2.values = vec![1.0];
    assert_eq!(Stats::new(Ref::to(&a2), 3).params_tree(), s.params_tree());
}

#[test]
fn params_tree_includes_the_autoinc_by_field_name() {
    let store = Store::memory();
    let mut run = Run::new("adam");
    run.save(&store).unwrap();
    run.save(&store).unwrap(); // same number: saved again in place
    let mut second = Run::new("adam");
    second.save(&store).unwrap();
    assert_eq!(second.attempt, Some(1));
    assert_eq!(run.params_tree(), json!({"name": "adam", "attempt": 0}));
    assert_eq!(
        Eval::new(Ref::to(&second)).params_tree(),
        json!({"source": {"name": "adam", "attempt": 1}})
    );
}

#[test]
fn resaving_the_same_content_is_not_a_change() {
    on_every_store(|store| {
        let mut a = points(3, 1, &[1.0, 2.0, 3.0]);
        a.save(store).unwrap();
        let s = stats_of(store, &a, 1);
        assert!(!s.is_stale(store).unwrap());

        // Saved again: new record-file name (another uuid), new time.
        a.raw.set("[1.0, 2.0, 3.0]".to_owned());
        a.save(store).unwrap();
        assert!(!s.is_stale(store).unwrap());

        // Built from scratch and saved again: the same content.
        points(3, 1, &[1.0, 2.0, 3.0]).save(store).unwrap();
        assert!(!s.is_stale(store).unwrap());

        // Loaded and saved unchanged.
        let mut loaded = Points::new(3, 1).load(store).unwrap();
        loaded.save(store).unwrap();
        assert!(!s.is_stale(store).unwrap());
    });
}

#[test]
fn new_content_or_removal_makes_it_stale() {
    on_every_store(|store| {
        let mut a = points(3, 1, &[1.0, 2.0, 3.0]);
        a.save(store).unwrap();
        let s = stats_of(store, &a, 1);

        // A data field changes.
        a.values[0] = 0.0;
        a.save(store).unwrap();
        assert!(s.is_stale(store).unwrap());

        // Back to the old content: fresh again.
        a.values[0] = 1.0;
        a.save(store).unwrap();
        assert!(!s.is_stale(store).unwrap());

        // Only a record file's content changes.
        a.raw.set("other".to_owned());
        a.save(store).unwrap();
        assert!(s.is_stale(store).unwrap());

        // Recomputed: fresh.
        let s = stats_of(store, &a, 1);
        assert!(!s.is_stale(store).unwrap());

        // The upstream is removed.
        a.remove(store).unwrap();
        assert!(s.is_stale(store).unwrap());
        // And saved again with the same content: fresh again.
        a.save(store).unwrap();
        assert!(!s.is_stale(store).unwrap());
    });
}

#[test]
fn removing_an_autoinc_upstream_makes_it_stale() {
    on_every_store_with_autoinc(|store| {
        let mut run = Run::new("sgd");
        run.score = 0.5;
        run.save(store).unwrap();
        let mut e = Eval::new(Ref::to(&run));
        e.metric = 1.0;
        e.save(store).unwrap();
        assert!(!e.is_stale(store).unwrap());
        run.remove(store).unwrap(); // the number's claim stays
        assert!(e.is_stale(store).unwrap());
    });
}

#[test]
fn is_stale_of_an_unsaved_record_is_not_found() {
    let store = Store::memory();
    let mut a = points(1, 1, &[1.0]);
    a.save(&store).unwrap();
    let s = Stats::new(Ref::to(&a), 1);
    assert!(matches!(s.is_stale(&store), Err(Error::NotFound { .. })));
    // A record with no upstream is never stale.
    assert!(!a.is_stale(&store).unwrap());
}

#[test]
fn load_fresh_or_compute_recomputes_a_stale_record() {
    on_every_store(|store| {
        let mut a = points(2, 3, &[1.0, 3.0]);
        a.save(store).unwrap();
        let calls = Cell::new(0);
        let get = |a: &Points| {
            Stats::new(Ref::to(a), 2)
                .load_fresh_or_compute(store, |s| {
                    calls.set(calls.get() + 1);
                    s.mean = mean(&s.points.load(store)?.values);
                    Ok(())
                })
                .unwrap()
        };

        assert_eq!(get(&a).mean, 2.0); // absent: computed
        assert_eq!(calls.get(), 1);
        assert_eq!(get(&a).mean, 2.0); // fresh: loaded
        assert_eq!(calls.get(), 1);

        a.save(store).unwrap(); // the same content
        assert_eq!(get(&a).mean, 2.0);
        assert_eq!(calls.get(), 1);

        a.values = vec![10.0, 30.0];
        a.save(store).unwrap();
        let s = get(&a); // stale: computed again and saved
        assert_eq!(s.mean, 20.0);
        assert_eq!(calls.get(), 2);
        assert!(!s.is_stale(store).unwrap());
        assert_eq!(Stats::new(Ref::to(&a), 2).load(store).unwrap().mean, 20.0);

        // Plain load_or_compute keeps returning what is stored, stale or not.
        a.values = vec![0.0, 0.0];
        a.save(store).unwrap();
        let kept = Stats::new(Ref::to(&a), 2)
            .load_or_compute(store, |_| panic!("stored: not computed"))
            .unwrap();
        assert_eq!(kept.mean, 20.0);
        assert!(kept.is_stale(store).unwrap());
    });
}

#[test]
fn load_fresh_or_compute_keeps_the_record_if_compute_fails() {
    let store = Store::memory();
    let mut a = points(2, 3, &[1.0, 3.0]);
    a.save(&store).unwrap();
    stats_of(&store, &a, 2);
    a.values = vec![0.0, 0.0];
    a.save(&store).unwrap();
    let err = Stats::new(Ref::to(&a), 2)
        .load_fresh_or_compute(&store, |_| Err("no luck".into()))
        .unwrap_err();
    assert!(matches!(err, Error::Compute { .. }), "{err}");
    assert!(err.to_string().contains("no luck"), "{err}");
    let kept = Stats::new(Ref::to(&a), 2).load(&store).unwrap();
    assert_eq!(kept.mean, 2.0);
    assert!(kept.is_stale(&store).unwrap());
}

#[test]
fn a_ref_to_an_unresolved_autoinc_fails_at_save() {
    on_every_store_with_autoinc(|store| {
        let run = Run::new("never-saved");
        let mut e = Eval::new(Ref::to(&run));
        let err = e.save(store).unwrap_err();
        assert!(matches!(err, Error::AutoIncUnresolved { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("run"), "{msg}");
        assert!(msg.contains("eval"), "names the record being saved: {msg}");
        assert_eq!(Eval::query().run(store).unwrap().len(), 0);
        assert!(matches!(
            e.source.load(store),
            Err(Error::AutoIncUnresolved { .. })
        ));

        // Once the upstream is saved, a Ref to it works.
        let mut run = run;
        run.save(store).unwrap();
        let mut e = Eval::new(Ref::to(&run));
        e.save(store).unwrap();
        assert_eq!(e.source.load(store).unwrap().attempt, Some(0));
    });
}

#[test]
fn refs_to_different_autoinc_numbers_stay_apart() {
    on_every_store_with_autoinc(|store| {
        let mut evals = Vec::new();
        for score in [0.1, 0.2] {
            let mut run = Run::new("same");
            run.score = score;
            run.save(store).unwrap();
            let mut e = Eval::new(Ref::to(&run));
            e.metric = score * 10.0;
            e.save(store).unwrap();
            evals.push(e);
        }
        let all: Vec<f64> = Eval::all(store)
            .unwrap()
            .map(|e| e.unwrap().metric)
            .collect();
        assert_eq!(all.len(), 2);
        for e in &evals {
            let back = e.load(store).unwrap();
            assert_eq!(back.metric, e.metric);
            assert_eq!(back.source.load(store).unwrap().score * 10.0, e.metric);
        }
    });
}

#[test]
fn ref_load_finds_the_upstream_or_says_it_is_gone() {
    on_every_store(|store| {
        let mut a = points(4, 4, &[4.0]);
        a.save(store).unwrap();
        let r = Ref::to(&a);
        assert_eq!(r.type_name(), "points");
        assert_eq!(r.key()["n"], 4);
        let back = r.load(store).unwrap();
        assert_eq!(back.values, vec![4.0]);
        assert!(!back.raw.is_loaded());
        assert_eq!(back.raw.get().unwrap(), "[4.0]");
        let shown = format!("{r:?}");
        assert!(shown.contains("points"), "{shown}");

        a.remove(store).unwrap();
        assert!(matches!(r.load(store), Err(Error::NotFound { .. })));
    });
}

#[test]
fn a_ref_in_meta_json_shows_the_upstream_type_and_key() {
    let (store, dir) = local();
    let mut a = points(3, 11, &[1.0]);
    a.save(&store).unwrap();
    let s = stats_of(&store, &a, 2);
    let path = dir
        .path()
        .join(persist_core::__private::record_dir(&s).unwrap().meta_path());
    let meta: Value = persist_core::serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let r = &meta["key"]["points"];
    assert_eq!(r["$ref"], "points", "{meta:#}");
    assert_eq!(r["key"], json!({"n": 3, "seed": 11}), "{meta:#}");
    assert!(r["at"].as_str().unwrap().starts_with("points/"), "{meta:#}");
    assert_eq!(meta["key"]["z"], 2);
    // The upstream's content hash is remembered by the Ref's JSON pointer.
    let up = &meta["upstream"]["/points"];
    assert_eq!(up["at"], r["at"], "{meta:#}");
    let upstream_meta: Value = persist_core::serde_json::from_slice(
        &std::fs::read(
            dir.path()
                .join(persist_core::__private::record_dir(&a).unwrap().meta_path()),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(up["content_hash"], upstream_meta["content_hash"]);
    // A Ref that names another type does not load as this one.
    let wrong = json!({"$ref": "other", "key": {"n": 3, "seed": 11}, "at": "other/x"});
    assert!(persist_core::serde_json::from_value::<Ref<Points>>(wrong).is_err());
}

/// Refs inside a collection: any number of upstreams in one key field.
#[derive(Persistence, Debug, Clone)]
#[persist(name = "pooled")]
struct Pooled {
    #[key]
    inputs: Vec<Ref<Points>>,
    total: f64,
}

#[test]
fn refs_inside_a_vec_are_tracked_one_by_one() {
    on_every_store(|store| {
        let mut ps: Vec<Points> = (0..3).map(|i| points(1, i, &[i as f64])).collect();
        for p in &mut ps {
            p.save(store).unwrap();
        }
        let mut pooled = Pooled::new(ps.iter().map(Ref::to).collect());
        pooled.total = 3.0;
        pooled.save(store).unwrap();
        assert_eq!(
            pooled.params_tree(),
            json!({"inputs": [
                {"n": 1, "seed": 0}, {"n": 1, "seed": 1}, {"n": 1, "seed": 2}
            ]})
        );
        assert!(!pooled.is_stale(store).unwrap());
        let back = Pooled::new(ps.iter().map(Ref::to).collect())
            .load(store)
            .unwrap();
        assert_eq!(back.inputs[2].load(store).unwrap().values, vec![2.0]);
        ps[1].values = vec![9.0];
        ps[1].save(store).unwrap();
        assert!(pooled.is_stale(store).unwrap());
    });
}

#[test]
fn a_ref_to_an_upstream_with_an_invalid_key_fails_at_save() {
    #[derive(Persistence, Debug)]
    struct Scaled {
        #[key]
        factor: f64,
    }
    #[derive(Persistence, Debug)]
    struct UsesScaled {
        #[key]
        scaled: Ref<Scaled>,
    }
    let store = Store::memory();
    let err = UsesScaled::new(Ref::to(&Scaled::new(f64::NAN)))
        .save(&store)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidKey { .. }), "{err}");
    assert!(err.to_string().contains("scaled"), "{err}");
}

#[test]
fn a_downstream_of_an_upstream_never_stored_is_stale() {
    let store = Store::memory();
    let a = points(8, 8, &[8.0]); // never saved
    let mut s = Stats::new(Ref::to(&a), 1);
    s.save(&store).unwrap();
    assert!(s.is_stale(&store).unwrap());
    assert!(matches!(s.points.load(&store), Err(Error::NotFound { .. })));
}

#[test]
fn load_fresh_or_compute_does_not_recompute_a_damaged_record() {
    let store = Store::memory();
    let mut a = points(2, 2, &[1.0]);
    a.save(&store).unwrap();
    let s = stats_of(&store, &a, 1);
    let meta = persist_core::__private::record_dir(&s).unwrap().meta_path();
    store
        .backend()
        .put(&meta, false, &mut |w| w.write_all(b"{").map_err(Error::io))
        .unwrap();
    let err = Stats::new(Ref::to(&a), 1)
        .load_fresh_or_compute(&store, |_| panic!("damaged: not recomputed"))
        .unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
}
