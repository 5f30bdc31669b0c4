//! [`Lazy`]: a record field kept in its own file and read on first access.

use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::error::{Error, Result};
use crate::format::Storable;
use crate::record_file::RecordFileRef;

/// A value kept in a file of its own beside the record, read from the store the
/// first time [`get`](Lazy::get) is called and cached after that.
///
/// A `#[record]` field has this type. Cloning is cheap (the value is shared), so
/// a loaded record can be handed around without copying its arrays.
///
/// ```
/// use persist_core::Lazy;
/// let mut data: Lazy<Vec<u8>> = Lazy::empty();
/// assert!(data.get().is_err());            // never set: Error::EmptyRecord
/// data.set(vec![1, 2, 3]);
/// assert_eq!(data.get()?, &vec![1, 2, 3]);
/// let shared = data.clone();               // no copy of the bytes
/// assert_eq!(shared.into_inner()?, vec![1, 2, 3]);
/// # Ok::<(), persist_core::Error>(())
/// ```
pub struct Lazy<T> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    value: OnceLock<T>,
    origin: Origin,
}

/// Where an unread value comes from.
pub(crate) enum Origin {
    /// Never set and not loaded from a store.
    Unset,
    /// Loaded from a record that was saved without this file.
    SavedEmpty { record: String, field: String },
    /// A file in a store, not read yet (or read and cached).
    File(RecordFileRef),
}

impl<T> Lazy<T> {
    /// A field holding `value`.
    pub fn new(value: T) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(value);
        Lazy {
            inner: Arc::new(Inner {
                value: cell,
                origin: Origin::Unset,
            }),
        }
    }

    /// A field with no value; saving it writes no file, and `get` fails with
    /// [`Error::EmptyRecord`].
    pub fn empty() -> Self {
        Lazy::with_origin(Origin::Unset)
    }

    pub(crate) fn with_origin(origin: Origin) -> Self {
        Lazy {
            inner: Arc::new(Inner {
                value: OnceLock::new(),
                origin,
            }),
        }
    }

    /// Replaces the value (other clones keep the old one).
    pub fn set(&mut self, value: T) {
        *self = Lazy::new(value);
    }

    /// Whether the value is in memory (set, or already read).
    pub fn is_loaded(&self) -> bool {
        self.inner.value.get().is_some()
    }

    /// Whether there is no value at all: never set, or saved empty.
    pub fn is_empty(&self) -> bool {
        !self.is_loaded() && !matches!(self.inner.origin, Origin::File(_))
    }

    /// The file this value was loaded from, if it came from a store.
    pub(crate) fn file(&self) -> Option<&RecordFileRef> {
        match &self.inner.origin {
            Origin::File(f) => Some(f),
            _ => None,
        }
    }

    /// The value if it is in memory, without reading anything.
    pub(crate) fn loaded(&self) -> Option<&T> {
        self.inner.value.get()
    }
}

impl<T: Storable> Lazy<T> {
    /// The value: read from the store on the first call (its checksum checked
    /// unless the store was opened with `.verify(false)`), then cached.
    ///
    /// Errors: [`Error::EmptyRecord`] if there is no value,
    /// [`Error::Integrity`] if the file's bytes changed since it was saved,
    /// [`Error::Superseded`] if a newer save replaced and removed the file.
    pub fn get(&self) -> Result<&T> {
        if let Some(v) = self.inner.value.get() {
            return Ok(v);
        }
        let value = match &self.inner.origin {
            Origin::File(file) => file.read::<T>()?,
            Origin::SavedEmpty { record, field } => {
                return Err(Error::EmptyRecord {
                    record: record.clone(),
                    field: field.clone(),
                })
            }
            Origin::Unset => {
                return Err(Error::EmptyRecord {
                    record: String::new(),
                    field: String::new(),
                })
            }
        };
        // Two threads may both read; the first value stored wins and both see it.
        let _ = self.inner.value.set(value);
        self.inner.value.get().ok_or_else(|| Error::EmptyRecord {
            record: String::new(),
            field: String::new(),
        })
    }

    /// The value itself: moved out if this is the only handle, cloned otherwise.
    pub fn into_inner(self) -> Result<T>
    where
        T: Clone,
    {
        self.get()?;
        match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner.value.into_inner().ok_or_else(|| Error::EmptyRecord {
                record: String::new(),
                field: String::new(),
            }),
            Err(shared) => shared
                .value
                .get()
                .cloned()
                .ok_or_else(|| Error::EmptyRecord {
                    record: String::new(),
                    field: String::new(),
                }),
        }
    }
}

impl<T> Clone for Lazy<T> {
    fn clone(&self) -> Self {
        Lazy {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> Default for Lazy<T> {
    fn default() -> Self {
        Lazy::empty()
    }
}

impl<T> From<T> for Lazy<T> {
    fn from(value: T) -> Self {
        Lazy::new(value)
    }
}

/// Shows the value if it is in memory, else where it would be read from; never
/// reads a file.
impl<T: fmt::Debug> fmt::Debug for Lazy<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.inner.value.get(), &self.inner.origin) {
            (Some(v), _) => f.debug_tuple("Lazy").field(v).finish(),
            (None, Origin::File(file)) => write!(f, "Lazy(<unread: {}>)", file.shown()),
            (None, _) => f.write_str("Lazy(<empty>)"),
        }
    }
}
