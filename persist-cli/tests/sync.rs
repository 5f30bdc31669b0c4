//! `persist sync SRC DST` as a user runs it: a dry run, a sync, a resync, and a
//! conflict's exit status.

use std::path::Path;

use assert_cmd::Command;
use persist_core::maintenance::{verify, walk};
use persist_core::ndarray::Array1;
use persist_core::{Lazy, Persistence, Store};
use predicates::str::contains;

#[derive(Persistence, Debug)]
struct Trial {
    #[key]
    #[filename(prefix = "s")]
    subject: String,
    #[autoinc]
    attempt: Option<u32>,
    score: f64,
    #[record]
    trace: Lazy<Array1<f64>>,
}

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn trials(store: &Store, subject: &str, scores: &[f64]) -> persist_core::Result<()> {
    for &score in scores {
        let mut t = Trial::new(subject);
        t.score = score;
        t.trace.set(Array1::linspace(0.0, score, 64));
        t.save(store)?;
    }
    Ok(())
}

fn persist() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_persist"));
    cmd.env_remove("PERSIST_STORE").env("NO_COLOR", "1");
    cmd
}

fn sync_cmd(src: &Path, dst: &Path) -> Command {
    let mut cmd = persist();
    cmd.arg("sync").arg(src).arg(dst);
    cmd
}

#[test]
fn sync_copies_to_a_new_folder_and_a_resync_copies_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (src, dst) = (dir.path().join("laptop"), dir.path().join("team"));
    trials(&Store::open(&src)?, "1", &[0.5, 0.75, 1.0])?;

    sync_cmd(&src, &dst)
        .arg("--dry-run")
        .assert()
        .success()
        .stdout(contains("would copy trial/trial-s1."))
        .stdout(contains("would copy 3 records, 0 up to date"));
    assert!(!dst.exists(), "a dry run made the destination");

    sync_cmd(&src, &dst)
        .args(["--jobs", "2"])
        .assert()
        .success()
        .stdout(contains("copied 3 records"))
        .stdout(contains("0 up to date"));
    let team = Store::open(&dst)?;
    assert!(verify(&team, |_| {})?.is_ok());
    let mut second = Trial::new("1");
    second.attempt = Some(1);
    let back = second.load(&team)?;
    assert_eq!(back.score, 0.75);
    assert_eq!(back.trace.get()?, &Array1::linspace(0.0, 0.75, 64));

    sync_cmd(&src, &dst)
        .assert()
        .success()
        .stdout(contains("copied 0 records (0 B)"))
        .stdout(contains("3 up to date"));
    Ok(())
}

#[test]
fn sync_reports_a_number_taken_by_another_run_and_fails() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (src, dst) = (dir.path().join("a"), dir.path().join("b"));
    trials(&Store::open(&src)?, "1", &[0.5, 0.75])?;
    trials(&Store::open(&dst)?, "1", &[9.0])?;

    sync_cmd(&src, &dst)
        .assert()
        .failure()
        .code(1)
        .stdout(contains("conflict: trial/trial-s1."))
        .stdout(contains("gives autoinc number 0 to another run"))
        .stdout(contains("copied 1 record"))
        .stdout(contains("1 conflicts"));
    let team = Store::open(&dst)?;
    let mut first = Trial::new("1");
    first.attempt = Some(0);
    assert_eq!(
        first.load(&team)?.score,
        9.0,
        "the other run was overwritten"
    );
    assert_eq!(walk(&team)?.len(), 2);
    assert!(verify(&team, |_| {})?.is_ok());
    Ok(())
}

#[test]
fn sync_from_a_missing_store_is_one_line_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    sync_cmd(&dir.path().join("nothing"), &dir.path().join("dst"))
        .assert()
        .failure()
        .stderr(contains("no store at"));
    assert!(!dir.path().join("dst").exists());
    Ok(())
}
