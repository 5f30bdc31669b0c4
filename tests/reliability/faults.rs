//! Fault injection: a `Backend` wrapper around `LocalBackend` that makes the
//! Nth write, rename, create, copy or delete fail with ENOSPC, EIO or EACCES.
//!
//! Every save scenario is first run once without faults to list the backend
//! calls it makes; then, for every one of those calls, every stage at which it
//! can fail and every errno, the scenario runs again on a fresh store with that
//! one fault armed. For each case:
//! - the save returns `Error::Io` carrying the errno and naming the path (a
//!   failed delete of a superseded file is only clutter: the save succeeds);
//! - the previously stored version still loads, unchanged and whole (or, when
//!   the failure came after `meta.json` was already renamed into place, the
//!   new version loads whole);
//! - nothing half-written is visible and no file the save wrote is left behind
//!   (no temp file, no unnamed record file); `gc` then finds only what the
//!   case allows, and the store takes the same save once the fault is gone.
#![cfg(unix)]

#[path = "../fixtures/mod.rs"]
mod fixtures;

use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fixtures::scan::scan;
use persist_core::backend::{Backend, Entry, LocalBackend, WriteFn};
use persist_core::maintenance::{gc, GcOptions};
use persist_core::ndarray::{Array1, Array2};
use persist_core::{Error, Lazy, Persistence, Result, Store};

const ENOSPC: i32 = 28;
const EIO: i32 = 5;
const EACCES: i32 = 13;
const ERRNOS: [i32; 3] = [ENOSPC, EIO, EACCES];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Put,
    Create,
    Copy,
    Delete,
}

/// Where in a call the fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Before anything is written (the temp file cannot be created).
    Before,
    /// A write of the payload fails after some bytes (disk full mid-file).
    MidWrite,
    /// All bytes written; the flush, fsync or rename fails (the target is
    /// untouched).
    BeforeCommit,
    /// The rename (or create, or link) is done, then the fsync of the folder
    /// fails, as `LocalBackend::put` can report after `persist`.
    AfterCommit,
}

impl Op {
    fn stages(self) -> &'static [Stage] {
        match self {
            Op::Put => &[
                Stage::Before,
                Stage::MidWrite,
                Stage::BeforeCommit,
                Stage::AfterCommit,
            ],
            Op::Create | Op::Copy => &[Stage::Before, Stage::AfterCommit],
            Op::Delete => &[Stage::Before],
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Fault {
    op: Op,
    nth: usize,
    stage: Stage,
    errno: i32,
}

#[derive(Default)]
struct Plan {
    armed: Option<Fault>,
    /// Every mutating call made, with its path.
    calls: Vec<(Op, String)>,
    /// The path the armed fault struck, once it did.
    fired: Option<String>,
}

/// `LocalBackend`, with one fault that can be armed.
#[derive(Clone)]
struct Faulty {
    inner: LocalBackend,
    plan: Arc<Mutex<Plan>>,
}

impl fmt::Debug for Faulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faulty")
            .field("inner", &self.inner)
            .finish()
    }
}

impl Faulty {
    /// Records the call; the stage at which it must fail, if it must.
    fn enter(&self, op: Op, path: &str) -> Option<(Stage, i32)> {
        let mut plan = self.plan.lock().unwrap();
        let nth = plan.calls.iter().filter(|(o, _)| *o == op).count();
        plan.calls.push((op, path.to_owned()));
        match plan.armed {
            Some(f) if f.op == op && f.nth == nth => {
                plan.armed = None;
                plan.fired = Some(path.to_owned());
                Some((f.stage, f.errno))
            }
            _ => None,
        }
    }

    fn io_error(&self, path: &str, errno: i32) -> Error {
        Error::Io {
            record: String::new(),
            path: self.inner.describe(path),
            source: io::Error::from_raw_os_error(errno),
        }
    }
}

/// Lets `budget` bytes through, then fails every write.
struct FailingWriter<'a> {
    inner: &'a mut dyn Write,
    budget: usize,
    errno: i32,
}

