//! Where bytes live: the small trait every store sits on, and its
//! implementations.
//!
//! Paths are relative, `/`-separated, and made only of components persist built
//! itself (see [`key`](crate::key)), so a backend never has to defend against
//! `..` or absolute paths; it still refuses them.
//!
//! The trait is small on purpose: an atomic put, a read, a one-level listing, a
//! create-if-absent and deletes. Local disk, memory and object storage all fit it.

use std::any::Any;
use std::fmt;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::SystemTime;

use crate::error::{Error, Result};

pub mod local;
pub mod memory;
#[cfg(feature = "object-store")]
pub mod object_store;
mod read_only;

#[cfg(feature = "object-store")]
pub use self::object_store::ObjectStoreBackend;
pub use local::LocalBackend;
pub use memory::MemoryBackend;
pub(crate) use read_only::ReadOnlyBackend;

/// A writer callback handed to [`Backend::put`]: it writes the object's bytes.
pub type WriteFn<'a> = dyn FnMut(&mut dyn Write) -> Result<()> + 'a;

/// What a backend keeps of an object it made with
/// [`create_kept`](Backend::create_kept), so that a
/// [`put_replacing`](Backend::put_replacing) of that object writes it again
/// without looking it up by name: the open file on the local disk, nothing in
/// memory or object storage. Empty by default.
#[derive(Default)]
pub struct Kept(Option<Box<dyn Any + Send>>);

impl Kept {
    /// Keeps `value`, for the backend that made it to [`take`](Kept::take)
    /// back.
    pub fn new<T: Any + Send>(value: T) -> Kept {
        Kept(Some(Box::new(value)))
    }

    /// What is kept, if it is a `T`; nothing is kept afterwards.
    pub fn take<T: Any>(&mut self) -> Option<T> {
        match self.0.take()?.downcast::<T>() {
            Ok(value) => Some(*value),
            Err(other) => {
                self.0 = Some(other);
                None
            }
        }
    }
}

impl fmt::Debug for Kept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Kept(..)"
        } else {
            "Kept(none)"
        })
    }
}

/// One child of a listed prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The child's name (one path component).
    pub name: String,
    /// Whether it is a folder (a common prefix, on object stores).
    pub is_dir: bool,
    /// Its size in bytes (0 for folders).
    pub size: u64,
    /// When it was last written, where the backend knows.
    pub modified: Option<SystemTime>,
}

