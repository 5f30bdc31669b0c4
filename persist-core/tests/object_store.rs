//! The object-store backend against a real S3 server (Ceph's RADOS Gateway in
//! CI, see `.ci/ceph.sh`), and the same backend contract on an in-memory object
//! store.
//!
//! The S3 tests read `PERSIST_TEST_S3_URL` (and the `AWS_*` variables). Without
//! it they print why they are skipped and pass, except with `CI=true`, where
//! they fail: CI must run them.
#![cfg(feature = "object-store")]

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::Arc;

use persist_core::backend::{Backend, ObjectStoreBackend};
use persist_core::object_store::aws::{AmazonS3Builder, S3ConditionalPut};
use persist_core::object_store::memory::InMemory;
use persist_core::testing::{test_store, test_url};
use persist_core::{Error, Lazy, Persistence, Store};

fn put(b: &dyn Backend, path: &str, body: &[u8]) {
    b.put(path, true, &mut |w| w.write_all(body).map_err(Error::io))
        .unwrap_or_else(|e| panic!("put {path}: {e}"));
}

fn names(b: &dyn Backend, prefix: &str) -> Vec<(String, bool, u64)> {
    let mut out: Vec<_> = b
        .list(prefix)
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.is_dir, e.size))
        .collect();
    out.sort();
    out
}

