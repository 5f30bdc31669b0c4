//! A folder on the local disk.
//!
//! Puts go to a temporary file beside the target (never in `/tmp`: a rename
//! across file systems is not atomic), are flushed, then renamed over the
//! target; with `durable`, the file and its folder are fsynced so the rename
//! survives a power loss. A save's record files, which nobody reads before
//! `meta.json` names them, are written in place under their new names
//! (`put_new`). Claims use `create_new` (`O_EXCL`), which the kernel
//! makes atomic across processes. A `meta.json` that ends a lease is written
//! into the lease's file, which is then renamed to `meta.json`
//! (`put_replacing`): the lease's file is the temporary file, and it is
//! still open from its create (`create_kept`) unless it was written again.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{check_rel, Backend, Entry, Kept, WriteFn};
use crate::error::{Error, Result};
use open::{fs_err, io_err, missing, shown};
use write::{fill, fill_over};

pub(crate) mod counter;
mod host;
mod open;
pub(crate) mod parallel_read;
pub(crate) mod prefault;
mod write;

pub(crate) use host::{hostname, process_id};
pub(crate) use open::{changed_at, map_file, open_file, MapFailure};

/// Prefix of in-flight temporary files; `gc` removes old ones.
pub const TEMP_PREFIX: &str = ".tmp-";

/// What [`LocalBackend::read_all`] reserves before reading a file whose size it
/// did not look up: a record's `meta.json` fits.
const READ_ALL_GUESS: usize = 8 << 10;

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
#[derive(Clone)]
pub struct LocalBackend {
    root: PathBuf,
    /// The folder the last [`make_dir`](Backend::make_dir) made, or found to
    /// be a real folder with no symbolic link on the way: writes into it skip
    /// that walk. A save makes its record's folder first, so this is the
    /// folder its files go to. Clones share it (they share the disk too).
    checked_dir: Arc<Mutex<Option<PathBuf>>>,
}

