//! Crash test: a child process saves in a loop (new autoinc records, overwrites
//! of one record holding a large array and a text file, `save_file`) and the
//! parent SIGKILLs it at random instants, 200 times by default.
//!
//! After every kill:
//! - every visible record loads whole: `meta.json` parses, every record file it
//!   names exists and matches its blake3, and the arrays agree with the data
//!   fields they were derived from;
//! - no save the child reported finished was rolled back;
//! - no autoinc number was given twice (each number keeps the token it was
//!   first seen with, and no two reported saves got one number).
//!
//! At the end `gc` removes every leftover of the kills, an independent scan
//! finds none, a second `gc` finds nothing, every record still loads whole,
//! and a new autoinc save gets a number above every number ever claimed.
//!
//! `PERSIST_CRASH_KILLS` changes the number of kills, `PERSIST_TEST_SEED`
//! repeats a run's kill instants.
#![cfg(unix)]

#[path = "../fixtures/mod.rs"]
mod fixtures;

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use fixtures::child::{child_role, spawn_child};
use fixtures::rng::{mix, Rng};
use fixtures::scan::scan;
use persist_core::backend::{Backend, Entry, LocalBackend, WriteFn};
use persist_core::maintenance::{gc, GcOptions};
use persist_core::ndarray::Array1;
use persist_core::{Error, Lazy, Persistence, Result, Store};

/// A new record per save: its payload is derived from `token`.
#[derive(Persistence, Debug, Clone)]
#[persist(name = "crash_run")]
struct Run {
    #[key]
    #[filename]
    series: String,
    #[autoinc]
    n: Option<u64>,
    token: String,
    len: u64,
    #[record]
    payload: Lazy<Array1<u64>>,
}

/// One record overwritten again and again: a large array and a text, both
/// derived from `seq`.
#[derive(Persistence, Debug, Clone)]
#[persist(name = "crash_big")]
struct Big {
    #[key]
    #[filename]
    slot: String,
    seq: u64,
    #[record]
    data: Lazy<Array1<u64>>,
    #[record]
    note: Lazy<String>,
}

/// Elements of `Big::data` (1 MiB): large enough that kills land inside writes.
const BIG_LEN: usize = 1 << 17;
const SERIES: &str = "s";
const SLOT: &str = "slot";
const EXTRA: &str = "extra.txt";

fn run_payload(token: &str, len: u64) -> Array1<u64> {
    let first = mix(token);
    Array1::from_iter((0..len).map(|i| first.wrapping_add(i)))
}

fn big_data(seq: u64) -> Array1<u64> {
    let base = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    Array1::from_iter((0..BIG_LEN as u64).map(|i| base ^ i))
}

fn big_note(seq: u64) -> String {
    format!("note of version {seq}\n").repeat(256)
}

fn extra_text(seq: u64) -> String {
    format!("extra file version {seq}\n").repeat(2048)
}

/// The child: saves until it is killed, appending one line per finished save
/// to the report file (a single `write` on an `O_APPEND` file, so a kill never
/// leaves half a line that parses).
fn child(store_dir: &Path, report: &Path, generation: u64, durable: bool, in_place: bool) -> ! {
    let fail = |what: &str, e: &dyn std::fmt::Display| -> ! {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(report)
            .expect("report file");
        let _ = f.write_all(format!("error {what}: {e}\n").as_bytes());
        std::process::exit(3)
    };
    let store = if in_place {
        Store::with_backend(InPlace(LocalBackend::new(store_dir).unwrap()))
    } else {
        Store::open(store_dir).unwrap_or_else(|e| fail("open", &e))
    }
    .durable(durable);
    let mut out = std::fs::OpenOptions::new()
        .append(true)
        .open(report)
        .unwrap_or_else(|e| fail("report", &e));
    let mut tell = |line: String| {
        out.write_all(line.as_bytes())
            .unwrap_or_else(|e| fail("report", &e));
    };

    let mut big = match Big::new(SLOT).load(&store) {
        Ok(b) => b,
        Err(Error::NotFound { .. }) => Big::new(SLOT),
        Err(e) => fail("load big", &e),
    };
    let mut file_seq = match big.load_file::<String>(&store, EXTRA) {
        Ok(text) => parse_extra(&text).unwrap_or_else(|| fail("extra", &"garbled")),
        Err(Error::NotFound { .. }) => 0,
        Err(e) => fail("load extra", &e),
    };
    for i in 0u64.. {
        match i % 3 {
            0 => {
                let token = format!("{generation}.{i}");
                let mut run = Run::new(SERIES);
                run.len = 1 + mix(&token) % 64;
                run.payload.set(run_payload(&token, run.len));
                run.token = token;
                run.save(&store).unwrap_or_else(|e| fail("save run", &e));
                tell(format!("run {} {}\n", run.n.unwrap(), run.token));
            }
            1 => {
                big.seq += 1;
                big.data.set(big_data(big.seq));
                big.note.set(big_note(big.seq));
                big.save(&store).unwrap_or_else(|e| fail("save big", &e));
                tell(format!("big {}\n", big.seq));
            }
            _ => {
                if big.exists(&store).unwrap_or(false) {
                    file_seq += 1;
                    big.save_file(&store, EXTRA, &extra_text(file_seq))
                        .unwrap_or_else(|e| fail("save_file", &e));
                    tell(format!("file {file_seq}\n"));
                }
            }
        }
    }
    unreachable!()
}

