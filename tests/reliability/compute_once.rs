//! `load_or_compute` computes each key once, however many threads and
//! processes miss it at the same moment:
//! - 16 threads x one key: 1 computation, 15 waits, every thread gets the value;
//! - 8 processes x 20 keys with a 200 ms computation: exactly 20 computations,
//!   counted through a file each computation appends a line to (`O_APPEND`);
//!   also on S3 when `PERSIST_TEST_S3_URL` is set (feature `object-store`);
//! - a holder SIGKILLed mid-computation: one waiter takes over within the
//!   lease time + 1 s, 2 computations in all, every waiter gets the value;
//! - a holder whose computation fails: the next caller computes;
//! - `wait_timeout` gives `Error::Timeout`; `gc` removes an expired lease and
//!   never a live one; a lease is invisible to `all`, `du` and `verify`.
//!
//! Children are this test binary run again (see `fixtures::child`).
#![cfg(unix)]

#[path = "../fixtures/mod.rs"]
mod fixtures;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fixtures::child::{child_role, spawn_child, tagged_lines};
use persist_core::backend::{Backend, Entry, LocalBackend, WriteFn};
use persist_core::maintenance::{du, gc, verify, GcOptions, LeftoverKind};
use persist_core::{Error, Persistence, Store};

#[derive(Persistence, Debug, Clone)]
#[persist(name = "sweep_point")]
struct SweepPoint {
    #[key]
    #[filename]
    point: u32,
    value: u64,
    computed_by: u32,
}

fn expected(point: u32) -> u64 {
    u64::from(point) * 1_000 + 7
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// Appends one line to the computation log: one `write` of a whole line on a
/// file opened with `O_APPEND`, so lines of several processes never mix.
fn log_computation(log: &Path, point: u32, who: u32) {
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .open(log)
        .unwrap();
    f.write_all(format!("{point} {who} {}\n", now_ms()).as_bytes())
        .unwrap();
}

/// The computation log's lines as (point, who, unix ms).
fn computations(log: &Path) -> Vec<(u32, u32, u128)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .map(|l| {
            let mut it = l.split(' ');
            let mut next = || it.next().unwrap().to_owned();
            (
                next().parse().unwrap(),
                next().parse().unwrap(),
                next().parse().unwrap(),
            )
        })
        .collect()
}

fn var(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| panic!("{k} not set"))
}

fn open_store(location: &str) -> Store {
    if location.contains("://") {
        #[cfg(feature = "object-store")]
        return Store::open_url(location).unwrap();
        #[cfg(not(feature = "object-store"))]
        panic!("{location} needs the object-store feature");
    }
    Store::open(location).unwrap()
}

#[test]
fn compute_once_child_entry() {
    // Runs only in the children of the tests below (re-executed binary).
    let Some(role) = child_role() else {
        return;
    };
    let store = open_store(&var("CO_STORE"))
        .durable(false)
        .lease_ttl(Duration::from_millis(var("CO_TTL_MS").parse().unwrap()));
    let who: u32 = var("CO_WHO").parse().unwrap();
    let log = PathBuf::from(var("CO_LOG"));
    let compute_ms: u64 = var("CO_COMPUTE_MS").parse().unwrap();
    let points: Vec<u32> = var("CO_POINTS")
        .split(',')
        .map(|p| p.parse().unwrap())
        .collect();
    let go = PathBuf::from(var("CO_GO"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !go.exists() {
        assert!(Instant::now() < deadline, "no start signal");
        std::thread::sleep(Duration::from_millis(1));
    }
    for point in points {
        let result = SweepPoint::new(point).load_or_compute(&store, |p| {
            log_computation(&log, point, who);
            std::thread::sleep(Duration::from_millis(compute_ms));
            if role == "fail" {
                return Err("the computation failed on purpose".into());
            }
            p.value = expected(p.point);
            p.computed_by = who;
            Ok(())
        });
        match result {
            Ok(p) => println!("@@ {point} {} {}", p.value, p.computed_by),
            Err(Error::Compute { .. }) if role == "fail" => println!("@@ {point} failed"),
            Err(e) => panic!("{point}: {e}"),
        }
    }
}

struct Child {
    process: std::process::Child,
    who: u32,
}

/// Where the children of one test work: the store, the computation log and
/// the start file.
struct Run<'a> {
    location: &'a str,
    log: &'a Path,
    go: &'a Path,
}

fn spawn(
    run: &Run<'_>,
    role: &str,
    who: u32,
    points: &[u32],
    compute_ms: u64,
    ttl: Duration,
) -> Child {
    let points: Vec<String> = points.iter().map(u32::to_string).collect();
    let envs = [
        ("CO_STORE", run.location.to_owned()),
        ("CO_LOG", run.log.display().to_string()),
        ("CO_GO", run.go.display().to_string()),
        ("CO_WHO", who.to_string()),
        ("CO_POINTS", points.join(",")),
        ("CO_COMPUTE_MS", compute_ms.to_string()),
        ("CO_TTL_MS", ttl.as_millis().to_string()),
    ];
    Child {
        process: spawn_child("compute_once_child_entry", role, &envs, Stdio::piped()),
        who,
    }
}

/// Waits for a child and returns its tagged lines; panics if it failed.
fn finish(child: Child) -> Vec<String> {
    let out = child.process.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "process {} failed: {}",
        child.who,
        String::from_utf8_lossy(&out.stderr)
    );
    tagged_lines(&out.stdout)
}

