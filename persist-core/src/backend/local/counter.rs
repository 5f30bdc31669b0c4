//! The autoinc counter of a key folder on the local disk (Linux): the next
//! number, kept in the folder's extended attribute [`COUNTER_XATTR`] and read
//! and advanced under an exclusive `flock` on the folder, which the OS drops
//! with its process. Only a place to start: `ops::autoinc` still claims each
//! number by create-if-absent. Elsewhere there is no counter and every claim
//! lists the key folder.

use std::path::Path;

use crate::key::parse_number;

/// The extended attribute of a key folder that holds the next number (ASCII
/// digits).
pub const COUNTER_XATTR: &str = "user.persist.next";

/// The locked counter of a key folder (Linux).
#[cfg(target_os = "linux")]
pub(crate) struct KeyCounter {
    dir: std::fs::File,
}

#[cfg(target_os = "linux")]
impl KeyCounter {
    /// Opens and locks the key folder at `path`; `None` if the folder does
    /// not exist yet or cannot be locked.
    pub(crate) fn lock(path: &Path) -> Option<KeyCounter> {
        let dir = std::fs::File::open(path).ok()?;
        if !dir.metadata().ok()?.is_dir() {
            return None;
        }
        dir.lock().ok()?;
        Some(KeyCounter { dir })
    }

    /// The next number, if the folder holds one.
    pub(crate) fn get(&self) -> Option<u64> {
        use std::os::fd::AsRawFd;
        let mut buf = [0u8; 32];
        let name = std::ffi::CString::new(COUNTER_XATTR).ok()?;
        // SAFETY: a valid fd, a NUL-terminated name and a buffer of the length given.
        let n = unsafe {
            libc::fgetxattr(
                self.dir.as_raw_fd(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        let text = std::str::from_utf8(buf.get(..usize::try_from(n).ok()?)?).ok()?;
        parse_number(text)
    }

    /// Sets the next number; with `durable`, the folder is fsynced after. A
    /// failure only costs a listing later, so it is not an error.
    pub(crate) fn set(&self, next: u64, durable: bool) {
        use std::os::fd::AsRawFd;
        let Ok(name) = std::ffi::CString::new(COUNTER_XATTR) else {
            return;
        };
        let value = next.to_string();
        // SAFETY: a valid fd, a NUL-terminated name and a value of the length given.
        let rc = unsafe {
            libc::fsetxattr(
                self.dir.as_raw_fd(),
                name.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        };
        if rc == 0 && durable {
            let _ = self.dir.sync_all();
        }
    }
}

/// Elsewhere there is no counter: every claim lists the key folder.
#[cfg(not(target_os = "linux"))]
pub(crate) struct KeyCounter;

#[cfg(not(target_os = "linux"))]
impl KeyCounter {
    pub(crate) fn lock(_path: &Path) -> Option<KeyCounter> {
        None
    }
    pub(crate) fn get(&self) -> Option<u64> {
        None
    }
    pub(crate) fn set(&self, _next: u64, _durable: bool) {}
}