fn parse_extra(text: &str) -> Option<u64> {
    let first = text.lines().next()?;
    let seq: u64 = first.strip_prefix("extra file version ")?.parse().ok()?;
    (text == extra_text(seq)).then_some(seq)
}

#[test]
fn crash_child_entry() {
    // Runs only as the child of `kill_at_random_instants` (re-executed binary).
    if child_role().as_deref() != Some("crash") {
        return;
    }
    let var = |k: &str| std::env::var(k).expect(k);
    child(
        Path::new(&var("CRASH_STORE")),
        Path::new(&var("CRASH_REPORT")),
        var("CRASH_GEN").parse().unwrap(),
        var("CRASH_DURABLE") == "1",
        var("CRASH_IN_PLACE") == "1",
    );
}

/// What the parent knows from the child's reports and its own checks.
#[derive(Default)]
struct Known {
    /// Autoinc number -> token, of every save reported finished.
    reported: BTreeMap<u64, String>,
    /// Autoinc number -> token, of every record ever seen on disk.
    seen: BTreeMap<u64, String>,
    /// Numbers whose payload was read and checked.
    deep_checked: std::collections::BTreeSet<u64>,
    big: u64,
    file: u64,
}

fn read_reports(report: &mut std::fs::File, offset: &mut u64, known: &mut Known) {
    report.seek(SeekFrom::Start(*offset)).unwrap();
    let mut text = String::new();
    report.read_to_string(&mut text).unwrap();
    // Only whole lines: a save reported by a partial line is simply unreported.
    let whole = text.rfind('\n').map_or(0, |i| i + 1);
    *offset += whole as u64;
    for line in text[..whole].lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        match parts.as_slice() {
            ["run", n, token] => {
                let n: u64 = n.parse().unwrap();
                if let Some(old) = known.reported.insert(n, (*token).to_owned()) {
                    panic!("autoinc number {n} was given twice: to {old} and to {token}");
                }
            }
            ["big", seq] => known.big = known.big.max(seq.parse().unwrap()),
            ["file", seq] => known.file = known.file.max(seq.parse().unwrap()),
            _ => panic!("the child failed: {line}"),
        }
    }
}

fn check_run(run: &Run) {
    let name = run.filename();
    assert_eq!(
        run.len,
        1 + mix(&run.token) % 64,
        "{name}: data fields disagree"
    );
    let payload = run
        .payload
        .get()
        .unwrap_or_else(|e| panic!("{name}: payload does not load: {e}"));
    assert_eq!(
        payload,
        &run_payload(&run.token, run.len),
        "{name}: payload disagrees with its metadata"
    );
}

