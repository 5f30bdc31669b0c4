//! The `persist` command on stores written by the library, as a user runs it.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use persist_core::maintenance::{walk, RecordEntry};
use persist_core::ndarray::{Array1, Array2};
use persist_core::{Lazy, Persistence, Store};
use predicates::prelude::*;
use predicates::str::contains;

#[derive(Persistence, Debug)]
#[persist(name = "example")]
struct Example {
    #[key]
    #[filename]
    use_animal: String,
    #[key]
    use_session: String,
    #[key]
    #[filename]
    use_date: String,
    channels: Vec<i32>,
    #[record]
    data: Lazy<Array1<f64>>,
}

#[derive(Persistence, Debug)]
struct Trial {
    #[key]
    #[filename(prefix = "s")]
    subject: String,
    #[autoinc]
    attempt: Option<u32>,
    score: f64,
    #[record(file = "weights")]
    weights: Lazy<Array2<f32>>,
    #[record]
    log: Lazy<String>,
}

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Two examples and three trials of s1 (the second with an extra file).
fn store() -> Result<(tempfile::TempDir, PathBuf), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("store");
    let store = Store::open(&root)?.durable(false);
    for (animal, date) in [("A00", "1234"), ("B01", "1235")] {
        let mut e = Example::new(animal, "s", date);
        e.channels = vec![1, 2, 3];
        e.data.set(Array1::linspace(0.0, 1.0, 5));
        e.save(&store)?;
    }
    for i in 0..3u8 {
        let mut t = Trial::new("1");
        t.score = f64::from(i) / 2.0;
        t.weights.set(Array2::from_elem((3, 4), f32::from(i)));
        t.log.set(format!("trial {i}\n"));
        t.save(&store)?;
        if i == 1 {
            t.save_file(&store, "notes.txt", &"keep me".to_owned())?;
        }
    }
    Ok((dir, root))
}

fn persist(root: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_persist"));
    cmd.arg("--store")
        .arg(root)
        .env_remove("PERSIST_STORE")
        .env("NO_COLOR", "1");
    cmd
}

fn stdout_of(cmd: &mut Command) -> Result<String, Box<dyn std::error::Error>> {
    let out = cmd.assert().success().get_output().stdout.clone();
    Ok(String::from_utf8(out)?)
}

fn record(root: &Path, name: &str) -> Result<RecordEntry, Box<dyn std::error::Error>> {
    let store = Store::open(root)?;
    walk(&store)?
        .into_iter()
        .find(|r| r.name() == name)
        .ok_or_else(|| format!("no record {name}").into())
}

/// Every file under `root` with its bytes.
fn snapshot(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = fs::read(&path).unwrap_or_default();
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn ls_lists_every_record_sorted() -> TestResult {
    let (_dir, root) = store()?;
    let out = stdout_of(persist(&root).arg("ls"))?;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert!(
        lines[0].starts_with("TYPE")
            && lines[0].contains("RECORD")
            && lines[0].contains("SAVED AT")
    );
    let names: Vec<&str> = lines[1..]
        .iter()
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(
        names,
        [
            "example-A00-1234",
            "example-B01-1235",
            "trial-s1-0",
            "trial-s1-1",
            "trial-s1-2"
        ]
    );
    // Columns are aligned: the RECORD column starts at the same offset on every row.
    let at = lines[0].find("RECORD").ok_or("no RECORD header")?;
    assert!(
        lines[1..]
            .iter()
            .all(|l| l[at..].starts_with(|c: char| c != ' ')),
        "{out}"
    );
    assert!(
        lines[3].contains(" 0 ") && lines[5].contains(" 2 "),
        "{out}"
    );
    assert!(!out.contains('\x1b'), "no colour off a terminal");

    let trials = stdout_of(persist(&root).args(["ls", "trial"]))?;
    assert_eq!(trials.lines().count(), 4, "{trials}");
    assert!(!trials.contains("example-"));
    Ok(())
}

#[test]
fn ls_json_is_for_scripts() -> TestResult {
    let (_dir, root) = store()?;
    let out = stdout_of(persist(&root).args(["ls", "--json"]))?;
    let v: serde_json::Value = serde_json::from_str(&out)?;
    let rows = v.as_array().ok_or("not an array")?;
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0]["name"], "example-A00-1234");
    assert_eq!(rows[0]["key"]["use_session"], "s");
    assert_eq!(rows[0]["autoinc"], serde_json::Value::Null);
    assert_eq!(rows[4]["autoinc"], 2);
    assert!(rows[4]["size"].as_u64().unwrap_or(0) > 48);
    assert!(rows.iter().all(|r| r["error"].is_null()));
    Ok(())
}

