//! A record file as a loaded `Lazy` knows it: where it is and what its bytes
//! must hash to.

use std::io::{BufReader, Read, Write};

use crate::checksum::HashingReader;
use crate::error::{Error, Result};
use crate::format::Storable;
use crate::meta::RecordFile;
use crate::store::Store;

/// Reader buffer: small reads (npy headers) are batched, large ones pass through.
const READ_BUF: usize = 64 * 1024;

/// A record file in a store, not necessarily read yet.
#[derive(Clone)]
pub(crate) struct RecordFileRef {
    pub(crate) store: Store,
    /// The file's path in the store.
    pub(crate) path: String,
    /// The record's file name, for messages.
    pub(crate) record: String,
    pub(crate) entry: RecordFile,
}

impl RecordFileRef {
    pub(crate) fn shown(&self) -> String {
        self.store.backend().describe(&self.path)
    }

    fn open(&self) -> Result<HashingReader<BufReader<Box<dyn Read + Send>>>> {
        let reader = self.store.backend().get(&self.path).map_err(|e| match e {
            Error::NotFound { .. } => Error::Superseded {
                record: self.record.clone(),
                path: self.shown(),
            },
            other => other.within(&self.record, &self.shown()),
        })?;
        Ok(HashingReader::new(
            BufReader::with_capacity(READ_BUF, reader),
            self.store.is_verifying(),
        ))
    }

    /// Checks what was read against the stored size and checksum.
    fn check(&self, hash: Option<String>, size: u64) -> Result<()> {
        if let Some(found) = hash {
            if found != self.entry.blake3 {
                return Err(Error::Integrity {
                    record: self.record.clone(),
                    path: self.shown(),
                    expected: self.entry.blake3.clone(),
                    found,
                });
            }
        } else if size != self.entry.size {
            return Err(Error::Corrupt {
                record: self.record.clone(),
                path: self.shown(),
                reason: format!("file has {size} bytes, {} were saved", self.entry.size),
            });
        }
        Ok(())
    }

    /// Reads and decodes the file, checking its checksum (a changed file is
    /// reported as [`Error::Integrity`] even when it no longer decodes).
    pub(crate) fn read<T: Storable>(&self) -> Result<T> {
        let mut reader = self.open()?;
        let decoded = T::read(&mut reader);
        let io_err = |e| Error::io(e).within(&self.record, &self.shown());
        let (hash, size) = reader.finish().map_err(io_err)?;
        self.check(hash, size)?;
        decoded.map_err(|e| e.within(&self.record, &self.shown()))
    }

    /// Copies the raw bytes to `w`, checking the checksum on the way.
    pub(crate) fn copy_to(&self, w: &mut dyn Write) -> Result<()> {
        let mut reader = self.open()?;
        std::io::copy(&mut reader, w)
            .map_err(|e| Error::io(e).within(&self.record, &self.shown()))?;
        let (hash, size) = reader
            .finish()
            .map_err(|e| Error::io(e).within(&self.record, &self.shown()))?;
        self.check(hash, size)
    }
}
