//! Concurrency across processes, on one local store:
//! - 16 processes x 100 autoinc saves of one key leave exactly 1,600 records
//!   numbered 0..1599, each holding what the process that got the number saved
//!   (and 8 x 50 without fsync);
//! - 8 processes overwriting one non-autoinc record leave one whole version:
//!   the last save of one of them;
//! - readers loading while writers overwrite never see a mixed record (a
//!   `Superseded` error for a file replaced under an unread `Lazy` is allowed).
//!
//! Children are this test binary run again (see `fixtures::child::spawn_child`); they
//! wait for a start file so that all of them begin at once.
#![cfg(unix)]

#[path = "../fixtures/mod.rs"]
mod fixtures;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fixtures::child::{child_role, spawn_child, tagged_lines};
use fixtures::scan::scan;
use persist_core::maintenance::{gc, GcOptions};
use persist_core::ndarray::Array1;
use persist_core::{Error, Lazy, Persistence, Store};

#[derive(Persistence, Debug, Clone)]
#[persist(name = "shared_run")]
struct SharedRun {
    #[key]
    #[filename]
    key: String,
    #[autoinc]
    n: Option<u32>,
    writer: u32,
    i: u32,
    #[record]
    payload: Lazy<Array1<u32>>,
}

#[derive(Persistence, Debug, Clone)]
#[persist(name = "contended")]
struct Contended {
    #[key]
    #[filename]
    key: String,
    writer: u32,
    i: u32,
    #[record]
    data: Lazy<Array1<u64>>,
    #[record]
    note: Lazy<String>,
}

fn payload(writer: u32, i: u32) -> Array1<u32> {
    Array1::from_iter((0..16).map(|k| writer * 1_000_000 + i * 100 + k))
}

/// 64 KiB derived from (writer, i): a mixed record cannot match.
fn data(writer: u32, i: u32) -> Array1<u64> {
    let base = (u64::from(writer) << 40) | (u64::from(i) << 20);
    Array1::from_iter((0..8192).map(|k| base | k))
}

fn note(writer: u32, i: u32) -> String {
    format!("writer {writer} save {i}\n").repeat(64)
}

fn contended(writer: u32, i: u32) -> Contended {
    let mut c = Contended::new("one");
    c.writer = writer;
    c.i = i;
    c.data.set(data(writer, i));
    c.note.set(note(writer, i));
    c
}

/// Checks a loaded `Contended` is one whole version; its (writer, i).
fn check_whole(c: &Contended) -> Result<(u32, u32), Error> {
    let d = c.data.get()?;
    let n = c.note.get()?;
    assert!(
        *d == data(c.writer, c.i) && *n == note(c.writer, c.i),
        "a mixed record: metadata of writer {} save {}, files of another",
        c.writer,
        c.i
    );
    Ok((c.writer, c.i))
}

fn var(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| panic!("{k} not set"))
}

