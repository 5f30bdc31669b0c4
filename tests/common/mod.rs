//! Shared by the integration tests: the stores every contract test runs on.
#![allow(dead_code)]

use persist_core::Store;

/// A store and what keeps it alive (the temporary folder of a local store).
pub struct TestStore {
    pub name: &'static str,
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh local store in a temporary folder.
pub fn local() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    (Store::open(dir.path()).expect("open store"), dir)
}

/// Every backend the contract must hold on: local disk, memory, and S3 when a
/// server is configured (see `.ci/s3.sh`).
pub fn stores() -> Vec<TestStore> {
    let (store, dir) = local();
    let mut out = vec![
        TestStore {
            name: "local",
            store,
            _dir: Some(dir),
        },
        TestStore {
            name: "memory",
            store: Store::memory(),
            _dir: None,
        },
    ];
    out.extend(s3());
    out
}

#[cfg(feature = "object-store")]
fn s3() -> Option<TestStore> {
    let url = match std::env::var("PERSIST_TEST_S3_URL") {
        Ok(url) => url,
        Err(_) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but PERSIST_TEST_S3_URL is not set: the S3 server did not start"
            );
            eprintln!("skipping S3: PERSIST_TEST_S3_URL is not set (run .ci/s3.sh start)");
            return None;
        }
    };
    // A fresh prefix per call so tests do not see each other's records.
    let url = format!("{}/{}", url.trim_end_matches('/'), uuid_like());
    Some(TestStore {
        name: "s3",
        store: Store::open_url(&url).expect("open S3 store"),
        _dir: None,
    })
}

#[cfg(not(feature = "object-store"))]
fn s3() -> Option<TestStore> {
    None
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "t{}-{}-{}",
        std::process::id(),
        t,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `f` on every store, naming the store if it panics.
pub fn on_every_store(f: impl Fn(&Store)) {
    for s in stores() {
        eprintln!("-- on the {} store", s.name);
        f(&s.store);
    }
}

/// Runs `f`, which makes autoinc saves, on every store that can give autoinc
/// numbers.
///
/// An S3 server that ignores create-only writes (`If-None-Match: *`; Garage,
/// see `scripts/garage.sh`, which sets `PERSIST_TEST_S3_CONDITIONAL_WRITES=false`)
/// cannot: there the test instead checks that an autoinc save is refused with
/// [`Error::Unsupported`](persist_core::Error::Unsupported) and leaves no
/// record behind. Everywhere else an autoinc save must work, so a refusal on a
/// server said to support them fails the test.
pub fn on_every_store_with_autoinc(f: impl Fn(&Store)) {
    let without_conditional_writes =
        std::env::var("PERSIST_TEST_S3_CONDITIONAL_WRITES").as_deref() == Ok("false");
    for s in stores() {
        if s.name == "s3" && without_conditional_writes {
            eprintln!("-- on the s3 store: no create-only writes, so autoinc must be refused");
            let mut probe = AutoincProbe::new("p");
            let err = persist_core::Persistence::save(&mut probe, &s.store).unwrap_err();
            assert!(
                matches!(err, persist_core::Error::Unsupported { .. }),
                "expected Unsupported, got {err}"
            );
            assert_eq!(probe.n, None);
            let left = <AutoincProbe as persist_core::Persistence>::all(&s.store).unwrap();
            assert_eq!(left.count(), 0);
            continue;
        }
        eprintln!("-- on the {} store", s.name);
        f(&s.store);
    }
}

/// The record [`on_every_store_with_autoinc`] tries to save where autoinc
/// must be refused.
#[derive(persist_core::Persistence, Debug)]
#[persist(name = "autoinc_probe")]
struct AutoincProbe {
    #[filename]
    k: String,
    #[autoinc]
    n: Option<u32>,
}
