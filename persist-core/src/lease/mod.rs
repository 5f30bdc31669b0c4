//! Leases: each key computed once, however many threads, processes and
//! machines ask for it at the same moment.
//!
//! ```text
//! <record folder>/.lease                     the holder's lease (JSON: holder, host, pid, ttl, renewal)
//! <record folder>/.lease-takeover-<holder>   the claim of the one waiter that took over an expired lease
//! ```
//!
//! Both names start with a dot, so they never collide with `meta.json`, a
//! record file (`<stem>-<uuid>.<ext>`), the `files/` folder or an autoinc
//! number folder, and every listing of records passes them by.
//!
//! How a miss in `load_or_compute` goes:
//!
//! 1. Threads of one process take turns per key in memory (a registry of
//!    condition variables keyed by the store and the lease's path): only the
//!    thread whose turn it is touches the lease; the others sleep until that
//!    turn ends, then load what was saved (or, if the holder failed, one of
//!    them takes the next turn). They never poll the store.
//! 2. The thread with the turn creates `.lease` with create-if-absent
//!    (`O_EXCL` on disk, `PutMode::Create` in object storage). If it wins, it
//!    looks for the record once more (a holder may have saved just before),
//!    then computes while a background thread renews the lease every third
//!    of its time to live, and saves. The save's `meta.json` ends the lease:
//!    on the local disk it is written into the lease's file, which is then
//!    renamed to `meta.json` (waiters reading the lease in that moment see
//!    something that is not a lease, as when a lease is being created, and
//!    look again); elsewhere the lease is deleted after the `meta.json` put.
//!    A holder whose computation fails deletes the lease.
//! 3. If the lease is held, it reads the lease with backoff (on a local disk
//!    from 10 reads a second down to 2; elsewhere one a second) until it is
//!    gone (then the record is loaded, or the next lease taken if the holder
//!    failed) or has not been renewed for its time to live. An expired lease
//!    is taken over by the one waiter that creates
//!    `.lease-takeover-<holder>` (a second create-if-absent); it then writes
//!    its own `.lease` and computes.
//!
//! Renewal is an unconditional write of the holder's own lease followed by a
//! read: if the read shows another holder, the lease was taken over (this
//! holder was stalled for longer than its time to live) and it stops
//! renewing; its computation still finishes and saves, which is harmless
//! since saves are atomic. No step relies on conditional overwrites
//! (`If-Match`), which some S3-compatible servers do not honour.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::backend::{join, Kept, WriteFn};
use crate::error::{Error, Result};
use crate::store::{Store, MIN_LEASE_TTL};

mod body;
mod renew;

pub(crate) use body::stated_ttl;
use body::{lock, now_ms, write_body, LeaseBody};
use renew::HeldLease;

/// The lease file in a record's folder.
pub(crate) const LEASE_FILE: &str = ".lease";

/// How a takeover claim begins; the dead holder's id follows.
const TAKEOVER_PREFIX: &str = ".lease-takeover-";

/// What a save knows of its record's folder before it starts (a lease
/// knows whether it made the folder).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Folder {
    /// Nothing: made if missing; if it was there, the previous version in it
    /// is looked up (its files are removed after the save).
    Unknown,
    /// A new autoinc number's, claimed by this save: made if missing, never
    /// holding a previous version.
    NewNumber,
    /// Made (durably on a durable store) by the lease the value was computed
    /// under: there, checked by the backend, and holding no previous version.
    MadeByLease,
}

/// What a save run under a lease is handed: what the lease knows of the
/// record's folder, and the lease, which the save's `meta.json` ends.
#[derive(Clone, Copy)]
pub(crate) struct Leased<'a> {
    folder: Folder,
    lease: Option<&'a HeldLease>,
}