/// The storage under a [`Store`](crate::Store).
///
/// Implement it to put a store somewhere new (or to inject faults in tests);
/// every method must keep the promise its doc states, since the store's own
/// guarantees (no half-written record visible, no autoinc number given twice)
/// rest on them.
pub trait Backend: Send + Sync + fmt::Debug + 'static {
    /// Creates or replaces the object at `path` with the bytes `write` produces,
    /// atomically: a reader sees the old object or the whole new one, never a
    /// part, also if the process dies during the call. With `durable`, the bytes
    /// and the name are on stable storage when it returns. Missing parent
    /// folders are created.
    fn put(&self, path: &str, durable: bool, write: &mut WriteFn<'_>) -> Result<()>;

    /// Writes a new object at `path`, a name nothing else uses yet and nobody
    /// reads before a later [`put`](Backend::put) names it: a save's record
    /// files, whose names hold a fresh uuid and which only the `meta.json`
    /// written after them makes part of a record.
    ///
    /// It need not be atomic, and that is its point: the local disk writes
    /// the file in place, with no temporary name and rename. If it fails, the
    /// caller deletes `path`; after a crash the partial file is an unnamed
    /// leftover, which `gc` removes. With `durable`, the bytes and the name
    /// are on stable storage when it returns. The default is
    /// [`put`](Backend::put).
    fn put_new(&self, path: &str, durable: bool, write: &mut WriteFn<'_>) -> Result<()> {
        self.put(path, durable, write)
    }

    /// Makes the folder `prefix` (and any missing parents) if it is not
    /// there, and says whether this call made it: `Some(true)` if it did,
    /// `Some(false)` if it was there, `None` where the backend has no folders
    /// (in object storage a prefix exists once an object is under it). A
    /// save calls it for its record's folder first: a folder the save has
    /// just made holds no previous version to look up. With `durable`, a new
    /// folder's name is on stable storage when it returns. The default makes
    /// nothing and returns `None`.
    fn make_dir(&self, _prefix: &str, _durable: bool) -> Result<Option<bool>> {
        Ok(None)
    }

    /// Creates `path` holding `bytes` only if nothing is there. Returns `false`
    /// if something already was. Atomic across processes: of many callers at
    /// once, exactly one gets `true`.
    fn create(&self, path: &str, bytes: &[u8], durable: bool) -> Result<bool>;

    /// [`create`](Backend::create), and what the backend keeps of the new
    /// object for a later [`put_replacing`](Backend::put_replacing) of it
    /// (`None` if something was there already): a lease's file, which its
    /// record's `meta.json` is written into. The local disk keeps the file
    /// open. The default is a `create` that keeps nothing.
    fn create_kept(&self, path: &str, bytes: &[u8], durable: bool) -> Result<Option<Kept>> {
        Ok(self.create(path, bytes, durable)?.then(Kept::default))
    }

    /// Whether [`create`](Backend::create) also makes its object appear whole
    /// at once, as [`put`](Backend::put) does: neither a reader nor a crash
    /// ever finds part of the bytes under the name. So it may write a
    /// `meta.json`, which must never be seen torn: `sync` creates the
    /// `meta.json` of a record the destination had no folder for, so that a
    /// record another writer saved there meanwhile is never replaced
    /// unseen. True in memory and in object storage (one `PUT`); the default,
    /// `false`, suits the local disk, which writes a created file in place.
    fn create_is_atomic(&self) -> bool {
        false
    }

    /// Opens the object at `path` for reading; [`Error::NotFound`] if absent.
    fn get(&self, path: &str) -> Result<Box<dyn Read + Send>>;

    /// The children of the folder `prefix` (`""` is the root), in no particular
    /// order; an empty list if the folder does not exist.
    fn list(&self, prefix: &str) -> Result<Vec<Entry>>;

    /// Removes the object at `path`; not an error if it is absent.
    fn delete(&self, path: &str) -> Result<()>;

    /// Removes the folder `prefix` and everything below it; not an error if it
    /// is absent.
    fn delete_all(&self, prefix: &str) -> Result<()>;

    /// Makes the deletes done in the folder `prefix` survive a power loss (the
    /// local disk fsyncs the folder). Stores whose deletes are durable once
    /// acknowledged need nothing: the default does nothing.
    fn sync_deletes(&self, _prefix: &str) -> Result<()> {
        Ok(())
    }

    /// How `path` is shown in messages (a full file path, a URL).
    fn describe(&self, path: &str) -> String;

    /// The object's file on the local disk, where objects are such files: the
    /// one way the store reaches past this trait to the local disk (`None`,
    /// the default, elsewhere). Where it gives a path, a large record file is
    /// read at positions on several threads instead of as one stream,
    /// [`Lazy::view_mmap`](crate::Lazy::view_mmap) maps files, autoinc claims
    /// start from a counter kept on the key folder, and `gc` ages files by
    /// their status-change time too; the checks [`get`](Backend::get) makes
    /// (no symbolic link, a regular file) apply to those reads as well.
    fn local_path(&self, _path: &str) -> Option<PathBuf> {
        None
    }

    /// The names of the folders among the children of `prefix`: what
    /// [`list`](Backend::list) gives with `is_dir`, for backends that can skip
    /// the sizes and times (a local folder lists names without a `stat` each).
    fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        Ok(self
            .list(prefix)?
            .into_iter()
            .filter(|e| e.is_dir)
            .map(|e| e.name)
            .collect())
    }

    /// Gives the object at `from` a second name `to`, as atomically as
    /// [`put`](Backend::put): a hard link on disk, a server-side copy in object
    /// storage. [`Error::NotFound`] if `from` is gone. A save uses it to keep an
    /// unchanged record file under a name of its own, so that removing the
    /// previous version's files never takes the new version's with it.
    fn copy(&self, from: &str, to: &str, durable: bool) -> Result<()> {
        let mut source = self.get(from)?;
        self.put(to, durable, &mut |w| {
            std::io::copy(&mut source, w).map_err(Error::io)?;
            Ok(())
        })
    }

    /// Gives the object at `from` the name `to` and takes the old name away:
    /// one atomic step on the local disk (a rename) and in memory, so a
    /// reader sees the object under exactly one of the two names. The
    /// default, for stores with no rename (object storage), is a
    /// [`copy`](Backend::copy) then a [`delete`](Backend::delete) of `from`:
    /// a `put` to `from` that lands between the two is deleted with it.
    /// [`Error::NotFound`] if `from` is gone. `to` must be a name nothing else
    /// uses (what is there may be replaced). With `durable`, the change is on
    /// stable storage when it returns. `prune` uses it to take a record's
    /// `meta.json` aside and look at what it took before deleting anything.
    fn rename(&self, from: &str, to: &str, durable: bool) -> Result<()> {
        self.copy(from, to, durable)?;
        self.delete(from)?;
        if durable {
            self.sync_deletes(parent(from))?;
        }
        Ok(())
    }

    /// Creates or replaces the object at `path` as [`put`](Backend::put)
    /// does, and takes away the object at `replaced`, an object of the
    /// caller's own that nothing else writes (a lease, whose `meta.json`
    /// ends it). Readers of `path` see what `put` promises; a reader of
    /// `replaced` may see the new bytes there before it goes.
    ///
    /// The local disk writes the bytes into `replaced`'s file and renames it
    /// to `path`: one file made and one name changed where a `put` and a
    /// `delete` would make a temporary file, rename it and remove
    /// `replaced`. If `replaced` is gone, it is a `put`. `kept` is what
    /// [`create_kept`](Backend::create_kept) kept of `replaced` (empty if the
    /// caller has nothing, or wrote `replaced` again since): the local disk
    /// then writes into the file it holds open, if that file still has a
    /// name, instead of opening `replaced` again. On failure `path` may hold
    /// the old object or the new one, and `replaced` may be gone or hold
    /// part of the new bytes: the caller removes it. The default is a `put`,
    /// then a [`delete`](Backend::delete) of `replaced`.
    fn put_replacing(
        &self,
        path: &str,
        replaced: &str,
        kept: Kept,
        durable: bool,
        write: &mut WriteFn<'_>,
    ) -> Result<()> {
        drop(kept);
        self.put(path, durable, write)?;
        self.delete(replaced)
    }

    /// Creates `to` holding the bytes of the object at `from`, only if
    /// nothing is at `to`; `false` if something already was. As atomic as
    /// [`create`](Backend::create) across callers, and besides a reader of
    /// `to` sees nothing or the whole object, never a part: a hard link on
    /// disk. [`Error::NotFound`] if `from` is gone. `prune` puts back a
    /// `meta.json` it took aside this way, so that it never replaces a newer
    /// save's. The default reads `from` and calls `create` (whole in memory
    /// and in object storage, where a create puts all its bytes at once).
    fn create_from(&self, from: &str, to: &str, durable: bool) -> Result<bool> {
        let bytes = self.read_all(from)?;
        self.create(to, &bytes, durable)
    }

    /// Reads the whole object at `path`.
    fn read_all(&self, path: &str) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.get(path)?
            .read_to_end(&mut buf)
            .map_err(|e| Error::io(e).within("", &self.describe(path)))?;
        Ok(buf)
    }

    /// Reads the whole objects at `paths`: one result per path, in order, each
    /// as [`read_all`](Backend::read_all) gives it. `T::all` reads the
    /// `meta.json` of many records this way. Where each read is a network
    /// round trip the backend overlaps them (object storage sends several
    /// `GET`s at once); the default reads one after another.
    fn read_each(&self, paths: &[String]) -> Vec<Result<Vec<u8>>> {
        paths.iter().map(|path| self.read_all(path)).collect()
    }
}

/// Joins path components with `/`, skipping empty ones.
pub(crate) fn join(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for p in parts.iter().filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(p);
    }
    out
}

/// The folder holding `path` (`""` for a name at the root).
pub(crate) fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// Checks that a relative path has only plain components.
pub(crate) fn check_rel(path: &str) -> Result<()> {
    let bad = path.starts_with('/')
        || path.contains('\0')
        || path.contains('\\')
        || path.split('/').any(|c| c == ".." || c == ".");
    if bad {
        return Err(Error::InvalidKey {
            record: String::new(),
            reason: format!("path `{path}` is not a plain relative path"),
        });
    }
    Ok(())
}
