//! Opening and mapping files of a local store the way its reads must: no
//! symbolic link on the way, nothing but a regular file at the end.

use std::fs::{self, File};
use std::io;
use std::path::Path;
use std::time::SystemTime;

use crate::error::{Error, Result};

/// Opens the file at `full`, a path the backend handed out
/// ([`local_path`](crate::backend::Backend::local_path), whose folders it
/// checked): refused if it is a symbolic link or not a regular file;
/// [`Error::NotFound`] if absent. A store on the local disk reads a large
/// record file through it at positions, on several threads.
pub(crate) fn open_file(full: &Path) -> Result<File> {
    match open_no_symlinks(full, true) {
        Some(opened) => opened.map(|(file, _)| file),
        None => open_checked(full).map(|(file, _)| file),
    }
}

/// The quick way: one `openat2` that refuses a symbolic link anywhere on the
/// path. `None` where it cannot decide (a link to name, no `openat2`, not
/// Linux): the caller then takes [`open_checked`]. With `stat`, the file is
/// checked to be a regular one and its size given; without, the caller must
/// handle a read failing with `EISDIR`.
pub(super) fn open_no_symlinks(full: &Path, stat: bool) -> Option<Result<(File, Option<u64>)>> {
    #[cfg(target_os = "linux")]
    {
        let opened =
            match openat2_no_symlinks(full)? {
                Ok(file) if !stat => Ok((file, None)),
                Ok(file) => match file.metadata() {
                    Ok(meta) if meta.is_file() => Ok((file, Some(meta.len()))),
                    Ok(_) => Err(Error::corrupt("is not a regular file")
                        .within("", &full.display().to_string())),
                    Err(e) => Err(io_err(e, full)),
                },
                Err(e) => Err(fs_err(e, full)),
            };
        Some(opened)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (full, stat);
        None
    }
}

/// The careful way, for a path whose folders were checked: the file itself
/// must not be a symbolic link and must be a regular file.
pub(super) fn open_checked(full: &Path) -> Result<(File, Option<u64>)> {
    // persist never writes symlinks or folders where it reads files: either
    // is damage (or a link planted to reach outside the store).
    match fs::symlink_metadata(full) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(
                Error::corrupt("is a symbolic link; a store holds none").within("", &shown(full))
            )
        }
        Ok(m) if !m.is_file() => {
            return Err(Error::corrupt("is not a regular file").within("", &shown(full)))
        }
        Ok(_) => {}
        Err(e) => return Err(fs_err(e, full)),
    }
    match File::open(full) {
        Ok(f) => {
            let size = f.metadata().map_err(|e| io_err(e, full))?.len();
            Ok((f, Some(size)))
        }
        Err(e) => Err(fs_err(e, full)),
    }
}

/// Opens `path` read-only with Linux `openat2(RESOLVE_NO_SYMLINKS)`: no
/// component may be a symbolic link. `None` if the kernel refused a link or
/// has no `openat2`: the caller then takes the careful way. Opened
/// non-blocking, so a FIFO planted in the store cannot hang the open.
#[cfg(target_os = "linux")]
fn openat2_no_symlinks(path: &Path) -> Option<io::Result<File>> {
    use std::os::fd::FromRawFd;
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: `open_how` is plain data; all-zero is its documented default.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK) as u64;
    how.resolve = libc::RESOLVE_NO_SYMLINKS;
    // SAFETY: a NUL-terminated path and an `open_how` of the size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            c_path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd >= 0 {
        let fd = i32::try_from(fd).ok()?;
        // SAFETY: a file descriptor the kernel just gave us, owned by nobody else.
        return Some(Ok(unsafe { File::from_raw_fd(fd) }));
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::ELOOP | libc::ENOSYS | libc::EPERM | libc::EINVAL | libc::EXDEV) => None,
        _ => Some(Err(err)),
    }
}

/// Why [`map_file`] mapped nothing.
pub(crate) enum MapFailure {
    /// No file at the path.
    Missing,
    /// A symbolic link or a folder where a file should be.
    NotRegular,
    /// The file has this many bytes, not the number expected.
    Size(u64),
    /// Any other failure.
    Io(io::Error),
}

/// Maps the local file at `full` into memory read-only, after checking that
/// it is a regular file of `expected` bytes.
pub(crate) fn map_file(
    full: &Path,
    expected: u64,
) -> std::result::Result<memmap2::Mmap, MapFailure> {
    // The same rules as a read through the backend: a symbolic link or a
    // folder is damage, a missing file was superseded.
    match fs::symlink_metadata(full) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(MapFailure::NotRegular),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(MapFailure::Missing),
        Err(e) => return Err(MapFailure::Io(e)),
    }
    let file = File::open(full).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => MapFailure::Missing,
        _ => MapFailure::Io(e),
    })?;
    let size = file.metadata().map_err(MapFailure::Io)?.len();
    if size != expected {
        return Err(MapFailure::Size(size));
    }
    // SAFETY: the map is read-only, and persist never writes to a record file
    // once a meta.json names it (saves write new files under new names;
    // superseded files are unlinked, which leaves a mapping intact). Only
    // another program truncating or rewriting the file in place could change
    // the mapped bytes; `Lazy::view_mmap` documents that.
    unsafe { memmap2::Mmap::map(&file) }.map_err(MapFailure::Io)
}

/// When the local file at `full` last changed: the later of its modification
/// and status-change times (a hard link to an old file sets the latter);
/// `None` if it cannot be looked up now (gone or unreadable). Where there is
/// no status-change time, the modification time.
pub(crate) fn changed_at(full: &Path) -> Option<SystemTime> {
    let meta = fs::symlink_metadata(full).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        use std::time::Duration;
        let ctime = u64::try_from(meta.ctime())
            .ok()
            .and_then(|s| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(s)))?;
        Some(meta.modified().ok().map_or(ctime, |m| m.max(ctime)))
    }
    #[cfg(not(unix))]
    {
        meta.modified().ok()
    }
}

/// An I/O error at a local path, [`Error::NotFound`] if nothing is there.
pub(super) fn fs_err(source: io::Error, path: &Path) -> Error {
    if source.kind() == io::ErrorKind::NotFound {
        missing(path)
    } else {
        io_err(source, path)
    }
}

/// [`Error::NotFound`] for a local path.
pub(super) fn missing(path: &Path) -> Error {
    Error::NotFound {
        record: String::new(),
        path: shown(path),
    }
}

/// An I/O error at a local path.
pub(super) fn io_err(source: io::Error, path: &Path) -> Error {
    Error::Io {
        record: String::new(),
        path: shown(path),
        source,
    }
}

/// A local path as errors and messages show it: what `Path::display` gives,
/// made in one allocation (a miss's look for `meta.json` ends in
/// [`missing`]).
pub(super) fn shown(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}