impl Leased<'_> {
    /// A save under no lease, into a folder nothing is known of.
    pub(crate) const NONE: Leased<'static> = Leased {
        folder: Folder::Unknown,
        lease: None,
    };

    pub(crate) fn folder(&self) -> Folder {
        self.folder
    }

    /// The same, with what the save itself found out about the folder.
    pub(crate) fn with_folder(self, folder: Folder) -> Self {
        Leased { folder, ..self }
    }

    /// Writes the record's `meta.json` at `path` as `Backend::put` does;
    /// under a lease still this holder's, the lease ends in the same step
    /// (see `Backend::put_replacing`).
    pub(crate) fn put_meta(
        &self,
        store: &Store,
        path: &str,
        write: &mut WriteFn<'_>,
    ) -> Result<()> {
        match self.lease {
            Some(lease) => lease.put_meta(path, write),
            None => store.backend().put(path, store.is_durable(), write),
        }
    }
}

/// Whether a file name is one of a lease's files.
pub(crate) fn is_lease_file(name: &str) -> bool {
    name == LEASE_FILE || name.starts_with(TAKEOVER_PREFIX)
}

/// Runs `compute` for the record in `folder` unless another thread, process
/// or machine is computing it; then `check` finds what that one saved.
///
/// `check` looks for the stored result (`Ok(None)`: not there); the caller has
/// already looked once. `compute` computes and saves; it is handed the
/// lease, with what it knows of the record's folder ([`Folder::MadeByLease`]
/// when taking the lease made it, so the save need not look at it again),
/// for its save to write `meta.json` through.
pub(crate) fn once<T>(
    store: &Store,
    folder: &str,
    record: &str,
    check: &mut dyn FnMut() -> Result<Option<T>>,
    compute: impl FnOnce(&Leased<'_>) -> Result<T>,
) -> Result<T> {
    let path = join(&[folder, LEASE_FILE]);
    let mut wait = Wait {
        store,
        record,
        path: &path,
        shown: OnceCell::new(),
        started: Instant::now(),
        deadline: store.wait_limit().map(|d| Instant::now() + d),
        noted: false,
    };
    let gate_key = format!("{:x}\0{path}", store.backend_id());
    let _turn = match Turn::take(gate_key, &mut wait, check)? {
        Taken::Turn(turn) => turn,
        Taken::Stored(v) => return Ok(v),
    };
    let (lease, made) = match acquire(store, folder, &path, &mut wait, check)? {
        Acquired::Lease(lease, made) => (lease, made),
        Acquired::Stored(v) => return Ok(v),
    };
    let result = compute(&Leased {
        folder: made,
        lease: Some(&lease),
    });
    lease.release(result.is_ok());
    result
}

/// One call's waiting: counted and logged once, bounded by the store's
/// `wait_timeout`.
struct Wait<'a> {
    store: &'a Store,
    record: &'a str,
    path: &'a str,
    /// The lease's path as messages show it, made when first needed.
    shown: OnceCell<String>,
    started: Instant,
    deadline: Option<Instant>,
    noted: bool,
}

impl Wait<'_> {
    fn shown(&self) -> &str {
        self.shown
            .get_or_init(|| self.store.backend().describe(self.path))
    }

    fn note(&mut self, holder: &str) {
        if !self.noted {
            self.noted = true;
            self.store.counters().waited();
            tracing::info!(
                target: "persist",
                record = self.record,
                lease = self.shown(),
                holder,
                "waiting for another computation of the record"
            );
        }
    }

    /// How long to sleep at most (`None`: past the deadline).
    fn left(&self) -> Option<Duration> {
        match self.deadline {
            Some(d) => d
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero()),
            None => Some(Duration::MAX),
        }
    }

    fn timeout(&self) -> Error {
        Error::Timeout {
            record: self.record.to_owned(),
            path: self.shown().to_owned(),
            waited: self.started.elapsed(),
        }
    }
}

// --- threads of one process: a turn per key -------------------------------

/// The in-process turns, keyed by store and lease path.
#[derive(Default)]
struct Turns {
    keys: Mutex<HashMap<String, (Arc<Gate>, usize)>>,
}

#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    ended: Condvar,
}

#[derive(Default)]
struct GateState {
    held: bool,
    /// Grows each time a turn ends, so a waiter knows the turn it waited for
    /// is over even if another thread took the next one at once.
    turns: u64,
    /// The threads asleep on `ended`: a turn that ends with none wakes
    /// nobody (a notify is a system call even then).
    sleeping: usize,
}

fn turns() -> &'static Turns {
    static TURNS: OnceLock<Turns> = OnceLock::new();
    TURNS.get_or_init(Turns::default)
}

