//! Object storage (S3, GCS, Azure, and anything else with an
//! [`object_store::ObjectStore`]) under a key prefix.
//!
//! How the [`Backend`] promises are kept:
//!
//! | call | requests | atomicity |
//! |---|---|---|
//! | `put` | one `PUT` up to 8 MiB; above that a multipart upload (create, one `PUT` per 8 MiB part, complete) | a single `PUT` replaces the object atomically; a multipart upload becomes visible only when it completes, whole |
//! | `create` | one conditional `PUT` (`If-None-Match: *`, [`PutMode::Create`]); a `HEAD` after a conflict | the server decides: of many callers, one gets `true` |
//! | `get` | one `GET`, streamed | |
//! | `copy` | one server-side `COPY` (`PUT` with `x-amz-copy-source`) | atomic like a `PUT` |
//! | `list` | one `LIST` (delimiter `/`) per 1000 children | folders are common prefixes |
//! | `delete` | one `DELETE` | |
//! | `delete_all` | one `LIST` per 1000 objects below, one bulk `DELETE` per 1000 | not atomic: a crash leaves part of the folder |
//!
//! The first `create` of a backend probes, once, that the server honours
//! conditional writes (three requests on a throwaway object at the prefix's
//! root): a server that ignores `If-None-Match: *` would let two processes
//! claim the same autoinc number, so such a server makes `create` (and with it
//! every autoinc save) fail with [`Error::Unsupported`] instead. A server that
//! rejects the header outright (`NotImplemented`) fails the same way.
//!
//! `durable` is ignored: an object store acknowledges a write once it is stored.
//!
//! # The runtime
//!
//! `object_store` is async; persist's API is not. All backends of a process
//! share one small multi-threaded tokio runtime (two worker threads named
//! `persist-object-store`), started on first use and never shut down. Each call
//! spawns its request on that runtime and waits for it by parking the calling
//! thread, without entering the runtime; so the blocking API may be called
//! from any thread, also from inside another tokio runtime (it does not panic).
//! Called from async code it blocks that executor thread like any blocking
//! I/O: wrap it in `tokio::task::spawn_blocking` there.

