//! `maintenance::sync`: records copied between stores (local ↔ S3 when a
//! server is configured, local ↔ local, local → memory) whole and checked,
//! resynced without copying again, newer versions replacing older, autoinc
//! runs kept apart, damaged sources refused, and a sync killed by SIGKILL
//! resumed.

#[path = "../fixtures/mod.rs"]
mod fixtures;

use std::process::Stdio;
use std::time::{Duration, Instant};

use fixtures::child::{child_role, spawn_child};
use fixtures::stores::{local, local_store, stores, TestStore};
use persist_core::maintenance::{sync, verify, walk, SyncOptions, SyncReport};
use persist_core::ndarray::Array1;
use persist_core::{Error, Lazy, Persistence, Ref, Store};

#[derive(Persistence, Debug, Clone)]
#[persist(name = "trace")]
struct Trace {
    #[key]
    #[filename]
    cell: String,
    #[key]
    seed: u64,
    gain: f64,
    #[record]
    samples: Lazy<Array1<f32>>,
    /// Copied as stored: the blake3 is of the compressed bytes.
    #[record(compress = "zstd")]
    envelope: Lazy<Array1<f32>>,
}

#[derive(Persistence, Debug, Clone)]
#[persist(name = "fit")]
struct Fit {
    #[key]
    trace: Ref<Trace>,
    #[key]
    #[filename]
    model: String,
    #[autoinc]
    attempt: Option<u32>,
    loss: f64,
}

fn trace(cell: &str, seed: u64, len: usize) -> Trace {
    let mut t = Trace::new(cell, seed);
    t.gain = seed as f64 * 0.5;
    t.samples.set(Array1::from_iter(
        (0..len).map(|i| (i as f32).sin() * seed as f32),
    ));
    t.envelope.set(Array1::from_elem(len, seed as f32));
    t
}

/// A store with traces, autoinc fits referring to them, and an extra file.
fn fill(store: &Store, traces: u64) -> Vec<Trace> {
    let mut out = Vec::new();
    for seed in 0..traces {
        let mut t = trace(&format!("c{}", seed % 3), seed, 1000 + seed as usize);
        t.save(store).unwrap();
        for loss in [0.5, 0.25] {
            let mut f = Fit::new(Ref::to(&t), "linear");
            f.loss = loss * seed as f64;
            f.save(store).unwrap();
        }
        out.push(t);
    }
    let first = out[0].clone();
    first
        .save_file(store, "notes.txt", &"hand-written notes".to_owned())
        .unwrap();
    out
}

fn quick(concurrency: usize) -> SyncOptions {
    SyncOptions {
        concurrency,
        ..SyncOptions::default()
    }
}

fn run_sync(src: &Store, dst: &Store, concurrency: usize) -> SyncReport {
    let report = sync(src, dst, &quick(concurrency), |_| {}).unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    report
}

/// `dst` passes `verify` and holds every record of `traces` with the same
/// values, fits and extra file.
fn same_records(dst: &Store, traces: &[Trace]) {
    let checked = verify(dst, |_| {}).unwrap();
    assert!(checked.is_ok(), "{:?}", checked.damaged);
    for t in traces {
        let back = Trace::new(&t.cell, t.seed).load(dst).unwrap();
        assert_eq!(back.gain, t.gain);
        assert_eq!(back.samples.get().unwrap(), t.samples.get().unwrap());
        assert_eq!(back.envelope.get().unwrap(), t.envelope.get().unwrap());
        let fits = Fit::query().trace(Ref::to(t)).run(dst).unwrap();
        let mut losses: Vec<(Option<u32>, f64)> =
            fits.iter().map(|f| (f.attempt, f.loss)).collect();
        losses.sort_by_key(|l| l.0);
        assert_eq!(
            losses,
            vec![
                (Some(0), 0.5 * t.seed as f64),
                (Some(1), 0.25 * t.seed as f64)
            ]
        );
    }
    let notes: String = traces[0].load_file(dst, "notes.txt").unwrap();
    assert_eq!(notes, "hand-written notes");
}

/// Every pair of stores a sync is asked to run between: a local store to
/// each kind of store, and each remote one back to a local store.
fn pairs() -> Vec<(String, TestStore, TestStore)> {
    let mut out = Vec::new();
    for other in stores() {
        out.push((format!("local -> {}", other.name), local_store(), other));
    }
    for other in stores().into_iter().filter(|s| s.name == "s3") {
        out.push(("s3 -> local".to_owned(), other, local_store()));
    }
    out
}