/// 8 processes each ask for the same 20 keys (each starting at another key,
/// so several keys are computed at once) and every key is computed once.
fn eight_processes_twenty_keys(location: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("computations.log");
    let go = tmp.path().join("go");
    let children: Vec<Child> = (0..8u32)
        .map(|who| {
            let points: Vec<u32> = (0..20).map(|i| (i + who * 5) % 20).collect();
            spawn(
                &Run {
                    location,
                    log: &log,
                    go: &go,
                },
                "compute",
                who,
                &points,
                200,
                Duration::from_secs(30),
            )
        })
        .collect();
    std::fs::write(&go, b"go").unwrap();
    let started = Instant::now();
    for child in children {
        let lines = finish(child);
        assert_eq!(lines.len(), 20, "{lines:?}");
        for line in lines {
            let v: Vec<u64> = line.split(' ').map(|x| x.parse().unwrap()).collect();
            assert_eq!(v[1], expected(v[0] as u32), "{line}");
        }
    }
    let mut done = computations(&log);
    done.sort();
    let points: Vec<u32> = done.iter().map(|c| c.0).collect();
    assert_eq!(
        points,
        (0..20).collect::<Vec<_>>(),
        "computations: {done:?}"
    );
    eprintln!(
        "8 processes x 20 keys on {location}: {} computations, {:.1} s",
        done.len(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn eight_processes_twenty_keys_compute_each_once() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    eight_processes_twenty_keys(&store.display().to_string());
    // Every record is there and no lease is left behind.
    let store = Store::open(&store).unwrap();
    assert_eq!(SweepPoint::all(&store).unwrap().count(), 20);
    for entry in walk_files(tmp.path()) {
        assert!(!entry.ends_with(".lease"), "left behind: {entry}");
    }
}

#[cfg(feature = "object-store")]
#[test]
fn eight_processes_twenty_keys_compute_each_once_on_s3() {
    let Some(url) = persist_core::testing::test_url("compute-once") else {
        return;
    };
    eight_processes_twenty_keys(&url);
}

fn walk_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().display().to_string());
            }
        }
    }
    out
}

