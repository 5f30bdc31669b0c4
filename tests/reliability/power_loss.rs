//! Power loss at every crash point: each scenario below runs on the `powerfs`
//! FUSE file system, which keeps what programs see apart from what survives
//! a cut (file data on the file's fsync, names on their folder's fsync). A dry
//! run counts the scenario's mutating operations (T); then, for every
//! n in 1..=T+1, the scenario runs again on the same starting image with the
//! power cut just before operation n (T+1: after the last save returned),
//! and the surviving image is mounted again and checked:
//!
//! - every save (and `remove`) that returned is there, whole: the store is
//!   the state after the last operation that returned, or after the one the
//!   cut interrupted, and nothing else;
//! - nothing visible is partial: every listed record loads with every file
//!   matching the data it was derived from;
//! - `verify` finds no damage, `gc` fails nothing and skips nothing, and a
//!   second `gc` finds nothing; the records are still the same after it;
//! - a new autoinc save gets a number never given before, nor claimed.
//!
//! Each scenario prints `N crash points, M violations`. The same runs on a
//! file system that drops the fsync of files, then of folders (a store that
//! skips them), must find violations: the checks are shown to catch both.
//! The same cuts run again on a disk that also keeps every name change
//! that was not fsynced (names journaled in order, data only on fsync).
//! With `durable(false)` the returned saves may be lost: the store must be
//! one whole earlier state where only fsynced changes survive, and where
//! names survive without their data every torn record must fail to load
//! and be reported by `verify`.
//!
//! Needs `/dev/fuse` and root: elsewhere it prints why it skips, and under
//! `CI=true` it fails instead. Run as
//! `cargo test --test power_loss -- --nocapture`.
#![cfg(target_os = "linux")]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use persist_core::maintenance::{gc, prune, verify, GcOptions, PruneOptions};
use persist_core::ndarray::Array1;
use persist_core::{Error, Lazy, Persistence, Store};
use powerfs::{Fsync, Image, PowerFs};

/// A record overwritten in place: an array and a text, both derived from
/// `seq`, and an extra file.
#[derive(Persistence, Debug, Clone)]
#[persist(name = "power_item")]
struct Item {
    #[key]
    #[filename]
    name: String,
    seq: u64,
    #[record]
    data: Lazy<Array1<u64>>,
    #[record]
    note: Lazy<String>,
}

/// A new numbered record per save, its payload derived from `token`.
#[derive(Persistence, Debug, Clone)]
#[persist(name = "power_run")]
struct Run {
    #[key]
    #[filename]
    series: String,
    #[autoinc]
    n: Option<u64>,
    token: u64,
    #[record]
    payload: Lazy<Array1<u64>>,
}

const SERIES: &str = "s";
const EXTRA: &str = "extra.txt";

fn item_data(seq: u64) -> Array1<u64> {
    let base = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    Array1::from_iter((0..2048 + seq * 16).map(|i| base ^ i))
}

fn item_note(seq: u64) -> String {
    format!("note of version {seq}\n").repeat(40)
}

fn extra_text(seq: u64) -> String {
    format!("extra file version {seq}\n").repeat(100)
}

fn run_payload(token: u64) -> Array1<u64> {
    Array1::from_iter((0..512 + token * 8).map(|i| token.wrapping_mul(1_000_003) + i))
}

/// One operation of a scenario.
#[derive(Debug, Clone, Copy)]
enum Step {
    Save {
        name: &'static str,
        seq: u64,
    },
    SaveFile {
        name: &'static str,
        seq: u64,
    },
    Remove {
        name: &'static str,
    },
    Append {
        token: u64,
    },
    RemoveRun {
        n: u64,
    },
    Gc,
    /// `load_or_compute` of the item: on a miss it takes the lease, computes
    /// version `seq`, saves it and drops the lease.
    Compute {
        name: &'static str,
        seq: u64,
    },
    /// `prune` of every item (`--older-than 0 --min-age 0 --type power_item`).
    PruneItems,
    /// `prune` of the runs but the newest `keep` (`--keep-last`).
    PruneRuns {
        keep: usize,
    },
}