#[test]
fn a_sync_copies_every_record_whole_and_a_resync_copies_nothing() {
    for (what, src, dst) in pairs() {
        eprintln!("-- {what}");
        let traces = fill(&src.store, 6);
        let records = walk(&src.store).unwrap().len();
        assert_eq!(records, 6 + 12);

        let dry = sync(
            &src.store,
            &dst.store,
            &SyncOptions {
                dry_run: true,
                ..quick(4)
            },
            |_| {},
        )
        .unwrap();
        assert_eq!(dry.copied.len(), records, "{what}");
        assert!(
            walk(&dst.store).unwrap().is_empty(),
            "{what}: a dry run wrote"
        );

        let first = run_sync(&src.store, &dst.store, 4);
        assert_eq!(first.copied.len(), records, "{what}");
        assert!(first.is_ok(), "{what}: {first}");
        assert!(first.bytes > 6 * 4000, "{what}: {first}");
        same_records(&dst.store, &traces);

        let again = run_sync(&src.store, &dst.store, 4);
        assert_eq!(
            (again.copied.len(), again.up_to_date, again.bytes),
            (0, records, 0),
            "{what}: {again}"
        );
    }
}

#[test]
fn a_newer_version_replaces_an_older_one_and_an_older_never_replaces_a_newer() {
    for (what, src, dst) in pairs() {
        eprintln!("-- {what}");
        let mut t = trace("c0", 7, 100);
        t.save(&src.store).unwrap();
        run_sync(&src.store, &dst.store, 2);
        // saved_at has whole seconds: the next save must be a later one.
        std::thread::sleep(Duration::from_millis(1100));
        t.gain = 99.0;
        t.samples.set(Array1::from_elem(50, 1.5));
        t.save(&src.store).unwrap();

        let report = run_sync(&src.store, &dst.store, 2);
        assert_eq!(report.copied.len(), 1, "{what}: {report}");
        let back = Trace::new("c0", 7).load(&dst.store).unwrap();
        assert_eq!(back.gain, 99.0);
        assert_eq!(back.samples.get().unwrap(), &Array1::from_elem(50, 1.5));

        // Now the destination moves on, and the source's older version stays out.
        std::thread::sleep(Duration::from_millis(1100));
        let mut there = back.clone();
        there.gain = -1.0;
        there.save(&dst.store).unwrap();
        let report = run_sync(&src.store, &dst.store, 2);
        assert_eq!(report.newer_in_destination.len(), 1, "{what}: {report}");
        assert!(report.copied.is_empty(), "{what}: {report}");
        assert_eq!(Trace::new("c0", 7).load(&dst.store).unwrap().gain, -1.0);
        assert!(verify(&dst.store, |_| {}).unwrap().is_ok());
    }
}

#[test]
fn an_autoinc_number_another_run_holds_is_a_conflict_and_new_runs_get_fresh_numbers() {
    for (what, src, dst) in pairs() {
        eprintln!("-- {what}");
        let mut t = trace("c1", 1, 10);
        t.save(&src.store).unwrap();
        t.save(&dst.store).unwrap();
        // Run 0 of the same key was made in each store independently.
        let mut ours = Fit::new(Ref::to(&t), "linear");
        ours.loss = 1.0;
        ours.save(&src.store).unwrap();
        let mut theirs = Fit::new(Ref::to(&t), "linear");
        theirs.loss = 2.0;
        theirs.save(&dst.store).unwrap();
        assert_eq!((ours.attempt, theirs.attempt), (Some(0), Some(0)));
        // And runs 1 and 2 only in the source.
        for loss in [3.0, 4.0] {
            let mut f = Fit::new(Ref::to(&t), "linear");
            f.loss = loss;
            f.save(&src.store).unwrap();
        }

        let report = sync(&src.store, &dst.store, &quick(3), |_| {}).unwrap();
        assert_eq!(report.conflicts.len(), 1, "{what}: {report}");
        assert!(report.conflicts[0].path.ends_with("/0"), "{what}: {report}");
        assert!(
            report.conflicts[0]
                .reason
                .contains("autoinc number 0 to another run"),
            "{what}: {}",
            report.conflicts[0]
        );
        assert!(!report.is_ok());
        let mut kept = Fit::new(Ref::to(&t), "linear");
        kept.attempt = Some(0);
        assert_eq!(
            kept.load(&dst.store).unwrap().loss,
            2.0,
            "{what}: overwritten"
        );
        for (n, loss) in [(1, 3.0), (2, 4.0)] {
            let mut f = Fit::new(Ref::to(&t), "linear");
            f.attempt = Some(n);
            assert_eq!(f.load(&dst.store).unwrap().loss, loss, "{what}");
        }
        // A run started in the destination after the sync takes a number no
        // copied run has.
        let mut next = Fit::new(Ref::to(&t), "linear");
        next.save(&dst.store).unwrap();
        assert_eq!(next.attempt, Some(3), "{what}");

        // The copies are the same runs: a second sync finds them up to date.
        let again = sync(&src.store, &dst.store, &quick(3), |_| {}).unwrap();
        assert_eq!(
            (again.copied.len(), again.conflicts.len()),
            (0, 1),
            "{what}"
        );
        let checked = verify(&dst.store, |_| {}).unwrap();
        assert!(checked.is_ok(), "{what}: {:?}", checked.damaged);
    }
}

