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

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{MultipartUpload, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use super::{check_rel, Backend, Entry, WriteFn};
use runtime::{join, run, runtime};

mod runtime;
use crate::error::{Error, Result};

/// Bodies up to this size go in one `PUT`; larger ones in parts of this size.
/// (S3 wants parts of at least 5 MiB, except the last.)
const PART_SIZE: usize = 8 << 20;

/// Parts per multipart upload before the part size grows (S3 allows 10 000).
const PARTS_PER_SIZE_STEP: usize = 1000;

/// Parts of one multipart upload sent at once while the next is filled: one
/// `PUT` at a time leaves the link idle between parts (a 256 MiB save took
/// twice as long as a raw upload with several in flight).
const PARTS_IN_FLIGHT: usize = 4;

/// `GET`s [`Backend::read_each`] keeps in flight.
const READS_IN_FLIGHT: usize = 32;

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
            in_flight: VecDeque::new(),
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

    fn create_is_atomic(&self) -> bool {
        // One `PUT`, which replaces nothing and is visible whole or not at all.
        true
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

    fn read_each(&self, paths: &[String]) -> Vec<Result<Vec<u8>>> {
        let locations: Vec<Result<Path>> = paths.iter().map(|p| self.location(p)).collect();
        let wanted: Vec<Option<Path>> =
            locations.iter().map(|l| l.as_ref().ok().cloned()).collect();
        let store = self.store.clone();
        // One result per path, in order, READS_IN_FLIGHT requests at a time.
        let got = run(async move {
            futures_util::stream::iter(wanted)
                .map(|loc| {
                    let store = store.clone();
                    async move {
                        let loc = loc?;
                        Some(match store.get(&loc).await {
                            Ok(found) => found.bytes().await,
                            Err(e) => Err(e),
                        })
                    }
                })
                .buffered(READS_IN_FLIGHT)
                .collect::<Vec<_>>()
                .await
        });
        paths
            .iter()
            .zip(locations)
            .zip(got)
            .map(|((path, location), got)| match (location, got) {
                (Err(e), _) => Err(e),
                (Ok(_), Some(Ok(bytes))) => Ok(Vec::from(bytes)),
                (Ok(_), Some(Err(object_store::Error::NotFound { .. }))) => {
                    Err(self.not_found(path))
                }
                (Ok(_), Some(Err(e))) => Err(self.io(path, e)),
                (Ok(_), None) => self.read_all(path),
            })
            .collect()
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

pub(crate) fn to_io(e: object_store::Error) -> io::Error {
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
/// one part, else a multipart upload with up to [`PARTS_IN_FLIGHT`] parts in
/// flight while the next is filled (so memory stays at that many parts and
/// one more, whatever the size).
struct Upload {
    store: Arc<dyn ObjectStore>,
    location: Path,
    buf: Vec<u8>,
    part_size: usize,
    parts: usize,
    multipart: Option<Box<dyn MultipartUpload>>,
    /// Parts being sent, oldest first.
    in_flight: VecDeque<tokio::task::JoinHandle<object_store::Result<()>>>,
}

impl Upload {
    /// Sends the full buffer as the next part, starting the upload if needed.
    fn send_part(&mut self) -> object_store::Result<()> {
        if self.multipart.is_none() {
            let store = self.store.clone();
            let loc = self.location.clone();
            self.multipart = Some(run(async move { store.put_multipart(&loc).await })?);
        }
        self.make_room()?;
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
        self.in_flight.push_back(runtime().spawn(part));
        Ok(())
    }

    /// Waits for the oldest parts until fewer than [`PARTS_IN_FLIGHT`] are sent.
    fn make_room(&mut self) -> object_store::Result<()> {
        while self.in_flight.len() >= PARTS_IN_FLIGHT {
            if let Some(oldest) = self.in_flight.pop_front() {
                join(oldest)?;
            }
        }
        Ok(())
    }

    /// Waits for every part in flight; the first error, after all are done.
    fn wait_in_flight(&mut self) -> object_store::Result<()> {
        let mut res = Ok(());
        for handle in std::mem::take(&mut self.in_flight) {
            let done = join(handle);
            if res.is_ok() {
                res = done;
            }
        }
        res
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
                self.make_room()?;
                let body = std::mem::take(&mut self.buf);
                self.in_flight
                    .push_back(runtime().spawn(upload.put_part(PutPayload::from(body))));
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
                // Parts still in flight would otherwise race the abort.
                let _ = self.wait_in_flight();
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

#[cfg(test)]
mod tests;