enum Taken<T> {
    Turn(Turn),
    Stored(T),
}

/// A thread's place in the registry under a key: counted while it waits or
/// has its turn, so the key's entry goes when nobody uses it.
struct Registered {
    key: String,
    gate: Arc<Gate>,
}

impl Registered {
    fn new(key: String) -> Registered {
        let mut keys = lock(&turns().keys);
        let slot = keys
            .entry(key.clone())
            .or_insert_with(|| (Arc::default(), 0));
        slot.1 += 1;
        let gate = slot.0.clone();
        Registered { key, gate }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut keys = lock(&turns().keys);
        if let Some(slot) = keys.get_mut(&self.key) {
            slot.1 -= 1;
            if slot.1 == 0 {
                keys.remove(&self.key);
            }
        }
    }
}

/// This thread's turn to compute a key; ends when dropped.
struct Turn {
    registered: Registered,
}

impl Turn {
    fn take<T>(
        key: String,
        wait: &mut Wait<'_>,
        check: &mut dyn FnMut() -> Result<Option<T>>,
    ) -> Result<Taken<T>> {
        let registered = Registered::new(key);
        let gate = registered.gate.clone();
        loop {
            let mut state = lock(&gate.state);
            if !state.held {
                state.held = true;
                return Ok(Taken::Turn(Turn { registered }));
            }
            wait.note("another thread of this process");
            let turn_seen = state.turns;
            while state.held && state.turns == turn_seen {
                let Some(left) = wait.left() else {
                    return Err(wait.timeout());
                };
                // Woken by the end of the turn; the cap only keeps the
                // timeout arithmetic finite.
                let left = left.min(Duration::from_secs(3600));
                state.sleeping += 1;
                state = match gate.ended.wait_timeout(state, left) {
                    Ok((s, _)) => s,
                    Err(p) => p.into_inner().0,
                };
                state.sleeping -= 1;
            }
            drop(state);
            // The turn waited for is over: its holder saved, or failed.
            if let Some(v) = check()? {
                return Ok(Taken::Stored(v));
            }
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let gate = &self.registered.gate;
        let sleeping = {
            let mut state = lock(&gate.state);
            state.held = false;
            state.turns = state.turns.wrapping_add(1);
            state.sleeping
        };
        if sleeping > 0 {
            gate.ended.notify_all();
        }
    }
}

// --- processes and machines: the lease in the store -----------------------

enum Acquired<T> {
    /// The lease, and what is known of the record's folder.
    Lease(HeldLease, Folder),
    Stored(T),
}

/// Takes the lease at `path`, waiting for its holder if it is held.
fn acquire<T>(
    store: &Store,
    folder: &str,
    path: &str,
    wait: &mut Wait<'_>,
    check: &mut dyn FnMut() -> Result<Option<T>>,
) -> Result<Acquired<T>> {
    let backend = store.backend();
    let ctx = |e: Error| e.within(wait.record, &backend.describe(path));
    let mut seen = Seen::default();
    // The lease is the first file in a new record's folder: the folder is
    // made here as the save would make it (durably on a durable store), and
    // the save, told so, does not make it again.
    let mut known = match backend.make_dir(folder, store.is_durable()).map_err(ctx)? {
        Some(true) => Folder::MadeByLease,
        _ => Folder::Unknown,
    };
    loop {
        // Made at each claim: a lease must state when it was taken, not when
        // this waiter began to wait.
        let mut body = LeaseBody::new(store.lease_time());
        let mut takeover = None;
        // Taken before the write: no waiter can have seen the lease earlier.
        let started = Instant::now();
        let created = backend
            .create_kept(path, &body.to_bytes(), false)
            .map_err(ctx)?;
        // When the lease was written, for the release to skip its read while
        // that is recent. A create that took longer than the shortest lease
        // time may have been seen empty for a waiter's whole lease time (and
        // removed): such a lease is never counted as freshly written.
        let mut written = (started.elapsed() < MIN_LEASE_TTL).then_some(started);
        let mut kept = Kept::default();
        let claimed = if let Some(created) = created {
            kept = created;
            true
        } else {
            // Someone else held the lease: whatever they left in the folder
            // is the save's to look at.
            known = Folder::Unknown;
            match watch(store, path, wait, &mut seen)? {
                Watched::Gone => false,
                Watched::Expired(Some(dead)) => {
                    body = LeaseBody::new(store.lease_time());
                    let claim = join(&[folder, &format!("{TAKEOVER_PREFIX}{}", dead.holder)]);
                    // Written by a put: never seen empty.
                    written = Some(Instant::now());
                    // Of all the waiters that saw it expire, one creates the claim.
                    if backend
                        .create(&claim, &body.to_bytes(), false)
                        .map_err(ctx)?
                    {
                        tracing::info!(
                            target: "persist",
                            record = wait.record,
                            lease = wait.shown(),
                            dead_holder = %format!("{} (pid {} on {})", dead.holder, dead.pid, dead.host),
                            "taking over an expired lease"
                        );
                        write_body(store, path, &body).map_err(ctx)?;
                        takeover = Some(claim);
                        true
                    } else {
                        false
                    }
                }
                Watched::Expired(None) => {
                    // Unreadable for its whole time to live: left empty by a
                    // holder that died as it created it. Removed, then taken
                    // anew by create-if-absent.
                    backend.delete(path).map_err(ctx)?;
                    false
                }
            }
        };
        if claimed {
            let lease = HeldLease::start(store, path, body, written, kept, takeover);
            // A holder may have saved and let go between our look and our claim.
            return match check() {
                Ok(Some(v)) => {
                    lease.release(true);
                    Ok(Acquired::Stored(v))
                }
                Ok(None) => Ok(Acquired::Lease(lease, known)),
                Err(e) => {
                    lease.release(false);
                    Err(e)
                }
            };
        }
        if let Some(v) = check()? {
            return Ok(Acquired::Stored(v));
        }
    }
}

/// What a waiter last saw of a lease, by its own clock.
#[derive(Default)]
struct Seen {
    /// The holder and renewal seen (or the raw bytes of an unreadable lease).
    what: Option<(String, u64)>,
    /// When this waiter first saw that renewal.
    since: Option<Instant>,
    /// How long that renewal has to live from `since`.
    lives: Duration,
}

enum Watched {
    /// The lease is gone: its holder saved, or failed.
    Gone,
    /// Not renewed within its time to live; `None` if it cannot be read.
    Expired(Option<LeaseBody>),
}

/// Reads the lease with backoff until it is gone or expires.
///
/// A renewal's life is counted on this waiter's clock from when it was first
/// seen, shortened by what the holder's clock says has passed (never below
/// zero, never above the time to live): clocks that disagree by less than
/// the time to live never let a live lease look expired.
fn watch(store: &Store, path: &str, wait: &mut Wait<'_>, seen: &mut Seen) -> Result<Watched> {
    let local = store.backend().local_path(path).is_some();
    let (mut interval, max) = if local {
        (Duration::from_millis(100), Duration::from_millis(500))
    } else {
        (Duration::from_secs(1), Duration::from_secs(1))
    };
    loop {
        let bytes = match store.backend().read_all(path) {
            Ok(bytes) => bytes,
            Err(Error::NotFound { .. }) => return Ok(Watched::Gone),
            Err(e) => return Err(e.within(wait.record, wait.shown())),
        };
        let body = serde_json::from_slice::<LeaseBody>(&bytes).ok();
        let what = match &body {
            Some(b) => (b.holder.clone(), b.seq),
            None => (String::from_utf8_lossy(&bytes).into_owned(), u64::MAX),
        };
        let now = Instant::now();
        if seen.what.as_ref() != Some(&what) {
            seen.lives = match &body {
                Some(b) => {
                    let passed = Duration::from_millis(now_ms().saturating_sub(b.renewed_ms));
                    b.ttl().saturating_sub(passed)
                }
                None => store.lease_time(),
            };
            seen.what = Some(what);
            seen.since = Some(now);
        }
        let holder = body.as_ref().map_or_else(
            || "a lease being written".to_owned(),
            |b| format!("pid {} on {}", b.pid, b.host),
        );
        wait.note(&holder);
        let lived = now.duration_since(seen.since.unwrap_or(now));
        let Some(until_expiry) = seen.lives.checked_sub(lived).filter(|d| !d.is_zero()) else {
            return Ok(Watched::Expired(body));
        };
        let Some(left) = wait.left() else {
            return Err(wait.timeout());
        };
        std::thread::sleep(interval.min(until_expiry).min(left));
        interval = (interval * 3 / 2).min(max);
    }
}

#[cfg(test)]
mod tests {
    use super::body::read_body;
    use super::*;

