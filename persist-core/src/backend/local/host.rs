//! The name of the machine, for the provenance a save records.

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
    #[cfg(target_os = "linux")]
    fn is_the_kernels_host_name() {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        assert_eq!(super::hostname(), kernel.trim());
        assert!(!super::hostname().is_empty());
    }
}
