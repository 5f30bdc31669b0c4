//! Tests of the object-store backend on an in-memory object store.

use std::ops::Range;
use std::thread;

use object_store::memory::InMemory;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, ObjectMeta, PutMultipartOptions, PutResult,
};

use super::*;

fn memory(prefix: &str) -> ObjectStoreBackend {
    ObjectStoreBackend::new(Arc::new(InMemory::new()), prefix).unwrap()
}

fn put(b: &ObjectStoreBackend, path: &str, body: &[u8]) {
    b.put(path, true, &mut |w| w.write_all(body).map_err(Error::io))
        .unwrap();
}

#[test]
fn round_trip_list_and_delete_under_a_prefix() {
    let b = memory("pre/fix");
    put(&b, "t/k/meta.json", b"{}");
    put(&b, "t/k/0/.claim", b"c");
    put(&b, "t/kk/meta.json", b"{}");
    assert_eq!(b.read_all("t/k/meta.json").unwrap(), b"{}");
    let mut names: Vec<_> = b
        .list("t/k")
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.is_dir))
        .collect();
    names.sort();
    assert_eq!(names, [("0".into(), true), ("meta.json".into(), false)]);
    assert!(b.list("nothing/here").unwrap().is_empty());
    b.delete_all("t/k").unwrap();
    assert!(b.list("t/k").unwrap().is_empty());
    assert_eq!(b.read_all("t/kk/meta.json").unwrap(), b"{}");
    b.delete("t/kk/meta.json").unwrap();
    b.delete("t/kk/meta.json").unwrap();
    let err = b.get("t/kk/meta.json").err().unwrap();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert!(
        err.to_string().contains("InMemory/pre/fix/t/kk/meta.json"),
        "{err}"
    );
}

#[test]
fn large_bodies_go_in_parts_and_read_back_whole() {
    let b = memory("");
    let body: Vec<u8> = (0..(2 * PART_SIZE + 12345))
        .map(|i| (i % 251) as u8)
        .collect();
    // Written in odd-sized pieces, as a serializer would.
    b.put("big.bin", false, &mut |w| {
        for piece in body.chunks(100_003) {
            w.write_all(piece).map_err(Error::io)?;
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(b.read_all("big.bin").unwrap(), body);
}

#[test]
fn a_failed_put_leaves_nothing() {
    let b = memory("");
    let err = b
        .put("x/big.bin", false, &mut |w| {
            w.write_all(&vec![7; PART_SIZE + 1]).map_err(Error::io)?;
            Err(Error::corrupt("serializer failed"))
        })
        .unwrap_err();
    assert!(err.to_string().contains("serializer failed"), "{err}");
    assert!(b.list("x").unwrap().is_empty());
}

#[test]
fn works_inside_a_tokio_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let b = memory("p");
        assert!(b.create("c", b"1", false).unwrap());
        put(&b, "a", b"x");
        assert_eq!(b.read_all("a").unwrap(), b"x");
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    rt.block_on(async {
        let b = memory("p");
        put(&b, "a", b"x");
        assert_eq!(b.read_all("a").unwrap(), b"x");
        drop(b);
    });
}

#[test]
fn create_races_have_one_winner() {
    let b = memory("");
    let wins: usize = thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let b = &b;
                s.spawn(move || {
                    b.create("n/0/.claim", format!("{i}").as_bytes(), false)
                        .unwrap()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap() as usize)
            .sum()
    });
    assert_eq!(wins, 1);
}

/// A server that ignores `If-None-Match: *` and overwrites.
#[derive(Debug)]
struct IgnoresConditions(InMemory);

impl fmt::Display for IgnoresConditions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IgnoresConditions")
    }
}

#[async_trait::async_trait]
impl ObjectStore for IgnoresConditions {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        _opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.0
            .put_opts(location, payload, PutOptions::default())
            .await
    }
    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.0.put_multipart_opts(location, opts).await
    }
    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.0.get_opts(location, options).await
    }
    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.0.get_ranges(location, ranges).await
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.0.delete_stream(locations)
    }
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.0.list(prefix)
    }
    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.0.list_with_delimiter(prefix).await
    }
    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.0.copy_opts(from, to, options).await
    }
}

#[test]
fn a_server_ignoring_conditional_writes_is_refused() {
    let b = ObjectStoreBackend::new(Arc::new(IgnoresConditions(InMemory::new())), "p").unwrap();
    put(&b, "plain", b"ok");
    let err = b.create("k/0/.claim", b"1", false).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("If-None-Match"), "{err}");
    // The verdict is kept, and the probe cleaned up after itself.
    assert!(matches!(
        b.create("k/1/.claim", b"1", false),
        Err(Error::Unsupported { .. })
    ));
    let names: Vec<_> = b.list("").unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["plain"]);
    // Without the probe, the caller takes the risk.
    let trusting = b.clone().probe_conditional_writes(false);
    let trusting = ObjectStoreBackend {
        conditional: Arc::new(Mutex::new(None)),
        ..trusting
    };
    assert!(trusting.create("k/2/.claim", b"1", false).unwrap());
}