/// Waits until the computation log has `n` lines.
fn wait_for_computations(log: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while computations(log).len() < n {
        assert!(Instant::now() < deadline, "no computation started");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_killed_holder_is_taken_over_by_one_waiter() {
    let tmp = tempfile::tempdir().unwrap();
    let location = tmp.path().join("store").display().to_string();
    let log = tmp.path().join("computations.log");
    let go = tmp.path().join("go");
    std::fs::write(&go, b"go").unwrap();
    let run = Run {
        location: &location,
        log: &log,
        go: &go,
    };
    let ttl = Duration::from_secs(2);
    // The holder would compute for a minute; it is killed long before.
    let mut holder = spawn(&run, "compute", 0, &[3], 60_000, ttl);
    wait_for_computations(&log, 1);
    let waiters: Vec<Child> = (1..=4)
        .map(|who| spawn(&run, "compute", who, &[3], 200, ttl))
        .collect();
    // Long enough for every waiter to be waiting on the lease, and for the
    // holder to have renewed it a few times.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        computations(&log).len(),
        1,
        "a waiter computed beside a live holder"
    );
    holder.process.kill().unwrap();
    let killed_at = now_ms();
    let _ = holder.process.wait();
    let mut by = Vec::new();
    for child in waiters {
        let lines = finish(child);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let v: Vec<u64> = lines[0].split(' ').map(|x| x.parse().unwrap()).collect();
        assert_eq!(v[..2], [3, expected(3)], "{lines:?}");
        by.push(v[2]);
    }
    let done = computations(&log);
    assert_eq!(done.len(), 2, "computations: {done:?}");
    let (_, taker, at) = done[1];
    assert!(
        by.iter().all(|&b| b == u64::from(taker)),
        "values from {by:?}, taker {taker}"
    );
    let after = at.saturating_sub(killed_at);
    assert!(
        after <= ttl.as_millis() + 1000,
        "taken over {after} ms after the kill (lease time {} ms)",
        ttl.as_millis()
    );
    eprintln!(
        "taken over {after} ms after the kill, lease time {} ms",
        ttl.as_millis()
    );
}

#[test]
fn a_failing_holder_process_hands_over_to_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let location = tmp.path().join("store").display().to_string();
    let log = tmp.path().join("computations.log");
    let go = tmp.path().join("go");
    std::fs::write(&go, b"go").unwrap();
    let run = Run {
        location: &location,
        log: &log,
        go: &go,
    };
    let ttl = Duration::from_secs(30);
    let failing = spawn(&run, "fail", 0, &[5], 600, ttl);
    wait_for_computations(&log, 1);
    let waiters: Vec<Child> = (1..=3)
        .map(|who| spawn(&run, "compute", who, &[5], 200, ttl))
        .collect();
    assert_eq!(finish(failing), vec!["5 failed".to_owned()]);
    for child in waiters {
        let lines = finish(child);
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].starts_with(&format!("5 {} ", expected(5))),
            "{lines:?}"
        );
    }
    let done = computations(&log);
    assert_eq!(done.len(), 2, "computations: {done:?}");
    assert_eq!(done[0].1, 0);
    assert_ne!(done[1].1, 0);
}

fn sixteen_threads_one_key(store: &Store) {
    let computed = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(16));
    let values: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16u32)
            .map(|who| {
                let (computed, barrier) = (computed.clone(), barrier.clone());
                s.spawn(move || {
                    barrier.wait();
                    SweepPoint::new(9)
                        .load_or_compute(store, |p| {
                            computed.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(200));
                            p.value = expected(9);
                            p.computed_by = who;
                            Ok(())
                        })
                        .unwrap()
                        .value
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(computed.load(Ordering::SeqCst), 1);
    assert_eq!(values, vec![expected(9); 16]);
    let stats = store.stats();
    assert_eq!(
        (stats.computed, stats.saved, stats.loaded),
        (1, 1, 15),
        "{stats}"
    );
    assert_eq!(stats.waited, 15, "{stats}");
}

#[test]
fn sixteen_threads_one_key_compute_once_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    sixteen_threads_one_key(&Store::open(tmp.path()).unwrap().durable(false));
}

#[test]
fn sixteen_threads_one_key_compute_once_in_memory() {
    sixteen_threads_one_key(&Store::memory());
}

#[test]
fn a_failing_holder_thread_hands_over_to_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap().durable(false);
    let attempts = AtomicU64::new(0);
    let barrier = Barrier::new(4);
    let results: Vec<Result<u64, Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    SweepPoint::new(4)
                        .load_or_compute(&store, |p| {
                            let n = attempts.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(100));
                            if n == 0 {
                                return Err("first attempt fails".into());
                            }
                            p.value = expected(4);
                            Ok(())
                        })
                        .map(|p| p.value)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    let failed = results
        .iter()
        .filter(|r| matches!(r, Err(Error::Compute { .. })))
        .count();
    assert_eq!(failed, 1, "{results:?}");
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(r, Ok(v) if *v == expected(4)))
            .count(),
        3
    );
}