#[test]
fn ls_unknown_type_is_one_line_error() -> TestResult {
    let (_dir, root) = store()?;
    let assert = persist(&root).args(["ls", "nosuch"]).assert().failure();
    let err = String::from_utf8(assert.get_output().stderr.clone())?;
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("no type `nosuch`") && err.contains("example, trial"),
        "{err}"
    );
    Ok(())
}

#[test]
fn show_prints_key_data_and_npy_header() -> TestResult {
    let (_dir, root) = store()?;
    let out = stdout_of(persist(&root).args(["show", "example/example-A00-1234"]))?;
    for expected in [
        "record    example-A00-1234",
        "type      example (version 1)",
        "use_session  \"s\"",
        "channels  [1,2,3]",
        "float64",
        "(5,)",
        "FIELD",
        "BLAKE3",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }

    let trial = stdout_of(persist(&root).args(["show", "trial/trial-s1-1"]))?;
    for expected in [
        "float32",
        "(3, 4)",
        "weights-",
        "log-",
        "txt",
        "extra files",
        "notes.txt",
        "score  0.5",
    ] {
        assert!(trial.contains(expected), "missing {expected:?} in\n{trial}");
    }

    // By folder, on disk or relative to the store; and a bare name.
    let r = record(&root, "trial-s1-2")?;
    let by_path = stdout_of(persist(&root).arg("show").arg(root.join(&r.path)))?;
    assert!(by_path.contains("record    trial-s1-2"), "{by_path}");
    let by_rel = stdout_of(persist(&root).args(["show", &format!("{}/meta.json", r.path)]))?;
    assert!(by_rel.contains("record    trial-s1-2"), "{by_rel}");
    let bare = stdout_of(persist(&root).args(["show", "trial-s1-0"]))?;
    assert!(bare.contains("record    trial-s1-0"), "{bare}");

    let json = stdout_of(persist(&root).args(["show", "trial/trial-s1-1", "--json"]))?;
    let v: serde_json::Value = serde_json::from_str(&json)?;
    assert_eq!(v["records"]["weights"]["dtype"], "float32");
    assert_eq!(v["records"]["weights"]["shape"], serde_json::json!([3, 4]));
    assert_eq!(v["extra_files"][0]["name"], "notes.txt");
    Ok(())
}

#[derive(Persistence, Debug)]
#[persist(name = "squeezed")]
struct Squeezed {
    #[key]
    #[filename]
    name: String,
    #[record(compress = "zstd")]
    frames: Lazy<Array2<i16>>,
    #[record(compress = "gzip:9")]
    trace: Lazy<Array1<f64>>,
}