    #[test]
    fn lease_names_are_apart_from_record_files() {
        assert!(is_lease_file(".lease"));
        assert!(is_lease_file(".lease-takeover-0123abcd"));
        for name in [
            "meta.json",
            ".claim",
            "data-0123.npy",
            "files",
            "3",
            ".tmp-x",
            ".leases",
        ] {
            assert!(!is_lease_file(name), "{name}");
        }
    }

    #[test]
    fn stated_ttl_falls_back_to_the_given_ttl() {
        let body = LeaseBody::new(Duration::from_secs(7));
        let fallback = Duration::from_millis(200);
        assert_eq!(
            stated_ttl(&body.to_bytes(), fallback),
            Duration::from_secs(7)
        );
        assert_eq!(stated_ttl(b"", fallback), fallback);
    }

    #[test]
    fn a_body_is_the_json_serde_writes() {
        let mut body = LeaseBody::new(Duration::from_millis(1500));
        for (host, n) in [
            ("node-7", 0),
            ("", 9),
            ("a \"quoted\" \\ host\n", 10),
            ("h\u{f6}st-\u{1f600}\u{7f}", u64::MAX),
        ] {
            body.host = host.to_owned();
            body.seq = n;
            body.ttl_ms = n;
            body.pid = u32::try_from(n).unwrap_or(u32::MAX);
            let bytes = body.to_bytes();
            assert_eq!(bytes, serde_json::to_vec(&body).unwrap(), "{host:?}");
            let back: LeaseBody = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(back, body);
        }
    }