/// Checks everything visible; `deep` reads every payload, else only new ones.
fn check_store(store: &Store, known: &mut Known, deep: bool, when: &str) {
    let mut visible = BTreeMap::new();
    for item in Run::all(store).unwrap() {
        let run = item.unwrap_or_else(|e| panic!("{when}: a visible record is damaged: {e}"));
        let n = run.n.unwrap();
        if deep || !known.deep_checked.contains(&n) {
            check_run(&run);
            known.deep_checked.insert(n);
        }
        visible.insert(n, run.token.clone());
    }
    let listed: Vec<u64> = Run::new(SERIES)
        .load_all(store)
        .unwrap_or_else(|e| panic!("{when}: load_all failed: {e}"))
        .iter()
        .map(|r| r.n.unwrap())
        .collect();
    assert_eq!(
        listed,
        visible.keys().copied().collect::<Vec<_>>(),
        "{when}: load_all and all disagree"
    );
    for (n, token) in &known.reported {
        match visible.get(n) {
            Some(t) if t == token => {}
            Some(t) => panic!("{when}: record {n} was saved as {token} but now holds {t}"),
            None => panic!("{when}: record {n} ({token}) was saved, and is gone"),
        }
    }
    for (n, token) in &visible {
        if let Some(old) = known.seen.insert(*n, token.clone()) {
            assert_eq!(&old, token, "{when}: autoinc number {n} was reused");
        }
    }
    for n in known.seen.keys() {
        assert!(
            visible.contains_key(n),
            "{when}: record {n} was visible once, and is gone"
        );
    }

    match Big::new(SLOT).load(store) {
        Ok(big) => {
            assert!(
                big.seq >= known.big,
                "{when}: version {} of the big record was saved, {} is there",
                known.big,
                big.seq
            );
            let data = big.data.get().unwrap_or_else(|e| panic!("{when}: {e}"));
            assert!(
                *data == big_data(big.seq),
                "{when}: big array disagrees with seq {}",
                big.seq
            );
            let note = big.note.get().unwrap_or_else(|e| panic!("{when}: {e}"));
            assert_eq!(note, &big_note(big.seq), "{when}: big note disagrees");
            known.big = big.seq;
            match big.load_file::<String>(store, EXTRA) {
                Ok(text) => {
                    let seq = parse_extra(&text)
                        .unwrap_or_else(|| panic!("{when}: extra file is half-written"));
                    assert!(seq >= known.file, "{when}: extra file rolled back");
                    known.file = seq;
                }
                Err(Error::NotFound { .. }) => {
                    assert_eq!(known.file, 0, "{when}: extra file is gone")
                }
                Err(e) => panic!("{when}: extra file does not load: {e}"),
            }
        }
        Err(Error::NotFound { .. }) => assert_eq!(known.big, 0, "{when}: big record is gone"),
        Err(e) => panic!("{when}: big record does not load: {e}"),
    }
}

/// The parent's side of the kill loop: one store, one report file.
struct Harness {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    report_path: std::path::PathBuf,
    report: std::fs::File,
    offset: u64,
    store: Store,
    known: Known,
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let report_path = dir.path().join("report");
        std::fs::File::create(&report_path).unwrap();
        Harness {
            report: std::fs::File::open(&report_path).unwrap(),
            offset: 0,
            store: Store::open(&root).unwrap(),
            known: Known::default(),
            root,
            report_path,
            _dir: dir,
        }
    }

    /// Starts a child, kills it at a random instant, and checks the store;
    /// panics at the first broken promise. `in_place` makes the child's
    /// backend write files in place instead of by rename (the checks must
    /// catch it).
    fn kill_once(&mut self, k: u64, rng: &mut Rng, in_place: bool) {
        let durable = k.is_multiple_of(2);
        let envs = [
            ("CRASH_STORE", self.root.display().to_string()),
            ("CRASH_REPORT", self.report_path.display().to_string()),
            ("CRASH_GEN", k.to_string()),
            ("CRASH_DURABLE", if durable { "1" } else { "0" }.to_owned()),
            (
                "CRASH_IN_PLACE",
                if in_place { "1" } else { "0" }.to_owned(),
            ),
        ];
        let mut child = spawn_child("crash_child_entry", "crash", &envs, Stdio::null());
        // Instants after the child starts, in ms: most inside its first saves,
        // some later.
        let delay = if rng.range(0, 8) == 0 {
            rng.range(100, 400)
        } else {
            rng.range(5, 120)
        };
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        read_reports(&mut self.report, &mut self.offset, &mut self.known);
        assert_eq!(
            status.signal(),
            Some(9),
            "kill {k}: the child ended on its own ({status}): {stderr}"
        );
        let when = format!("after kill {k} ({delay} ms, durable={durable})");
        check_store(&self.store, &mut self.known, k % 25 == 24, &when);
    }
}

