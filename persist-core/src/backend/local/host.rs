//! The name of the machine and the process's id, for the provenance a save
//! records and the lease a computation holds.

use std::sync::OnceLock;

/// The host name: the kernel's (`gethostname`), else `$HOSTNAME` or
/// `$COMPUTERNAME`, else empty. Looked up once per process.
pub(crate) fn hostname() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| from_kernel().or_else(from_env).unwrap_or_default())
}

#[cfg(target_os = "linux")]
fn from_kernel() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: a writable buffer of the length passed; the kernel writes at
    // most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    // A name as long as the buffer may come without its NUL.
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..len]).trim().to_owned();
    (!name.is_empty()).then_some(name)
}

#[cfg(not(target_os = "linux"))]
fn from_kernel() -> Option<String> {
    None
}

/// This process's id, asked of the kernel once per process: `getpid` is a
/// system call, and every save and every lease states the id. A child made
/// by `fork` asks again (a handler registered with `pthread_atfork` forgets
/// the parent's id in it).
#[cfg(target_os = "linux")]
pub(crate) fn process_id() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static PID: AtomicU32 = AtomicU32::new(0);
    static FORGOTTEN_IN_CHILDREN: OnceLock<bool> = OnceLock::new();
    extern "C" fn forget() {
        PID.store(0, Ordering::Relaxed);
    }
    let pid = PID.load(Ordering::Relaxed);
    if pid != 0 {
        return pid;
    }
    let pid = std::process::id();
    // SAFETY: registers a handler that only stores to an atomic, which is
    // what may run in a child between `fork` and anything else.
    if *FORGOTTEN_IN_CHILDREN
        .get_or_init(|| unsafe { libc::pthread_atfork(None, None, Some(forget)) } == 0)
    {
        PID.store(pid, Ordering::Relaxed);
    }
    pid
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn process_id() -> u32 {
    std::process::id()
}

fn from_env() -> Option<String> {
    ["HOSTNAME", "COMPUTERNAME"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .map(|name| name.trim().to_owned())
        .find(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_this_processs_id() {
        assert_eq!(super::process_id(), std::process::id());
        assert_eq!(super::process_id(), std::process::id());
    }

    /// A child made by `fork` states its own id, not its parent's.
    #[test]
    #[cfg(target_os = "linux")]
    fn a_forked_child_states_its_own_id() {
        let parent = super::process_id();
        // SAFETY: the child only asks for its id, writes it to a pipe and
        // exits without unwinding.
        unsafe {
            let mut fds = [0; 2];
            assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
            let child = libc::fork();
            assert!(child >= 0);
            if child == 0 {
                let id = super::process_id();
                let ok = id == libc::getpid() as u32 && id != parent;
                let byte = [u8::from(ok)];
                libc::write(fds[1], byte.as_ptr().cast(), 1);
                libc::_exit(0);
            }
            let mut byte = [0u8];
            assert_eq!(libc::read(fds[0], byte.as_mut_ptr().cast(), 1), 1);
            libc::waitpid(child, std::ptr::null_mut(), 0);
            libc::close(fds[0]);
            libc::close(fds[1]);
            assert_eq!(byte[0], 1, "the child stated its parent's id");
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn is_the_kernels_host_name() {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        assert_eq!(super::hostname(), kernel.trim());
        assert!(!super::hostname().is_empty());
    }
}