impl Write for FailingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.budget == 0 {
            return Err(io::Error::from_raw_os_error(self.errno));
        }
        let n = self.inner.write(&buf[..buf.len().min(self.budget)])?;
        self.budget -= n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Faulty {
    /// A put through `inner` (the backend's `put` or `put_new`), failing as
    /// planned: both count as `Op::Put`.
    fn faulty_put(
        &self,
        path: &str,
        durable: bool,
        write: &mut WriteFn<'_>,
        inner: &dyn Fn(&str, bool, &mut WriteFn<'_>) -> Result<()>,
    ) -> Result<()> {
        match self.enter(Op::Put, path) {
            None => inner(path, durable, write),
            Some((Stage::Before, errno)) => Err(self.io_error(path, errno)),
            Some((Stage::MidWrite, errno)) => inner(path, durable, &mut |w| {
                write(&mut FailingWriter {
                    inner: w,
                    budget: 64,
                    errno,
                })
            }),
            Some((Stage::BeforeCommit, errno)) => inner(path, durable, &mut |w| {
                write(w)?;
                Err(Error::io(io::Error::from_raw_os_error(errno)))
            }),
            Some((Stage::AfterCommit, errno)) => {
                inner(path, durable, write)?;
                Err(self.io_error(path, errno))
            }
        }
    }
}

impl Backend for Faulty {
    fn put(&self, path: &str, durable: bool, write: &mut WriteFn<'_>) -> Result<()> {
        self.faulty_put(path, durable, write, &|p, d, w| self.inner.put(p, d, w))
    }

    fn put_new(&self, path: &str, durable: bool, write: &mut WriteFn<'_>) -> Result<()> {
        self.faulty_put(path, durable, write, &|p, d, w| self.inner.put_new(p, d, w))
    }

    fn make_dir(&self, prefix: &str, durable: bool) -> Result<Option<bool>> {
        self.inner.make_dir(prefix, durable)
    }

    fn create(&self, path: &str, bytes: &[u8], durable: bool) -> Result<bool> {
        match self.enter(Op::Create, path) {
            None => self.inner.create(path, bytes, durable),
            Some((Stage::AfterCommit, errno)) => {
                self.inner.create(path, bytes, durable)?;
                Err(self.io_error(path, errno))
            }
            Some((_, errno)) => Err(self.io_error(path, errno)),
        }
    }

    fn copy(&self, from: &str, to: &str, durable: bool) -> Result<()> {
        match self.enter(Op::Copy, to) {
            None => self.inner.copy(from, to, durable),
            Some((Stage::AfterCommit, errno)) => {
                self.inner.copy(from, to, durable)?;
                Err(self.io_error(to, errno))
            }
            Some((_, errno)) => Err(self.io_error(to, errno)),
        }
    }

    fn delete(&self, path: &str) -> Result<()> {
        match self.enter(Op::Delete, path) {
            None => self.inner.delete(path),
            Some((_, errno)) => Err(self.io_error(path, errno)),
        }
    }

    fn get(&self, path: &str) -> Result<Box<dyn Read + Send>> {
        self.inner.get(path)
    }

    fn list(&self, prefix: &str) -> Result<Vec<Entry>> {
        self.inner.list(prefix)
    }

    fn delete_all(&self, prefix: &str) -> Result<()> {
        self.inner.delete_all(prefix)
    }

    fn describe(&self, path: &str) -> String {
        self.inner.describe(path)
    }

    fn local_path(&self, path: &str) -> Option<PathBuf> {
        self.inner.local_path(path)
    }
}

#[derive(Persistence, Debug, Clone)]
#[persist(name = "doc")]
struct Doc {
    #[key]
    #[filename]
    name: String,
    version: u64,
    tags: Vec<String>,
    #[record]
    grid: Lazy<Array2<f32>>,
    #[record]
    text: Lazy<String>,
}

#[derive(Persistence, Debug, Clone)]
#[persist(name = "attempt")]
struct Attempt {
    #[key]
    #[filename]
    name: String,
    #[autoinc]
    n: Option<u32>,
    version: u64,
    #[record]
    values: Lazy<Array1<i64>>,
}

fn grid(v: u64) -> Array2<f32> {
    Array2::from_shape_fn((32, 16), |(i, j)| {
        (v * 1000 + i as u64 * 16 + j as u64) as f32
    })
}

fn text(v: u64) -> String {
    format!("text of version {v}\n").repeat(20)
}

fn doc(v: u64) -> Doc {
    let mut d = Doc::new("d");
    d.version = v;
    d.tags = vec![format!("v{v}")];
    d.grid.set(grid(v));
    d.text.set(text(v));
    d
}

fn attempt(v: u64) -> Attempt {
    let mut a = Attempt::new("a");
    a.version = v;
    a.values
        .set(Array1::from_iter((0..100).map(|i| i * v as i64)));
    a
}

/// The version of the stored `Doc`, after checking it is whole; `None` if absent.
fn doc_version(store: &Store) -> std::result::Result<Option<u64>, String> {
    let d = match Doc::new("d").load(store) {
        Ok(d) => d,
        Err(Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(format!("doc does not load: {e}")),
    };
    let v = d.version;
    let g = d.grid.get().map_err(|e| format!("grid: {e}"))?;
    let t = d.text.get().map_err(|e| format!("text: {e}"))?;
    if d.tags != vec![format!("v{v}")] || *g != grid(v) || *t != text(v) {
        return Err(format!("doc version {v} is mixed"));
    }
    Ok(Some(v))
}

/// The stored attempts as (number, version), each checked whole.
fn attempts(store: &Store) -> std::result::Result<Vec<(u32, u64)>, String> {
    let mut out = Vec::new();
    for a in Attempt::new("a")
        .load_all(store)
        .map_err(|e| e.to_string())?
    {
        let want = Array1::from_iter((0..100).map(|i| i * a.version as i64));
        let got = a.values.get().map_err(|e| e.to_string())?;
        if *got != want {
            return Err(format!("attempt {:?} is mixed", a.n));
        }
        out.push((a.n.unwrap(), a.version));
    }
    Ok(out)
}

fn extra(store: &Store) -> std::result::Result<Option<String>, String> {
    match Doc::new("d").load_file::<String>(store, "notes.txt") {
        Ok(s) => Ok(Some(s)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// What a reader can see: the doc's version, the attempts, the extra file.
#[derive(Debug, PartialEq, Clone)]
struct Visible {
    doc: Option<u64>,
    attempts: Vec<(u32, u64)>,
    extra: Option<String>,
}

fn visible(store: &Store) -> std::result::Result<Visible, String> {
    Ok(Visible {
        doc: doc_version(store)?,
        attempts: attempts(store)?,
        extra: extra(store)?,
    })
}

/// A save to break: `setup` stores the previous state, `act` saves the next.
struct Scenario {
    name: &'static str,
    setup: fn(&Store),
    act: fn(&Store) -> Result<()>,
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "first save of a record",
            setup: |_| {},
            act: |s| doc(1).save(s),
        },
        Scenario {
            name: "overwrite with new arrays",
            setup: |s| doc(1).save(s).unwrap(),
            act: |s| doc(2).save(s),
        },
        Scenario {
            name: "re-save of a loaded record (unchanged array kept)",
            setup: |s| doc(1).save(s).unwrap(),
            act: |s| {
                let mut d = Doc::new("d").load(s)?;
                // The grid stays unread and is carried over; version 1's grid
                // equals what version 1 expects, so only v1 is consistent.
                d.text.set(text(1));
                d.tags = vec!["v1".into()];
                d.save(s)
            },
        },
        Scenario {
            name: "new autoinc record",
            setup: |s| attempt(1).save(s).unwrap(),
            act: |s| {
                let mut a = attempt(2);
                let r = a.save(s);
                if r.is_err() {
                    assert_eq!(a.n, None, "a failed save left the autoinc set");
                }
                r
            },
        },
        Scenario {
            name: "save_file over an earlier file",
            setup: |s| {
                let mut d = doc(1);
                d.save(s).unwrap();
                d.save_file(s, "notes.txt", &"first".to_string()).unwrap();
            },
            act: |s| Doc::new("d").save_file(s, "notes.txt", &"second ".repeat(40)),
        },
    ]
}

fn store_in(dir: &Path) -> (Store, Arc<Mutex<Plan>>) {
    let plan = Arc::new(Mutex::new(Plan::default()));
    let backend = Faulty {
        inner: LocalBackend::new(dir).unwrap(),
        plan: plan.clone(),
    };
    (Store::with_backend(backend), plan)
}

/// Runs one case; returns whether the fault fired.
fn run_case(sc: &Scenario, fault: Fault, after: &Visible, before_ok: &Visible) -> bool {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let (store, plan) = store_in(&root);
    (sc.setup)(&store);
    let before = visible(&store).unwrap();
    assert_eq!(&before, before_ok);
    {
        let mut p = plan.lock().unwrap();
        p.calls.clear();
        p.armed = Some(fault);
    }
    let result = (sc.act)(&store);
    let fired = plan.lock().unwrap().fired.clone();
    let case = format!("{}: {fault:?}", sc.name);
    let Some(fired) = fired else {
        result.unwrap_or_else(|e| panic!("{case}: no fault fired, yet: {e}"));
        return false;
    };
    let now = visible(&store).unwrap_or_else(|e| panic!("{case}: half-written: {e}"));
    // A put that fails after its rename has made the new file visible: the
    // reader sees the new version, whole (meta.json, or an extra file).
    let committed_meta = fault.stage == Stage::AfterCommit
        && (fired.ends_with("/meta.json") || fired.contains("/files/"));
    match (&result, fault.op) {
        (Ok(()), Op::Delete) => {
            assert_eq!(
                &now, after,
                "{case}: the save succeeded, the new version shows"
            )
        }
        (Err(Error::Io { path, source, .. }), op) if op != Op::Delete => {
            assert_eq!(source.raw_os_error(), Some(fault.errno), "{case}: {source}");
            assert!(
                path.starts_with(&root.display().to_string()) && path.len() > 1,
                "{case}: the error names no path in the store: {path:?}"
            );
            let message = result.as_ref().unwrap_err().to_string();
            assert!(message.contains(path.as_str()), "{case}: {message}");
            if committed_meta {
                assert!(
                    now == before || &now == after,
                    "{case}: neither version: {now:?}"
                );
            } else {
                assert_eq!(now, before, "{case}: the previous version changed");
            }
        }
        (other, _) => panic!("{case}: expected an Io error, got {other:?}"),
    }

    // Nothing half-written: no temp file, nothing missing, and no file the
    // failed save wrote left unnamed (a failed delete leaves the one file it
    // could not remove; a committed meta.json leaves the previous version's).
    let found = scan(&root);
    assert!(
        found.temp_files.is_empty(),
        "{case}: {:?}",
        found.temp_files
    );
    assert!(found.missing.is_empty(), "{case}: {:?}", found.missing);
    assert!(found.bad_meta.is_empty(), "{case}: {:?}", found.bad_meta);
    let allowed = match fault.op {
        Op::Delete => 1,
        _ if committed_meta => 2,
        _ => 0,
    };
    assert!(
        found.orphans.len() + found.unfinished_files.len() <= allowed,
        "{case}: the failed save left files behind: {:?} {:?}",
        found.orphans,
        found.unfinished_files
    );
    let report = gc(
        &store,
        &GcOptions {
            dry_run: false,
            min_age: Duration::ZERO,
        },
    )
    .unwrap();
    assert!(report.failed.is_empty() && report.skipped.is_empty());
    assert_eq!(scan(&root).leftovers(), 0, "{case}: gc left leftovers");
    assert_eq!(visible(&store).unwrap(), now, "{case}: gc changed a record");

    // The fault is gone: the same save goes through.
    (sc.act)(&store).unwrap_or_else(|e| panic!("{case}: retry failed: {e}"));
    let retried = visible(&store).unwrap();
    if sc.name == "new autoinc record" {
        // The retry gets a new number; a number claimed by the failed save is
        // skipped, never given twice.
        assert_eq!(retried.attempts.len(), now.attempts.len() + 1, "{case}");
        assert_eq!(retried.attempts.last().map(|a| a.1), Some(2));
    } else {
        assert_eq!(&retried, after, "{case}: retry");
    }
    true
}

#[test]
fn every_write_rename_create_and_delete_of_a_save_can_fail() {
    let mut injected = 0;
    let mut per_scenario = Vec::new();
    for sc in scenarios() {
        // A clean run lists the calls the save makes and what it leaves.
        let tmp = tempfile::tempdir().unwrap();
        let (store, plan) = store_in(&tmp.path().join("store"));
        (sc.setup)(&store);
        let before = visible(&store).unwrap();
        plan.lock().unwrap().calls.clear();
        (sc.act)(&store).unwrap();
        let after = visible(&store).unwrap();
        let calls = plan.lock().unwrap().calls.clone();
        assert!(!calls.is_empty());

        let mut cases = 0;
        let mut nth = std::collections::HashMap::new();
        for (op, _path) in &calls {
            let n = nth.entry(*op as u8).or_insert(0usize);
            for &stage in op.stages() {
                for errno in ERRNOS {
                    let fault = Fault {
                        op: *op,
                        nth: *n,
                        stage,
                        errno,
                    };
                    if run_case(&sc, fault, &after, &before) {
                        cases += 1;
                    }
                }
            }
            *n += 1;
        }
        assert!(cases > 0, "{}: no fault fired", sc.name);
        let ops: Vec<String> = calls.iter().map(|(o, p)| format!("{o:?} {p}")).collect();
        eprintln!("{}: {cases} faults over {:?}", sc.name, ops);
        per_scenario.push((sc.name, cases));
        injected += cases;
    }
    eprintln!("faults injected: {injected} ({per_scenario:?})");
}

/// A failure while reading (EIO on a record file) is an `Io` error naming the
/// file, and the record still loads once the disk is well again.
#[test]
fn a_failed_read_is_an_io_error_naming_the_file() {
    #[derive(Debug, Clone)]
    struct FailReads(LocalBackend);
    impl Backend for FailReads {
        fn put(&self, p: &str, d: bool, w: &mut WriteFn<'_>) -> Result<()> {
            self.0.put(p, d, w)
        }
        fn create(&self, p: &str, b: &[u8], d: bool) -> Result<bool> {
            self.0.create(p, b, d)
        }
        fn get(&self, path: &str) -> Result<Box<dyn Read + Send>> {
            if path.ends_with(".npy") {
                return Err(Error::Io {
                    record: String::new(),
                    path: self.0.describe(path),
                    source: io::Error::from_raw_os_error(EIO),
                });
            }
            self.0.get(path)
        }
        fn list(&self, p: &str) -> Result<Vec<Entry>> {
            self.0.list(p)
        }
        fn delete(&self, p: &str) -> Result<()> {
            self.0.delete(p)
        }
        fn delete_all(&self, p: &str) -> Result<()> {
            self.0.delete_all(p)
        }
        fn describe(&self, p: &str) -> String {
            self.0.describe(p)
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let good = Store::open(tmp.path()).unwrap();
    doc(3).save(&good).unwrap();
    let bad = Store::with_backend(FailReads(LocalBackend::new(tmp.path()).unwrap()));
    let d = Doc::new("d").load(&bad).unwrap();
    let err = d.grid.get().unwrap_err();
    match &err {
        Error::Io { path, source, .. } => {
            assert!(path.ends_with(".npy"), "{err}");
            assert_eq!(source.raw_os_error(), Some(EIO));
        }
        other => panic!("expected Io, got {other:?}"),
    }
    assert!(err.to_string().contains("doc-d"), "{err}");
    assert_eq!(doc_version(&good).unwrap(), Some(3));
}