#[test]
fn show_and_verify_read_compressed_files() -> TestResult {
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("store");
    let store = Store::open(&root)?.durable(false);
    let mut s = Squeezed::new("m1");
    s.frames
        .set(Array2::from_shape_fn((300, 7), |(i, j)| (i + j) as i16));
    s.trace.set(Array1::linspace(0.0, 1.0, 40));
    s.save(&store)?;

    let out = stdout_of(persist(&root).args(["show", "squeezed/squeezed-m1"]))?;
    for expected in [
        "npy (zstd:3)",
        "npy (gzip:9)",
        "int16",
        "(300, 7)",
        "float64",
        "(40,)",
        ".npy.zst",
        ".npy.gz",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
    let json = stdout_of(persist(&root).args(["show", "squeezed/squeezed-m1", "--json"]))?;
    let v: serde_json::Value = serde_json::from_str(&json)?;
    assert_eq!(v["records"]["frames"]["compression"], "zstd:3");
    assert_eq!(v["records"]["frames"]["shape"], serde_json::json!([300, 7]));
    assert_eq!(v["records"]["trace"]["dtype"], "float64");

    persist(&root)
        .arg("verify")
        .assert()
        .success()
        .stdout(contains("verified 1 record, 2 files").and(contains("all intact")));
    let r = record(&root, "squeezed-m1")?;
    let meta = r.meta.map_err(|e| e.to_string())?;
    let file = root.join(&r.path).join(&meta.records["frames"].file);
    let mut bytes = fs::read(&file)?;
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    fs::write(&file, bytes)?;
    let assert = persist(&root).arg("verify").assert().code(1);
    let out = String::from_utf8(assert.get_output().stdout.clone())?;
    assert!(
        out.contains("squeezed-m1") && out.contains("integrity check failed"),
        "{out}"
    );
    Ok(())
}

#[test]
fn show_of_a_missing_record_fails_in_one_line() -> TestResult {
    let (_dir, root) = store()?;
    persist(&root)
        .args(["show", "example/example-Z99-0000"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(contains("no record `example/example-Z99-0000`").and(contains('\n').count(1)));
    Ok(())
}

#[test]
fn tree_shows_the_store_with_sizes() -> TestResult {
    let (_dir, root) = store()?;
    let out = stdout_of(persist(&root).arg("tree"))?;
    assert!(
        out.lines().next().is_some_and(|l| l.contains("store")),
        "{out}"
    );
    for expected in [
        "├── example/",
        "└── trial/",
        "meta.json",
        "weights-",
        ".claim",
        "files/",
        "notes.txt",
        " B",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
    let shallow = stdout_of(persist(&root).args(["tree", "--depth", "1"]))?;
    assert_eq!(shallow.lines().count(), 3, "{shallow}");
    assert!(
        shallow.contains("example/ (4 files)") && shallow.contains("trial/"),
        "{shallow}"
    );
    assert!(!shallow.contains("meta.json"));
    Ok(())
}

#[test]
fn verify_passes_an_intact_store() -> TestResult {
    let (_dir, root) = store()?;
    persist(&root)
        .arg("verify")
        .assert()
        .success()
        .stdout(contains("verified 5 records, 8 files").and(contains("all intact")));
    Ok(())
}

#[test]
fn verify_catches_a_flipped_byte() -> TestResult {
    let (_dir, root) = store()?;
    let r = record(&root, "trial-s1-1")?;
    let meta = r.meta.map_err(|e| e.to_string())?;
    let file = root.join(&r.path).join(&meta.records["weights"].file);
    let mut bytes = fs::read(&file)?;
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    fs::write(&file, bytes)?;

    let assert = persist(&root).arg("verify").assert().code(1);
    let out = String::from_utf8(assert.get_output().stdout.clone())?;
    let damaged: Vec<&str> = out.lines().filter(|l| l.starts_with("damaged:")).collect();
    assert_eq!(damaged.len(), 1, "{out}");
    assert!(
        damaged[0].contains("trial-s1-1") && damaged[0].contains("integrity check failed"),
        "{out}"
    );
    assert!(out.contains("1 damaged"), "{out}");
    Ok(())
}

#[test]
fn verify_catches_a_missing_file() -> TestResult {
    let (_dir, root) = store()?;
    let r = record(&root, "example-B01-1235")?;
    let meta = r.meta.map_err(|e| e.to_string())?;
    fs::remove_file(root.join(&r.path).join(&meta.records["data"].file))?;
    persist(&root).arg("verify").assert().code(1).stdout(
        contains("damaged: example-B01-1235")
            .and(contains("is missing"))
            .and(contains("damaged:").count(1)),
    );
    Ok(())
}

/// Leaves what interrupted saves leave behind; returns the paths relative to
/// the store.
fn crash(root: &Path) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let a = record(root, "example-A00-1234")?;
    let t = record(root, "trial-s1-1")?;
    let key = t.path.rsplit_once('/').ok_or("no key folder")?.0.to_owned();
    let leftovers = vec![
        // A temp file of a put that never finished.
        format!("{}/.tmp-Xa1b2c", a.path),
        // A record file written by an overwrite that died before meta.json.
        format!("{}/data-0123456789abcdef0123456789abcdef.npy", a.path),
        // Number 3 claimed, its file written, then the process was killed.
        format!("{key}/3/weights-00000000000000000000000000000003.npy"),
        // A temp file among the extra files.
        format!("{}/files/.tmp-Yd4e5f", t.path),
        // The first save of a key that died before meta.json.
        "example/example-C02-9.0123456789abcdef0123456789abcdef/data-ffffffffffffffffffffffffffffffff.npy".to_owned(),
    ];
    for rel in &leftovers {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().ok_or("no parent")?)?;
        fs::write(&path, b"half-written")?;
    }
    fs::write(root.join(&key).join("3/.claim"), b"{}")?;
    Ok(leftovers)
}

#[test]
fn gc_removes_crash_leftovers_and_nothing_else() -> TestResult {
    let (_dir, root) = store()?;
    let before = snapshot(&root);
    let listed_before = stdout_of(persist(&root).args(["ls", "--json"]))?;
    let leftovers = crash(&root)?;
    let with_leftovers = snapshot(&root);
    // Older than --min-age: found. (The default, 1h, is tested below; a
    // file's change time cannot be set back to make it look older.)
    std::thread::sleep(Duration::from_millis(1100));

    let dry = stdout_of(persist(&root).args(["gc", "--dry-run", "--min-age", "1s"]))?;
    assert_eq!(snapshot(&root), with_leftovers, "--dry-run changes nothing");
    for l in &leftovers {
        assert!(dry.contains(l.as_str()), "{l} not listed in\n{dry}");
    }
    assert!(
        dry.contains("would remove 5 files, 60 B (dry run: nothing removed)"),
        "{dry}"
    );
    assert!(
        dry.contains("temporary file") && dry.contains("superseded record file"),
        "{dry}"
    );
    assert!(dry.contains("file of an unfinished save"), "{dry}");

    let done = stdout_of(persist(&root).args(["gc", "--min-age", "1s"]))?;
    assert!(done.contains("removed 5 files, 60 B"), "{done}");
    let mut expected = before.clone();
    let key = leftovers[2].rsplit_once("/3/").ok_or("no claim")?.0;
    expected.push((root.join(key).join("3/.claim"), b"{}".to_vec()));
    expected.sort();
    let after: Vec<_> = snapshot(&root);
    assert_eq!(
        after, expected,
        "only the leftovers were removed (claims kept)"
    );

    persist(&root).arg("verify").assert().success();
    assert_eq!(
        stdout_of(persist(&root).args(["ls", "--json"]))?,
        listed_before
    );
    persist(&root)
        .args(["gc", "--min-age", "0"])
        .assert()
        .success()
        .stdout("nothing to remove\n");
    Ok(())
}

#[test]
fn gc_leaves_young_files_alone() -> TestResult {
    let (_dir, root) = store()?;
    let leftovers = crash(&root)?;
    let files = snapshot(&root);
    persist(&root)
        .arg("gc")
        .assert()
        .success()
        .stdout(contains("nothing to remove").and(contains("left 5 files younger than 1h alone")));
    assert_eq!(snapshot(&root), files);

    let dry = stdout_of(persist(&root).args(["gc", "--dry-run", "--min-age", "0"]))?;
    assert!(dry.contains("would remove 5 files"), "{dry}");
    assert_eq!(snapshot(&root), files);
    stdout_of(persist(&root).args(["gc", "--min-age", "0s"]))?;
    assert_eq!(snapshot(&root).len(), files.len() - leftovers.len());
    Ok(())
}

#[test]
fn du_counts_bytes_per_type() -> TestResult {
    let (_dir, root) = store()?;
    let out = stdout_of(persist(&root).arg("du"))?;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines[0].starts_with("TYPE") && lines[0].contains("RECORDS") && lines[0].contains("BYTES")
    );
    let cols = |l: &str| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let example = cols(lines[1]);
    let trial = cols(lines[2]);
    let total = cols(lines[3]);
    assert_eq!(
        (
            example[0].as_str(),
            example[1].as_str(),
            example[2].as_str()
        ),
        ("example", "2", "4")
    );
    // Three meta.json, three claims, three weights, three logs, one extra file.
    assert_eq!(
        (trial[0].as_str(), trial[1].as_str(), trial[2].as_str()),
        ("trial", "3", "13")
    );
    assert_eq!((total[0].as_str(), total[1].as_str()), ("total", "5"));
    let bytes = |c: &[String]| c.last().and_then(|b| b.parse::<u64>().ok()).unwrap_or(0);
    assert_eq!(bytes(&total), bytes(&example) + bytes(&trial));
    let on_disk: u64 = snapshot(&root).iter().map(|(_, b)| b.len() as u64).sum();
    assert_eq!(bytes(&total), on_disk);
    Ok(())
}

#[test]
fn store_from_env_and_default_and_missing() -> TestResult {
    let (dir, root) = store()?;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_persist"));
    cmd.arg("du")
        .env("PERSIST_STORE", &root)
        .env("NO_COLOR", "1");
    cmd.assert().success().stdout(contains("example"));

    fs::rename(&root, dir.path().join(".persist"))?;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_persist"));
    cmd.arg("ls")
        .current_dir(dir.path())
        .env_remove("PERSIST_STORE");
    cmd.assert().success().stdout(contains("trial-s1-2"));

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_persist"));
    cmd.args(["ls", "--store"]).arg(dir.path().join("nowhere"));
    cmd.assert()
        .code(1)
        .stdout("")
        .stderr(contains("no store at").and(contains('\n').count(1)));
    assert!(
        !dir.path().join("nowhere").exists(),
        "looking never creates a store"
    );

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_persist"));
    cmd.args(["gc", "--min-age", "soon"])
        .current_dir(dir.path());
    cmd.assert()
        .code(2)
        .stderr(contains("soon").and(contains('\n').count(1)));
    Ok(())
}

#[test]
fn a_damaged_meta_is_listed_not_fatal() -> TestResult {
    let (_dir, root) = store()?;
    let r = record(&root, "trial-s1-0")?;
    fs::write(root.join(r.meta_path()), b"{\"format\": 1,")?;
    let assert = persist(&root).arg("ls").assert().success();
    let out = String::from_utf8(assert.get_output().stdout.clone())?;
    let err = String::from_utf8(assert.get_output().stderr.clone())?;
    assert!(
        out.lines()
            .any(|l| l.contains("trial-s1-0") && l.contains("damaged")),
        "{out}"
    );
    assert!(
        err.contains("warning") && err.contains("truncated"),
        "{err}"
    );
    persist(&root)
        .arg("verify")
        .assert()
        .code(1)
        .stdout(contains("damaged: trial-s1-0").and(contains("truncated")));
    persist(&root)
        .args(["show", "trial/trial-s1-0"])
        .assert()
        .code(1)
        .stderr(contains("truncated").and(contains('\n').count(1)));
    // gc leaves a folder it cannot read alone.
    persist(&root)
        .args(["gc", "--min-age", "0"])
        .assert()
        .success()
        .stdout("nothing to remove\n");
    Ok(())
}

/// Sets a record's `saved_at` (prune reads nothing else to age it).
fn saved_at(root: &Path, name: &str, when: &str) -> TestResult {
    let r = record(root, name)?;
    let path = root.join(r.meta_path());
    let mut meta: serde_json::Value = serde_json::from_slice(&fs::read(&path)?)?;
    meta["saved_at"] = when.into();
    fs::write(&path, serde_json::to_vec_pretty(&meta)?)?;
    Ok(())
}

fn names(root: &Path) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    Ok(walk(&Store::open(root)?)?
        .iter()
        .map(RecordEntry::name)
        .collect())
}