/// `create` has exactly one winner, also in a race.
fn exclusive_creates(b: &dyn Backend) {
    assert!(b.create("t/k.1/1/.claim", b"first", true).unwrap());
    assert!(!b.create("t/k.1/1/.claim", b"second", true).unwrap());
    assert_eq!(b.read_all("t/k.1/1/.claim").unwrap(), b"first");
    let winners: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                s.spawn(move || {
                    b.create("t/k.1/2/.claim", format!("{i}").as_bytes(), true)
                        .unwrap()
                        .then_some(i)
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    assert_eq!(
        b.read_all("t/k.1/2/.claim").unwrap(),
        winners[0].to_string().as_bytes()
    );
}

/// Whether the S3 server under test honours create-only writes (S3
/// `If-None-Match: *`). `scripts/garage.sh` sets
/// `PERSIST_TEST_S3_CONDITIONAL_WRITES=false` for Garage, which does not; moto
/// and AWS do.
fn s3_has_conditional_writes() -> bool {
    std::env::var("PERSIST_TEST_S3_CONDITIONAL_WRITES").as_deref() != Ok("false")
}

/// What every backend promises, on one backend. `exclusive_create` is false
/// for a server without create-only writes: there only the rest is checked.
fn backend_contract(b: &dyn Backend, exclusive_create: bool) {
    // put / get / overwrite
    put(b, "t/k.1/meta.json", b"{\"v\":1}");
    assert_eq!(b.read_all("t/k.1/meta.json").unwrap(), b"{\"v\":1}");
    put(b, "t/k.1/meta.json", b"{\"v\":2}");
    assert_eq!(b.read_all("t/k.1/meta.json").unwrap(), b"{\"v\":2}");
    put(b, "t/k.1/empty.bin", b"");
    assert_eq!(b.read_all("t/k.1/empty.bin").unwrap(), b"");

    // get of a missing object: NotFound, naming where
    let err = b.get("t/k.1/missing.json").err().expect("missing object");
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert_eq!(err.path(), Some(b.describe("t/k.1/missing.json").as_str()));

    // list: one level, folders are common prefixes
    put(b, "t/k.1/0/.claim", b"c");
    put(b, "t/k.1/0/files/x.txt", b"x");
    put(b, "t/k.10/meta.json", b"{}");
    assert_eq!(
        names(b, "t/k.1"),
        [
            ("0".to_owned(), true, 0),
            ("empty.bin".to_owned(), false, 0),
            ("meta.json".to_owned(), false, 7),
        ]
    );
    assert_eq!(
        names(b, "t"),
        [("k.1".to_owned(), true, 0), ("k.10".to_owned(), true, 0)]
    );
    assert!(names(b, "").iter().any(|(n, d, _)| n == "t" && *d));
    assert!(names(b, "no/such/folder").is_empty());
    assert!(b
        .list("t/k.1")
        .unwrap()
        .iter()
        .all(|e| e.is_dir || e.modified.is_some()));

    // create: exactly one winner, also in a race
    if exclusive_create {
        exclusive_creates(b);
    } else {
        println!("skipping exclusive create: the server does not honour If-None-Match");
    }

    // copy: a second name, server-side; NotFound if the source is gone
    b.copy("t/k.1/meta.json", "t/k.1/data-copy.json", true)
        .unwrap();
    assert_eq!(b.read_all("t/k.1/data-copy.json").unwrap(), b"{\"v\":2}");
    let err = b.copy("t/k.1/gone.json", "t/k.1/x.json", true).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    b.delete("t/k.1/data-copy.json").unwrap();

    // a put whose writer fails leaves nothing
    let err = b
        .put("t/k.1/broken.bin", true, &mut |w| {
            w.write_all(b"partial").map_err(Error::io)?;
            Err(Error::corrupt("writer failed"))
        })
        .unwrap_err();
    assert!(err.to_string().contains("writer failed"), "{err}");
    assert!(matches!(
        b.get("t/k.1/broken.bin"),
        Err(Error::NotFound { .. })
    ));

    // delete: absent is fine
    b.delete("t/k.1/empty.bin").unwrap();
    b.delete("t/k.1/empty.bin").unwrap();
    assert!(matches!(
        b.get("t/k.1/empty.bin"),
        Err(Error::NotFound { .. })
    ));

    // delete_all: the folder and below, not a sibling sharing its name's start
    b.delete_all("t/k.1").unwrap();
    b.delete_all("t/k.1").unwrap();
    assert!(names(b, "t/k.1").is_empty());
    assert_eq!(names(b, "t"), [("k.10".to_owned(), true, 0)]);
    assert_eq!(b.read_all("t/k.10/meta.json").unwrap(), b"{}");
    b.delete_all("").unwrap();
    assert!(names(b, "").is_empty());
}

/// A body larger than one part goes up as a multipart upload and comes back whole.
fn large_body(b: &dyn Backend) {
    let body: Vec<u8> = (0..(20 << 20) + 777)
        .map(|i: u32| (i % 253) as u8)
        .collect();
    b.put("big/array.npy", true, &mut |w| {
        for piece in body.chunks(1 << 20) {
            w.write_all(piece).map_err(Error::io)?;
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(
        names(b, "big"),
        [("array.npy".to_owned(), false, body.len() as u64)]
    );
    assert!(b.read_all("big/array.npy").unwrap() == body);
    b.delete_all("big").unwrap();
}

#[test]
fn backend_contract_on_in_memory_object_store() {
    let b = ObjectStoreBackend::new(Arc::new(InMemory::new()), "some/prefix").unwrap();
    backend_contract(&b, true);
    large_body(&b);
}

#[test]
fn backend_contract_on_s3() {
    let Some(store) = test_store("backend-contract") else {
        return;
    };
    println!("backend: {:?}", store.backend());
    backend_contract(store.backend(), s3_has_conditional_writes());
}

#[test]
fn multipart_upload_on_s3() {
    let Some(store) = test_store("multipart") else {
        return;
    };
    large_body(store.backend());
}

#[test]
fn s3_without_conditional_writes_refuses_autoinc() {
    let Some(url) = test_url("no-conditional") else {
        return;
    };
    let s3 = AmazonS3Builder::from_env()
        .with_url(&url)
        .with_conditional_put(S3ConditionalPut::Disabled)
        .build()
        .unwrap();
    let prefix = url.split_once("://").unwrap().1.split_once('/').unwrap().1;
    let store = Store::from_object_store(Arc::new(s3), prefix).unwrap();
    // Records without autoinc still save.
    put(store.backend(), "plain.txt", b"ok");
    let mut e = ex("A00", 0);
    let err = e.save(&store).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    println!("{err}");
    assert_eq!(e.number, None);
    store.backend().delete_all("").unwrap();
}

/// A record type with an autoinc field, written by hand the way
/// `#[derive(Persistence)]` writes it, so this test does not need the derive.
#[derive(Persistence, Debug)]
#[persist(name = "s3ex")]
struct Ex {
    #[key]
    #[filename]
    animal: String,
    #[autoinc(prefix = "r")]
    number: Option<u32>,
    /// (child, save) that wrote the record.
    writer: Vec<u32>,
    #[record]
    data: Lazy<Vec<u8>>,
}

fn ex(animal: &str, child: u32) -> Ex {
    let mut e = Ex::new(animal);
    e.writer = vec![child];
    e
}

const CHILDREN: u32 = 8;
const SAVES: u32 = 50;
const CHILD_ENV: &str = "PERSIST_TEST_AUTOINC_CHILD";

/// The child role: `SAVES` autoinc saves under one key.
fn autoinc_child(spec: &str) {
    let (child, url) = spec.split_once(' ').unwrap();
    let child: u32 = child.parse().unwrap();
    let store = Store::open_url(url).unwrap();
    for i in 0..SAVES {
        let mut e = ex("A00", child);
        e.writer.push(i);
        if i % 10 == 0 {
            e.data.set(vec![child as u8; 1000]);
        }
        e.save(&store)
            .unwrap_or_else(|err| panic!("child {child} save {i}: {err}"));
    }
}

#[test]
fn autoinc_8_processes_x_50_saves_on_s3() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        return autoinc_child(&spec);
    }
    let Some(url) = test_url("autoinc-8x50") else {
        return;
    };
    if !s3_has_conditional_writes() {
        // Without create-only writes no number can be claimed safely: the
        // first save is refused, and nothing is written.
        let store = Store::open_url(&url).unwrap();
        let mut e = ex("A00", 0);
        let err = e.save(&store).unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err}");
        assert!(ex("A00", 0).load_all(&store).unwrap().is_empty());
        println!("autoinc refused on {url}, as it must be there: {err}");
        store.backend().delete_all("").unwrap();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let started = std::time::Instant::now();
    let children: Vec<_> = (0..CHILDREN)
        .map(|c| {
            Command::new(&exe)
                .args([
                    "autoinc_8_processes_x_50_saves_on_s3",
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_ENV, format!("{c} {url}"))
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for (c, mut child) in children.into_iter().enumerate() {
        let status = child.wait().unwrap();
        assert!(status.success(), "child {c} failed: {status}");
    }
    let elapsed = started.elapsed();

    let store = Store::open_url(&url).unwrap();
    let all = ex("A00", 0).load_all(&store).unwrap();
    let numbers: Vec<u32> = all.iter().map(|e| e.number.unwrap()).collect();
    let total = (CHILDREN * SAVES) as usize;
    assert_eq!(numbers, (0..total as u32).collect::<Vec<_>>());
    let writers: BTreeSet<Vec<u32>> = all.iter().map(|e| e.writer.clone()).collect();
    assert_eq!(writers.len(), total, "every save kept exactly once");
    for e in all.iter().filter(|e| e.writer[1] % 10 == 0) {
        assert_eq!(e.data.get().unwrap(), &vec![e.writer[0] as u8; 1000]);
    }
    println!(
        "{CHILDREN} processes x {SAVES} autoinc saves on {url}: {total} records numbered 0..{} in {elapsed:.1?}",
        total - 1
    );
    store.backend().delete_all("").unwrap();
}
