//! [`Store`]: where records are kept, and how carefully.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::backend::{Backend, LocalBackend, MemoryBackend, ReadOnlyBackend};
use crate::error::{Error, Result};

mod policy;
pub use policy::Policy;

use crate::stats::{Counters, Stats};

/// The lease time of [`Store::lease_ttl`]'s default.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);

/// The shortest lease time a store takes: [`Store::lease_ttl`] raises
/// shorter ones to it.
pub(crate) const MIN_LEASE_TTL: Duration = Duration::from_millis(1);

#[cfg(feature = "object-store")]
mod url;

/// A place that keeps records: a folder on disk, memory, or (with the
/// `object-store` feature) a bucket.
///
/// `Store` is cheap to clone; clones share one backend. The options
/// [`durable`](Store::durable) and [`verify`](Store::verify) return a store
/// that shares the backend with other settings.
///
/// ```
/// use persist_core::Store;
/// let dir = tempfile::tempdir()?;
/// let store = Store::open(dir.path().join("results"))?;   // created if missing
/// let fast = store.clone().durable(false);                 // same folder, no fsync
/// assert!(store.is_durable() && !fast.is_durable());
/// let scratch = Store::memory();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    /// The run policy; with `Policy::ReadOnly`, `guarded` is `backend` behind
    /// a wrapper that refuses every write, and the store hands that out.
    policy: Policy,
    guarded: Option<Arc<dyn Backend>>,
    durable: bool,
    verify: bool,
    lease_ttl: Duration,
    wait_timeout: Option<Duration>,
    counters: Arc<Counters>,
}