#[test]
fn a_wait_past_wait_timeout_is_a_timeout() {
    let store = Store::memory().wait_timeout(Duration::from_millis(100));
    std::thread::scope(|s| {
        let holder = s.spawn(|| {
            SweepPoint::new(1).load_or_compute(&store, |p| {
                std::thread::sleep(Duration::from_millis(800));
                p.value = 1;
                Ok(())
            })
        });
        std::thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        let waited = SweepPoint::new(1).load_or_compute(&store, |_| panic!("must not compute"));
        match waited {
            Err(Error::Timeout { waited, .. }) => assert!(waited >= Duration::from_millis(100)),
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_millis(600));
        assert_eq!(holder.join().unwrap().unwrap().value, 1);
    });
}

/// A store opened twice in one process (two backends) coordinates through
/// the lease on disk, like two processes, and its waiter reads the lease only
/// a few times a second.
#[test]
fn two_stores_on_one_folder_share_the_lease() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Store::open(tmp.path()).unwrap().durable(false);
    let b = Store::open(tmp.path()).unwrap().durable(false);
    let computed = AtomicU64::new(0);
    std::thread::scope(|s| {
        let holder = s.spawn(|| {
            SweepPoint::new(2).load_or_compute(&a, |p| {
                computed.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(1500));
                p.value = 2;
                Ok(())
            })
        });
        std::thread::sleep(Duration::from_millis(100));
        let got = SweepPoint::new(2)
            .load_or_compute(&b, |p| {
                computed.fetch_add(1, Ordering::SeqCst);
                p.value = 99;
                Ok(())
            })
            .unwrap();
        assert_eq!(got.value, 2);
        assert_eq!(holder.join().unwrap().unwrap().value, 2);
    });
    assert_eq!(computed.load(Ordering::SeqCst), 1);
    assert_eq!(b.stats().waited, 1);
}

/// A local backend that counts the reads of lease files.
#[derive(Debug)]
struct CountingLeaseReads {
    inner: LocalBackend,
    lease_reads: Arc<AtomicU64>,
}