    /// Creates the lease `t/k/.lease` and holds it, written at `written`.
    fn take(store: &Store, written: Option<Instant>) -> HeldLease {
        let body = LeaseBody::new(store.lease_time());
        assert!(store
            .backend()
            .create("t/k/.lease", &body.to_bytes(), false)
            .unwrap());
        HeldLease::start(store, "t/k/.lease", body, written, Kept::default(), None)
    }

    /// Whether the release reads the lease first or not (a lease written a
    /// third of its time ago or more is read), one a waiter took over stays.
    #[test]
    fn a_lease_taken_over_is_never_removed_by_its_old_holder() {
        let store = Store::memory().lease_ttl(Duration::from_secs(60));
        let long_ago = Instant::now().checked_sub(Duration::from_secs(30));
        for written in [None, long_ago] {
            let lease = take(&store, written);
            let taker = LeaseBody::new(store.lease_time());
            write_body(&store, "t/k/.lease", &taker).unwrap();
            lease.release(true);
            let left = read_body(&store, "t/k/.lease").unwrap().unwrap();
            assert_eq!(left.holder, taker.holder, "written {written:?}");
            store.backend().delete("t/k/.lease").unwrap();
        }
    }

    /// A lease released within its first third is removed without a read.
    #[test]
    fn a_fresh_lease_is_removed() {
        let store = Store::memory().lease_ttl(Duration::from_secs(60));
        let lease = take(&store, Some(Instant::now()));
        lease.release(true);
        assert!(matches!(
            read_body(&store, "t/k/.lease"),
            Err(Error::NotFound { .. })
        ));
    }

    #[test]
    fn a_held_lease_is_renewed_and_removed() {
        let store = Store::memory().lease_ttl(Duration::from_millis(90));
        let lease = take(&store, None);
        std::thread::sleep(Duration::from_millis(200));
        let renewed = read_body(&store, "t/k/.lease").unwrap().unwrap();
        assert!(renewed.seq >= 2, "renewed {} times in 200 ms", renewed.seq);
        lease.release(true);
        assert!(matches!(
            read_body(&store, "t/k/.lease"),
            Err(Error::NotFound { .. })
        ));
    }
}
