//! The requests each call makes on object storage, counted, against the table
//! "Cost of each call, in requests" of the README.
//!
//! A counting wrapper sits between the store and an `ObjectStore`: an
//! in-memory one always, and the S3 server of `PERSIST_TEST_S3_URL` too when
//! it is set (`.ci/ceph.sh`, `.ci/s3.sh`). Each `ObjectStore` call it sees is
//! one HTTP request on S3, except `delete_stream`, which S3 sends as one bulk
//! `DELETE` per 1000 objects (counted as one: no test here deletes more).
#![cfg(feature = "object-store")]

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use futures_util::stream::BoxStream;
use persist_core::object_store::aws::AmazonS3Builder;
use persist_core::object_store::memory::InMemory;
use persist_core::object_store::path::Path;
use persist_core::object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};
use persist_core::testing::test_url;
use persist_core::{Lazy, Persistence, Store};

/// Requests seen, by kind.
type Tally = BTreeMap<&'static str, usize>;

/// An `ObjectStore` that counts the requests passing through it.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn ObjectStore>,
    seen: Arc<Mutex<Tally>>,
    /// `GET`s started and not finished, and the most there were at once.
    gets: Mutex<(usize, usize)>,
}

impl Counting {
    fn count(&self, kind: &'static str) {
        *self.seen.lock().unwrap().entry(kind).or_default() += 1;
    }

