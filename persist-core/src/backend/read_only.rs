//! [`ReadOnlyBackend`]: a backend with every write refused, under a store
//! with [`Policy::ReadOnly`](crate::Policy::ReadOnly).
//!
//! The user methods refuse writes themselves, with the record's name; this
//! wrapper is what makes "nothing is ever written" hold for every other path
//! too (maintenance, leases, whatever a later feature adds).

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use super::{Backend, Entry, WriteFn};
use crate::error::{Error, Result};

/// Reads through to `inner`; every write is [`Error::ReadOnly`].
#[derive(Debug)]
pub(crate) struct ReadOnlyBackend {
    inner: Arc<dyn Backend>,
}

impl ReadOnlyBackend {
    pub(crate) fn new(inner: Arc<dyn Backend>) -> ReadOnlyBackend {
        ReadOnlyBackend { inner }
    }

    fn refuse<T>(&self, path: &str) -> Result<T> {
        Err(Error::ReadOnly {
            record: String::new(),
            path: self.inner.describe(path),
        })
    }
}

impl Backend for ReadOnlyBackend {
    fn put(&self, path: &str, _durable: bool, _write: &mut WriteFn<'_>) -> Result<()> {
        self.refuse(path)
    }

    fn put_new(&self, path: &str, _durable: bool, _write: &mut WriteFn<'_>) -> Result<()> {
        self.refuse(path)
    }

    fn make_dir(&self, prefix: &str, _durable: bool) -> Result<Option<bool>> {
        self.refuse(prefix)
    }

    fn create(&self, path: &str, _bytes: &[u8], _durable: bool) -> Result<bool> {
        self.refuse(path)
    }

    fn get(&self, path: &str) -> Result<Box<dyn Read + Send>> {
        self.inner.get(path)
    }

    fn list(&self, prefix: &str) -> Result<Vec<Entry>> {
        self.inner.list(prefix)
    }

    fn delete(&self, path: &str) -> Result<()> {
        self.refuse(path)
    }

    fn delete_all(&self, prefix: &str) -> Result<()> {
        self.refuse(prefix)
    }

    fn describe(&self, path: &str) -> String {
        self.inner.describe(path)
    }

    fn local_path(&self, path: &str) -> Option<PathBuf> {
        self.inner.local_path(path)
    }

    fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        self.inner.list_dirs(prefix)
    }

    fn copy(&self, _from: &str, to: &str, _durable: bool) -> Result<()> {
        self.refuse(to)
    }

    fn rename(&self, from: &str, _to: &str, _durable: bool) -> Result<()> {
        self.refuse(from)
    }

    fn create_from(&self, _from: &str, to: &str, _durable: bool) -> Result<bool> {
        self.refuse(to)
    }

    fn read_all(&self, path: &str) -> Result<Vec<u8>> {
        self.inner.read_all(path)
    }

    fn read_each(&self, paths: &[String]) -> Vec<Result<Vec<u8>>> {
        self.inner.read_each(paths)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryBackend;

    #[test]
    fn reads_pass_and_every_write_is_refused() {
        let inner: Arc<dyn Backend> = Arc::new(MemoryBackend::default());
        inner
            .put("a/x", false, &mut |w| w.write_all(b"1").map_err(Error::io))
            .unwrap();
        let ro = ReadOnlyBackend::new(inner.clone());
        assert_eq!(ro.read_all("a/x").unwrap(), b"1");
        assert_eq!(ro.list_dirs("").unwrap(), vec!["a".to_owned()]);
        let refused = |r: Result<()>| assert!(matches!(r, Err(Error::ReadOnly { .. })), "{r:?}");
        refused(ro.put("a/y", false, &mut |_| Ok(())));
        refused(ro.put_new("a/y", false, &mut |_| Ok(())));
        refused(ro.create("a/y", b"", false).map(drop));
        refused(ro.make_dir("b", false).map(drop));
        refused(ro.copy("a/x", "a/y", false));
        refused(ro.delete("a/x"));
        refused(ro.delete_all("a"));
        assert_eq!(inner.read_all("a/x").unwrap(), b"1");
        assert!(matches!(inner.get("a/y"), Err(Error::NotFound { .. })));
    }
}