impl std::fmt::Debug for LocalBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBackend")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl LocalBackend {
    /// Uses the folder `root`, creating it if missing.
    pub fn new(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        fs::create_dir_all(&root).map_err(|e| io_err(e, &root))?;
        // Absolute once here (no links resolved): temporary files in a
        // relative folder would each ask for the working directory.
        let root = std::path::absolute(&root).map_err(|e| io_err(e, &root))?;
        Ok(LocalBackend {
            root,
            checked_dir: Arc::default(),
        })
    }

    /// The store folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn full(&self, path: &str) -> Result<PathBuf> {
        self.full_checked(path).map(|(full, _)| full)
    }

    /// `root.join(path)`, made in one allocation (`Path::join` copies the
    /// root, then grows it for `path`).
    fn join(&self, path: &str) -> PathBuf {
        let mut full = PathBuf::with_capacity(self.root.as_os_str().len() + 1 + path.len());
        full.push(&self.root);
        full.push(path);
        full
    }

    /// [`full`](Self::full), and whether the folder holding `path` was seen
    /// on the way (a folder, not a link). A write into it then needs no
    /// [`ensure_dir`](Self::ensure_dir), which would look it up again.
    fn full_checked(&self, path: &str) -> Result<(PathBuf, bool)> {
        check_rel(path)?;
        if path.is_empty() {
            return Ok((self.root.clone(), false));
        }
        // No folder below the root may be a symbolic link: one planted in the
        // store must not lead reads or writes outside it. (The last component
        // is each caller's: `get` refuses a link, `delete` removes the link.)
        let mut at = self.root.clone();
        let mut parts = path.split('/').peekable();
        // A file at the root: the root is not looked at, so not known.
        let mut parent_seen = false;
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                break;
            }
            at.push(part);
            match fs::symlink_metadata(&at) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(Error::corrupt("is a symbolic link; a store holds none")
                        .within("", &at.display().to_string()))
                }
                Ok(m) => parent_seen = m.is_dir(),
                // Missing: nothing below it exists either.
                Err(_) => {
                    parent_seen = false;
                    break;
                }
            }
        }
        Ok((self.join(path), parent_seen))
    }

    /// The full paths of `from` and `to` for a copy, link or rename, and the
    /// folder of `to`, made if it was missing.
    fn source_and_target(
        &self,
        from: &str,
        to: &str,
        durable: bool,
    ) -> Result<(PathBuf, PathBuf, PathBuf)> {
        let source = self.full(from)?;
        let target = self.walked(to, durable)?;
        let dir = parent_of(&target)?.to_path_buf();
        Ok((source, target, dir))
    }

    /// Opens the folder `prefix` for listing: `None` if it does not exist (or
    /// is a file), [`Error::Corrupt`] if it is a symbolic link.
    fn read_folder(&self, prefix: &str) -> Result<(PathBuf, Option<fs::ReadDir>)> {
        let dir = self.full(prefix)?;
        if !prefix.is_empty() && fs::symlink_metadata(&dir).is_ok_and(|m| m.is_symlink()) {
            return Err(Error::corrupt("is a symbolic link; a store holds none")
                .within("", &dir.display().to_string()));
        }
        match fs::read_dir(&dir) {
            Ok(rd) => Ok((dir, Some(rd))),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                Ok((dir, None))
            }
            Err(e) => Err(io_err(e, &dir)),
        }
    }

    /// Creates `dir` and any missing parents; with `durable`, fsyncs the parent
    /// of each folder created so its name is on disk too.
    ///
    /// Callers know the folder is probably missing (their path walk did not
    /// find it), so it tries `mkdir` first: one syscall for a new record's
    /// folder, and a look at the parents only when one is missing too.
    fn ensure_dir(&self, dir: &Path, durable: bool) -> Result<bool> {
        let made = match fs::create_dir(dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let parent = dir.parent().ok_or_else(|| io_err(e, dir))?;
                self.ensure_dir(parent, durable)?;
                fs::create_dir(dir)
            }
            other => other,
        };
        match made {
            Ok(()) => {
                if durable {
                    if let Some(parent) = dir.parent() {
                        sync_dir(parent)?;
                    }
                }
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(false),
            Err(e) => Err(io_err(e, dir)),
        }
    }

    /// The full path of `path`, with its folder made if missing, and whether
    /// that folder is the one [`make_dir`](Backend::make_dir) last checked
    /// (no walk this time). The folders on the way are walked otherwise: none
    /// may be a symbolic link.
    fn prepare(&self, path: &str, durable: bool) -> Result<(PathBuf, bool)> {
        check_rel(path)?;
        let target = self.join(path);
        if self.in_checked(&target) {
            return Ok((target, true));
        }
        Ok((self.walked(path, durable)?, false))
    }

    /// The full path of `path`, the folders on the way walked (none may be a
    /// symbolic link) and its folder made if missing.
    fn walked(&self, path: &str, durable: bool) -> Result<PathBuf> {
        let (target, dir_exists) = self.full_checked(path)?;
        if !dir_exists {
            self.ensure_dir(parent_of(&target)?, durable)?;
        }
        Ok(target)
    }

    /// [`full`](Self::full), without the walk when `path` is in the folder
    /// [`make_dir`](Backend::make_dir) last checked.
    fn full_or_checked(&self, path: &str) -> Result<PathBuf> {
        check_rel(path)?;
        let target = self.join(path);
        if self.in_checked(&target) {
            Ok(target)
        } else {
            self.full(path)
        }
    }

    /// Whether `target` is a name right inside the folder
    /// [`make_dir`](Backend::make_dir) last checked.
    fn in_checked(&self, target: &Path) -> bool {
        let target = target.as_os_str().as_encoded_bytes();
        self.checked_dir
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_deref()
            // Byte for byte: both are built the same way from the root (a
            // checked relative path has no `.` or `..`), so this is the
            // folder followed by one more name, as `Path::parent` would find
            // it, without parsing the path's components.
            .is_some_and(|dir| {
                let dir = dir.as_os_str().as_encoded_bytes();
                target.len() > dir.len() + 1
                    && target.starts_with(dir)
                    && target[dir.len()] == b'/'
                    && !target[dir.len() + 1..].contains(&b'/')
            })
    }

    fn set_checked(&self, dir: Option<PathBuf>) {
        *self.checked_dir.lock().unwrap_or_else(|e| e.into_inner()) = dir;
    }

    /// Runs `create` (which makes a file in `target`'s folder) after
    /// [`prepare`](Self::prepare). If the checked folder has gone since it
    /// was checked (a `remove`, another process), the create finds no
    /// folder: the folder is then walked and made again, and `create` runs
    /// once more.
    fn in_folder<T>(
        &self,
        path: &str,
        durable: bool,
        create: impl Fn(&Path) -> io::Result<T>,
    ) -> Result<(PathBuf, T)> {
        let (target, checked) = self.prepare(path, durable)?;
        match create(&target) {
            Err(e) if checked && e.kind() == io::ErrorKind::NotFound => {
                self.set_checked(None);
                let (target, _) = self.prepare(path, durable)?;
                let made = create(&target).map_err(|e| io_err(e, &target))?;
                Ok((target, made))
            }
            Err(e) => Err(io_err(e, &target)),
            Ok(made) => Ok((target, made)),
        }
    }

    /// Opens the file at `path` for reading: refused if it or a folder on the
    /// way is a symbolic link, or if it is not a regular file.
    fn open_file(&self, path: &str) -> Result<File> {
        self.open_file_sized(path, true).map(|(file, _)| file)
    }

    /// [`open_file`](Self::open_file), and the file's size where it was looked
    /// up. With `stat` false the usual way skips the `fstat`, and with it the
    /// check that the file is a regular one: the caller must handle a read
    /// failing with `EISDIR` (see [`not_a_file`]).
    fn open_file_sized(&self, path: &str, stat: bool) -> Result<(File, Option<u64>)> {
        // One syscall where the kernel refuses every link on the path; when
        // it does refuse one (or cannot), the careful way finds and names it.
        check_rel(path)?;
        let joined = if path.is_empty() {
            self.root.clone()
        } else {
            self.join(path)
        };
        if let Some(opened) = open::open_no_symlinks(&joined, stat) {
            return opened;
        }
        open::open_checked(&self.full(path)?)
    }
}

