//! What [`prune`](super::prune) reports.

use std::fmt;
use std::time::Duration;

use crate::error::Error;

/// Why a record was selected.
///
/// ```
/// use persist_core::maintenance::PruneReason;
/// assert_eq!(PruneReason::KeepLast.to_string(), "not among the newest of its key");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum PruneReason {
    /// Saved longer ago than [`PruneOptions::older_than`](super::PruneOptions::older_than).
    OlderThan,
    /// Not among the newest [`PruneOptions::keep_last`](super::PruneOptions::keep_last) runs of its key.
    KeepLast,
    /// Among the oldest while the scope was over [`PruneOptions::max_size`](super::PruneOptions::max_size).
    MaxSize,
    /// Its `Ref` names this removed record (the location), with
    /// [`PruneOptions::with_dependents`](super::PruneOptions::with_dependents).
    DependsOn(String),
}

impl fmt::Display for PruneReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PruneReason::OlderThan => f.write_str("older than the limit"),
            PruneReason::KeepLast => f.write_str("not among the newest of its key"),
            PruneReason::MaxSize => f.write_str("oldest while over the size limit"),
            PruneReason::DependsOn(at) => write!(f, "depends on {at}"),
        }
    }
}

/// Why a selected record was kept.
///
/// ```
/// use persist_core::maintenance::Protection;
/// let p = Protection::ReferencedBy("stats/stats-n3.0123".into());
/// assert_eq!(p.to_string(), "referenced by stats/stats-n3.0123");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Protection {
    /// Saved less than [`PruneOptions::min_age`](super::PruneOptions::min_age) ago (or at a time that
    /// cannot be read, or in the future).
    YoungerThanMinAge,
    /// The `Ref` of this record (the location), which stays, names it.
    ReferencedBy(String),
}

impl fmt::Display for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protection::YoungerThanMinAge => f.write_str("younger than the minimum age"),
            Protection::ReferencedBy(at) => write!(f, "referenced by {at}"),
        }
    }
}

/// One record [`prune`](super::prune) selected.
///
/// ```
/// use persist_core::maintenance::{PruneCandidate, PruneReason};
/// let c = PruneCandidate {
///     location: "run/run-A00.0123/3".into(),
///     type_name: "run".into(),
///     name: "run-A00-3".into(),
///     saved_at: "2026-01-01T00:00:00Z".into(),
///     age: None,
///     bytes: 812,
///     reason: PruneReason::KeepLast,
/// };
/// assert_eq!(c.bytes, 812);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneCandidate {
    /// The record's place in the store (`<type>/<folder>[/<n>]`, as
    /// [`Persistence::location`](crate::Persistence::location) gives it).
    pub location: String,
    /// Its type (`#[persist(name)]`).
    pub type_name: String,
    /// Its file name (`run-A00-3`).
    pub name: String,
    /// When it was saved, as `meta.json` says (RFC 3339 UTC).
    pub saved_at: String,
    /// How long ago that was, when the prune began (`None` if `saved_at`
    /// cannot be read or lies in the future).
    pub age: Option<Duration>,
    /// Bytes of its folder: `meta.json`, record files, extra files.
    pub bytes: u64,
    /// Why it was selected.
    pub reason: PruneReason,
}

/// What [`prune`](super::prune) did (or, with `dry_run`, would do).
///
/// ```
/// use persist_core::maintenance::{prune, PruneOptions};
/// let report = prune(&persist_core::Store::memory(), &PruneOptions::default().keep_last(1))?;
/// assert!(report.removed.is_empty() && report.protected.is_empty());
/// assert_eq!(report.bytes(), 0);
/// # Ok::<(), persist_core::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct PruneReport {
    /// Whether this was a dry run (nothing removed).
    pub dry_run: bool,
    /// The records removed (or that would be), sorted by location.
    pub removed: Vec<PruneCandidate>,
    /// Selected records kept, and why, sorted by location.
    pub protected: Vec<(PruneCandidate, Protection)>,
    /// Selected records that a save replaced (or a remove took) between the
    /// listing and their removal: left as they are now.
    pub replaced: Vec<PruneCandidate>,
    /// Records whose removal failed, with the error.
    pub failed: Vec<(PruneCandidate, Error)>,
    /// Record folders whose `meta.json` cannot be read: never selected, and
    /// whose `Ref`s are unknown (`persist verify` says more).
    pub unreadable: Vec<(String, Error)>,
    /// Bytes of the types in scope before the prune, as [`du`](crate::maintenance::du)
    /// counts them (every file under their folders).
    pub scope_bytes: u64,
}

impl PruneReport {
    /// Bytes of [`removed`](PruneReport::removed): freed, or that would be.
    ///
    /// ```
    /// assert_eq!(persist_core::maintenance::PruneReport::default().bytes(), 0);
    /// ```
    pub fn bytes(&self) -> u64 {
        self.removed.iter().map(|c| c.bytes).sum()
    }
}
