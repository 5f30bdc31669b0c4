//! A lease file's contents and how they are read and written: the holder,
//! its host and process, its time to live and its last renewal.

use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::Store;

/// What a lease file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct LeaseBody {
    /// A fresh id per lease taken.
    pub(super) holder: String,
    pub(super) host: String,
    pub(super) pid: u32,
    /// The holder's time to live, in milliseconds.
    pub(super) ttl_ms: u64,
    /// When it was last renewed, in milliseconds since the Unix epoch (the
    /// holder's clock).
    pub(super) renewed_ms: u64,
    /// Grows with each renewal, so a waiter sees a renewal even when clocks
    /// disagree.
    pub(super) seq: u64,
}

impl LeaseBody {
    pub(super) fn new(ttl: Duration) -> LeaseBody {
        LeaseBody {
            holder: uuid::Uuid::new_v4().simple().to_string(),
            host: host_name().to_owned(),
            pid: crate::backend::local::process_id(),
            ttl_ms: millis(ttl),
            renewed_ms: now_ms(),
            seq: 0,
        }
    }

    /// The body as JSON: the bytes `serde_json::to_vec` gives, written field
    /// by field into one buffer, in fewer instructions than serde's generic
    /// serialiser takes (every miss writes a body).
    pub(super) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(112 + self.holder.len() + self.host.len());
        out.extend_from_slice(b"{\"holder\":");
        push_str(&mut out, &self.holder);
        out.extend_from_slice(b",\"host\":");
        push_str(&mut out, &self.host);
        out.extend_from_slice(b",\"pid\":");
        push_u64(&mut out, u64::from(self.pid));
        out.extend_from_slice(b",\"ttl_ms\":");
        push_u64(&mut out, self.ttl_ms);
        out.extend_from_slice(b",\"renewed_ms\":");
        push_u64(&mut out, self.renewed_ms);
        out.extend_from_slice(b",\"seq\":");
        push_u64(&mut out, self.seq);
        out.push(b'}');
        out
    }

    pub(super) fn ttl(&self) -> Duration {
        Duration::from_millis(self.ttl_ms.max(1))
    }
}

/// `s` as a JSON string: as it is between quotes when nothing in it needs
/// an escape (a holder id, a plain host name), else as serde_json writes it.
fn push_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// `n` in decimal.
fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        // A digit: below 10.
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}

fn host_name() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unknown".to_owned())
    })
}

/// The time to live a lease file states, or `fallback` if it cannot be read
/// (a lease its holder died creating, before its contents were written): what
/// `gc` waits before it removes a lease nobody renewed.
pub(crate) fn stated_ttl(bytes: &[u8], fallback: Duration) -> Duration {
    serde_json::from_slice::<LeaseBody>(bytes).map_or(fallback, |b| b.ttl())
}

/// A poisoned lock only means another thread panicked while holding it; the
/// state under it is a flag and counters, always consistent.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(super) fn write_body(store: &Store, path: &str, body: &LeaseBody) -> Result<()> {
    let bytes = body.to_bytes();
    store
        .backend()
        .put(path, false, &mut |w| w.write_all(&bytes).map_err(Error::io))
}

/// The lease at `path`; `Ok(None)` if it cannot be parsed (being written).
pub(super) fn read_body(store: &Store, path: &str) -> Result<Option<LeaseBody>> {
    let bytes = store.backend().read_all(path)?;
    Ok(serde_json::from_slice(&bytes).ok())
}
