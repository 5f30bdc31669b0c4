//! Objects in memory: for tests and for results that need not outlive the
//! process. Same semantics as the disk, without the disk.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use super::{check_rel, Backend, Entry, Kept, WriteFn};
use crate::error::{Error, Result};

type Objects = BTreeMap<String, (Arc<Vec<u8>>, SystemTime)>;

/// A store held in memory; clones share the same objects.
///
/// ```
/// use persist_core::backend::{Backend, MemoryBackend};
/// let m = MemoryBackend::default();
/// assert!(m.create("claim", b"1", false)?);
/// assert!(!m.create("claim", b"2", false)?);
/// # Ok::<(), persist_core::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryBackend {
    objects: Arc<Mutex<Objects>>,
}

impl MemoryBackend {
    fn lock(&self) -> MutexGuard<'_, Objects> {
        // A panic while holding the lock cannot leave a half-made object (we
        // insert whole values), so a poisoned map is still consistent.
        self.objects.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn dir_prefix(prefix: &str) -> String {
    if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    }
}

impl Backend for MemoryBackend {
    fn put(&self, path: &str, _durable: bool, write: &mut WriteFn<'_>) -> Result<()> {
        check_rel(path)?;
        let mut buf = Vec::new();
        write(&mut buf).map_err(|e| e.within("", &self.describe(path)))?;
        self.lock()
            .insert(path.to_owned(), (Arc::new(buf), SystemTime::now()));
        Ok(())
    }

    fn put_replacing(
        &self,
        path: &str,
        replaced: &str,
        _kept: Kept,
        _durable: bool,
        write: &mut WriteFn<'_>,
    ) -> Result<()> {
        check_rel(path)?;
        check_rel(replaced)?;
        let mut buf = Vec::new();
        write(&mut buf).map_err(|e| e.within("", &self.describe(path)))?;
        // One step under the lock: `replaced` goes as the new object comes.
        let mut objects = self.lock();
        objects.insert(path.to_owned(), (Arc::new(buf), SystemTime::now()));
        objects.remove(replaced);
        Ok(())
    }

    fn create(&self, path: &str, bytes: &[u8], _durable: bool) -> Result<bool> {
        check_rel(path)?;
        let mut objects = self.lock();
        if objects.contains_key(path) {
            return Ok(false);
        }
        objects.insert(
            path.to_owned(),
            (Arc::new(bytes.to_vec()), SystemTime::now()),
        );
        Ok(true)
    }

    fn create_is_atomic(&self) -> bool {
        // The bytes go in under the lock, all at once.
        true
    }

    fn get(&self, path: &str) -> Result<Box<dyn Read + Send>> {
        check_rel(path)?;
        match self.lock().get(path) {
            Some((bytes, _)) => Ok(Box::new(Cursor::new(ArcBytes(bytes.clone())))),
            None => Err(Error::NotFound {
                record: String::new(),
                path: self.describe(path),
            }),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<Entry>> {
        check_rel(prefix)?;
        let start = dir_prefix(prefix);
        let objects = self.lock();
        let mut out: Vec<Entry> = Vec::new();
        for (path, (bytes, time)) in objects.range(start.clone()..) {
            let Some(rest) = path.strip_prefix(&start) else {
                break;
            };
            match rest.split_once('/') {
                Some((dir, _)) => {
                    if out.last().is_none_or(|e| e.name != dir) {
                        out.push(Entry {
                            name: dir.to_owned(),
                            is_dir: true,
                            size: 0,
                            modified: Some(*time),
                        });
                    }
                }
                None => out.push(Entry {
                    name: rest.to_owned(),
                    is_dir: false,
                    size: bytes.len() as u64,
                    modified: Some(*time),
                }),
            }
        }
        Ok(out)
    }

    fn delete(&self, path: &str) -> Result<()> {
        check_rel(path)?;
        self.lock().remove(path);
        Ok(())
    }

    fn delete_all(&self, prefix: &str) -> Result<()> {
        check_rel(prefix)?;
        let start = dir_prefix(prefix);
        self.lock().retain(|k, _| !k.starts_with(&start));
        Ok(())
    }

    fn copy(&self, from: &str, to: &str, _durable: bool) -> Result<()> {
        check_rel(from)?;
        check_rel(to)?;
        let mut objects = self.lock();
        let Some((bytes, _)) = objects.get(from).cloned() else {
            return Err(Error::NotFound {
                record: String::new(),
                path: self.describe(from),
            });
        };
        objects.insert(to.to_owned(), (bytes, SystemTime::now()));
        Ok(())
    }

    fn rename(&self, from: &str, to: &str, _durable: bool) -> Result<()> {
        check_rel(from)?;
        check_rel(to)?;
        let mut objects = self.lock();
        let Some(object) = objects.remove(from) else {
            return Err(Error::NotFound {
                record: String::new(),
                path: self.describe(from),
            });
        };
        objects.insert(to.to_owned(), object);
        Ok(())
    }

    fn describe(&self, path: &str) -> String {
        format!("memory:/{path}")
    }
}

/// Shares the object's bytes with the reader instead of copying them.
struct ArcBytes(Arc<Vec<u8>>);
impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}
