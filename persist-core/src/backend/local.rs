//! A folder on the local disk.
//!
//! Puts go to a temporary file beside the target (never in `/tmp`: a rename
//! across file systems is not atomic), are flushed, then renamed over the
//! target; with `durable`, the file and its folder are fsynced so the rename
//! survives a power loss. Claims use `create_new` (`O_EXCL`), which the kernel
//! makes atomic across processes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::{check_rel, Backend, Entry, WriteFn};
use crate::error::{Error, Result};

/// Prefix of in-flight temporary files; `gc` removes old ones.
pub const TEMP_PREFIX: &str = ".tmp-";

/// The bytes of a write buffer: large enough that array payloads go to the
/// kernel in a few big writes.
const BUF_SIZE: usize = 1 << 20;

/// A store folder on the local disk.
///
/// ```
/// use persist_core::backend::{Backend, LocalBackend};
/// let dir = tempfile::tempdir()?;
/// let backend = LocalBackend::new(dir.path())?;
/// backend.put("a/b.txt", false, &mut |w| Ok(w.write_all(b"hi").map_err(persist_core::Error::io)?))?;
/// assert_eq!(backend.read_all("a/b.txt")?, b"hi");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct LocalBackend {
    root: PathBuf,
}

impl LocalBackend {
    /// Uses the folder `root`, creating it if missing.
    pub fn new(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        fs::create_dir_all(&root).map_err(|e| io_err(e, &root))?;
        Ok(LocalBackend { root })
    }

    /// The store folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn full(&self, path: &str) -> Result<PathBuf> {
        check_rel(path)?;
        Ok(if path.is_empty() {
            self.root.clone()
        } else {
            self.root.join(path)
        })
    }

    /// Creates `dir` and any missing parents; with `durable`, fsyncs the parent
    /// of each folder created so its name is on disk too.
    fn ensure_dir(&self, dir: &Path, durable: bool) -> Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        if let Some(parent) = dir.parent() {
            self.ensure_dir(parent, durable)?;
        }
        match fs::create_dir(dir) {
            Ok(()) => {
                if durable {
                    if let Some(parent) = dir.parent() {
                        sync_dir(parent)?;
                    }
                }
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
            Err(e) => Err(io_err(e, dir)),
        }
    }
}

impl Backend for LocalBackend {
    fn put(&self, path: &str, durable: bool, write: &mut WriteFn<'_>) -> Result<()> {
        let target = self.full(path)?;
        let dir = parent_of(&target)?;
        self.ensure_dir(dir, durable)?;
        let tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(dir)
            .map_err(|e| io_err(e, dir))?;
        {
            let mut w = BufWriter::with_capacity(BUF_SIZE, tmp.as_file());
            write(&mut w).map_err(|e| e.within("", &target.display().to_string()))?;
            w.flush().map_err(|e| io_err(e, &target))?;
        }
        if durable {
            tmp.as_file().sync_all().map_err(|e| io_err(e, &target))?;
        }
        tmp.persist(&target).map_err(|e| io_err(e.error, &target))?;
        if durable {
            sync_dir(dir)?;
        }
        Ok(())
    }

    fn create(&self, path: &str, bytes: &[u8], durable: bool) -> Result<bool> {
        let target = self.full(path)?;
        let dir = parent_of(&target)?;
        self.ensure_dir(dir, durable)?;
        let mut file = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(io_err(e, &target)),
        };
        file.write_all(bytes).map_err(|e| io_err(e, &target))?;
        if durable {
            file.sync_all().map_err(|e| io_err(e, &target))?;
            sync_dir(dir)?;
        }
        Ok(true)
    }

    fn get(&self, path: &str) -> Result<Box<dyn Read + Send>> {
        let full = self.full(path)?;
        let shown = full.display().to_string();
        // persist never writes symlinks or folders where it reads files: either
        // is damage (or a link planted to reach outside the store).
        match fs::symlink_metadata(&full) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(
                    Error::corrupt("is a symbolic link; a store holds none").within("", &shown)
                )
            }
            Ok(m) if !m.is_file() => {
                return Err(Error::corrupt("is not a regular file").within("", &shown))
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::NotFound {
                    record: String::new(),
                    path: shown,
                })
            }
            Err(e) => return Err(io_err(e, &full)),
        }
        match File::open(&full) {
            Ok(f) => Ok(Box::new(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::NotFound {
                record: String::new(),
                path: shown,
            }),
            Err(e) => Err(io_err(e, &full)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<Entry>> {
        let dir = self.full(prefix)?;
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => return Ok(Vec::new()),
            Err(e) => return Err(io_err(e, &dir)),
        };
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| io_err(e, &dir))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue; // not a name persist wrote
            };
            // A child removed between readdir and stat is simply gone.
            let Ok(meta) = entry.metadata() else { continue };
            out.push(Entry {
                name,
                is_dir: meta.is_dir(),
                size: if meta.is_dir() { 0 } else { meta.len() },
                modified: meta.modified().ok(),
            });
        }
        Ok(out)
    }

    fn delete(&self, path: &str) -> Result<()> {
        let full = self.full(path)?;
        match fs::remove_file(&full) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(e, &full)),
        }
    }

    fn delete_all(&self, prefix: &str) -> Result<()> {
        let full = self.full(prefix)?;
        match fs::remove_dir_all(&full) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(e, &full)),
        }
    }

    fn copy(&self, from: &str, to: &str, durable: bool) -> Result<()> {
        let source = self.full(from)?;
        let target = self.full(to)?;
        let dir = parent_of(&target)?;
        self.ensure_dir(dir, durable)?;
        match fs::hard_link(&source, &target) {
            Ok(()) => {
                if durable {
                    sync_dir(dir)?;
                }
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::NotFound {
                record: String::new(),
                path: source.display().to_string(),
            }),
            // File systems without hard links: copy the bytes through a temp file.
            Err(_) => {
                let mut reader = self.get(from)?;
                self.put(to, durable, &mut |w| {
                    io::copy(&mut reader, w).map_err(Error::io)?;
                    Ok(())
                })
            }
        }
    }

    fn describe(&self, path: &str) -> String {
        self.root.join(path).display().to_string()
    }

    fn local_path(&self, path: &str) -> Option<PathBuf> {
        self.full(path).ok()
    }
}

fn parent_of(path: &Path) -> Result<&Path> {
    path.parent().ok_or_else(|| Error::InvalidKey {
        record: String::new(),
        reason: format!("{} has no parent folder", path.display()),
    })
}

/// Fsyncs a folder so the names in it (a rename, a new file) are durable.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(e, dir))
}

fn io_err(source: io::Error, path: &Path) -> Error {
    Error::Io {
        record: String::new(),
        path: path.display().to_string(),
        source,
    }
}
