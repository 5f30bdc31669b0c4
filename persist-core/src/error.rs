//! The one error type of persist.
//!
//! Every variant carries the record it concerns (its file name, such as
//! `example-A00-1234`) and, where there is one, the path in the store, so a
//! message read in a log months later still says which result was affected.
//! Errors raised where that context is not known yet (inside a
//! [`Storable`](crate::Storable) implementation, say) leave those fields empty;
//! the store fills them in before the error reaches the caller.

use std::fmt;

/// `Result<T, persist_core::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error from user code (a `load_or_compute` closure, a migration hook).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong while keeping or reading a result.
///
/// ```
/// use persist_core::{Error, Store};
/// let err = Error::corrupt("header is not JSON");
/// assert!(matches!(err, Error::Corrupt { .. }));
/// assert_eq!(err.to_string(), "corrupt data: header is not JSON");
/// # let _ = Store::memory();
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Nothing is stored under this key (or this file).
    #[error("{}not found{}", Rec(record), At(path))]
    NotFound {
        /// The record's file name.
        record: String,
        /// Where it was looked for.
        path: String,
    },

    /// The record has an `#[autoinc]` field that is still `None`, so it names no
    /// single stored record.
    #[error("{}autoinc field `{field}` is not resolved (None): save the record first, or set the number to load a stored one", Rec(record))]
    AutoIncUnresolved {
        /// The record's file name (with `*` for the number).
        record: String,
        /// The `#[autoinc]` field.
        field: String,
    },

    /// A `Lazy` record field that was never set was read.
    #[error(
        "{}record field `{field}` is empty: it was never set, or was saved empty",
        Rec(record)
    )]
    EmptyRecord {
        /// The record's file name.
        record: String,
        /// The `#[record]` field.
        field: String,
    },

    /// Stored bytes that do not parse: a truncated file, JSON that is not JSON,
    /// a field missing from `meta.json`.
    #[error("{}corrupt data{}: {reason}", Rec(record), At(path))]
    Corrupt {
        /// The record's file name.
        record: String,
        /// The damaged file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Stored data of another type than the one asked for: another dtype or
    /// number of dimensions, a field of another type, another record version.
    #[error(
        "{}type mismatch{}: expected {expected}, found {found}",
        Rec(record),
        At(path)
    )]
    TypeMismatch {
        /// The record's file name.
        record: String,
        /// The file read.
        path: String,
        /// What the Rust type wants.
        expected: String,
        /// What is stored.
        found: String,
    },

    /// A record file's blake3 differs from the one stored when it was written.
    #[error(
        "{}integrity check failed{}: blake3 is {found}, expected {expected}",
        Rec(record),
        At(path)
    )]
    Integrity {
        /// The record's file name.
        record: String,
        /// The file whose bytes changed.
        path: String,
        /// The checksum stored in `meta.json`.
        expected: String,
        /// The checksum of the bytes read.
        found: String,
    },

    /// A key value with no canonical form (a NaN or infinite float, a value whose
    /// serialization fails), or an argument that cannot name a file.
    #[error("{}invalid key: {reason}", Rec(record))]
    InvalidKey {
        /// The record's file name, as far as it could be built.
        record: String,
        /// Which value, and why.
        reason: String,
    },

    /// A data field value JSON cannot hold (a NaN or infinite float), so saving
    /// it would not load back.
    #[error("{}invalid data: {reason}", Rec(record))]
    InvalidData {
        /// The record's file name.
        record: String,
        /// Which field, and why.
        reason: String,
    },

    /// The operating system or the object store failed.
    #[error("{}I/O error{}: {source}", Rec(record), At(path))]
    Io {
        /// The record's file name.
        record: String,
        /// The file or object concerned.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The computation passed to `load_or_compute` failed; nothing was saved.
    #[error("{}computation failed: {source}", Rec(record))]
    Compute {
        /// The record that was being computed.
        record: String,
        /// The closure's own error, message kept.
        #[source]
        source: BoxError,
    },

    /// The record fails its type's [`Validate`](crate::Validate) check
    /// (`#[persist(validate)]`): a stored one when loaded, or a computed one,
    /// which `load_or_compute` then does not save.
    ///
    /// ```
    /// use persist_core::{BoxError, Error, Persistence, Store, Validate};
    ///
    /// #[derive(Persistence, Debug)]
    /// #[persist(validate)]
    /// struct Count { #[key] #[filename] name: String, n: i64 }
    ///
    /// impl Validate for Count {
    ///     fn validate(&self) -> Result<(), BoxError> {
    ///         if self.n < 0 { Err("negative count".into()) } else { Ok(()) }
    ///     }
    /// }
    ///
    /// let store = Store::memory();
    /// let mut c = Count::new("a");
    /// c.n = -3;
    /// c.save(&store)?;
    /// match Count::new("a").load(&store).unwrap_err() {
    ///     Error::Invalid { record, path, source } => {
    ///         assert_eq!(record, "count-a");
    ///         assert!(path.ends_with("meta.json"), "{path}");
    ///         assert_eq!(source.to_string(), "negative count");
    ///     }
    ///     other => panic!("{other}"),
    /// }
    /// # Ok::<(), persist_core::Error>(())
    /// ```
    #[error("{}failed validation{}: {source}", Rec(record), At(path))]
    Invalid {
        /// The record's file name.
        record: String,
        /// Its `meta.json` (where a computed record would have been saved).
        path: String,
        /// The check's own error, message kept.
        #[source]
        source: BoxError,
    },

    /// A record file this value was loaded with was replaced by a newer save and
    /// removed before it was read. Load the record again.
    #[error("{}record file{} was replaced by a newer save and removed before it was read; load the record again", Rec(record), At(path))]
    Superseded {
        /// The record's file name.
        record: String,
        /// The file that is gone.
        path: String,
    },

    /// A write to a store opened with
    /// [`Policy::ReadOnly`](crate::Policy::ReadOnly): nothing was written.
    #[error(
        "{}the store is read-only{}: nothing is written (Policy::ReadOnly)",
        Rec(record),
        At(path)
    )]
    ReadOnly {
        /// The record that would have been written.
        record: String,
        /// Where it would have been written.
        path: String,
    },

    /// The backend cannot keep a promise persist relies on (for instance an
    /// object store without conditional writes, which autoinc needs).
    #[error("{}unsupported: {reason}", Rec(record))]
    Unsupported {
        /// The record's file name.
        record: String,
        /// What is missing.
        reason: String,
    },

    /// `load_or_compute` waited longer than the store's
    /// [`wait_timeout`](crate::Store::wait_timeout) for another thread,
    /// process or machine computing the same record. Nothing was computed.
    #[error(
        "{}gave up after waiting {waited:?} for another computation of the record (its lease{})",
        Rec(record),
        At(path)
    )]
    Timeout {
        /// The record's file name.
        record: String,
        /// The lease that was held all along.
        path: String,
        /// How long the call waited.
        waited: std::time::Duration,
    },
}