/// A record saved in the destination after the sync listed it (another
/// writer, while the sync runs) is compared as one the destination held all
/// along: a version saved later there stays, an autoinc number taken there
/// by another run is a conflict. Never replaced unseen.
#[test]
fn a_record_saved_in_the_destination_during_the_sync_is_not_replaced() {
    for (what, src, dst) in pairs() {
        eprintln!("-- {what}");
        let t = trace("c0", 1, 10);
        t.clone().save(&src.store).unwrap();
        let mut fits = Vec::new();
        for model in ["a", "b"] {
            let mut f = Fit::new(Ref::to(&t), model);
            f.loss = 1.0;
            f.save(&src.store).unwrap();
            fits.push(f);
        }
        let mut u = trace("c1", 2, 10);
        u.save(&src.store).unwrap();
        // saved_at has whole seconds: the destination's versions are later.
        std::thread::sleep(Duration::from_millis(1100));
        let fit_a = persist_core::__private::record_dir(&fits[0])
            .unwrap()
            .path();
        let trace_u = persist_core::__private::record_dir(&u).unwrap().path();
        let saved = std::sync::Mutex::new(Vec::new());
        // One record at a time, in the walk's order (fit before trace, key
        // folders by name): when one is done, the other writer saves the
        // record of the same type the sync has not reached.
        let report = sync(&src.store, &dst.store, &quick(1), |p| {
            let mut saved = saved.lock().unwrap();
            if p.records_done == 1 {
                let model = if p.record == fit_a { "b" } else { "a" };
                let mut theirs = Fit::new(Ref::to(&t), model);
                theirs.loss = 2.0;
                theirs.save(&dst.store).unwrap();
                saved.push(model.to_owned());
            }
            if p.records_done == 3 {
                let cell = if p.record == trace_u { "c0" } else { "c1" };
                let seed = if cell == "c0" { 1 } else { 2 };
                let mut theirs = trace(cell, seed, 20);
                theirs.gain = -5.0;
                theirs.save(&dst.store).unwrap();
                saved.push(cell.to_owned());
            }
        })
        .unwrap();
        let saved = saved.into_inner().unwrap();
        assert_eq!(saved.len(), 2, "{what}: {saved:?}");
        assert!(report.failed.is_empty(), "{what}: {:?}", report.failed);
        assert_eq!(report.copied.len(), 2, "{what}: {report}");
        assert_eq!(report.newer_in_destination.len(), 1, "{what}: {report}");
        assert_eq!(report.conflicts.len(), 1, "{what}: {report}");
        assert!(
            report.conflicts[0]
                .reason
                .contains("autoinc number 0 to another run"),
            "{what}: {}",
            report.conflicts[0]
        );
        let mut kept = Fit::new(Ref::to(&t), &saved[0]);
        kept.attempt = Some(0);
        assert_eq!(kept.load(&dst.store).unwrap().loss, 2.0, "{what}");
        let seed = if saved[1] == "c0" { 1 } else { 2 };
        let there = Trace::new(&saved[1], seed).load(&dst.store).unwrap();
        assert_eq!(there.gain, -5.0, "{what}: replaced");
        assert_eq!(there.samples.get().unwrap().len(), 20, "{what}");
        let checked = verify(&dst.store, |_| {}).unwrap();
        assert!(checked.is_ok(), "{what}: {:?}", checked.damaged);
    }
}