impl LocalBackend {
    /// Creates `path` holding `bytes` if nothing is there (`O_EXCL`), and
    /// gives its file, still open; `None` if something was there.
    fn create_file(&self, path: &str, bytes: &[u8], durable: bool) -> Result<Option<File>> {
        // Into the folder `make_dir` last checked without walking to it
        // again: a lease is created in the record folder its caller has just
        // made.
        let (target, file) = self.in_folder(path, durable, |target| {
            match OpenOptions::new().write(true).create_new(true).open(target) {
                Ok(f) => Ok(Some(f)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        let Some(mut file) = file else {
            return Ok(None);
        };
        file.write_all(bytes).map_err(|e| io_err(e, &target))?;
        if durable {
            file.sync_all().map_err(|e| io_err(e, &target))?;
            sync_dir(parent_of(&target)?)?;
        }
        Ok(Some(file))
    }
}

/// The file [`create_kept`](Backend::create_kept) made, kept open.
#[cfg_attr(not(unix), allow(dead_code))]
struct KeptFile(File);

/// The file `kept` holds and its size, if it still has a name: a file
/// replaced since (a renewal of the lease puts a new file in its place) or
/// removed has none, and is looked up by name instead.
#[cfg(unix)]
fn still_named(kept: &mut Kept) -> Option<(File, u64)> {
    use std::os::unix::fs::MetadataExt;
    let KeptFile(file) = kept.take::<KeptFile>()?;
    let meta = file.metadata().ok()?;
    (meta.is_file() && meta.nlink() > 0).then_some((file, meta.len()))
}

#[cfg(not(unix))]
fn still_named(_kept: &mut Kept) -> Option<(File, u64)> {
    None
}

impl Backend for LocalBackend {
    fn put(&self, path: &str, durable: bool, write: &mut WriteFn<'_>) -> Result<()> {
        let (target, tmp) = self.in_folder(path, durable, |target| {
            let dir = target.parent().unwrap_or(target);
            let mut builder = tempfile::Builder::new();
            builder.prefix(TEMP_PREFIX);
            // The mode a plain file create gives (0666 less the umask), as
            // for record files, instead of tempfile's private 0600: a store
            // shared with a group stays readable by it.
            #[cfg(unix)]
            builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
            builder.tempfile_in(dir)
        })?;
        let dir = parent_of(&target)?;
        fill(tmp.as_file(), &target, durable, write)?;
        tmp.persist(&target).map_err(|e| io_err(e.error, &target))?;
        if durable {
            sync_dir(dir)?;
        }
        Ok(())
    }

    fn put_new(&self, path: &str, durable: bool, write: &mut WriteFn<'_>) -> Result<()> {
        // `create_new` (O_EXCL): never follows a link planted at the name, and
        // never writes into a file that is already there.
        let (target, file) = self.in_folder(path, durable, |target| {
            OpenOptions::new().write(true).create_new(true).open(target)
        })?;
        fill(&file, &target, durable, write)?;
        if durable {
            sync_dir(parent_of(&target)?)?;
        }
        Ok(())
    }

    fn put_replacing(
        &self,
        path: &str,
        replaced: &str,
        mut kept: Kept,
        durable: bool,
        write: &mut WriteFn<'_>,
    ) -> Result<()> {
        let source = self.full_or_checked(replaced)?;
        let (file, old_len) = match still_named(&mut kept) {
            Some(kept) => kept,
            None => {
                let mut options = OpenOptions::new();
                options.write(true);
                // The caller's own file, never one a link planted at its name
                // leads to.
                #[cfg(target_os = "linux")]
                std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
                let file = match options.open(&source) {
                    Ok(file) => file,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        return self.put(path, durable, write)
                    }
                    Err(e) => return Err(io_err(e, &source)),
                };
                let old_len = file.metadata().map_err(|e| io_err(e, &source))?.len();
                (file, old_len)
            }
        };
        fill_over(&file, old_len, &source, durable, write)?;
        drop(file);
        let (target, _) = self.prepare(path, durable)?;
        fs::rename(&source, &target).map_err(|e| fs_err(e, &source))?;
        if durable {
            sync_renamed(&source, parent_of(&target)?)?;
        }
        Ok(())
    }

    fn make_dir(&self, prefix: &str, durable: bool) -> Result<Option<bool>> {
        // The walk refuses a link among the parents; the folder itself is
        // looked at below when it was there already.
        let dir = self.full(prefix)?;
        if prefix.is_empty() {
            return Ok(Some(false));
        }
        let made = match self.ensure_dir(&dir, durable) {
            Ok(made) => made,
            // Something other than a folder is there: named below.
            Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(e),
        };
        if !made {
            // There already: writes will go into it without a look, so it
            // must be a folder itself, not a link to one.
            match fs::symlink_metadata(&dir) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(Error::corrupt("is a symbolic link; a store holds none")
                        .within("", &dir.display().to_string()))
                }
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(
                        Error::corrupt("is not a folder").within("", &dir.display().to_string())
                    )
                }
                Err(e) => return Err(io_err(e, &dir)),
            }
        }
        self.set_checked(Some(dir));
        Ok(Some(made))
    }

