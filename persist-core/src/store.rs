//! [`Store`]: where records are kept, and how carefully.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::backend::{Backend, LocalBackend, MemoryBackend};
use crate::error::Result;

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
/// # Ok::<(), persist_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    durable: bool,
    verify: bool,
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

    /// A store on any [`Backend`] (your own, or one wrapped to inject faults).
    pub fn with_backend(backend: impl Backend) -> Store {
        Store::from_shared_backend(Arc::new(backend))
    }

    /// A store on a backend already shared elsewhere.
    pub fn from_shared_backend(backend: Arc<dyn Backend>) -> Store {
        Store {
            backend,
            durable: true,
            verify: true,
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

    /// Whether saves fsync.
    pub fn is_durable(&self) -> bool {
        self.durable
    }

    /// Whether reads check checksums.
    pub fn is_verifying(&self) -> bool {
        self.verify
    }

    /// The backend under this store.
    pub fn backend(&self) -> &dyn Backend {
        &*self.backend
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
            .finish()
    }
}