#[test]
fn a_damaged_source_record_is_not_copied() {
    let (src, dir) = local();
    let (dst, _dst_dir) = local();
    let good = trace("c0", 1, 100);
    let mut bad = trace("c0", 2, 100);
    good.clone().save(&src).unwrap();
    bad.save(&src).unwrap();
    // Flip a byte of the damaged record's array file.
    let folder = persist_core::__private::record_dir(&bad).unwrap().path();
    let file = std::fs::read_dir(dir.path().join(&folder))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "npy"))
        .unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();

    let report = sync(&src, &dst, &quick(2), |_| {}).unwrap();
    assert_eq!(report.copied.len(), 1, "{report}");
    assert_eq!(report.failed.len(), 1, "{report}");
    assert!(
        matches!(report.failed[0].error, Error::Integrity { .. }),
        "{}",
        report.failed[0]
    );
    assert!(matches!(
        Trace::new("c0", 2).load(&dst),
        Err(Error::NotFound { .. })
    ));
    assert!(verify(&dst, |_| {}).unwrap().is_ok());
    assert_eq!(Trace::new("c0", 1).load(&dst).unwrap().gain, good.gain);
}

#[test]
fn a_sync_into_a_read_only_store_is_refused() {
    let (src, _a) = local();
    let (dst, _b) = local();
    trace("c0", 1, 10).save(&src).unwrap();
    let dst = dst.policy(persist_core::Policy::ReadOnly);
    let err = sync(&src, &dst, &quick(1), |_| {}).unwrap_err();
    assert!(matches!(err, Error::ReadOnly { .. }), "{err}");
}

const RESUME_RECORDS: u64 = 400;

/// The child of `a_sync_killed_by_sigkill_resumes_with_what_is_missing`: syncs
/// one record at a time until it is killed.
#[test]
fn sync_child() {
    let Some(role) = child_role() else { return };
    assert_eq!(role, "sync");
    let src = Store::open(std::env::var("SYNC_SRC").unwrap()).unwrap();
    let dst = Store::open(std::env::var("SYNC_DST").unwrap()).unwrap();
    sync(&src, &dst, &quick(1), |_| {
        // Slow enough to be killed half-way on any machine.
        std::thread::sleep(Duration::from_millis(5));
    })
    .unwrap();
}

#[test]
fn a_sync_killed_by_sigkill_resumes_with_what_is_missing() {
    if child_role().is_some() {
        return;
    }
    let (src, src_dir) = local();
    let (dst, dst_dir) = local();
    let src = src.durable(false);
    for seed in 0..RESUME_RECORDS {
        trace("c", seed, 64).save(&src).unwrap();
    }
    let mut child = spawn_child(
        "sync_child",
        "sync",
        &[
            ("SYNC_SRC", src_dir.path().display().to_string()),
            ("SYNC_DST", dst_dir.path().display().to_string()),
        ],
        Stdio::null(),
    );
    // Kill it once a tenth of the records are across.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let there = walk(&dst).unwrap().len() as u64;
        if there >= RESUME_RECORDS / 10 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sync ended before it was killed"
        );
        assert!(Instant::now() < deadline, "the sync made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = walk(&dst).unwrap();
    let copied_before = before.len() as u64;
    assert!(
        copied_before < RESUME_RECORDS,
        "killed too late to test a resume"
    );
    // What the killed sync left is whole records only.
    assert!(before.iter().all(|r| r.meta.is_ok()));
    assert!(verify(&dst, |_| {}).unwrap().is_ok());

    let report = run_sync(&src, &dst, 8);
    assert_eq!(
        report.copied.len() as u64 + copied_before,
        RESUME_RECORDS,
        "{report}"
    );
    assert_eq!(report.up_to_date as u64, copied_before, "{report}");
    assert!(verify(&dst, |_| {}).unwrap().is_ok());
    for seed in 0..RESUME_RECORDS {
        let back = Trace::new("c", seed).load(&dst).unwrap();
        assert_eq!(
            back.samples.get().unwrap(),
            trace("c", seed, 64).samples.get().unwrap()
        );
    }
}
