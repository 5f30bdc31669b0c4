//! Removing whole records by age, count and size: what `persist prune` runs.
//!
//! Choosing is done on one listing of the store ([`walk`](super::walk)); removing one
//! record follows the rule every removal keeps (a record exists exactly when
//! its `meta.json` does): `meta.json` goes first, in one step, and only then
//! the files it named. See [`prune`] for how a save racing a prune is kept
//! whole.

mod options;
mod plan;
mod remove;
mod report;

#[cfg(test)]
#[cfg(feature = "derive")]
mod tests;

pub use options::{PruneOptions, DEFAULT_PRUNE_MIN_AGE};
pub use plan::prune;
pub use report::{Protection, PruneCandidate, PruneReason, PruneReport};