#[test]
fn prune_dry_run_lists_what_would_go_then_prune_removes_it() -> TestResult {
    let (_dir, root) = store()?;
    saved_at(&root, "example-A00-1234", "2020-01-01T00:00:00Z")?;
    saved_at(&root, "trial-s1-0", "2020-01-02T00:00:00Z")?;
    let a = record(&root, "example-A00-1234")?;
    let t0 = record(&root, "trial-s1-0")?;
    let before = snapshot(&root);

    // The store as prune's argument, as well as by --store.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_persist"));
    cmd.args(["prune"])
        .arg(&root)
        .args(["--older-than", "30d", "--dry-run"])
        .env_remove("PERSIST_STORE")
        .env("NO_COLOR", "1");
    let dry = stdout_of(&mut cmd)?;
    assert_eq!(snapshot(&root), before, "--dry-run deletes nothing");
    let lines: Vec<&str> = dry.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["LOCATION", "TYPE", "AGE", "SIZE", "REASON"],
        "{dry}"
    );
    assert!(
        lines[1].starts_with(&a.path) && lines[1].contains("example"),
        "{dry}"
    );
    assert!(lines[1].contains("older than 30d"), "{dry}");
    assert!(
        lines[2].starts_with(&t0.path) && lines[2].contains("trial"),
        "{dry}"
    );
    let size = |r: &RecordEntry| {
        let n = r.size;
        if n < 1024 {
            format!("{n} B")
        } else {
            format!("{:.1} KiB", n as f64 / 1024.0)
        }
    };
    assert!(lines[1].contains(&size(&a)), "{dry}");
    assert!(
        lines[3].starts_with("would remove 2 records, ")
            && lines[3].ends_with("(dry run: nothing removed)"),
        "{dry}"
    );
    assert_eq!(lines.len(), 4, "{dry}");

    let done = stdout_of(persist(&root).args(["prune", "--older-than", "30d"]))?;
    let done_lines: Vec<&str> = done.lines().collect();
    // The same table, then what was removed.
    assert_eq!(done_lines[..3], lines[..3], "{done}");
    assert!(done_lines[3].starts_with("removed 2 records, "), "{done}");
    assert_eq!(
        names(&root)?,
        ["example-B01-1235", "trial-s1-1", "trial-s1-2"]
    );
    // Every file of the two records went, nothing else did, and the
    // number's claim stays.
    let after = snapshot(&root);
    let gone: Vec<&PathBuf> = before
        .iter()
        .filter(|(p, _)| !after.iter().any(|(q, _)| q == p))
        .map(|(p, _)| p)
        .collect();
    assert!(gone
        .iter()
        .all(|p| p.starts_with(root.join(&a.path)) || p.starts_with(root.join(&t0.path))));
    assert_eq!(gone.len(), 2 + 3, "{gone:?}");
    assert!(root.join(&t0.path).join(".claim").exists());
    persist(&root).arg("verify").assert().success();
    persist(&root)
        .args(["prune", "--older-than", "30d"])
        .assert()
        .success()
        .stdout("nothing to remove\n");
    Ok(())
}

