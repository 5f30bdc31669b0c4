//! The `cli_flags` example, run as a user runs it: `StoreArgs`' flags change
//! what a program loads, computes and writes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The example's binary, built by cargo for this test's profile and features
/// (an up-to-date build is a no-op).
fn example_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // target/<profile>/deps/<this test> -> target/<profile>
        let exe = std::env::current_exe().expect("test binary path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>");
        let mut features = vec!["clap"];
        if cfg!(feature = "object-store") {
            features.push("object-store");
        }
        let mut build = Command::new(env!("CARGO"));
        build
            .args(["build", "--quiet", "--example", "cli_flags", "--features"])
            .arg(features.join(","))
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        if let Some(target) = profile_dir.parent() {
            build.arg("--target-dir").arg(target);
        }
        let status = build.status().expect("run cargo build");
        assert!(status.success(), "cargo build --example cli_flags failed");
        profile_dir.join("examples").join("cli_flags")
    })
}

fn run(args: &[&str]) -> Output {
    let out = Command::new(example_binary())
        .args(args)
        .env_remove("PERSIST_STORE")
        .output()
        .expect("run cli_flags");
    eprintln!(
        "cli_flags {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The files under `root`, each with its contents.
fn files(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn store_recompute_and_read_only_flags_drive_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("results");
    let store = store.to_str().unwrap();

    let first = run(&["--store", store, "--samples", "64"]);
    assert!(first.status.success());
    assert_eq!(
        stdout(&first),
        "signal-n64: computed\nspectrum: computed\npeak at bin 5\n"
    );

    let second = run(&[
        "--store",
        store,
        "--samples",
        "64",
        "--no-verify",
        "--no-fsync",
    ]);
    assert!(second.status.success());
    assert_eq!(
        stdout(&second),
        "signal-n64: loaded\nspectrum: loaded\npeak at bin 5\n"
    );

    let again = run(&[
        "--store",
        store,
        "--samples",
        "64",
        "--recompute",
        "spectrum",
    ]);
    assert!(again.status.success());
    assert_eq!(
        stdout(&again),
        "signal-n64: loaded\nspectrum: computed\npeak at bin 5\n"
    );

    let all = run(&["--store", store, "--samples=64", "--recompute"]);
    assert!(all.status.success());
    assert_eq!(
        stdout(&all),
        "signal-n64: computed\nspectrum: computed\npeak at bin 5\n"
    );

    // Read-only: what is stored loads; a missing record is a clear error,
    // exit code 1, and nothing is written.
    let before = files(dir.path());
    let loaded = run(&["--store", store, "--samples", "64", "--read-only"]);
    assert!(loaded.status.success());
    assert_eq!(
        stdout(&loaded),
        "signal-n64: loaded\nspectrum: loaded\npeak at bin 5\n"
    );
    let missing = run(&["--store", store, "--samples", "99", "--read-only"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(stdout(&missing), "");
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.starts_with("error: record `signal-n99`: not found at "),
        "{err}"
    );
    assert_eq!(files(dir.path()), before, "--read-only wrote something");

    // The flags conflict, and a store that does not exist is not created.
    let both = run(&["--store", store, "--read-only", "--recompute"]);
    assert_eq!(both.status.code(), Some(2), "clap's usage error");
    let nowhere = dir.path().join("nowhere");
    let out = run(&["--store", nowhere.to_str().unwrap(), "--read-only"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!nowhere.exists());
}

#[test]
fn the_store_comes_from_persist_store_when_no_flag_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(example_binary())
        .args(["--samples", "32"])
        .env("PERSIST_STORE", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        stdout(&out),
        "signal-n32: computed\nspectrum: computed\npeak at bin 5\n"
    );
    assert!(dir.path().join("signal").is_dir());
    assert!(dir.path().join("spectrum").is_dir());
}

#[test]
fn an_s3_store_is_opened_from_its_url() {
    let Ok(url) = std::env::var("PERSIST_TEST_S3_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but PERSIST_TEST_S3_URL is not set: the S3 server did not start"
        );
        eprintln!("skipping S3: PERSIST_TEST_S3_URL is not set (run .ci/s3.sh start)");
        return;
    };
    let url = format!(
        "{}/cli-flags-{}-{}",
        url.trim_end_matches('/'),
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let first = run(&["--store", &url, "--samples", "48"]);
    if !cfg!(feature = "object-store") {
        assert_eq!(first.status.code(), Some(1));
        return;
    }
    assert!(first.status.success());
    assert_eq!(
        stdout(&first),
        "signal-n48: computed\nspectrum: computed\npeak at bin 5\n"
    );
    let second = run(&["--store", &url, "--samples", "48", "--read-only"]);
    assert!(second.status.success());
    assert_eq!(
        stdout(&second),
        "signal-n48: loaded\nspectrum: loaded\npeak at bin 5\n"
    );
    let missing = run(&["--store", &url, "--samples", "49", "--read-only"]);
    assert_eq!(missing.status.code(), Some(1));
}