    /// The requests since the last call, and starts counting afresh.
    fn take(&self) -> Tally {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

impl fmt::Display for Counting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for Counting {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> persist_core::object_store::Result<PutResult> {
        // persist never sends `PutMode::Update` (`If-Match`): Ceph's RADOS
        // Gateway answers it 412 even with the right ETag.
        assert!(
            !matches!(opts.mode, PutMode::Update(_)),
            "conditional update of {location}"
        );
        self.count(match opts.mode {
            PutMode::Create => "PUT if-none-match",
            _ => "PUT",
        });
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> persist_core::object_store::Result<Box<dyn MultipartUpload>> {
        self.count("multipart create");
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(CountingUpload {
            inner,
            seen: self.seen.clone(),
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> persist_core::object_store::Result<GetResult> {
        self.count(if options.head { "HEAD" } else { "GET" });
        {
            let mut gets = self.gets.lock().unwrap();
            gets.0 += 1;
            gets.1 = gets.1.max(gets.0);
        }
        // An in-memory GET never waits; give other requests the chance to
        // start, as a network round trip would.
        tokio::task::yield_now().await;
        let got = self.inner.get_opts(location, options).await;
        self.gets.lock().unwrap().0 -= 1;
        got
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> persist_core::object_store::Result<Vec<bytes::Bytes>> {
        for _ in ranges {
            self.count("GET");
        }
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, persist_core::object_store::Result<Path>>,
    ) -> BoxStream<'static, persist_core::object_store::Result<Path>> {
        self.count("DELETE");
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&Path>,
    ) -> BoxStream<'static, persist_core::object_store::Result<ObjectMeta>> {
        self.count("LIST");
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&Path>,
    ) -> persist_core::object_store::Result<ListResult> {
        self.count("LIST");
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> persist_core::object_store::Result<()> {
        self.count("COPY");
        self.inner.copy_opts(from, to, options).await
    }
}

#[derive(Debug)]
struct CountingUpload {
    inner: Box<dyn MultipartUpload>,
    seen: Arc<Mutex<Tally>>,
}

impl CountingUpload {
    fn count(&self, kind: &'static str) {
        *self.seen.lock().unwrap().entry(kind).or_default() += 1;
    }
}

#[async_trait::async_trait]
impl MultipartUpload for CountingUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.count("multipart part");
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> persist_core::object_store::Result<PutResult> {
        self.count("multipart complete");
        self.inner.complete().await
    }

    async fn abort(&mut self) -> persist_core::object_store::Result<()> {
        self.count("multipart abort");
        self.inner.abort().await
    }
}

#[derive(Persistence, Debug)]
#[persist(name = "reqplain")]
struct Plain {
    #[key]
    #[filename]
    name: String,
    score: f64,
    #[record]
    data: Lazy<Vec<u8>>,
}

#[derive(Persistence, Debug)]
#[persist(name = "reqrun")]
struct Run {
    #[key]
    #[filename]
    name: String,
    #[autoinc]
    attempt: Option<u32>,
    #[record]
    data: Lazy<Vec<u8>>,
}

fn tally(pairs: &[(&'static str, usize)]) -> Tally {
    pairs.iter().copied().collect()
}

fn plain(name: &str, body: Vec<u8>) -> Plain {
    let mut p = Plain::new(name);
    p.data.set(body);
    p
}

/// Every row of the README's table, on one counted store.
fn requests_per_call(inner: Arc<dyn ObjectStore>, prefix: &str) {
    let counting = Arc::new(Counting {
        inner,
        seen: Arc::default(),
        gets: Mutex::default(),
    });
    let store = Store::from_object_store(counting.clone(), prefix).unwrap();
    let c = &*counting;

    // save (no autoinc), new: the previous meta.json looked up (absent), the
    // record file, meta.json.
    plain("a", vec![1; 100]).save(&store).unwrap();
    assert_eq!(c.take(), tally(&[("GET", 1), ("PUT", 2)]), "first save");

    // save over it with new bytes: as above, and the superseded file deleted.
    plain("a", vec![2; 100]).save(&store).unwrap();
    assert_eq!(
        c.take(),
        tally(&[("GET", 1), ("PUT", 2), ("DELETE", 1)]),
        "overwrite"
    );

    // load: meta.json only; the Lazy field read later: one GET.
    let mut loaded = Plain::new("a").load(&store).unwrap();
    assert_eq!(c.take(), tally(&[("GET", 1)]), "load");
    assert!(Plain::new("a").exists(&store).unwrap());
    assert_eq!(c.take(), tally(&[("GET", 1)]), "exists");
    assert_eq!(loaded.data.get().unwrap(), &vec![2; 100]);
    assert_eq!(c.take(), tally(&[("GET", 1)]), "lazy read");

    // A loaded record saved again with its file unchanged: a server-side
    // COPY of that file instead of a PUT.
    loaded.score = 2.5;
    loaded.save(&store).unwrap();
    assert_eq!(
        c.take(),
        tally(&[("GET", 1), ("COPY", 1), ("PUT", 1), ("DELETE", 1)]),
        "resave with an unchanged file"
    );

    // A file over 8 MiB: a multipart upload, 2 + ceil(size / 8 MiB) requests.
    let big = vec![7u8; (20 << 20) + 1];
    plain("big", big.clone()).save(&store).unwrap();
    assert_eq!(
        c.take(),
        tally(&[
            ("GET", 1),
            ("PUT", 1),
            ("multipart create", 1),
            ("multipart part", 3),
            ("multipart complete", 1),
        ]),
        "save of a 20 MiB file"
    );
    assert_eq!(
        Plain::new("big").load(&store).unwrap().data.get().unwrap(),
        &big
    );
    c.take();

    // save (autoinc None): the key's folder listed, the probe (first claim of
    // this store: two create-only PUTs and a DELETE), the claim, the file,
    // meta.json.
    let mut run = Run::new("r");
    run.data.set(vec![3; 10]);
    run.save(&store).unwrap();
    assert_eq!(run.attempt, Some(0));
    assert_eq!(
        c.take(),
        tally(&[
            ("LIST", 1),
            ("PUT if-none-match", 3),
            ("DELETE", 1),
            ("PUT", 2)
        ]),
        "first autoinc save"
    );
    for n in 1..3 {
        let mut run = Run::new("r");
        run.data.set(vec![n; 10]);
        run.save(&store).unwrap();
        assert_eq!(run.attempt, Some(u32::from(n)));
        assert_eq!(
            c.take(),
            tally(&[("LIST", 1), ("PUT if-none-match", 1), ("PUT", 2)]),
            "autoinc save {n}"
        );
    }

    // load_all: the key's folder listed, then each record's meta.json.
    let runs = Run::new("r").load_all(&store).unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(c.take(), tally(&[("LIST", 1), ("GET", 3)]), "load_all");

    // T::all: the type's folder listed, then per key its numbers (autoinc
    // types only), then each record's meta.json.
    for name in ["s", "t"] {
        Run::new(name).save(&store).unwrap();
    }
    c.take();
    assert_eq!(Run::all(&store).unwrap().count(), 5);
    assert_eq!(c.take(), tally(&[("LIST", 4), ("GET", 5)]), "Run::all");
    assert_eq!(Plain::all(&store).unwrap().count(), 2);
    assert_eq!(c.take(), tally(&[("LIST", 1), ("GET", 2)]), "Plain::all");

    // save_file: the record's meta.json looked up (it must be saved), one
    // PUT; load_file: one GET.
    let a = Plain::new("a");
    a.save_file(&store, "notes.txt", &"hello".to_owned())
        .unwrap();
    assert_eq!(c.take(), tally(&[("GET", 1), ("PUT", 1)]), "save_file");
    let notes: String = a.load_file(&store, "notes.txt").unwrap();
    assert_eq!(notes, "hello");
    assert_eq!(c.take(), tally(&[("GET", 1)]), "load_file");

    // remove: meta.json read and deleted, then the folder listed and its
    // files deleted in one bulk request.
    a.remove(&store).unwrap();
    assert_eq!(
        c.take(),
        tally(&[("GET", 1), ("DELETE", 2), ("LIST", 1)]),
        "remove"
    );
    assert!(!Plain::new("a").exists(&store).unwrap());

    store.backend().delete_all("").unwrap();
}

#[test]
fn requests_per_call_on_an_in_memory_object_store() {
    requests_per_call(Arc::new(InMemory::new()), "counted");
}

#[test]
fn requests_per_call_on_s3() {
    let Some(url) = test_url("requests") else {
        return;
    };
    let s3 = AmazonS3Builder::from_env().with_url(&url).build().unwrap();
    let prefix = url.split_once("://").unwrap().1.split_once('/').unwrap().1;
    requests_per_call(Arc::new(s3), prefix);
}

/// A claim is one create-only `PUT`, never a multipart upload, whatever its
/// size (a multipart completion is not conditional on Ceph's RADOS Gateway).
#[test]
fn a_claim_is_one_conditional_put_whatever_its_size() {
    use persist_core::backend::{Backend, ObjectStoreBackend};
    let counting = Arc::new(Counting {
        inner: Arc::new(InMemory::new()),
        seen: Arc::default(),
        gets: Mutex::default(),
    });
    let b = ObjectStoreBackend::new(counting.clone(), "p")
        .unwrap()
        .probe_conditional_writes(false);
    let body = vec![1u8; 20 << 20];
    assert!(b.create("k/0/.claim", &body, false).unwrap());
    assert!(!b.create("k/0/.claim", &body, false).unwrap());
    assert_eq!(b.read_all("k/0/.claim").unwrap(), body);
    // The lost claim costs its PUT and a HEAD that finds the winner's.
    assert_eq!(
        counting.take(),
        tally(&[("PUT if-none-match", 2), ("HEAD", 1), ("GET", 1)])
    );
}

/// `T::all` over many records reads their `meta.json` files several at a
/// time, and still one `GET` each.
#[test]
fn all_reads_many_records_at_a_time() {
    let counting = Arc::new(Counting {
        inner: Arc::new(InMemory::new()),
        seen: Arc::default(),
        gets: Mutex::default(),
    });
    let store = Store::from_object_store(counting.clone(), "many").unwrap();
    for i in 0..300 {
        let mut p = Plain::new(format!("p{i:03}"));
        p.score = f64::from(i);
        p.save(&store).unwrap();
    }
    counting.take();
    *counting.gets.lock().unwrap() = (0, 0);
    let scores: Vec<f64> = Plain::all(&store)
        .unwrap()
        .map(|p| p.unwrap().score)
        .collect();
    assert_eq!(scores, (0..300).map(f64::from).collect::<Vec<_>>());
    assert_eq!(counting.take(), tally(&[("LIST", 1), ("GET", 300)]));
    let most = counting.gets.lock().unwrap().1;
    assert!(most > 8, "at most {most} GETs at once");
}

/// The `sync` row of the README's table: into a destination without the
/// records' key folders, one `LIST` per type folder and no `GET` at all
/// (`meta.json` and claims created only if absent); where the key folders
/// are there, one `GET` of `meta.json` per record.
fn sync_requests(inner: Arc<dyn ObjectStore>, prefix: &str) {
    use persist_core::maintenance::{sync, SyncOptions};
    let counting = Arc::new(Counting {
        inner,
        seen: Arc::default(),
        gets: Mutex::default(),
    });
    let dst = Store::from_object_store(counting.clone(), prefix).unwrap();
    let c = &*counting;
    let src = Store::memory();
    for name in ["a", "b", "c"] {
        plain(name, vec![1; 100]).save(&src).unwrap();
    }
    for n in 0..2 {
        let mut run = Run::new("r");
        run.data.set(vec![n; 10]);
        run.save(&src).unwrap();
    }
    let opts = SyncOptions::default();

    let report = sync(&src, &dst, &opts, |_| {}).unwrap();
    assert_eq!((report.copied.len(), report.is_ok()), (5, true), "{report}");
    // 2 type folders listed; per record its file and its meta.json, and per
    // run its claim; the probe of the first create (two create-only PUTs and
    // a DELETE).
    assert_eq!(
        c.take(),
        tally(&[
            ("LIST", 2),
            ("PUT", 5),
            ("PUT if-none-match", 3 + 2 * 2 + 2),
            ("DELETE", 1)
        ]),
        "sync to an empty destination"
    );

    let again = sync(&src, &dst, &opts, |_| {}).unwrap();
    assert_eq!((again.copied.len(), again.up_to_date), (0, 5), "{again}");
    assert_eq!(
        c.take(),
        tally(&[("LIST", 2), ("GET", 5)]),
        "sync with nothing to copy"
    );

    plain("d", vec![4; 100]).save(&src).unwrap();
    let more = sync(&src, &dst, &opts, |_| {}).unwrap();
    assert_eq!((more.copied.len(), more.up_to_date), (1, 5), "{more}");
    assert_eq!(
        c.take(),
        tally(&[
            ("LIST", 2),
            ("GET", 5),
            ("PUT", 1),
            ("PUT if-none-match", 1)
        ]),
        "sync of one new record"
    );
    let back = Plain::new("d").load(&dst).unwrap();
    assert_eq!(back.data.get().unwrap(), &vec![4; 100]);

    dst.backend().delete_all("").unwrap();
}

#[test]
fn sync_requests_on_an_in_memory_object_store() {
    sync_requests(Arc::new(InMemory::new()), "synced");
}

#[test]
fn sync_requests_on_s3() {
    let Some(url) = test_url("sync-requests") else {
        return;
    };
    let s3 = AmazonS3Builder::from_env().with_url(&url).build().unwrap();
    let prefix = url.split_once("://").unwrap().1.split_once('/').unwrap().1;
    sync_requests(Arc::new(s3), prefix);
}
