//! `load_or_compute` and `load_fresh_or_compute`: a stored record is loaded
//! as it is; a missing (or stale, or invalid) one is computed once under a
//! lease (see `lease`), however many callers miss it at the same moment. A
//! computed value that fails the type's check (`#[persist(validate)]`) is
//! not saved.

use std::time::Instant;

use serde_json::{Map, Value};

use crate::error::{BoxError, Error, Result};
use crate::lease::{self, Leased};
use crate::ops::read::{self, read_record, resolved_dir};
use crate::ops::{refs, save};
use crate::record::{filename, key_map, Record, RecordDir};
use crate::store::Store;

/// What counts as stored: any record, or only one that is not stale.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wanted {
    Stored,
    Fresh,
}

pub(crate) fn load_or_compute<T, F>(
    value: T,
    store: &Store,
    wanted: Wanted,
    compute: F,
) -> Result<T>
where
    T: Record,
    F: FnOnce(&mut T) -> std::result::Result<(), BoxError>,
{
    let schema = T::__SCHEMA;
    let unresolved = schema.autoinc.is_some() && value.__autoinc().is_none();
    // The run policy (Store::policy): read-only never computes, recompute
    // never loads.
    let policy = store.current_policy();
    if policy.is_read_only() {
        if unresolved {
            // A new record would be saved: refused, with its name.
            save::check_writable(&value, store)?;
        } else if wanted == Wanted::Fresh {
            match refs::is_stale(&value, store) {
                // A stale record is an error, never returned as fresh.
                Ok(true) => save::check_writable(&value, store)?,
                Ok(false) | Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        return read::load(&value, store);
    }
    if unresolved || policy.recomputes(schema.name) {
        // Each call is a new numbered run, or a deliberate recomputation:
        // nothing to share, nothing leased.
        return run(value, store, compute, &Leased::NONE, None);
    }
    let dir = resolved_dir(&value)?;
    let key = key_map(&value)?;
    let mut check = || -> Result<Option<T>> {
        let stored = match read_record::<T>(store, &dir, Some(&key)) {
            Ok(v) => v,
            // Absent, or failing the type's check: computed again.
            Err(Error::NotFound { .. } | Error::Invalid { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        if wanted == Wanted::Fresh {
            match refs::is_stale(&stored, store) {
                Ok(false) => {}
                // Stale, or removed since it was read: computed again.
                Ok(true) | Err(Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Ok(Some(stored))
    };
    // A stored record never waits for a lease.
    if let Some(v) = check()? {
        return Ok(v);
    }
    lease::once(store, &dir.path(), dir.name(), &mut check, |leased| {
        run(value, store, compute, leased, Some((&dir, &key)))
    })
}

/// Runs the computation on `value` and saves the result if it passes the
/// type's check, its `meta.json` written through the lease it ran under.
/// `place`: the folder and key of `value` before the computation, which
/// the save reuses if the computation left the key as it was.
fn run<T, F>(
    mut value: T,
    store: &Store,
    compute: F,
    leased: &Leased<'_>,
    place: Option<(&RecordDir, &Map<String, Value>)>,
) -> Result<T>
where
    T: Record,
    F: FnOnce(&mut T) -> std::result::Result<(), BoxError>,
{
    let started = Instant::now();
    store.counters().computed();
    let outcome = compute(&mut value);
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        target: "persist",
        record = %filename(&value),
        seconds,
        ok = outcome.is_ok(),
        "computed"
    );
    outcome.map_err(|source| Error::Compute {
        record: filename(&value),
        source,
    })?;
    value
        .__validate()
        .map_err(|source| invalid(&value, store, source))?;
    // The folder is a function of the key and the number alone: if the
    // computation changed neither, it is the one found before (and the
    // save need not derive it again).
    let place = place.and_then(|(dir, key)| match key_map(&value) {
        Ok(now) if now == *key && value.__autoinc() == dir.number() => Some((dir.clone(), now)),
        _ => None,
    });
    save::save_computed(&mut value, store, seconds, leased, place)?;
    Ok(value)
}

/// [`Error::Invalid`] for a computed value: where it would have been saved
/// (its `meta.json`, or its key's folder for a new autoinc run).
fn invalid<T: Record>(value: &T, store: &Store, source: BoxError) -> Error {
    let path = match RecordDir::of(value) {
        Ok((dir, _)) if dir.number().is_some() || T::__SCHEMA.autoinc.is_none() => {
            store.backend().describe(&dir.meta_path())
        }
        Ok((dir, _)) => store.backend().describe(&dir.path()),
        Err(_) => String::new(),
    };
    Error::Invalid {
        record: filename(value),
        path,
        source,
    }
}