impl Error {
    /// An I/O error, for [`Storable`](crate::Storable) implementations; the store
    /// adds the record and the path.
    pub fn io(source: std::io::Error) -> Self {
        Error::Io {
            record: String::new(),
            path: String::new(),
            source,
        }
    }

    /// Bytes that do not parse, for [`Storable`](crate::Storable) implementations.
    pub fn corrupt(reason: impl Into<String>) -> Self {
        Error::Corrupt {
            record: String::new(),
            path: String::new(),
            reason: reason.into(),
        }
    }

    /// Data of another type than expected, for [`Storable`](crate::Storable)
    /// implementations.
    pub fn type_mismatch(expected: impl Into<String>, found: impl Into<String>) -> Self {
        Error::TypeMismatch {
            record: String::new(),
            path: String::new(),
            expected: expected.into(),
            found: found.into(),
        }
    }

    /// The record this error concerns (its file name), if known.
    pub fn record(&self) -> Option<&str> {
        let r = match self {
            Error::NotFound { record, .. }
            | Error::AutoIncUnresolved { record, .. }
            | Error::EmptyRecord { record, .. }
            | Error::Corrupt { record, .. }
            | Error::TypeMismatch { record, .. }
            | Error::Integrity { record, .. }
            | Error::InvalidKey { record, .. }
            | Error::InvalidData { record, .. }
            | Error::Io { record, .. }
            | Error::Compute { record, .. }
            | Error::Invalid { record, .. }
            | Error::Superseded { record, .. }
            | Error::ReadOnly { record, .. }
            | Error::Unsupported { record, .. }
            | Error::Timeout { record, .. } => record,
        };
        (!r.is_empty()).then_some(r.as_str())
    }