#[test]
fn kill_at_random_instants() {
    if child_role().is_some() {
        return;
    }
    let kills: u64 = std::env::var("PERSIST_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let mut rng = Rng::from_env("crash");
    let mut h = Harness::new();
    let started = Instant::now();
    let mut leftovers_seen = 0;
    for k in 0..kills {
        h.kill_once(k, &mut rng, false);
        // Whether this kill left something for gc (sampled: a scan is a walk
        // of the whole store).
        if k.is_multiple_of(10) {
            leftovers_seen += usize::from(scan(&h.root).leftovers() > 0);
        }
    }
    let (root, store, mut known) = (
        h.root.clone(),
        h.store.clone(),
        std::mem::take(&mut h.known),
    );

    let before = scan(&root);
    check_store(&store, &mut known, true, "after the last kill");
    let max_claimed = before.numbers.iter().map(|(_, n)| *n).max();
    eprintln!(
        "crash: {kills} kills in {:.1?}; {} autoinc saves reported ({} visible), big record \
         version {}, extra file version {}; {} of {} sampled kills left leftovers; at the end {} temp files, \
         {} orphaned record files, {} unfinished numbers",
        started.elapsed(),
        known.reported.len(),
        known.seen.len(),
        known.big,
        known.file,
        leftovers_seen,
        kills.div_ceil(10),
        before.temp_files.len(),
        before.orphans.len(),
        before.unfinished.len(),
    );
    assert!(
        known.reported.len() >= kills as usize / 4 && known.big > 0 && known.file > 0,
        "the child did too little work between kills to test anything"
    );
    assert!(before.bad_meta.is_empty() && before.missing.is_empty());

    // ---- gc: removes every leftover, and nothing else ----
    let options = GcOptions {
        dry_run: false,
        min_age: Duration::ZERO,
    };
    let first = gc(&store, &options).unwrap();
    assert!(
        first.failed.is_empty() && first.skipped.is_empty(),
        "{first:?}"
    );
    let after = scan(&root);
    assert_eq!(
        after.leftovers(),
        0,
        "gc left leftovers: temp {:?}, orphans {:?}, unfinished {:?}",
        after.temp_files,
        after.orphans,
        after.unfinished_files
    );
    assert_eq!(
        first.leftovers.len(),
        before.leftovers(),
        "gc reported other leftovers than the scan found"
    );
    let second = gc(&store, &options).unwrap();
    assert!(
        second.leftovers.is_empty() && second.young.is_empty(),
        "a second gc found more: {second:?}"
    );
    known.deep_checked.clear();
    check_store(&store, &mut known, true, "after gc");

    // gc kept every claim: a new save never reuses a number.
    let mut run = Run::new(SERIES);
    run.token = "after-gc".into();
    run.len = 1 + mix(&run.token) % 64;
    run.payload.set(run_payload(&run.token, run.len));
    run.save(&store).unwrap();
    if let Some(max) = max_claimed {
        assert!(
            run.n.unwrap() > max,
            "number {} was claimed before gc and given again",
            run.n.unwrap()
        );
    }
}

/// A broken backend for the self-test below: `put` writes the target in place
/// (no temp file, no rename), slowly for `meta.json`, as a naive
/// implementation would.
#[derive(Debug)]
struct InPlace(LocalBackend);

impl Backend for InPlace {
    fn put(&self, path: &str, _durable: bool, write: &mut WriteFn<'_>) -> Result<()> {
        let full = self.0.local_path(path).unwrap();
        std::fs::create_dir_all(full.parent().unwrap()).map_err(Error::io)?;
        let mut file = std::fs::File::create(&full).map_err(Error::io)?;
        if !path.ends_with("meta.json") {
            return write(&mut file);
        }
        let mut bytes = Vec::new();
        write(&mut bytes)?;
        for chunk in bytes.chunks(64) {
            file.write_all(chunk).map_err(Error::io)?;
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }
    fn create(&self, path: &str, bytes: &[u8], durable: bool) -> Result<bool> {
        self.0.create(path, bytes, durable)
    }
    fn get(&self, path: &str) -> Result<Box<dyn Read + Send>> {
        self.0.get(path)
    }
    fn list(&self, prefix: &str) -> Result<Vec<Entry>> {
        self.0.list(prefix)
    }
    fn delete(&self, path: &str) -> Result<()> {
        self.0.delete(path)
    }
    fn delete_all(&self, prefix: &str) -> Result<()> {
        self.0.delete_all(prefix)
    }
    fn describe(&self, path: &str) -> String {
        self.0.describe(path)
    }
}

/// The checks above can fail: with a backend that writes `meta.json` in place,
/// some kill lands inside that write and the checks report a half-written
/// record.
#[test]
fn the_checks_catch_a_backend_that_writes_in_place() {
    if child_role().is_some() {
        return;
    }
    let mut rng = Rng::from_env("crash self-test");
    let mut h = Harness::new();
    for k in 0..100 {
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            h.kill_once(k, &mut rng, true)
        }));
        if let Err(e) = caught {
            let message = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            eprintln!("crash self-test: caught after {} kills: {message}", k + 1);
            // `put` writes every file in place, so a kill may also land in an
            // extra file's write (fast, no sleep: rarely) and be caught there.
            assert!(
                message.contains("damaged")
                    || message.contains("does not load")
                    || message.contains("half-written"),
                "caught, but not as a half-written record: {message}"
            );
            return;
        }
    }
    panic!("100 kills of a child writing meta.json in place went unnoticed");
}