#[test]
fn prune_keeps_young_records_and_narrows_by_type() -> TestResult {
    let (_dir, root) = store()?;
    let files = snapshot(&root);
    // Just saved: --min-age (1h) protects them.
    let kept = stdout_of(persist(&root).args(["prune", "--keep-last", "1"]))?;
    assert!(kept.starts_with("nothing to remove\n"), "{kept}");
    assert!(kept.contains("kept 2 selected records:"), "{kept}");
    assert!(kept.contains("younger than the minimum age"), "{kept}");
    assert_eq!(snapshot(&root), files);

    let dry = stdout_of(persist(&root).args([
        "prune",
        "--max-size",
        "1",
        "--min-age",
        "0",
        "--type",
        "example",
        "--dry-run",
    ]))?;
    assert!(dry.contains("would remove 2 records"), "{dry}");
    assert!(dry.contains("oldest while over 1 B"), "{dry}");
    assert!(
        dry.contains("example: ") && dry.contains("after (--max-size 1 B)"),
        "{dry}"
    );
    assert!(!dry.contains("trial"), "{dry}");
    assert_eq!(snapshot(&root), files);

    let done = stdout_of(persist(&root).args([
        "prune",
        "--keep-last",
        "1",
        "--min-age",
        "0",
        "--type",
        "trial",
    ]))?;
    assert!(done.contains("not among the last 1 of its key"), "{done}");
    assert!(done.contains("removed 2 records"), "{done}");
    assert_eq!(
        names(&root)?,
        ["example-A00-1234", "example-B01-1235", "trial-s1-2"]
    );
    persist(&root).arg("verify").assert().success();
    Ok(())
}

