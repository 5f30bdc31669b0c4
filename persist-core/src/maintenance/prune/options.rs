//! What [`prune`](super::prune) removes: the options.

use std::time::Duration;

use crate::layout;

/// The `min_age` of [`PruneOptions::default`]: one hour. A record saved more
/// recently is never removed, whatever selects it.
pub const DEFAULT_PRUNE_MIN_AGE: Duration = Duration::from_secs(3600);

/// What [`prune`](super::prune) removes.
///
/// [`types`](PruneOptions::types) restricts the scope (empty: every type);
/// [`older_than`](PruneOptions::older_than), [`keep_last`](PruneOptions::keep_last)
/// and [`max_size`](PruneOptions::max_size) each select records in it, and a
/// record any of them selects is removed unless it is protected: saved less
/// than [`min_age`](PruneOptions::min_age) ago, or named by the `Ref` of a
/// record that stays. With no selector set nothing is selected.
///
/// The fields are public; the methods of the same names set them one at a
/// time, as [`Store`](crate::Store)'s options do.
///
/// ```
/// use persist_core::maintenance::{PruneOptions, DEFAULT_PRUNE_MIN_AGE};
/// use std::time::Duration;
///
/// let opts = PruneOptions::default()
///     .types(["run"])
///     .older_than(Duration::from_secs(30 * 86_400))
///     .keep_last(5)
///     .dry_run(true);
/// assert_eq!(opts.types, ["run"]);
/// assert_eq!(opts.keep_last, Some(5));
/// assert_eq!(opts.min_age, DEFAULT_PRUNE_MIN_AGE);
/// assert!(opts.dry_run && !opts.with_dependents);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneOptions {
    /// Selects records saved longer ago than this.
    pub older_than: Option<Duration>,
    /// Only records of these types (by `#[persist(name)]` or type folder);
    /// empty: every type.
    pub types: Vec<String>,
    /// Selects, for every key of an autoinc type, every run but the newest
    /// `n` numbers. Records without autoinc are not selected by it.
    pub keep_last: Option<usize>,
    /// Selects records oldest first until the types in scope take at most
    /// this many bytes (as [`du`](crate::maintenance::du) counts them).
    pub max_size: Option<u64>,
    /// Records saved less than this long ago are never removed (reported as
    /// [`Protection::YoungerThanMinAge`](super::Protection::YoungerThanMinAge)); `Duration::ZERO` lets everything go.
    pub min_age: Duration,
    /// Also remove the records whose `Ref` names a removed record (and theirs,
    /// down the chain), instead of keeping both.
    pub with_dependents: bool,
    /// Only report what would be removed.
    pub dry_run: bool,
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions {
            older_than: None,
            types: Vec::new(),
            keep_last: None,
            max_size: None,
            min_age: DEFAULT_PRUNE_MIN_AGE,
            with_dependents: false,
            dry_run: false,
        }
    }
}

impl PruneOptions {
    /// Selects records saved longer ago than `age`.
    ///
    /// ```
    /// # use persist_core::maintenance::PruneOptions;
    /// # use std::time::Duration;
    /// let o = PruneOptions::default().older_than(Duration::from_secs(86_400));
    /// assert_eq!(o.older_than, Some(Duration::from_secs(86_400)));
    /// ```
    pub fn older_than(mut self, age: Duration) -> Self {
        self.older_than = Some(age);
        self
    }

    /// Restricts the scope to these types (replacing any given before).
    ///
    /// ```
    /// # use persist_core::maintenance::PruneOptions;
    /// assert_eq!(PruneOptions::default().types(["a", "b"]).types, ["a", "b"]);
    /// ```
    pub fn types<I, S>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.types = types.into_iter().map(Into::into).collect();
        self
    }

    /// Keeps the newest `n` runs of every autoinc key and selects the rest.
    ///
    /// ```
    /// # use persist_core::maintenance::PruneOptions;
    /// assert_eq!(PruneOptions::default().keep_last(3).keep_last, Some(3));
    /// ```
    pub fn keep_last(mut self, n: usize) -> Self {
        self.keep_last = Some(n);
        self
    }

    /// Selects records oldest first until the scope takes at most `bytes`.
    ///
    /// ```
    /// # use persist_core::maintenance::PruneOptions;
    /// assert_eq!(PruneOptions::default().max_size(1 << 30).max_size, Some(1 << 30));
    /// ```
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = Some(bytes);
        self
    }

    /// Never removes a record saved less than `age` ago.
    ///
    /// ```
    /// # use persist_core::maintenance::PruneOptions;
    /// # use std::time::Duration;
    /// assert!(PruneOptions::default().min_age(Duration::ZERO).min_age.is_zero());
    /// ```
    pub fn min_age(mut self, age: Duration) -> Self {
        self.min_age = age;
        self
    }

    /// Removes the dependents of removed records too.
    ///
    /// ```
    /// # use persist_core::maintenance::PruneOptions;
    /// assert!(PruneOptions::default().with_dependents(true).with_dependents);
    /// ```
    pub fn with_dependents(mut self, yes: bool) -> Self {
        self.with_dependents = yes;
        self
    }

    /// Only reports what would be removed.
    ///
    /// ```
    /// # use persist_core::maintenance::PruneOptions;
    /// assert!(PruneOptions::default().dry_run(true).dry_run);
    /// ```
    pub fn dry_run(mut self, yes: bool) -> Self {
        self.dry_run = yes;
        self
    }

    /// Whether any selector is set (without one, [`prune`](super::prune) selects nothing).
    ///
    /// ```
    /// # use persist_core::maintenance::PruneOptions;
    /// assert!(!PruneOptions::default().types(["run"]).selects());
    /// assert!(PruneOptions::default().keep_last(1).selects());
    /// ```
    pub fn selects(&self) -> bool {
        self.older_than.is_some() || self.keep_last.is_some() || self.max_size.is_some()
    }

    pub(super) fn in_scope(&self, type_dir: &str, type_name: &str) -> bool {
        self.types.is_empty()
            || self
                .types
                .iter()
                .any(|t| t == type_name || t == type_dir || layout::type_dir(t) == type_dir)
    }
}
