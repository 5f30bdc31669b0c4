//! A record file as a loaded `Lazy` knows it: where it is and what its bytes
//! must hash to.

use std::io::{BufReader, Read, Write};

use crate::backend::local::{self, MapFailure};
use crate::checksum::HashingReader;
use crate::compress::Codec;
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
    /// How the stored bytes are compressed (`entry.compression`, parsed).
    pub(crate) codec: Option<Codec>,
}

impl RecordFileRef {
    pub(crate) fn shown(&self) -> String {
        self.store.backend().describe(&self.path)
    }

    fn open(&self) -> Result<HashingReader<BufReader<Box<dyn Read + Send>>>> {
        let opened = |e| match e {
            Error::NotFound { .. } => self.missing(),
            other => other.within(&self.record, &self.shown()),
        };
        // A large file on the local disk is read at positions, on several
        // threads; its reader shares the file's offset.
        let file = match self.store.backend().local_path(&self.path) {
            Some(full) if self.entry.size >= crate::checksum::OVERLAP_MIN as u64 => {
                Some(local::open_file(&full).map_err(opened)?)
            }
            _ => None,
        };
        let reader: Box<dyn Read + Send> = match &file {
            Some(file) => Box::new(
                file.try_clone()
                    .map_err(|e| Error::io(e).within(&self.record, &self.shown()))?,
            ),
            None => self.store.backend().get(&self.path).map_err(opened)?,
        };
        // No bigger than the file (plus one byte, to see its end in the same
        // read): a 64 KiB buffer for a 1 KiB file costs more to allocate and
        // free than reading it.
        let capacity = usize::try_from(self.entry.size.saturating_add(1))
            .map_or(READ_BUF, |s| s.min(READ_BUF));
        let reader = HashingReader::new(
            BufReader::with_capacity(capacity, reader),
            self.store.is_verifying(),
        );
        Ok(match file {
            Some(file) => reader.with_file(file),
            None => reader,
        })
    }

    /// The error for a file that is gone: replaced by a newer save, unless the
    /// record's `meta.json` still names it (then the store is damaged).
    fn missing(&self) -> Error {
        let (dir, file) = self
            .path
            .rsplit_once('/')
            .unwrap_or(("", self.path.as_str()));
        let meta = crate::backend::join(&[dir, crate::meta::META_FILE]);
        let still_named = crate::meta::Meta::read(self.store.backend(), &meta)
            .ok()
            .is_some_and(|m| m.records.values().any(|r| r.file == file));
        if still_named {
            Error::Corrupt {
                record: self.record.clone(),
                path: self.shown(),
                reason: "record file named by meta.json is missing".to_owned(),
            }
        } else {
            Error::Superseded {
                record: self.record.clone(),
                path: self.shown(),
            }
        }
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
    ///
    /// A compressed file is decompressed as it streams: only the decoded
    /// value is ever whole in memory, and the checksum is of the stored bytes.
    pub(crate) fn read<T: Storable>(&self) -> Result<T> {
        let mut reader = self.open()?;
        let decoded = match self.codec {
            None => T::read(&mut reader),
            Some(codec) => codec
                .decoder(&mut reader)
                .map_err(Error::io)
                .and_then(|mut decoder| T::read(&mut decoder))
                .map_err(|e| match e {
                    Error::Io { ref source, .. } => match crate::compress::damaged(source) {
                        Some(reason) => Error::corrupt(reason),
                        None => e,
                    },
                    other => other,
                }),
        };
        let io_err = |e| Error::io(e).within(&self.record, &self.shown());
        let (hash, size) = reader.finish().map_err(io_err)?;
        self.check(hash, size)?;
        self.store.counters().read(size);
        decoded.map_err(|e| e.within(&self.record, &self.shown()))
    }

    /// Maps the file into memory read-only, after checking its size (and, with
    /// `verify`, its blake3 over the mapped bytes). Only files on the local disk
    /// can be mapped, and only uncompressed ones: [`Error::Unsupported`]
    /// otherwise.
    pub(crate) fn map(&self, verify: bool) -> Result<memmap2::Mmap> {
        let ctx = |e: std::io::Error| Error::io(e).within(&self.record, &self.shown());
        if let Some(codec) = self.codec {
            return Err(Error::Unsupported {
                record: self.record.clone(),
                reason: format!(
                    "{} is compressed ({codec}), so it cannot be memory-mapped; use get()",
                    self.shown()
                ),
            });
        }
        let Some(local) = self.store.backend().local_path(&self.path) else {
            return Err(Error::Unsupported {
                record: self.record.clone(),
                reason: format!(
                    "{} is not a file on the local disk, so it cannot be memory-mapped; use get()",
                    self.shown()
                ),
            });
        };
        let map = local::map_file(&local, self.entry.size).map_err(|failure| match failure {
            MapFailure::Missing => self.missing(),
            MapFailure::NotRegular => {
                Error::corrupt("is not a regular file").within(&self.record, &self.shown())
            }
            MapFailure::Size(size) => Error::Corrupt {
                record: self.record.clone(),
                path: self.shown(),
                reason: format!("file has {size} bytes, {} were saved", self.entry.size),
            },
            MapFailure::Io(e) => ctx(e),
        })?;
        if verify {
            let mut hasher = blake3::Hasher::new();
            crate::checksum::update(&mut hasher, &map);
            let found = hasher.finalize().to_hex().to_string();
            self.check(Some(found), self.entry.size)?;
        }
        Ok(map)
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