#[test]
fn prune_refuses_what_selects_nothing_or_is_mistyped() -> TestResult {
    let (_dir, root) = store()?;
    let files = snapshot(&root);
    persist(&root)
        .args(["prune", "--type", "trial"])
        .assert()
        .code(1)
        .stderr(contains("nothing selects records").and(contains('\n').count(1)));
    persist(&root)
        .args(["prune", "--type", "trail", "--keep-last", "1"])
        .assert()
        .code(1)
        .stderr(contains("no type `trail`").and(contains("example, trial")));
    persist(&root)
        .args(["prune", "--max-size", "10X"])
        .assert()
        .code(2)
        .stderr(contains("10X").and(contains('\n').count(1)));
    persist(&root)
        .arg("prune")
        .arg(&root)
        .args(["--keep-last", "1"])
        .assert()
        .code(1)
        .stderr(contains("give the store once"));
    assert_eq!(snapshot(&root), files);
    Ok(())
}

#[test]
fn show_prints_the_provenance() -> TestResult {
    let (_dir, root) = store()?;
    let store = Store::open(&root)?;
    let computed = Example::new("C02", "s", "1236").load_or_compute(&store, |e| {
        std::thread::sleep(Duration::from_millis(250));
        e.channels = vec![4];
        Ok(())
    })?;
    let pid = std::process::id().to_string();
    let crate_line = format!("crate     persist-cli {}", env!("CARGO_PKG_VERSION"));

    let out = stdout_of(persist(&root).args(["show", &format!("example/{computed}")]))?;
    for expected in [
        "provenance",
        &crate_line,
        &format!("pid       {pid}"),
        &format!("persist   {}", env!("CARGO_PKG_VERSION")),
        "(load_or_compute)",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
    let saved = stdout_of(persist(&root).args(["show", "example/example-A00-1234"]))?;
    assert!(saved.contains(&crate_line), "{saved}");
    assert!(saved.contains("computed  - (saved with save)"), "{saved}");

    let json = stdout_of(persist(&root).args(["show", &format!("example/{computed}"), "--json"]))?;
    let v: serde_json::Value = serde_json::from_str(&json)?;
    let p = &v["provenance"];
    assert_eq!(p["crate"], "persist-cli");
    assert_eq!(p["crate_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(p["persist_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(p["pid"], std::process::id());
    assert!(!p["host"].as_str().unwrap_or("").is_empty(), "{p}");
    let seconds = p["compute_seconds"].as_f64().ok_or("no compute_seconds")?;
    assert!(seconds >= 0.25, "{seconds}");
    let json = stdout_of(persist(&root).args(["show", "example/example-A00-1234", "--json"]))?;
    let v: serde_json::Value = serde_json::from_str(&json)?;
    assert!(v["provenance"].is_object(), "{v}");
    assert!(v["provenance"].get("compute_seconds").is_none(), "{v}");

    // A record saved before provenance was kept.
    let r = record(&root, "example-B01-1235")?;
    let meta_path = root.join(&r.path).join("meta.json");
    let mut meta: serde_json::Value = serde_json::from_slice(&fs::read(&meta_path)?)?;
    meta.as_object_mut()
        .ok_or("meta.json is not an object")?
        .remove("provenance")
        .ok_or("no provenance to remove")?;
    fs::write(&meta_path, serde_json::to_vec_pretty(&meta)?)?;
    let old = stdout_of(persist(&root).args(["show", "example/example-B01-1235"]))?;
    assert!(old.contains("(not recorded"), "{old}");
    let json = stdout_of(persist(&root).args(["show", "example/example-B01-1235", "--json"]))?;
    let v: serde_json::Value = serde_json::from_str(&json)?;
    assert!(v["provenance"].is_null(), "{v}");
    Ok(())
}