fn wait_for_start(go: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !go.exists() {
        assert!(Instant::now() < deadline, "no start signal");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn concurrency_child_entry() {
    // Runs only in the children of the tests below (re-executed binary).
    let Some(role) = child_role() else {
        return;
    };
    let store = Store::open(var("CC_STORE"))
        .unwrap()
        .durable(var("CC_DURABLE") == "1");
    let writer: u32 = var("CC_WRITER").parse().unwrap();
    let count: u32 = var("CC_COUNT").parse().unwrap();
    wait_for_start(Path::new(&var("CC_GO")));
    for i in 0..count {
        match role.as_str() {
            "autoinc" => {
                let mut r = SharedRun::new("k");
                r.writer = writer;
                r.i = i;
                r.payload.set(payload(writer, i));
                r.save(&store).unwrap();
                println!("@@ {} {writer} {i}", r.n.unwrap());
            }
            "overwrite" => {
                contended(writer, i).save(&store).unwrap();
                println!("@@ {writer} {i}");
            }
            other => panic!("unknown role {other}"),
        }
    }
}

struct Run {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    store: Store,
    go: PathBuf,
}

fn new_run() -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let go = tmp.path().join("go");
    Run {
        store: Store::open(&root).unwrap(),
        root,
        go,
        _tmp: tmp,
    }
}

/// Starts `procs` children in `role`, releases them at once, and returns each
/// one's tagged output lines.
fn run_children(run: &Run, role: &str, procs: u32, count: u32, durable: bool) -> Vec<Vec<String>> {
    let children: Vec<_> = (0..procs)
        .map(|w| {
            let envs = [
                ("CC_STORE", run.root.display().to_string()),
                ("CC_DURABLE", if durable { "1" } else { "0" }.to_owned()),
                ("CC_WRITER", w.to_string()),
                ("CC_COUNT", count.to_string()),
                ("CC_GO", run.go.display().to_string()),
            ];
            spawn_child("concurrency_child_entry", role, &envs, Stdio::piped())
        })
        .collect();
    std::fs::write(&run.go, b"go").unwrap();
    children
        .into_iter()
        .enumerate()
        .map(|(w, c)| {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "writer {w} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            tagged_lines(&out.stdout)
        })
        .collect()
}

fn autoinc_processes(procs: u32, count: u32, durable: bool) {
    let run = new_run();
    let started = Instant::now();
    let outputs = run_children(&run, "autoinc", procs, count, durable);
    let elapsed = started.elapsed();

    // What each process was given: distinct numbers, rising within a process.
    let mut given: BTreeMap<u32, (u32, u32)> = BTreeMap::new();
    for (w, lines) in outputs.iter().enumerate() {
        assert_eq!(lines.len(), count as usize, "writer {w} reported too few");
        let mut last = None;
        for line in lines {
            let v: Vec<u32> = line.split(' ').map(|x| x.parse().unwrap()).collect();
            let (n, writer, i) = (v[0], v[1], v[2]);
            assert_eq!(writer as usize, w);
            if let Some((m, _)) = given.insert(n, (writer, i)) {
                panic!("number {n} was given to writer {m} and to writer {writer}");
            }
            assert!(last < Some(n), "writer {w}: number {n} after {last:?}");
            last = Some(n);
        }
    }
    let total = procs * count;
    assert_eq!(
        given.keys().copied().collect::<Vec<_>>(),
        (0..total).collect::<Vec<_>>(),
        "numbers are not exactly 0..{total}"
    );

    // What is stored: exactly those records, each whole and as its writer saved it.
    let stored = SharedRun::new("k").load_all(&run.store).unwrap();
    assert_eq!(stored.len(), total as usize);
    for (k, r) in stored.iter().enumerate() {
        let n = r.n.unwrap();
        assert_eq!(n as usize, k, "load_all is not 0..{total} ascending");
        assert_eq!(given[&n], (r.writer, r.i), "record {n} holds another save");
        assert_eq!(r.payload.get().unwrap(), &payload(r.writer, r.i));
    }
    let found = scan(&run.root);
    assert_eq!(found.leftovers(), 0, "{found:?}");
    assert!(found.unfinished.is_empty(), "{:?}", found.unfinished);
    eprintln!(
        "autoinc: {procs} processes x {count} saves (durable={durable}) in {elapsed:.1?}: \
         {total} records, 0..{total}"
    );
}

#[test]
fn sixteen_processes_one_autoinc_key() {
    if child_role().is_some() {
        return;
    }
    autoinc_processes(16, 100, true);
}

#[test]
fn eight_processes_one_autoinc_key_without_fsync() {
    if child_role().is_some() {
        return;
    }
    autoinc_processes(8, 50, false);
}

#[test]
fn eight_processes_overwrite_one_record() {
    if child_role().is_some() {
        return;
    }
    let run = new_run();
    let (procs, count) = (8u32, 25u32);
    let outputs = run_children(&run, "overwrite", procs, count, false);
    for (w, lines) in outputs.iter().enumerate() {
        assert_eq!(lines.len(), count as usize, "writer {w}");
    }
    let c = Contended::new("one").load(&run.store).unwrap();
    let (writer, i) = check_whole(&c).unwrap();
    assert!(writer < procs);
    assert_eq!(
        i,
        count - 1,
        "the record is save {i} of writer {writer}, not a last save"
    );
    // Racing overwrites may each remove only the files they replaced: what is
    // left over is clutter gc removes, never a file the record names.
    let before = scan(&run.root);
    assert!(before.missing.is_empty() && before.temp_files.is_empty());
    let report = gc(
        &run.store,
        &GcOptions {
            dry_run: false,
            min_age: Duration::ZERO,
        },
    )
    .unwrap();
    assert_eq!(scan(&run.root).leftovers(), 0);
    let again = Contended::new("one").load(&run.store).unwrap();
    assert_eq!(check_whole(&again).unwrap(), (writer, i));
    eprintln!(
        "overwrite: {procs} processes x {count} saves: writer {writer}'s last save won; \
         gc removed {} superseded files",
        report.leftovers.len()
    );
}

#[test]
fn readers_never_see_a_mixed_record() {
    if child_role().is_some() {
        return;
    }
    let run = new_run();
    contended(99, 0).save(&run.store).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let loads = Arc::new(AtomicU64::new(0));
    let superseded = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (store, stop) = (run.store.clone(), stop.clone());
            let (loads, superseded) = (loads.clone(), superseded.clone());
            std::thread::spawn(move || {
                let mut versions = BTreeSet::new();
                while !stop.load(Ordering::Relaxed) {
                    let c = Contended::new("one").load(&store).unwrap();
                    match check_whole(&c) {
                        Ok(v) => {
                            versions.insert(v);
                        }
                        Err(Error::Superseded { .. }) => {
                            superseded.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => panic!("a reader failed: {e}"),
                    }
                    loads.fetch_add(1, Ordering::Relaxed);
                }
                versions
            })
        })
        .collect();
    let (procs, count) = (2u32, 60u32);
    let outputs = run_children(&run, "overwrite", procs, count, false);
    stop.store(true, Ordering::Relaxed);
    let mut seen = BTreeSet::new();
    for r in readers {
        seen.extend(r.join().expect("a reader saw a mixed record or an error"));
    }
    assert!(outputs.iter().all(|l| l.len() == count as usize));
    let (loads, superseded) = (
        loads.load(Ordering::Relaxed),
        superseded.load(Ordering::Relaxed),
    );
    eprintln!(
        "readers: {loads} loads while {procs} processes saved {count} times each: \
         {} distinct versions seen whole, {superseded} superseded, 0 mixed",
        seen.len()
    );
    assert!(
        seen.len() > 2,
        "the readers saw too few versions to test anything"
    );
}
