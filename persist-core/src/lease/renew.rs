//! Holding a lease: the one background thread that renews this process's
//! leases every third of their time to live, and the end of a lease (the
//! save's `meta.json` taking its place, or its removal; the takeover claim's
//! removal after a save).

use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::body::{lock, now_ms, read_body, write_body, LeaseBody};
use crate::backend::{Kept, WriteFn};
use crate::error::{Error, Result};
use crate::store::Store;

/// A lease this process holds, renewed in the background until released.
pub(super) struct HeldLease {
    active: Arc<ActiveLease>,
    released: bool,
}

struct ActiveLease {
    store: Store,
    path: String,
    /// The lease's state; held while renewing, so a release never races a
    /// renewal that would write the lease back after it was deleted.
    state: Mutex<ActiveState>,
    /// When the next renewal is due.
    due: Mutex<Instant>,
}

struct ActiveState {
    body: LeaseBody,
    /// When this holder wrote its lease (taken just before the write), as
    /// long as that is its only write and it is known to have been seen
    /// whole: the release skips its read of the lease while this is recent
    /// (see `ActiveLease::end`).
    written: Option<Instant>,
    /// What the backend kept of the lease it created (its open file on the
    /// local disk), for the save's `meta.json` to be written into; dropped
    /// when the lease is written again or ends.
    kept: Kept,
    /// The takeover claim this holder created, removed after a save.
    takeover: Option<String>,
    ended: bool,
    /// Another waiter took the lease over: this holder stopped renewing.
    lost: bool,
    /// The save's `meta.json` took the lease's place: nothing is left to remove.
    replaced: bool,
}

impl HeldLease {
    /// Starts renewing the lease at `path`, which holds `body`. `written`:
    /// when it was written (taken before the write), if no waiter can have
    /// seen it empty. `kept`: what the backend kept of it when it created it.
    pub(super) fn start(
        store: &Store,
        path: &str,
        body: LeaseBody,
        written: Option<Instant>,
        kept: Kept,
        takeover: Option<String>,
    ) -> HeldLease {
        let every = renew_every(body.ttl());
        let active = Arc::new(ActiveLease {
            store: store.clone(),
            path: path.to_owned(),
            state: Mutex::new(ActiveState {
                body,
                written,
                kept,
                takeover,
                ended: false,
                lost: false,
                replaced: false,
            }),
            due: Mutex::new(Instant::now() + every),
        });
        renewer().add(active.clone());
        HeldLease {
            active,
            released: false,
        }
    }

    /// Writes the record's `meta.json` at `path` (as `Backend::put` does) and
    /// ends the lease in the same step where the backend can
    /// (`Backend::put_replacing`: on the local disk the lease's file becomes
    /// `meta.json`). A lease no longer this holder's is left alone and
    /// `meta.json` put beside it.
    pub(super) fn put_meta(&self, path: &str, write: &mut WriteFn<'_>) -> Result<()> {
        self.active.put_meta(path, write)
    }

    /// Ends the lease: deletes it (if it is still this holder's) and, after a
    /// successful computation, the takeover claim. A failed holder keeps the
    /// claim, so a waiter that saw the old lease expire cannot claim it again
    /// and compute beside the next holder.
    pub(super) fn release(mut self, succeeded: bool) {
        self.released = true;
        self.active.end(succeeded);
    }
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        // Reached without `release` only when the computation panicked.
        if !self.released {
            self.active.end(false);
        }
    }
}

/// A third of the time to live, as the contract says.
fn renew_every(ttl: Duration) -> Duration {
    (ttl / 3).max(Duration::from_millis(1))
}

impl ActiveLease {
    /// Whether the lease file is still this holder's, so that it may remove
    /// or replace it.
    ///
    /// A lease another waiter took over must never be removed by its old
    /// holder, so the lease is read first to see whose it is. Not while it
    /// is younger than a renewal period and was never renewed, though: a
    /// waiter takes a lease over only once it has gone unrenewed for its
    /// time to live, counted on the waiter's clock from no earlier than
    /// the write and shortened by what the holder's clock says had passed
    /// when it was first seen. Only clocks that disagree by more than two
    /// thirds of the lease time could cut that below a third, and under
    /// them a live lease renewed on time would look expired anyway. Nor
    /// was a lease seen empty for a lease time (and removed by a waiter):
    /// `written` is set only for one written within the shortest lease
    /// time.
    fn still_ours(&self, state: &ActiveState) -> bool {
        if state.lost || state.replaced {
            return false;
        }
        let fresh = state
            .written
            .is_some_and(|w| w.elapsed() < renew_every(state.body.ttl()));
        fresh
            || matches!(read_body(&self.store, &self.path), Ok(Some(b)) if b.holder == state.body.holder)
    }

    fn put_meta(&self, path: &str, write: &mut WriteFn<'_>) -> Result<()> {
        // Held throughout: no renewal writes the lease while its file becomes
        // `meta.json`.
        let mut state = lock(&self.state);
        let backend = self.store.backend();
        let durable = self.store.is_durable();
        let kept = std::mem::take(&mut state.kept);
        if state.ended || !self.still_ours(&state) {
            drop(state);
            drop(kept);
            return backend.put(path, durable, write);
        }
        let put = backend.put_replacing(path, &self.path, kept, durable, write);
        if put.is_err() {
            // The lease's file may hold part of `meta.json`: removed now, while
            // it is known to be this holder's, so the next waiter computes.
            let _ = backend.delete(&self.path);
        }
        // Gone either way.
        state.replaced = true;
        state.ended = true;
        put
    }