impl Store {
    /// A store in the folder `path`, created if missing.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Ok(Store::with_backend(LocalBackend::new(path)?))
    }

    /// A store in memory, gone with the process. Clones share it.
    pub fn memory() -> Store {
        Store::with_backend(MemoryBackend::default())
    }

    /// A store in object storage, from a URL (with the `object-store` feature).
    ///
    /// | URL | where |
    /// |---|---|
    /// | `s3://bucket/prefix` (also `s3a://`, `https://s3.<region>.amazonaws.com/bucket/prefix`) | Amazon S3 or any S3-compatible server |
    /// | `gs://bucket/prefix` | Google Cloud Storage |
    /// | `az://container/prefix` (also `abfs://`, `azure://`) | Azure Blob Storage |
    /// | `memory:///` | a fresh in-memory object store (tests) |
    /// | `file:///path` | the same as [`Store::open`] |
    ///
    /// The prefix may be empty (the bucket's root). Credentials, region and
    /// endpoint come from the environment, read as `object_store`'s
    /// `AmazonS3Builder::from_env` (`GoogleCloudStorageBuilder::from_env`,
    /// `MicrosoftAzureBuilder::from_env`) reads them: `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` /
    /// `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL` (an S3-compatible server such as
    /// MinIO, Garage or moto) and `AWS_ALLOW_HTTP=true` (a server without TLS),
    /// or instance / container / web-identity credentials.
    ///
    /// Saving an `#[autoinc]` record needs create-only writes
    /// (`If-None-Match: *`); on a server that does not honour them those saves
    /// fail with [`Error::Unsupported`](crate::Error::Unsupported). The calls
    /// stay blocking: requests run on a small runtime inside persist, so they
    /// may also be made from inside a tokio runtime (where they block that
    /// thread; use `spawn_blocking`). See
    /// [`ObjectStoreBackend`](crate::backend::ObjectStoreBackend) for what each
    /// call costs in requests.
    ///
    /// ```no_run
    /// use persist_core::Store;
    /// // AWS_ENDPOINT_URL=http://127.0.0.1:9000 AWS_ALLOW_HTTP=true AWS_ACCESS_KEY_ID=… …
    /// let store = Store::open_url("s3://my-bucket/results")?;
    /// # Ok::<(), persist_core::Error>(())
    /// ```
    #[cfg(feature = "object-store")]
    pub fn open_url(url: &str) -> Result<Store> {
        Ok(Store::from_shared_backend(url::backend(url)?))
    }

    /// A store in the folder `prefix` (`""` for the root) of an object store
    /// you configured yourself (with the `object-store` feature). The
    /// [`object_store`] crate is re-exported as `persist_core::object_store`
    /// so you can match its version.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use persist_core::{object_store, Store};
    /// let bucket = Arc::new(object_store::memory::InMemory::new());
    /// let store = Store::from_object_store(bucket, "results")?;
    /// # Ok::<(), persist_core::Error>(())
    /// ```
    #[cfg(feature = "object-store")]
    pub fn from_object_store(
        store: std::sync::Arc<dyn ::object_store::ObjectStore>,
        prefix: &str,
    ) -> Result<Store> {
        Ok(Store::with_backend(
            crate::backend::ObjectStoreBackend::new(store, prefix)?,
        ))
    }

    /// A store on any [`Backend`] (your own, or one wrapped to inject faults).
    pub fn with_backend(backend: impl Backend) -> Store {
        Store::from_shared_backend(Arc::new(backend))
    }

    /// A store on a backend already shared elsewhere.
    pub fn from_shared_backend(backend: Arc<dyn Backend>) -> Store {
        Store {
            backend,
            policy: Policy::Normal,
            guarded: None,
            durable: true,
            verify: true,
            lease_ttl: DEFAULT_LEASE_TTL,
            wait_timeout: None,
            counters: Arc::default(),
        }
    }

    /// With `true` (the default), files and folders are fsynced before a save
    /// returns, so a saved record survives a power loss. With `false` a crash of
    /// the process still never shows a half-written record, but a power loss may;
    /// `persist verify` finds it.
    pub fn durable(mut self, on: bool) -> Store {
        self.durable = on;
        self
    }

    /// With `true` (the default), every record file is checked against the
    /// blake3 stored for it when it is read.
    pub fn verify(mut self, on: bool) -> Store {
        self.verify = on;
        self
    }

    /// The run policy: whether `load_or_compute` loads, recomputes, or may
    /// not write at all (see [`Policy`]). The store returned shares the
    /// backend; other clones keep their own policy.
    ///
    /// ```
    /// use persist_core::{Error, Persistence, Policy, Store};
    /// #[derive(Persistence)]
    /// struct Fit { #[key] dataset: String, rmse: f64 }
    ///
    /// let store = Store::memory();
    /// let read_only = store.clone().policy(Policy::ReadOnly);
    /// let err = Fit::new("iris").save(&read_only).unwrap_err();
    /// assert!(matches!(err, Error::ReadOnly { .. }));
    /// Fit::new("iris").save(&store)?;                      // the original still writes
    /// assert!(Fit::new("iris").load(&read_only).is_ok());  // and the read-only one sees it
    /// # Ok::<(), persist_core::Error>(())
    /// ```
    pub fn policy(mut self, policy: Policy) -> Store {
        self.guarded = policy
            .is_read_only()
            .then(|| Arc::new(ReadOnlyBackend::new(self.backend.clone())) as Arc<dyn Backend>);
        self.policy = policy;
        self
    }

    /// The run policy set with [`policy`](Store::policy).
    pub fn current_policy(&self) -> &Policy {
        &self.policy
    }

    /// [`Error::ReadOnly`] naming `record` and the store path `path` under
    /// [`Policy::ReadOnly`]; called before a write starts, so that nothing
    /// (an autoinc counter either) is touched.
    pub(crate) fn check_writable(&self, record: &str, path: &str) -> Result<()> {
        if self.policy.is_read_only() {
            return Err(Error::ReadOnly {
                record: record.to_owned(),
                path: self.backend.describe(path),
            });
        }
        Ok(())
    }

    /// How long the lease of a computation in
    /// [`load_or_compute`](crate::Persistence::load_or_compute) lives without
    /// being renewed (default 30 s; the holder renews it every third of this
    /// while the computation runs). A holder that dies (killed, its machine
    /// lost) is taken over by one waiter once its lease is this old. Every
    /// process sharing a store should use the same value; a zero is taken as
    /// one millisecond.
    ///
    /// ```
    /// use std::time::Duration;
    /// let store = persist_core::Store::memory().lease_ttl(Duration::from_secs(5));
    /// assert_eq!(store.lease_time(), Duration::from_secs(5));
    /// ```
    pub fn lease_ttl(mut self, ttl: Duration) -> Store {
        self.lease_ttl = ttl.max(MIN_LEASE_TTL);
        self
    }

    /// How long [`load_or_compute`](crate::Persistence::load_or_compute) waits
    /// for another thread, process or machine computing the same key before it
    /// gives up with [`Error::Timeout`](crate::Error::Timeout). The default is
    /// no limit (a dead holder is still taken over after
    /// [`lease_ttl`](Store::lease_ttl)).
    pub fn wait_timeout(mut self, timeout: Duration) -> Store {
        self.wait_timeout = Some(timeout);
        self
    }

    /// The lease time set by [`lease_ttl`](Store::lease_ttl).
    pub fn lease_time(&self) -> Duration {
        self.lease_ttl
    }

    /// The limit set by [`wait_timeout`](Store::wait_timeout), if any.
    pub fn wait_limit(&self) -> Option<Duration> {
        self.wait_timeout
    }

    /// What this store and its clones did since it was opened: records
    /// loaded, computed and saved, waits for other holders, bytes read and
    /// written. See [`Stats`].
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Whether saves fsync.
    pub fn is_durable(&self) -> bool {
        self.durable
    }

    /// Whether reads check checksums.
    pub fn is_verifying(&self) -> bool {
        self.verify
    }

    /// The folder or file at `location` (a place
    /// [`Persistence::location`](crate::Persistence::location) gave, or a path
    /// below one) on the local disk, or `None` where the store is not on the
    /// local disk (memory, object storage) or `location` is not a plain
    /// relative path. For handing a record's folder to another program; write
    /// into it only through persist.
    ///
    /// ```
    /// use persist_core::{Persistence, Store};
    /// #[derive(Persistence)]
    /// struct Fit { #[key] dataset: String, rmse: f64 }
    ///
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(dir.path())?;
    /// let mut fit = Fit::new("iris");
    /// fit.save(&store)?;
    /// let place = fit.location(&store)?;
    /// assert_eq!(store.local_path(&place), Some(dir.path().join(&place)));
    /// assert_eq!(Store::memory().local_path(&place), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local_path(&self, location: &str) -> Option<PathBuf> {
        self.backend.local_path(location)
    }

    /// The backend under this store.
    pub fn backend(&self) -> &dyn Backend {
        self.guarded.as_deref().unwrap_or(&*self.backend)
    }

    /// Tells backends apart within the process (its address): leases of one
    /// backend are coordinated in memory between threads.
    pub(crate) fn backend_id(&self) -> usize {
        Arc::as_ptr(&self.backend).cast::<()>() as usize
    }

    /// Whether two stores share one backend (clones of one store do).
    pub fn same_backend(&self, other: &Store) -> bool {
        Arc::ptr_eq(&self.backend, &other.backend)
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("durable", &self.durable)
            .field("verify", &self.verify)
            .field("policy", &self.policy)
            .field("lease_ttl", &self.lease_ttl)
            .field("wait_timeout", &self.wait_timeout)
            .finish()
    }
}