    fn create(&self, path: &str, bytes: &[u8], durable: bool) -> Result<bool> {
        Ok(self.create_file(path, bytes, durable)?.is_some())
    }

    fn create_kept(&self, path: &str, bytes: &[u8], durable: bool) -> Result<Option<Kept>> {
        let file = self.create_file(path, bytes, durable)?;
        // Kept open where `put_replacing` can tell whether it still has a
        // name (unix); elsewhere closed, and opened again by name.
        #[cfg(unix)]
        let kept = file.map(|file| Kept::new(KeptFile(file)));
        #[cfg(not(unix))]
        let kept = file.map(|_| Kept::default());
        Ok(kept)
    }

    fn get(&self, path: &str) -> Result<Box<dyn Read + Send>> {
        Ok(Box::new(self.open_file(path)?))
    }

    fn read_all(&self, path: &str) -> Result<Vec<u8>> {
        // No `fstat`: what persist reads whole (meta.json) is small, so a
        // guess at the size costs less than asking, and a folder in the
        // file's place shows itself by failing the read.
        let (file, size) = self.open_file_sized(path, false)?;
        let capacity = size.map_or(READ_ALL_GUESS, |s| {
            usize::try_from(s).unwrap_or(0).saturating_add(1)
        });
        let mut buf = Vec::with_capacity(capacity);
        // `take` keeps std from asking for the size again.
        (&file).take(u64::MAX).read_to_end(&mut buf).map_err(|e| {
            let full = self.root.join(path);
            if not_a_file(&e) {
                Error::corrupt("is not a regular file").within("", &full.display().to_string())
            } else {
                io_err(e, &full)
            }
        })?;
        Ok(buf)
    }

    fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        let (dir, Some(rd)) = self.read_folder(prefix)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| io_err(e, &dir))?;
            // The type comes with the listing (no `stat`), and is that of the
            // entry itself. A symbolic link is listed too: persist never makes
            // one, so it stands where a folder was, and reading through it
            // fails with `Corrupt` (so `all()` reports it instead of hiding it).
            if !entry
                .file_type()
                .is_ok_and(|t| t.is_dir() || t.is_symlink())
            {
                continue;
            }
            if let Ok(name) = entry.file_name().into_string() {
                out.push(name);
            }
        }
        Ok(out)
    }

    fn list(&self, prefix: &str) -> Result<Vec<Entry>> {
        let (dir, Some(rd)) = self.read_folder(prefix)? else {
            return Ok(Vec::new());
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
        let full = self.full_or_checked(path)?;
        match fs::remove_file(&full) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(e, &full)),
        }
    }

    fn delete_all(&self, prefix: &str) -> Result<()> {
        let full = self.full(prefix)?;
        // The checked folder may be below: the next write walks again.
        self.set_checked(None);
        match fs::remove_dir_all(&full) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(e, &full)),
        }
    }

    fn sync_deletes(&self, prefix: &str) -> Result<()> {
        let dir = self.full(prefix)?;
        match sync_dir(&dir) {
            // Removed as a whole since: nothing of it is left to come back.
            Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    fn copy(&self, from: &str, to: &str, durable: bool) -> Result<()> {
        let (source, target, dir) = self.source_and_target(from, to, durable)?;
        match fs::hard_link(&source, &target) {
            Ok(()) => {
                if durable {
                    sync_dir(&dir)?;
                }
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(missing(&source)),
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

    fn rename(&self, from: &str, to: &str, durable: bool) -> Result<()> {
        let (source, target, dir) = self.source_and_target(from, to, durable)?;
        fs::rename(&source, &target).map_err(|e| fs_err(e, &source))?;
        if durable {
            sync_renamed(&source, &dir)?;
        }
        Ok(())
    }

    fn create_from(&self, from: &str, to: &str, durable: bool) -> Result<bool> {
        let (source, target, dir) = self.source_and_target(from, to, durable)?;
        // A hard link is the whole file under its new name at once, and
        // never replaces what is there.
        match fs::hard_link(&source, &target) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(missing(&source)),
            // File systems without hard links: a create, which a reader may
            // see empty for a moment.
            Err(_) => {
                let bytes = self.read_all(from)?;
                return self.create(to, &bytes, durable);
            }
        }
        if durable {
            sync_dir(&dir)?;
        }
        Ok(true)
    }

    fn describe(&self, path: &str) -> String {
        shown(&self.join(path))
    }

    fn local_path(&self, path: &str) -> Option<PathBuf> {
        self.full(path).ok()
    }
}

/// Whether a read failed because the file opened is a folder (which opens
/// for reading like a file on Linux, and only refuses the read).
fn not_a_file(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::IsADirectory
}

fn parent_of(path: &Path) -> Result<&Path> {
    path.parent().ok_or_else(|| Error::InvalidKey {
        record: String::new(),
        reason: format!("{} has no parent folder", path.display()),
    })
}

/// Makes a rename of `source` into the folder `dir` survive a power loss:
/// both folders fsynced (one, if they are the same).
fn sync_renamed(source: &Path, dir: &Path) -> Result<()> {
    sync_dir(dir)?;
    let from_dir = parent_of(source)?;
    if from_dir != dir {
        sync_dir(from_dir)?;
    }
    Ok(())
}

/// Fsyncs a folder so the names in it (a rename, a new file) are durable.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(e, dir))
}