    /// The path this error concerns, if known.
    pub fn path(&self) -> Option<&str> {
        let p = match self {
            Error::NotFound { path, .. }
            | Error::Corrupt { path, .. }
            | Error::TypeMismatch { path, .. }
            | Error::Integrity { path, .. }
            | Error::Io { path, .. }
            | Error::Invalid { path, .. }
            | Error::Superseded { path, .. }
            | Error::ReadOnly { path, .. }
            | Error::Timeout { path, .. } => path,
            _ => return None,
        };
        (!p.is_empty()).then_some(p.as_str())
    }

    /// Fills in the record (and path) where they are still empty.
    pub(crate) fn within(self, rec: &str, at: &str) -> Self {
        self.within_at(rec, || at.to_owned())
    }

    /// [`within`](Self::within), with the path made only if it is still
    /// empty: most errors of the backends name their path already.
    pub(crate) fn within_at(mut self, rec: &str, at: impl FnOnce() -> String) -> Self {
        let fill = |s: &mut String, v: &str| {
            if s.is_empty() {
                v.clone_into(s);
            }
        };
        let fill_path = |s: &mut String| {
            if s.is_empty() {
                *s = at();
            }
        };
        match &mut self {
            Error::NotFound { record, path }
            | Error::Corrupt { record, path, .. }
            | Error::TypeMismatch { record, path, .. }
            | Error::Integrity { record, path, .. }
            | Error::Io { record, path, .. }
            | Error::Invalid { record, path, .. }
            | Error::Superseded { record, path }
            | Error::ReadOnly { record, path }
            | Error::Timeout { record, path, .. } => {
                fill(record, rec);
                fill_path(path);
            }
            Error::AutoIncUnresolved { record, .. }
            | Error::EmptyRecord { record, .. }
            | Error::InvalidKey { record, .. }
            | Error::InvalidData { record, .. }
            | Error::Compute { record, .. }
            | Error::Unsupported { record, .. } => fill(record, rec),
        }
        self
    }

    /// Fills in the record name only.
    pub(crate) fn in_record(self, rec: &str) -> Self {
        self.within(rec, "")
    }
}

/// Prints "`record`: " or nothing.
struct Rec<'a>(&'a String);
impl fmt::Display for Rec<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, "record `{}`: ", self.0)
        }
    }
}

/// Prints " at <path>" or nothing.
struct At<'a>(&'a String);
impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, " at {}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_record_and_path() {
        let e = Error::corrupt("truncated").within("example-A00-1", "/s/example/x/meta.json");
        assert_eq!(
            e.to_string(),
            "record `example-A00-1`: corrupt data at /s/example/x/meta.json: truncated"
        );
        assert_eq!(e.record(), Some("example-A00-1"));
        assert_eq!(e.path(), Some("/s/example/x/meta.json"));
    }

    #[test]
    fn context_is_not_overwritten() {
        let e = Error::corrupt("x")
            .within("inner", "p1")
            .within("outer", "p2");
        assert_eq!(e.record(), Some("inner"));
        assert_eq!(e.path(), Some("p1"));
    }

    #[test]
    fn error_is_send_sync_static() {
        fn check<T: Send + Sync + 'static>() {}
        check::<Error>();
    }
}