impl CountingLeaseReads {
    fn count(&self, path: &str) {
        if path.ends_with("/.lease") {
            self.lease_reads.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Backend for CountingLeaseReads {
    fn put(&self, path: &str, durable: bool, write: &mut WriteFn<'_>) -> persist_core::Result<()> {
        self.inner.put(path, durable, write)
    }
    fn put_new(
        &self,
        path: &str,
        durable: bool,
        write: &mut WriteFn<'_>,
    ) -> persist_core::Result<()> {
        self.inner.put_new(path, durable, write)
    }
    fn make_dir(&self, prefix: &str, durable: bool) -> persist_core::Result<Option<bool>> {
        self.inner.make_dir(prefix, durable)
    }
    fn create(&self, path: &str, bytes: &[u8], durable: bool) -> persist_core::Result<bool> {
        self.inner.create(path, bytes, durable)
    }
    fn get(&self, path: &str) -> persist_core::Result<Box<dyn std::io::Read + Send>> {
        self.count(path);
        self.inner.get(path)
    }
    fn read_all(&self, path: &str) -> persist_core::Result<Vec<u8>> {
        self.count(path);
        self.inner.read_all(path)
    }
    fn list(&self, prefix: &str) -> persist_core::Result<Vec<Entry>> {
        self.inner.list(prefix)
    }
    fn delete(&self, path: &str) -> persist_core::Result<()> {
        self.inner.delete(path)
    }
    fn delete_all(&self, prefix: &str) -> persist_core::Result<()> {
        self.inner.delete_all(prefix)
    }
    fn describe(&self, path: &str) -> String {
        self.inner.describe(path)
    }
    fn local_path(&self, path: &str) -> Option<PathBuf> {
        self.inner.local_path(path)
    }
    fn list_dirs(&self, prefix: &str) -> persist_core::Result<Vec<String>> {
        self.inner.list_dirs(prefix)
    }
    fn copy(&self, from: &str, to: &str, durable: bool) -> persist_core::Result<()> {
        self.inner.copy(from, to, durable)
    }
}

/// A waiter on another process's lease (here: another store on the same
/// folder) reads the lease a few times a second at most, and a key already
/// stored is loaded without reading any lease, even while another key's
/// lease is held.
#[test]
fn waiting_on_a_local_lease_reads_it_a_few_times_a_second() {
    let tmp = tempfile::tempdir().unwrap();
    let holder_store = Store::open(tmp.path()).unwrap().durable(false);
    let lease_reads = Arc::new(AtomicU64::new(0));
    let waiter_store = Store::with_backend(CountingLeaseReads {
        inner: LocalBackend::new(tmp.path()).unwrap(),
        lease_reads: lease_reads.clone(),
    })
    .durable(false);
    let mut stored = SweepPoint::new(11);
    stored.value = 11;
    stored.save(&holder_store).unwrap();
    std::thread::scope(|s| {
        let holder = s.spawn(|| {
            SweepPoint::new(6).load_or_compute(&holder_store, |p| {
                std::thread::sleep(Duration::from_millis(3000));
                p.value = 6;
                Ok(())
            })
        });
        std::thread::sleep(Duration::from_millis(100));
        let hit = SweepPoint::new(11)
            .load_or_compute(&waiter_store, |_| panic!("stored: must not compute"))
            .unwrap();
        assert_eq!(hit.value, 11);
        assert_eq!(lease_reads.load(Ordering::SeqCst), 0, "a hit read a lease");
        let started = Instant::now();
        let got = SweepPoint::new(6)
            .load_or_compute(&waiter_store, |_| panic!("held: must wait"))
            .unwrap();
        let waited = started.elapsed().as_secs_f64();
        assert_eq!(got.value, 6);
        assert_eq!(holder.join().unwrap().unwrap().value, 6);
        let reads = lease_reads.load(Ordering::SeqCst);
        eprintln!("{reads} lease reads in {waited:.1} s of waiting");
        assert!(waited > 2.0, "waited {waited} s");
        assert!(reads >= 2, "{reads} reads: the waiter did not poll");
        assert!(
            reads as f64 <= 5.0 * waited + 2.0,
            "{reads} reads in {waited:.1} s"
        );
    });
}

#[test]
fn gc_removes_an_expired_lease_and_never_a_live_one() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path())
        .unwrap()
        .durable(false)
        .lease_ttl(Duration::from_millis(600));
    let now = GcOptions {
        dry_run: false,
        min_age: Duration::ZERO,
    };
    // The computation lasts until the checks below are done (at least a
    // second, past the lease's time to live), however slow the machine is.
    let (checks_done, computing) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let holder = s.spawn(|| {
            SweepPoint::new(8).load_or_compute(&store, move |p| {
                computing.recv_timeout(Duration::from_secs(60))?;
                p.value = 8;
                Ok(())
            })
        });
        let started = std::time::Instant::now();
        let lease = loop {
            let found = walk_files(tmp.path())
                .into_iter()
                .find(|f| f.ends_with("/.lease"));
            match found {
                Some(lease) => break lease,
                None if started.elapsed() < Duration::from_secs(10) => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                None => panic!("no lease while computing"),
            }
        };
        // Invisible as a record, to du and to verify, and kept by gc while live
        // (it outlives its 600 ms time to live, being renewed).
        for _ in 0..4 {
            assert_eq!(SweepPoint::all(&store).unwrap().count(), 0);
            assert!(du(&store)
                .unwrap()
                .iter()
                .all(|t| t.files == 0 && t.records == 0));
            assert!(verify(&store, |_| {}).unwrap().is_ok());
            let report = gc(&store, &now).unwrap();
            assert!(report.leftovers.is_empty(), "{report:?}");
            assert!(Path::new(&lease).exists());
            std::thread::sleep(Duration::from_millis(250));
        }
        checks_done.send(()).unwrap();
        assert_eq!(holder.join().unwrap().unwrap().value, 8);
        assert!(
            !Path::new(&lease).exists(),
            "the lease outlived its computation"
        );

        // A lease whose holder died: its stated time to live has passed.
        let folder = Path::new(&lease).parent().unwrap().to_path_buf();
        let other = folder.with_file_name(folder.file_name().unwrap().to_str().unwrap().replacen(
            "sweep_point-8",
            "sweep_point-80",
            1,
        ));
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(
            other.join(".lease"),
            br#"{"holder":"dead","host":"h","pid":1,"ttl_ms":50,"renewed_ms":0,"seq":0}"#,
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let report = gc(&store, &now).unwrap();
        assert_eq!(report.leftovers.len(), 1, "{report:?}");
        assert_eq!(report.leftovers[0].kind, LeftoverKind::ExpiredLease);
        assert!(!other.join(".lease").exists());
    });
}