    fn end(&self, succeeded: bool) {
        let mut state = lock(&self.state);
        state.ended = true;
        // The renewer may hold this lease a while yet: its file is not.
        state.kept = Kept::default();
        let backend = self.store.backend();
        // Best effort throughout: a lease left behind expires, and gc removes it.
        if self.still_ours(&state) {
            if let Err(e) = backend.delete(&self.path) {
                tracing::warn!(target: "persist", lease = %backend.describe(&self.path), error = %e, "could not remove a lease; it expires");
            }
        }
        if succeeded {
            if let Some(claim) = state.takeover.take() {
                let _ = backend.delete(&claim);
            }
        }
    }

    fn is_ended(&self) -> bool {
        let state = lock(&self.state);
        state.ended || state.lost
    }

    fn renew(&self) {
        let mut state = lock(&self.state);
        if state.ended || state.lost {
            return;
        }
        // From the first renewal on, the release reads the lease before it
        // removes it: a renewal may overwrite a takeover (its read before
        // the write cannot rule that out), or be overwritten by one after
        // its read after the write, and only the reading sees it.
        state.written = None;
        let backend = self.store.backend();
        let shown = || backend.describe(&self.path);
        let every = renew_every(state.body.ttl());
        match read_body(&self.store, &self.path) {
            Ok(Some(b)) if b.holder != state.body.holder => {
                state.lost = true;
                tracing::warn!(target: "persist", lease = %shown(), holder = %format!("pid {} on {}", b.pid, b.host), "lease taken over by another holder (this one was not renewed in time); the computation goes on");
                return;
            }
            // Ours, unreadable (being rewritten) or gone (removed by hand):
            // written again below.
            Ok(_) | Err(Error::NotFound { .. }) => {}
            Err(e) => {
                tracing::warn!(target: "persist", lease = %shown(), error = %e, "could not read the lease to renew it; trying again");
                *lock(&self.due) = Instant::now() + every / 2;
                return;
            }
        }
        state.body.seq += 1;
        state.body.renewed_ms = now_ms();
        // Written below as a new file in the lease's place.
        state.kept = Kept::default();
        if let Err(e) = write_body(&self.store, &self.path, &state.body) {
            tracing::warn!(target: "persist", lease = %shown(), error = %e, "could not renew the lease; trying again");
            *lock(&self.due) = Instant::now() + every / 2;
            return;
        }
        // The write is unconditional: a read after it shows whether a waiter
        // took the lease over in between.
        if let Ok(Some(b)) = read_body(&self.store, &self.path) {
            if b.holder != state.body.holder {
                state.lost = true;
                tracing::warn!(target: "persist", lease = %shown(), "lease taken over by another holder while it was renewed; the computation goes on");
            }
        }
        *lock(&self.due) = Instant::now() + every;
    }
}

/// The one background thread that renews this process's leases.
struct Renewer {
    leases: Mutex<RenewerState>,
    wake: Condvar,
}

#[derive(Default)]
struct RenewerState {
    active: Vec<Arc<ActiveLease>>,
    /// When the thread wakes next by itself (`None`: asleep until told).
    wakes_at: Option<Instant>,
    /// The thread could not be started: leases are renewed by nobody.
    failed: bool,
}

fn renewer() -> &'static Renewer {
    static RENEWER: OnceLock<&'static Renewer> = OnceLock::new();
    RENEWER.get_or_init(|| {
        let renewer: &'static Renewer = Box::leak(Box::new(Renewer {
            leases: Mutex::new(RenewerState::default()),
            wake: Condvar::new(),
        }));
        let started = std::thread::Builder::new()
            .name("persist-lease".to_owned())
            .spawn(move || renewer.run());
        if let Err(e) = started {
            tracing::warn!(target: "persist", error = %e, "could not start the thread that renews leases; a computation longer than the lease time may be taken over");
            lock(&renewer.leases).failed = true;
        }
        renewer
    })
}

impl Renewer {
    fn add(&self, lease: Arc<ActiveLease>) {
        let due = *lock(&lease.due);
        let mut state = lock(&self.leases);
        if state.failed {
            return;
        }
        state.active.push(lease);
        // Woken only if it would otherwise sleep past this lease's renewal.
        if state.wakes_at.is_none_or(|t| t > due) {
            self.wake.notify_one();
        }
    }

    fn run(&self) {
        let mut state = lock(&self.leases);
        loop {
            state.active.retain(|l| !l.is_ended());
            let now = Instant::now();
            let due: Vec<Arc<ActiveLease>> = state
                .active
                .iter()
                .filter(|l| *lock(&l.due) <= now)
                .cloned()
                .collect();
            if due.is_empty() {
                let next = state.active.iter().map(|l| *lock(&l.due)).min();
                state.wakes_at = next;
                state = match next {
                    Some(t) => match self
                        .wake
                        .wait_timeout(state, t.saturating_duration_since(now))
                    {
                        Ok((s, _)) => s,
                        Err(p) => p.into_inner().0,
                    },
                    None => self.wake.wait(state).unwrap_or_else(|p| p.into_inner()),
                };
                continue;
            }
            // Renewals talk to the store: never with the list locked.
            state.wakes_at = Some(now);
            drop(state);
            for lease in due {
                lease.renew();
            }
            state = lock(&self.leases);
        }
    }
}