use std::fmt;
use std::future::Future;
use std::io::{self, Read, Write};
use std::pin::pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{MultipartUpload, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use super::{check_rel, Backend, Entry, WriteFn};
use crate::error::{Error, Result};

/// Bodies up to this size go in one `PUT`; larger ones in parts of this size.
/// (S3 wants parts of at least 5 MiB, except the last.)
const PART_SIZE: usize = 8 << 20;

/// Parts per multipart upload before the part size grows (S3 allows 10 000).
const PARTS_PER_SIZE_STEP: usize = 1000;

/// How often `create` retries after a conflict that left nothing behind.
const CREATE_ATTEMPTS: u32 = 5;

/// Name of the throwaway object of the conditional-write probe.
const PROBE_PREFIX: &str = ".persist-probe-";

/// A store folder in object storage: an [`ObjectStore`] and a key prefix.
///
/// Clones share the connection and the probe result.
///
/// ```
/// use std::sync::Arc;
/// use persist_core::backend::{Backend, ObjectStoreBackend};
/// let bucket = Arc::new(persist_core::object_store::memory::InMemory::new());
/// let backend = ObjectStoreBackend::new(bucket, "results/v1")?;
/// assert!(backend.create("claim", b"1", false)?);
/// assert!(!backend.create("claim", b"2", false)?);
/// assert_eq!(backend.read_all("claim")?, b"1");
/// # Ok::<(), persist_core::Error>(())
/// ```
#[derive(Clone)]
pub struct ObjectStoreBackend {
    store: Arc<dyn ObjectStore>,
    /// The key prefix, without leading or trailing `/`; `""` for the bucket root.
    prefix: String,
    /// How the prefix is shown in messages (`s3://bucket/prefix`).
    url: String,
    /// Whether to check conditional writes before the first `create`.
    probe: bool,
    /// The probe's verdict, once known: `Err(reason)` if unsupported.
    conditional: Arc<Mutex<Option<std::result::Result<(), String>>>>,
}

impl ObjectStoreBackend {
    /// The folder `prefix` (`""` for the root) of `store`. Messages show paths
    /// as `<store>/<prefix>/<path>`; [`with_url`](Self::with_url) sets a nicer
    /// base such as `s3://bucket/prefix`.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> Result<Self> {
        let prefix = prefix.trim_matches('/').to_owned();
        check_rel(&prefix)?;
        if !prefix.is_empty() {
            parse_path(&prefix)?;
        }
        let url = if prefix.is_empty() {
            store.to_string()
        } else {
            format!("{store}/{prefix}")
        };
        Ok(ObjectStoreBackend {
            store,
            prefix,
            url,
            probe: true,
            conditional: Arc::new(Mutex::new(None)),
        })
    }

    /// Shows paths in messages under `url` (for instance `s3://bucket/prefix`).
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// With `false`, skips the one-time check that the server honours
    /// create-only writes (`If-None-Match: *`); for servers known to, to save
    /// its three requests. Default `true`.
    pub fn probe_conditional_writes(mut self, on: bool) -> Self {
        self.probe = on;
        self
    }

    /// The object store underneath.
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The key prefix (`""` for the root).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The object path of a store path.
    fn location(&self, path: &str) -> Result<Path> {
        check_rel(path)?;
        parse_path(&super::join(&[&self.prefix, path]))
    }

    /// The folder `prefix` as an object-store prefix (`None`: the bucket root).
    fn folder(&self, prefix: &str) -> Result<Option<Path>> {
        let loc = self.location(prefix)?;
        Ok((!loc.as_ref().is_empty()).then_some(loc))
    }

    fn io(&self, path: &str, e: object_store::Error) -> Error {
        Error::Io {
            record: String::new(),
            path: self.describe(path),
            source: to_io(e),
        }
    }

    fn not_found(&self, path: &str) -> Error {
        Error::NotFound {
            record: String::new(),
            path: self.describe(path),
        }
    }

    /// Checks, once per backend, that create-only writes are honoured.
    fn check_conditional(&self) -> Result<()> {
        if !self.probe {
            return Ok(());
        }
        let mut verdict = self.conditional.lock().unwrap_or_else(|p| p.into_inner());
        if verdict.is_none() {
            // Only a definite answer is kept; an I/O error is retried next time.
            *verdict = Some(self.probe_conditional()?);
        }
        match verdict.as_ref() {
            Some(Err(reason)) => Err(Error::Unsupported {
                record: String::new(),
                reason: reason.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// Writes a throwaway object twice with `PutMode::Create`: the second
    /// write must be refused.
    fn probe_conditional(&self) -> Result<std::result::Result<(), String>> {
        let name = format!("{PROBE_PREFIX}{}", uuid::Uuid::new_v4().simple());
        let loc = self.location(&name)?;
        let unsupported = |what: &str| {
            Err(format!(
                "{} {what}; persist needs create-only writes (S3 `If-None-Match: *`) \
                 to give each autoinc number to one record only, so autoinc saves are refused \
                 on this store (records without an autoinc field work)",
                self.url
            ))
        };
        let first = put_create(&self.store, &loc, Bytes::from_static(b"1"));
        let verdict = match first {
            Ok(()) => match put_create(&self.store, &loc, Bytes::from_static(b"2")) {
                Ok(()) => unsupported("accepted a second create-only write of one object"),
                Err(object_store::Error::AlreadyExists { .. })
                | Err(object_store::Error::Precondition { .. }) => Ok(()),
                Err(e) if is_unsupported(&e) => {
                    unsupported(&format!("refused conditional writes ({e})"))
                }
                Err(e) => return Err(self.io(&name, e)),
            },
            Err(e) if is_unsupported(&e) => {
                unsupported(&format!("refused conditional writes ({e})"))
            }
            Err(e) => return Err(self.io(&name, e)),
        };
        let store = self.store.clone();
        let _ = run(async move { store.delete(&loc).await });
        Ok(verdict)
    }
}

impl fmt::Debug for ObjectStoreBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStoreBackend")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Backend for ObjectStoreBackend {
    fn put(&self, path: &str, _durable: bool, write: &mut WriteFn<'_>) -> Result<()> {
        let loc = self.location(path)?;
        let mut upload = Upload {
            store: self.store.clone(),
            location: loc,
            buf: Vec::new(),
            part_size: PART_SIZE,
            parts: 0,
            multipart: None,
            in_flight: None,
        };
        if let Err(e) = write(&mut upload) {
            upload.abort();
            return Err(e.within("", &self.describe(path)));
        }
        upload.finish().map_err(|e| self.io(path, e))
    }

    fn create(&self, path: &str, bytes: &[u8], _durable: bool) -> Result<bool> {
        let loc = self.location(path)?;
        self.check_conditional()?;
        let body = Bytes::copy_from_slice(bytes);
        for _ in 0..CREATE_ATTEMPTS {
            match put_create(&self.store, &loc, body.clone()) {
                Ok(()) => return Ok(true),
                Err(object_store::Error::AlreadyExists { .. })
                | Err(object_store::Error::Precondition { .. }) => {
                    // S3 also answers 409 to a create that lost a race with a
                    // write still in flight; then nothing may be there yet.
                    let store = self.store.clone();
                    let at = loc.clone();
                    match run(async move { store.head(&at).await }) {
                        Ok(_) => return Ok(false),
                        Err(object_store::Error::NotFound { .. }) => continue,
                        Err(e) => return Err(self.io(path, e)),
                    }
                }
                Err(e) if is_unsupported(&e) => {
                    return Err(Error::Unsupported {
                        record: String::new(),
                        reason: format!(
                            "{} refused a create-only write ({e}); persist needs them \
                             (S3 `If-None-Match: *`) for autoinc numbers",
                            self.describe(path)
                        ),
                    })
                }
                Err(e) => return Err(self.io(path, e)),
            }
        }
        // Conflicts every time and still nothing there: say "taken", which can
        // leave a gap in the numbers but never gives one twice.
        Ok(false)
    }

    fn get(&self, path: &str) -> Result<Box<dyn Read + Send>> {
        let loc = self.location(path)?;
        let store = self.store.clone();
        match run(async move { store.get(&loc).await }) {
            Ok(got) => Ok(Box::new(StreamReader {
                stream: Some(got.into_stream()),
                chunk: Bytes::new(),
            })),
            Err(object_store::Error::NotFound { .. }) => Err(self.not_found(path)),
            Err(e) => Err(self.io(path, e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<Entry>> {
        let folder = self.folder(prefix)?;
        let store = self.store.clone();
        let listed = match run(async move { store.list_with_delimiter(folder.as_ref()).await }) {
            Ok(listed) => listed,
            Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(self.io(prefix, e)),
        };
        let mut out = Vec::with_capacity(listed.common_prefixes.len() + listed.objects.len());
        for dir in listed.common_prefixes {
            if let Some(name) = dir.filename() {
                out.push(Entry {
                    name: name.to_owned(),
                    is_dir: true,
                    size: 0,
                    modified: None,
                });
            }
        }
        for obj in listed.objects {
            if let Some(name) = obj.location.filename() {
                out.push(Entry {
                    name: name.to_owned(),
                    is_dir: false,
                    size: obj.size,
                    modified: Some(SystemTime::from(obj.last_modified)),
                });
            }
        }
        Ok(out)
    }

    fn delete(&self, path: &str) -> Result<()> {
        let loc = self.location(path)?;
        let store = self.store.clone();
        match run(async move { store.delete(&loc).await }) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.io(path, e)),
        }
    }

    fn delete_all(&self, prefix: &str) -> Result<()> {
        let folder = self.folder(prefix)?;
        let store = self.store.clone();
        let res = run(async move {
            let objects = store
                .list(folder.as_ref())
                .map_ok(|meta| meta.location)
                .boxed();
            store
                .delete_stream(objects)
                .try_for_each(|_| async { Ok(()) })
                .await
        });
        match res {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.io(prefix, e)),
        }
    }

    fn copy(&self, from: &str, to: &str, durable: bool) -> Result<()> {
        let (src, dst) = (self.location(from)?, self.location(to)?);
        let store = self.store.clone();
        match run(async move { store.copy(&src, &dst).await }) {
            Ok(()) => Ok(()),
            Err(object_store::Error::NotFound { .. }) => Err(self.not_found(from)),
            // A server without server-side copy, or an object over its copy
            // limit (5 GB on S3): stream the bytes through this process.
            Err(_) => {
                let mut source = self.get(from)?;
                self.put(to, durable, &mut |w| {
                    io::copy(&mut source, w).map_err(Error::io)?;
                    Ok(())
                })
            }
        }
    }

    fn describe(&self, path: &str) -> String {
        if path.is_empty() {
            self.url.clone()
        } else {
            format!("{}/{path}", self.url)
        }
    }
}

/// One `PUT` with `PutMode::Create`.
fn put_create(
    store: &Arc<dyn ObjectStore>,
    loc: &Path,
    body: Bytes,
) -> std::result::Result<(), object_store::Error> {
    let store = store.clone();
    let loc = loc.clone();
    run(async move {
        store
            .put_opts(
                &loc,
                PutPayload::from(body),
                PutOptions::from(PutMode::Create),
            )
            .await
            .map(|_| ())
    })
}

fn is_unsupported(e: &object_store::Error) -> bool {
    matches!(
        e,
        object_store::Error::NotImplemented { .. } | object_store::Error::NotSupported { .. }
    )
}

fn parse_path(full: &str) -> Result<Path> {
    Path::parse(full).map_err(|e| Error::InvalidKey {
        record: String::new(),
        reason: format!("`{full}` is not a valid object path: {e}"),
    })
}

fn to_io(e: object_store::Error) -> io::Error {
    let kind = match &e {
        object_store::Error::NotFound { .. } => io::ErrorKind::NotFound,
        object_store::Error::AlreadyExists { .. } => io::ErrorKind::AlreadyExists,
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => io::ErrorKind::PermissionDenied,
        object_store::Error::NotImplemented { .. } | object_store::Error::NotSupported { .. } => {
            io::ErrorKind::Unsupported
        }
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

/// The writer handed to a `put` callback: a single `PUT` if the body fits in
/// one part, else a multipart upload with at most one part in flight while the
/// next is filled (so memory stays at two parts, whatever the size).
struct Upload {
    store: Arc<dyn ObjectStore>,
    location: Path,
    buf: Vec<u8>,
    part_size: usize,
    parts: usize,
    multipart: Option<Box<dyn MultipartUpload>>,
    in_flight: Option<tokio::task::JoinHandle<object_store::Result<()>>>,
}

impl Upload {
    /// Sends the full buffer as the next part, starting the upload if needed.
    fn send_part(&mut self) -> object_store::Result<()> {
        if self.multipart.is_none() {
            let store = self.store.clone();
            let loc = self.location.clone();
            self.multipart = Some(run(async move { store.put_multipart(&loc).await })?);
        }
        self.wait_in_flight()?;
        let body = std::mem::take(&mut self.buf);
        self.parts += 1;
        if self.parts.is_multiple_of(PARTS_PER_SIZE_STEP) {
            self.part_size *= 2;
        }
        let part = self
            .multipart
            .as_mut()
            .expect("started above")
            .put_part(PutPayload::from(body));
        self.in_flight = Some(runtime().spawn(part));
        Ok(())
    }

    fn wait_in_flight(&mut self) -> object_store::Result<()> {
        match self.in_flight.take() {
            Some(handle) => join(handle),
            None => Ok(()),
        }
    }

    fn finish(mut self) -> object_store::Result<()> {
        let Some(mut upload) = self.multipart.take() else {
            let store = self.store.clone();
            let loc = self.location.clone();
            let body = PutPayload::from(std::mem::take(&mut self.buf));
            return run(async move { store.put(&loc, body).await.map(|_| ()) });
        };
        let sent = (|| {
            if !self.buf.is_empty() {
                self.wait_in_flight()?;
                let body = std::mem::take(&mut self.buf);
                self.in_flight = Some(runtime().spawn(upload.put_part(PutPayload::from(body))));
            }
            self.wait_in_flight()
        })();
        let res = match sent {
            Ok(()) => run(async move {
                match upload.complete().await {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        let _ = upload.abort().await;
                        Err(e)
                    }
                }
            }),
            Err(e) => {
                let _ = run(async move { upload.abort().await });
                Err(e)
            }
        };
        res
    }

    /// Gives up: parts already sent are discarded.
    fn abort(mut self) {
        let _ = self.wait_in_flight();
        if let Some(mut upload) = self.multipart.take() {
            let _ = run(async move { upload.abort().await });
        }
    }
}

impl Write for Upload {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.capacity() == 0 {
            self.buf
                .reserve_exact(self.part_size.min(data.len().max(64 << 10)));
        }
        let room = self.part_size - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= self.part_size {
            self.send_part().map_err(to_io)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Parts have a minimum size; everything is sent when the put finishes.
        Ok(())
    }
}

/// A streamed `GET` body as a blocking reader.
struct StreamReader {
    stream: Option<BoxStream<'static, object_store::Result<Bytes>>>,
    chunk: Bytes,
}

impl Read for StreamReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            let Some(mut stream) = self.stream.take() else {
                return Ok(0);
            };
            let (stream, next) = run(async move {
                let next = stream.next().await;
                (stream, next)
            });
            match next {
                Some(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.stream = Some(stream);
                }
                Some(Err(e)) => return Err(to_io(e)),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.chunk.len());
        out[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

impl Drop for StreamReader {
    fn drop(&mut self) {
        // An unread body holds a connection; let the runtime that owns it
        // close it, rather than whatever thread drops the reader.
        if let Some(stream) = self.stream.take() {
            drop(runtime().spawn(async move { drop(stream) }));
        }
    }
}

/// The process's runtime for object-store requests.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("persist-object-store")
            .enable_all()
            .build()
            .expect("persist: cannot start the object-store runtime")
    })
}

/// Runs `fut` on the runtime and waits for it, from any thread.
fn run<F>(fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    join(runtime().spawn(fut))
}

fn join<T>(handle: tokio::task::JoinHandle<T>) -> T {
    match block_on(handle) {
        Ok(v) => v,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("persist: object-store request cancelled: {e}"),
        },
    }
}

/// Waits for a future by parking this thread (no runtime is entered, so this
/// works inside another runtime's context too).
fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

/// Opens the store at `url`; see [`Store::open_url`](crate::Store::open_url).
pub(crate) fn open_url(url: &str) -> Result<crate::Store> {
    use object_store::ObjectStoreScheme;
    let bad = |reason: String| Error::InvalidKey {
        record: String::new(),
        reason: format!("store URL `{url}`: {reason}"),
    };
    let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
    let (scheme, path) = ObjectStoreScheme::parse(&parsed).map_err(|e| bad(e.to_string()))?;
    let build_err = |e: object_store::Error| Error::Io {
        record: String::new(),
        path: url.to_owned(),
        source: to_io(e),
    };
    let store: Arc<dyn ObjectStore> = match scheme {
        ObjectStoreScheme::Local => {
            let dir = parsed
                .to_file_path()
                .map_err(|()| bad("not a local path".into()))?;
            return crate::Store::open(dir);
        }
        ObjectStoreScheme::Memory => Arc::new(object_store::memory::InMemory::new()),
        ObjectStoreScheme::AmazonS3 => Arc::new(
            object_store::aws::AmazonS3Builder::from_env()
                .with_url(url)
                .build()
                .map_err(build_err)?,
        ),
        ObjectStoreScheme::GoogleCloudStorage => Arc::new(
            object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(url)
                .build()
                .map_err(build_err)?,
        ),
        ObjectStoreScheme::MicrosoftAzure => Arc::new(
            object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(url)
                .build()
                .map_err(build_err)?,
        ),
        other => {
            return Err(bad(format!(
                "{other:?} is not supported; use s3://, gs://, az://, memory:/// or file://"
            )))
        }
    };
    let backend = ObjectStoreBackend::new(store, path.as_ref())?.with_url(url);
    Ok(crate::Store::with_backend(backend))
}

/// Not public API: the S3 store of the test suites.
///
/// Reads `PERSIST_TEST_S3_URL` (as `.ci/s3.sh start` prints it, with the
/// `AWS_*` variables). Unset: prints why the test is skipped and returns
/// `None`, unless `CI=true`, where it panics (CI must run the S3 tests). Set:
/// a store under a fresh prefix `<url>/<label>-<uuid>`, so tests never see
/// each other's records.
#[doc(hidden)]
pub fn test_store(label: &str) -> Option<crate::Store> {
    let url = test_url(label)?;
    Some(open_url(&url).unwrap_or_else(|e| panic!("cannot open the test store {url}: {e}")))
}

/// Not public API: the fresh URL [`test_store`] opens, `None` when skipped.
#[doc(hidden)]
pub fn test_url(label: &str) -> Option<String> {
    match std::env::var("PERSIST_TEST_S3_URL") {
        Ok(base) if !base.trim().is_empty() => Some(format!(
            "{}/{label}-{}",
            base.trim().trim_end_matches('/'),
            uuid::Uuid::new_v4().simple()
        )),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "PERSIST_TEST_S3_URL is not set but CI=true: the S3 tests must run in CI \
                     (start a server with `eval \"$(.ci/s3.sh start)\"`)"
                );
            }
            eprintln!(
                "skipping `{label}` on S3: PERSIST_TEST_S3_URL is not set \
                 (run `eval \"$(.ci/s3.sh start)\"` to start a local S3 server)"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ops::Range;

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
        fn list(
            &self,
            prefix: Option<&Path>,
        ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
            self.0.list(prefix)
        }
        async fn list_with_delimiter(
            &self,
            prefix: Option<&Path>,
        ) -> object_store::Result<ListResult> {
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

    #[test]
    fn open_url_forms() {
        let store = open_url("memory:///some/prefix").unwrap();
        let b = store.backend();
        assert_eq!(b.describe("a/b"), "memory:///some/prefix/a/b");
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().display());
        let local = open_url(&url).unwrap();
        assert!(local.backend().local_path("x").is_some());
        assert!(matches!(
            open_url("ftp://host/x"),
            Err(Error::InvalidKey { .. })
        ));
        assert!(matches!(
            open_url("not a url"),
            Err(Error::InvalidKey { .. })
        ));
    }
}