/// What the store holds, as the checks see it: items by name (their `seq`
/// and the `seq` of their extra file), runs by number (their token).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct State {
    items: BTreeMap<String, (u64, Option<u64>)>,
    runs: BTreeMap<u64, u64>,
}

/// A state the store may be in after a cut: `pending` is the token of an
/// autoinc save that may have landed under a number not known.
#[derive(Debug, Clone)]
struct Allowed {
    state: State,
    pending: Option<u64>,
}

impl Allowed {
    fn admits(&self, seen: &State) -> bool {
        if seen.items != self.state.items {
            return false;
        }
        if seen.runs == self.state.runs {
            return true;
        }
        let Some(token) = self.pending else {
            return false;
        };
        let extra: Vec<_> = seen
            .runs
            .iter()
            .filter(|(n, _)| !self.state.runs.contains_key(n))
            .collect();
        extra.len() == 1
            && *extra[0].1 == token
            && self
                .state
                .runs
                .iter()
                .all(|(n, t)| seen.runs.get(n) == Some(t))
    }
}

/// Applies a step that returned (`number` is what an `Append` was given).
fn apply(state: &mut State, step: Step, number: Option<u64>) {
    match step {
        Step::Save { name, seq } | Step::Compute { name, seq } => {
            let file = state.items.get(name).and_then(|(_, f)| *f);
            state.items.insert(name.to_owned(), (seq, file));
        }
        Step::SaveFile { name, seq } => {
            if let Some(item) = state.items.get_mut(name) {
                item.1 = Some(seq);
            }
        }
        Step::Remove { name } => {
            state.items.remove(name);
        }
        Step::Append { token } => {
            if let Some(n) = number {
                state.runs.insert(n, token);
            }
        }
        Step::RemoveRun { n } => {
            state.runs.remove(&n);
        }
        Step::PruneItems => state.items.clear(),
        Step::PruneRuns { keep } => {
            let old: Vec<u64> = state.runs.keys().rev().skip(keep).copied().collect();
            for n in old {
                state.runs.remove(&n);
            }
        }
        Step::Gc => {}
    }
}

/// Runs one step; `Ok` carries the number an `Append` was given.
fn run_step(store: &Store, step: Step) -> Result<Option<u64>, Error> {
    match step {
        Step::Save { name, seq } => {
            let mut item = Item::new(name);
            item.seq = seq;
            item.data.set(item_data(seq));
            item.note.set(item_note(seq));
            item.save(store)?;
            Ok(None)
        }
        Step::SaveFile { name, seq } => {
            Item::new(name).save_file(store, EXTRA, &extra_text(seq))?;
            Ok(None)
        }
        Step::Remove { name } => Item::new(name).remove(store).map(|()| None),
        Step::Append { token } => {
            let mut run = Run::new(SERIES);
            run.token = token;
            run.payload.set(run_payload(token));
            run.save(store)?;
            Ok(run.n)
        }
        Step::RemoveRun { n } => {
            let mut run = Run::new(SERIES);
            run.n = Some(n);
            run.remove(store).map(|()| None)
        }
        Step::Gc => {
            let report = gc(store, &gc_now())?;
            match report.failed.into_iter().next() {
                Some((_, e)) => Err(e),
                None => Ok(None),
            }
        }
        Step::PruneItems | Step::PruneRuns { .. } => {
            let options = match step {
                Step::PruneRuns { keep } => {
                    PruneOptions::default().types(["power_run"]).keep_last(keep)
                }
                _ => PruneOptions::default()
                    .types(["power_item"])
                    .older_than(Duration::ZERO),
            };
            let report = prune(store, &options.min_age(Duration::ZERO))?;
            match report.failed.into_iter().next() {
                Some((_, e)) => Err(e),
                None => Ok(None),
            }
        }
        Step::Compute { name, seq } => {
            let (item, computed) = compute_item(store, name, seq)?;
            assert!(computed <= 1, "{name} computed {computed} times");
            assert_eq!(item.seq, seq, "load_or_compute of {name}");
            Ok(None)
        }
    }
}

