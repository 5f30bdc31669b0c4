//! [`RecordOut`]: a `#[record]` field on its way to a file, with the `T` of its
//! `Lazy<T>` erased so that the save path is not generic over it.

use std::io::Write;

use crate::error::Result;
use crate::format::Storable;
use crate::lazy::Lazy;
use crate::record_file::RecordFileRef;

/// A `#[record]` field, type-erased for the save path.
pub struct RecordOut<'a>(&'a dyn ErasedRecord);

/// Erases the `T` of a `Lazy<T>` for saving.
pub(crate) trait ErasedRecord {
    fn extension(&self) -> &'static str;
    /// The file it was loaded from, if it is unchanged since.
    fn file(&self) -> Option<&RecordFileRef>;
    /// Whether a value is in memory.
    fn has_value(&self) -> bool;
    /// Writes the in-memory value; `None` if there is none.
    fn write_value(&self, w: &mut dyn Write) -> Option<Result<()>>;
}

impl<T: Storable> ErasedRecord for Lazy<T> {
    fn extension(&self) -> &'static str {
        T::EXTENSION
    }
    fn file(&self) -> Option<&RecordFileRef> {
        Lazy::file(self)
    }
    fn has_value(&self) -> bool {
        self.loaded().is_some()
    }
    fn write_value(&self, w: &mut dyn Write) -> Option<Result<()>> {
        self.loaded().map(|v| v.write(w))
    }
}

impl<'a> RecordOut<'a> {
    pub(crate) fn erased(&self) -> &'a dyn ErasedRecord {
        self.0
    }
}

/// Erases a record field for the save path.
pub fn record_out<T: Storable>(v: &Lazy<T>) -> RecordOut<'_> {
    RecordOut(v)
}