/// `load_or_compute` of item `name` (computed as version `seq`): the item
/// and how many times it was computed.
fn compute_item(store: &Store, name: &str, seq: u64) -> Result<(Item, u32), Error> {
    let mut computed = 0;
    let item = Item::new(name).load_or_compute(store, |item| {
        computed += 1;
        item.seq = seq;
        item.data.set(item_data(seq));
        item.note.set(item_note(seq));
        Ok(())
    })?;
    Ok((item, computed))
}

/// The lease time of every store in the suite: a lease left by a cut expires
/// during the checks.
const LEASE_TTL: Duration = Duration::from_millis(200);

fn open_store(root: &Path) -> Result<Store, Error> {
    Store::open(root).map(|s| s.lease_ttl(LEASE_TTL))
}

/// Lease files (`.lease`, takeover claims) anywhere under `dir`.
fn lease_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let path = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(lease_files(&path));
        } else if e.file_name().to_string_lossy().starts_with(".lease") {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// Waits out the lease time of leases left by the cut.
fn outlive_leases(root: &Path) {
    if !lease_files(root).is_empty() {
        std::thread::sleep(LEASE_TTL + Duration::from_millis(100));
    }
}

fn gc_now() -> GcOptions {
    GcOptions {
        dry_run: false,
        min_age: Duration::ZERO,
    }
}

struct Scenario {
    name: &'static str,
    /// Done and made durable before the operations under test.
    setup: Vec<Step>,
    /// Extra scenery after `setup` (leftovers of interrupted saves); returns
    /// the autoinc numbers it claimed.
    scenery: fn(&Path) -> Vec<u64>,
    act: Vec<Step>,
}

fn no_scenery(_: &Path) -> Vec<u64> {
    Vec::new()
}

fn scenarios() -> Vec<Scenario> {
    const NAMES: [&str; 8] = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let save = |name, seq| Step::Save { name, seq };
    let save_file = |name, seq| Step::SaveFile { name, seq };
    let append = |token| Step::Append { token };
    vec![
        Scenario {
            name: "first save",
            setup: vec![],
            scenery: no_scenery,
            act: NAMES.iter().map(|n| save(n, 1)).collect(),
        },
        Scenario {
            name: "overwrite with record files",
            setup: vec![save("a", 1)],
            scenery: no_scenery,
            act: (2..8).map(|seq| save("a", seq)).collect(),
        },
        Scenario {
            name: "autoinc save (claim, files, meta)",
            setup: vec![append(1)],
            scenery: no_scenery,
            act: (2..14).map(append).collect(),
        },
        Scenario {
            name: "save_file",
            setup: vec![save("a", 1), save_file("a", 1)],
            scenery: no_scenery,
            act: vec![
                save_file("a", 2),
                save_file("a", 3),
                save("a", 2),
                save_file("a", 4),
                save("b", 1),
                save_file("b", 1),
                save_file("b", 2),
            ],
        },
        Scenario {
            name: "remove",
            setup: NAMES
                .iter()
                .flat_map(|n| [save(n, 1), save_file(n, 1)])
                .chain((1..4).map(append))
                .collect(),
            scenery: no_scenery,
            act: NAMES
                .iter()
                .map(|name| Step::Remove { name })
                .chain([Step::RemoveRun { n: 0 }, Step::RemoveRun { n: 2 }])
                .collect(),
        },
        Scenario {
            name: "prune",
            setup: vec![
                save("a", 1),
                save_file("a", 1),
                append(1),
                append(2),
                append(3),
            ],
            scenery: no_scenery,
            // Each prune removes one record, so each is one step to cut.
            act: vec![
                Step::PruneRuns { keep: 2 },
                Step::PruneItems,
                save("a", 2),
                Step::PruneRuns { keep: 1 },
                append(4),
                Step::PruneItems,
            ],
        },
        Scenario {
            name: "gc",
            setup: vec![save("a", 1), save_file("a", 1), append(1)],
            scenery: leftovers,
            act: vec![Step::Gc, save("a", 2), append(2), Step::Gc],
        },
        Scenario {
            name: "a lease",
            setup: vec![save("b", 1)],
            scenery: no_scenery,
            act: vec![Step::Compute { name: "a", seq: 1 }],
        },
    ]
}

/// The number of the unfinished autoinc save that [`leftovers`] leaves.
const UNFINISHED: u64 = 5;

/// What interrupted saves leave, made by hand next to whole records: a
/// temporary file and an unnamed record file in a record's folder, and an
/// autoinc number with its claim and a file but no `meta.json`.
fn leftovers(root: &Path) -> Vec<u64> {
    let item_dir = find_folder_with_meta(&root.join("power_item")).expect("item folder");
    std::fs::write(item_dir.join(".tmp-interrupted"), b"half a meta").unwrap();
    std::fs::write(
        item_dir.join("data-00000000-0000-4000-8000-000000000000.npy"),
        b"half an array",
    )
    .unwrap();
    let run_dir = find_folder_with_meta(&root.join("power_run")).expect("run folder");
    let key_dir = run_dir.parent().unwrap();
    let unfinished = key_dir.join(UNFINISHED.to_string());
    std::fs::create_dir(&unfinished).unwrap();
    std::fs::write(unfinished.join(".claim"), b"{}\n").unwrap();
    std::fs::write(
        unfinished.join("payload-00000000-0000-4000-8000-000000000001.npy"),
        b"half",
    )
    .unwrap();
    vec![UNFINISHED]
}

fn find_folder_with_meta(dir: &Path) -> Option<PathBuf> {
    if dir.join("meta.json").is_file() {
        return Some(dir.to_path_buf());
    }
    let mut subs: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    subs.sort();
    subs.iter().find_map(|d| find_folder_with_meta(d))
}

/// How a run is mounted and saved.
#[derive(Debug, Clone, Copy)]
struct Variant {
    label: &'static str,
    fsync: Fsync,
    durable: bool,
    /// The cut keeps every name change, fsynced or not (ext4 with
    /// `data=writeback`), instead of only the fsynced ones.
    names_kept: bool,
}

const REAL: Variant = Variant {
    label: "durable(true)",
    fsync: Fsync::Kept,
    durable: true,
    names_kept: false,
};

/// The scene a scenario starts from, and what it means for the checks.
struct Scene {
    image: Image,
    state: State,
    /// Numbers given or claimed before the operations under test.
    numbers: BTreeSet<u64>,
}

struct Mounts {
    dir: tempfile::TempDir,
}

impl Mounts {
    fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn build_scene(mounts: &Mounts, scenario: &Scenario) -> Scene {
    let fs = PowerFs::mount(mounts.path(), Image::new(), Fsync::Kept).expect("mount");
    let mut state = State::default();
    let mut numbers = BTreeSet::new();
    {
        let store = open_store(fs.path()).expect("open store");
        for &step in &scenario.setup {
            let n = run_step(&store, step).unwrap_or_else(|e| panic!("setup {step:?}: {e}"));
            numbers.extend(n);
            apply(&mut state, step, n);
        }
        numbers.extend((scenario.scenery)(fs.path()));
    }
    fs.sync();
    Scene {
        image: fs.power_off().expect("unmount"),
        state,
        numbers,
    }
}

/// What one run of the operations did before (and after) the cut.
struct Outcome {
    survived: Image,
    /// Mutating operations done (the whole run, when there was no cut).
    ops: u64,
    allowed: Vec<Allowed>,
    /// Numbers given by autoinc saves that returned.
    numbers: BTreeSet<u64>,
}

fn run_until_cut(
    mounts: &Mounts,
    scene: &Scene,
    scenario: &Scenario,
    variant: Variant,
    cut_before: Option<u64>,
) -> Outcome {
    let fs = PowerFs::mount(mounts.path(), scene.image.clone(), variant.fsync).expect("mount");
    if let Some(n) = cut_before {
        fs.cut_before(n);
    }
    let mut state = scene.state.clone();
    // With durable(false) any earlier state may be what survives.
    let mut allowed = vec![Allowed {
        state: state.clone(),
        pending: None,
    }];
    let mut numbers = scene.numbers.clone();
    let mut interrupted = false;
    match open_store(fs.path()) {
        Err(e) => assert!(cut_before.is_some(), "open without a cut: {e}"),
        Ok(store) => {
            let store = store.durable(variant.durable);
            for &step in &scenario.act {
                match run_step(&store, step) {
                    Ok(n) => {
                        assert!(!interrupted, "{step:?} returned after an earlier failure");
                        numbers.extend(n);
                        apply(&mut state, step, n);
                        allowed.push(Allowed {
                            state: state.clone(),
                            pending: None,
                        });
                    }
                    Err(e) if !interrupted => {
                        assert!(
                            fs.was_cut(),
                            "{}: {step:?} failed without a cut: {e}",
                            scenario.name
                        );
                        interrupted = true;
                        // The interrupted step may have landed whole.
                        let mut after = state.clone();
                        let pending = match step {
                            Step::Append { token } => Some(token),
                            _ => None,
                        };
                        apply(&mut after, step, None);
                        allowed.push(Allowed {
                            state: after,
                            pending,
                        });
                    }
                    Err(_) => {}
                }
            }
        }
    }
    // With durable(false) nothing was promised: every state the run went
    // through may be what the disk kept. Else only the last state that
    // returned, or the interrupted step's.
    if variant.durable {
        let keep = if interrupted { 2 } else { 1 };
        let from = allowed.len() - keep;
        allowed.drain(..from);
    }
    let ops = fs.ops();
    let survived = if variant.names_kept {
        fs.power_off_keeping_names()
    } else {
        fs.power_off()
    };
    Outcome {
        survived: survived.expect("unmount"),
        ops,
        allowed,
        numbers,
    }
}

/// What a remount shows, and the reasons it is not whole.
fn observe(store: &Store, problems: &mut Vec<String>) -> State {
    let mut seen = State::default();
    match Item::all(store) {
        Err(e) => problems.push(format!("listing items: {e}")),
        Ok(records) => {
            for item in records {
                let item = match item {
                    Ok(item) => item,
                    Err(e) => {
                        problems.push(format!("a listed item does not load: {e}"));
                        continue;
                    }
                };
                let whole = item.data.get().map(|d| *d == item_data(item.seq));
                let note = item.note.get().map(|n| *n == item_note(item.seq));
                match (whole, note) {
                    (Ok(true), Ok(true)) => {}
                    other => problems.push(format!(
                        "item {} seq {} is not whole: {other:?}",
                        item.name, item.seq
                    )),
                }
                let file = match item.load_file::<String>(store, EXTRA) {
                    Ok(text) => match (1..100).find(|s| text == extra_text(*s)) {
                        Some(seq) => Some(seq),
                        None => {
                            problems.push(format!(
                                "extra file of {} is partial ({} bytes)",
                                item.name,
                                text.len()
                            ));
                            None
                        }
                    },
                    Err(Error::NotFound { .. }) => None,
                    Err(e) => {
                        problems.push(format!("extra file of {}: {e}", item.name));
                        None
                    }
                };
                seen.items.insert(item.name.clone(), (item.seq, file));
            }
        }
    }
    match Run::all(store) {
        Err(e) => problems.push(format!("listing runs: {e}")),
        Ok(records) => {
            for run in records {
                match run {
                    Ok(run) => {
                        let n = run.n.unwrap_or(u64::MAX);
                        match run.payload.get() {
                            Ok(p) if *p == run_payload(run.token) => {}
                            other => problems.push(format!(
                                "run {n} token {} is not whole: {:?}",
                                run.token,
                                other.map(|p| p.len())
                            )),
                        }
                        seen.runs.insert(n, run.token);
                    }
                    Err(e) => problems.push(format!("a listed run does not load: {e}")),
                }
            }
        }
    }
    seen
}

/// Remounts what survived and returns every violation found.
fn check_survivors(
    mounts: &Mounts,
    scenario: &Scenario,
    outcome: Outcome,
    variant: Variant,
) -> Vec<String> {
    let mut problems = Vec::new();
    let computes: Vec<_> = scenario
        .act
        .iter()
        .filter_map(|step| match *step {
            Step::Compute { name, seq } => Some((name, seq)),
            _ => None,
        })
        .collect();
    if !computes.is_empty() {
        // On a copy of what survived: a lease left by the cut blocks a new
        // `load_or_compute` no longer than its time to live, and the record
        // it gives is the stored one or else computed once.
        let fs =
            PowerFs::mount(mounts.path(), outcome.survived.clone(), Fsync::Kept).expect("remount");
        {
            let store = open_store(fs.path())
                .expect("open store after the cut")
                .wait_timeout(LEASE_TTL * 10);
            let seen = observe(&store, &mut Vec::new());
            outlive_leases(fs.path());
            for (name, seq) in computes {
                let want = seen.items.get(name).map_or(seq, |(s, _)| *s);
                let once = u32::from(!seen.items.contains_key(name));
                match compute_item(&store, name, seq) {
                    Ok((item, computed)) if item.seq == want && computed == once => {
                        if item
                            .data
                            .get()
                            .map(|d| *d != item_data(want))
                            .unwrap_or(true)
                        {
                            problems.push(format!("load_or_compute of {name}: not whole"));
                        }
                    }
                    Ok((item, computed)) => problems.push(format!(
                        "load_or_compute of {name} after the cut: version {} computed {computed} \
                         times (want version {want}, computed {once})",
                        item.seq
                    )),
                    Err(e) => {
                        problems.push(format!("load_or_compute of {name} after the cut: {e}"))
                    }
                }
            }
        }
        drop(fs);
    }
    let fs = PowerFs::mount(mounts.path(), outcome.survived, Fsync::Kept).expect("remount");
    {
        let store = open_store(fs.path()).expect("open store after the cut");
        let seen = observe(&store, &mut problems);
        if !outcome.allowed.iter().any(|a| a.admits(&seen)) {
            let what = if variant.durable {
                "not the last state that returned nor the interrupted one"
            } else {
                "not a state the run went through"
            };
            problems.push(format!(
                "the store is {what}: saw {seen:?}, allowed {:?}",
                outcome.allowed
            ));
        }
        match verify(&store, |_| {}) {
            Ok(report) if report.is_ok() => {}
            Ok(report) => problems.push(format!("verify: {:?}", report.damaged)),
            Err(e) => problems.push(format!("verify: {e}")),
        }
        // A lease left by the cut is a leftover once its time to live passed.
        outlive_leases(fs.path());
        match gc(&store, &gc_now()) {
            Ok(r) if r.failed.is_empty() && r.skipped.is_empty() => {}
            Ok(r) => problems.push(format!("gc failed {:?}, skipped {:?}", r.failed, r.skipped)),
            Err(e) => problems.push(format!("gc: {e}")),
        }
        match gc(&store, &gc_now()) {
            Ok(r) if r.leftovers.is_empty() => {}
            Ok(r) => problems.push(format!("a second gc found {:?}", r.leftovers)),
            Err(e) => problems.push(format!("second gc: {e}")),
        }
        let left = lease_files(fs.path());
        if !left.is_empty() {
            problems.push(format!("gc left the leases {left:?}"));
        }
        let mut after = Vec::new();
        if observe(&store, &mut after) != seen || !after.is_empty() {
            problems.push(format!("gc changed the records: {after:?}"));
        }
        let mut run = Run::new(SERIES);
        run.token = 999;
        run.payload.set(run_payload(run.token));
        match run.save(&store) {
            Ok(()) => {
                let n = run.n.unwrap_or(u64::MAX);
                // Without durable(false) a number given before the cut may
                // be lost with its record, and given again.
                let given = variant.durable && outcome.numbers.contains(&n);
                if given || seen.runs.contains_key(&n) {
                    problems.push(format!("autoinc number {n} given twice"));
                }
            }
            Err(e) => problems.push(format!("autoinc save after the cut: {e}")),
        }
    }
    drop(fs);
    problems
}

/// Explores every crash point of one scenario: (crash points, violations).
///
/// With `until_caught` it stops at the first violation: enough to show that
/// the checks catch a broken variant.
fn explore(
    mounts: &Mounts,
    scenario: &Scenario,
    variant: Variant,
    until_caught: bool,
) -> (u64, u64) {
    let scene = build_scene(mounts, scenario);
    let dry = run_until_cut(mounts, &scene, scenario, variant, None);
    let total = dry.ops;
    let mut violations = 0;
    let mut shown = 0;
    let mut explored = 0;
    for n in 1..=total + 1 {
        explored += 1;
        // n = total + 1 cuts after the last operation returned.
        let outcome = run_until_cut(mounts, &scene, scenario, variant, Some(n));
        let problems = check_survivors(mounts, scenario, outcome, variant);
        if !problems.is_empty() {
            violations += 1;
            if shown < 2 && variant.fsync == Fsync::Kept {
                shown += 1;
                println!(
                    "  {} / {}: cut before op {n} of {total}: {}",
                    variant.label,
                    scenario.name,
                    problems.join("; ")
                );
            }
            if until_caught {
                break;
            }
        }
    }
    (explored, violations)
}

fn can_mount() -> bool {
    match powerfs::usable() {
        Ok(()) => true,
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI must run the power-loss tests, but {why}")
        }
        Err(why) => {
            println!("power_loss skipped: {why}");
            false
        }
    }
}

fn mounts() -> Mounts {
    Mounts {
        dir: tempfile::tempdir().expect("mount point"),
    }
}

#[test]
fn every_crash_point_keeps_every_returned_save() {
    if !can_mount() {
        return;
    }
    let mounts = mounts();
    let mut points = 0;
    let mut violations = 0;
    for scenario in scenarios() {
        let (n, m) = explore(&mounts, &scenario, REAL, false);
        println!("{}: {n} crash points, {m} violations", scenario.name);
        points += n;
        violations += m;
    }
    println!("durable(true): {points} crash points, {violations} violations");
    assert_eq!(violations, 0, "power loss broke the store");
    assert!(points >= 500, "only {points} crash points explored");
}

#[test]
fn the_checks_catch_a_store_that_skips_fsync() {
    if !can_mount() {
        return;
    }
    let mounts = mounts();
    for (label, fsync) in [
        ("no file fsync", Fsync::FilesDropped),
        ("no directory fsync", Fsync::DirsDropped),
    ] {
        let variant = Variant {
            label,
            fsync,
            durable: true,
            names_kept: false,
        };
        let mut points = 0;
        let mut caught = Vec::new();
        let all = scenarios();
        for scenario in &all {
            let (n, m) = explore(&mounts, scenario, variant, true);
            points += n;
            if m > 0 {
                caught.push(format!("{} at crash point {n}", scenario.name));
            }
        }
        let verdict = if caught.is_empty() {
            "NOT caught"
        } else {
            "caught"
        };
        println!(
            "{label}: {points} crash points, {} violations: {verdict} in {} of {} scenarios ({})",
            caught.len(),
            caught.len(),
            all.len(),
            caught.join(", ")
        );
        assert!(!caught.is_empty(), "{label}: the checks found nothing");
    }
}

#[test]
fn every_crash_point_on_a_disk_that_keeps_names() {
    if !can_mount() {
        return;
    }
    let mounts = mounts();
    let variant = Variant {
        label: "durable(true), names kept",
        names_kept: true,
        ..REAL
    };
    let mut points = 0;
    let mut violations = 0;
    for scenario in scenarios() {
        let (n, m) = explore(&mounts, &scenario, variant, false);
        println!(
            "names kept, {}: {n} crash points, {m} violations",
            scenario.name
        );
        points += n;
        violations += m;
    }
    println!("durable(true), names kept: {points} crash points, {violations} violations");
    assert_eq!(violations, 0, "power loss broke the store");
}

#[test]
fn without_durable_a_cut_leaves_an_earlier_state_or_damage_verify_finds() {
    if !can_mount() {
        return;
    }
    let mounts = mounts();
    // Where only fsynced names survive, nothing of an unsynced save does:
    // the store is one whole earlier state.
    let strict = Variant {
        label: "durable(false)",
        fsync: Fsync::Kept,
        durable: false,
        names_kept: false,
    };
    let mut points = 0;
    let mut violations = 0;
    for scenario in scenarios() {
        let (n, m) = explore(&mounts, &scenario, strict, false);
        points += n;
        violations += m;
    }
    println!("durable(false): {points} crash points, {violations} violations");
    assert_eq!(violations, 0);

    // Where names survive without their data, records come back torn:
    // each must fail to load (never load other bytes) and `verify` must
    // report it.
    let names_kept = Variant {
        names_kept: true,
        ..strict
    };
    let mut totals = Torn::default();
    let mut points = 0;
    for scenario in scenarios() {
        let scene = build_scene(&mounts, &scenario);
        let total = run_until_cut(&mounts, &scene, &scenario, names_kept, None).ops;
        for n in 1..=total + 1 {
            let outcome = run_until_cut(&mounts, &scene, &scenario, names_kept, Some(n));
            let torn = check_torn(&mounts, outcome.survived);
            for problem in torn.problems.iter().take(2) {
                println!(
                    "  durable(false), names kept / {}: cut before op {n}: {problem}",
                    scenario.name
                );
            }
            totals.add(&torn);
            points += 1;
        }
    }
    println!(
        "durable(false), names kept: {points} crash points, {} violations; \
         {} cuts left {} torn records (all failed to load, all reported by verify), \
         {} extra files came back empty",
        totals.problems.len(),
        totals.cuts_with_torn,
        totals.records,
        totals.empty_extra_files
    );
    assert!(totals.problems.is_empty());
    assert!(
        totals.records > 0,
        "durable(false) never tore a record: the model is wrong"
    );
}

#[derive(Default)]
struct Torn {
    /// Records that failed to load: `meta.json` or a record file empty.
    records: u64,
    cuts_with_torn: u64,
    /// Extra files that load as empty text: they carry no checksum.
    empty_extra_files: u64,
    problems: Vec<String>,
}

impl Torn {
    fn add(&mut self, other: &Torn) {
        self.records += other.records;
        self.cuts_with_torn += u64::from(other.records > 0);
        self.empty_extra_files += other.empty_extra_files;
        self.problems.extend(other.problems.iter().cloned());
    }
}

/// Remounts `survived`: every record either loads whole, with the data its
/// fields derive from, or fails to load and is reported by `verify`.
fn check_torn(mounts: &Mounts, survived: Image) -> Torn {
    let fs = PowerFs::mount(mounts.path(), survived, Fsync::Kept).expect("remount");
    let mut torn = Torn::default();
    {
        let store = open_store(fs.path()).expect("open store after the cut");
        for item in Item::all(&store).expect("list items") {
            let Ok(item) = item else {
                torn.records += 1;
                continue;
            };
            match (item.data.get(), item.note.get()) {
                (Ok(d), Ok(n)) if *d == item_data(item.seq) && *n == item_note(item.seq) => {}
                (Ok(_), Ok(_)) => torn
                    .problems
                    .push(format!("item {} loads other bytes", item.name)),
                _ => torn.records += 1,
            }
            match item.load_file::<String>(&store, EXTRA) {
                Ok(text) if text.is_empty() => torn.empty_extra_files += 1,
                Ok(text) if (1..100).any(|s| text == extra_text(s)) => {}
                Ok(text) => torn.problems.push(format!(
                    "extra file of {} is partial ({} bytes)",
                    item.name,
                    text.len()
                )),
                Err(_) => {}
            }
        }
        for run in Run::all(&store).expect("list runs") {
            match run {
                Ok(run) => match run.payload.get() {
                    Ok(p) if *p == run_payload(run.token) => {}
                    Ok(_) => torn
                        .problems
                        .push(format!("run {:?} loads other bytes", run.n)),
                    Err(_) => torn.records += 1,
                },
                Err(_) => torn.records += 1,
            }
        }
        match verify(&store, |_| {}) {
            Ok(report) if report.damaged.len() as u64 == torn.records => {}
            Ok(report) => torn.problems.push(format!(
                "{} records fail to load, verify reports {}",
                torn.records,
                report.damaged.len()
            )),
            Err(e) => torn.problems.push(format!("verify: {e}")),
        }
    }
    drop(fs);
    torn
}
