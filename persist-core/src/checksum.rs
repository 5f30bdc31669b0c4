//! blake3 checksums taken while bytes stream through, so nothing is read twice.

use std::fs::File;
use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use crate::backend::local::prefault;

/// Hashes and counts what is written through it.
pub(crate) struct HashingWriter<'a> {
    inner: &'a mut dyn Write,
    hasher: blake3::Hasher,
    size: u64,
}

impl<'a> HashingWriter<'a> {
    pub(crate) fn new(inner: &'a mut dyn Write) -> Self {
        HashingWriter {
            inner,
            hasher: blake3::Hasher::new(),
            size: 0,
        }
    }

    /// The blake3 (hex) and the byte count of what was written.
    pub(crate) fn finish(self) -> (String, u64) {
        (self.hasher.finalize().to_hex().to_string(), self.size)
    }
}

/// Above this many bytes in one call, hash on several threads.
const PARALLEL_HASH_MIN: usize = 1 << 20;

/// From this many bytes in one call, hashing runs on another thread while the
/// bytes are written or read, instead of in a pass of its own.
pub(crate) const OVERLAP_MIN: usize = 4 << 20;

/// How many bytes before a large read a [`HashingReader`] with a file keeps,
/// to hash the first piece of a read at positions again (an npy header).
const PREFIX_MAX: usize = 64 << 10;

/// What a pipelined read fills before handing the chunk to the hashing thread.
const READ_CHUNK: usize = 2 << 20;

pub(crate) fn update(hasher: &mut blake3::Hasher, bytes: &[u8]) {
    if bytes.len() >= PARALLEL_HASH_MIN {
        hasher.update_rayon(bytes);
    } else {
        hasher.update(bytes);
    }
}

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        update(&mut self.hasher, &buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        if buf.len() < OVERLAP_MIN {
            self.inner.write_all(buf)?;
            update(&mut self.hasher, buf);
        } else {
            // A large payload: one thread hashes it while this one hands it to
            // the writer, so hashing costs no time of its own. The hash is only
            // used once the whole write succeeded.
            let hasher = &mut self.hasher;
            let inner = &mut self.inner;
            std::thread::scope(|s| {
                let hashing = s.spawn(move || hasher.update(buf));
                let written = inner.write_all(buf);
                hashing
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p));
                written
            })?;
        }
        self.size += buf.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Hashes and counts what is read through it.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Option<blake3::Hasher>,
    size: u64,
    /// A read returned 0: the end of the file was seen.
    at_end: bool,
    /// The file `inner` reads, sharing its offset: large reads are made at
    /// positions, on several threads ([`read_pieces`](crate::backend::local::parallel_read::read_pieces)).
    file: Option<File>,
    /// Everything read so far, while hashing with a `file` and under
    /// [`PREFIX_MAX`].
    prefix: Option<Vec<u8>>,
    /// The file's blake3, once a read at positions hashed it to its end.
    root: Option<blake3::Hash>,
}

impl<R: BufRead> HashingReader<R> {
    /// With `hash` false it only counts (verification turned off).
    pub(crate) fn new(inner: R, hash: bool) -> Self {
        HashingReader {
            inner,
            hasher: hash.then(blake3::Hasher::new),
            size: 0,
            at_end: false,
            file: None,
            prefix: None,
            root: None,
        }
    }

    /// Makes large reads at positions in `file`, which must be the file
    /// `inner` reads, sharing its offset (a `try_clone` of it), not yet read.
    pub(crate) fn with_file(mut self, file: File) -> Self {
        self.prefix = self.hasher.is_some().then(Vec::new);
        self.file = Some(file);
        self
    }

    /// Reads what the consumer left unread (so the checksum covers the whole
    /// file), then returns the blake3 (if hashing) and the byte count.
    pub(crate) fn finish(mut self) -> io::Result<(Option<String>, u64)> {
        if !self.at_end {
            io::copy(&mut self, &mut io::sink())?;
        }
        let hash = match self.root {
            Some(root) => Some(root),
            None => self.hasher.map(|h| h.finalize()),
        };
        Ok((hash.map(|h| h.to_hex().to_string()), self.size))
    }

    /// Reads into `buf` at positions in the file, on several threads, hashing
    /// each piece as a subtree where the read goes to the file's end; other
    /// reads while hashing go through [`read_large`](Self::read_large).
    fn read_positional(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(file) = &self.file else {
            return self.read_large(buf);
        };
        // What the buffered reader holds already comes first, and leaves it
        // empty, so the next read after this one starts at the offset set below.
        let held = self.inner.fill_buf()?;
        let k = held.len().min(buf.len());
        buf[..k].copy_from_slice(&held[..k]);
        self.inner.consume(k);
        let start = self.size + k as u64;
        let len = file.metadata()?.len();
        let (head, rest) = buf.split_at_mut(k);
        let to_end = len.checked_sub(start) == Some(rest.len() as u64);
        // The prefix serves this large read only: what follows is past it.
        let before = match (self.prefix.take(), &mut self.hasher) {
            (Some(mut before), Some(_)) if to_end => {
                before.extend_from_slice(head);
                Some(before)
            }
            // Hashing as one stream: the rest of it reads as one.
            (_, Some(h)) => {
                update(h, head);
                let more = if rest.is_empty() {
                    0
                } else {
                    self.read_large(rest)?
                };
                return Ok(k + more);
            }
            (_, None) => None,
        };
        let pieces =
            crate::backend::local::parallel_read::read_pieces(file, start, rest, before.as_deref());
        (&*file).seek(SeekFrom::Start(start + pieces.filled as u64))?;
        match pieces.root {
            Some(root) => {
                self.root = Some(root);
                self.hasher = None;
            }
            None => {
                // A file that changed under the read: hashed as a stream.
                if let Some(h) = &mut self.hasher {
                    update(h, head);
                    update(h, &rest[..pieces.filled]);
                }
            }
        }
        match pieces.error {
            Some(e) if k + pieces.filled == 0 => Err(e),
            _ => Ok(k + pieces.filled),
        }
    }
}

impl<R: Read> HashingReader<R> {
    /// Fills `buf` (up to end of file) in `READ_CHUNK` pieces.
    ///
    /// Two things that are not the copy itself run on other threads meanwhile:
    /// - hashing (when verifying): another thread hashes each chunk as soon as
    ///   it is read, and when the reading ends, what that thread has not
    ///   reached yet is hashed on every core;
    /// - page faults: another thread fills in the pages of `buf` from its end
    ///   backwards (`prefault_backwards`) until it meets the reader, so the
    ///   reader mostly copies into memory that is already there.
    fn read_large(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let inner = &mut self.inner;
        let hasher = self.hasher.take();
        // How far into `buf` the reader has claimed, for the prefaulting thread.
        let reached = AtomicUsize::new(0);
        let (base, len) = (buf.as_mut_ptr() as usize, buf.len());
        let reading_done = AtomicBool::new(false);
        let (chunks, read) = mpsc::channel::<&[u8]>();
        let (hasher, left, filled, result) = std::thread::scope(|s| {
            let reached = &reached;
            if prefault::ENABLED {
                s.spawn(move || prefault::backwards(base, len, reached));
            }
            let done = &reading_done;
            let hashing = hasher.map(|hasher| {
                s.spawn(move || {
                    let mut hasher = hasher;
                    while !done.load(Ordering::Acquire) {
                        match read.recv() {
                            Ok(chunk) => {
                                hasher.update(chunk);
                            }
                            Err(_) => break,
                        }
                    }
                    (hasher, read)
                })
            });
            let mut filled = 0;
            let mut result = Ok(());
            for chunk in buf.chunks_mut(READ_CHUNK) {
                reached.store(filled + chunk.len(), Ordering::Release);
                let (got, error) =
                    crate::backend::local::parallel_read::read_fully(chunk, |rest, _| {
                        inner.read(rest)
                    });
                if let Some(e) = error {
                    result = Err(e);
                }
                let whole = got == chunk.len();
                let chunk: &[u8] = chunk;
                filled += got;
                if got > 0 && hashing.is_some() {
                    // The hashing thread only ends once it has seen `done`,
                    // which is set below, so it is still there to receive.
                    let _ = chunks.send(&chunk[..got]);
                }
                if !whole {
                    break;
                }
            }
            // The prefaulting thread stops at its next step.
            reached.store(usize::MAX, Ordering::Release);
            reading_done.store(true, Ordering::Release);
            drop(chunks);
            let (hasher, left) = match hashing {
                Some(hashing) => {
                    let (hasher, read) = hashing
                        .join()
                        .unwrap_or_else(|p| std::panic::resume_unwind(p));
                    let left: Vec<&[u8]> = read.try_iter().collect();
                    (Some(hasher), left)
                }
                None => (None, Vec::new()),
            };
            (hasher, left, filled, result)
        });
        self.hasher = hasher.map(|mut hasher| {
            for chunk in left {
                update(&mut hasher, chunk);
            }
            hasher
        });
        match result {
            // Bytes already read and hashed are reported; the error comes again
            // on the next call if it persists.
            Err(_) if filled > 0 => Ok(filled),
            Err(e) => Err(e),
            Ok(()) => Ok(filled),
        }
    }
}

impl<R: BufRead> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.root.is_some() {
            // The hash already ends where the file ended: nothing may follow.
            if self.inner.read(buf)? > 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the file grew while it was read",
                ));
            }
            self.at_end |= !buf.is_empty();
            return Ok(0);
        }
        let n = if buf.len() >= OVERLAP_MIN {
            self.read_positional(buf)?
        } else {
            let n = self.inner.read(buf)?;
            if let Some(h) = &mut self.hasher {
                update(h, &buf[..n]);
            }
            if let Some(prefix) = &mut self.prefix {
                if prefix.len() + n <= PREFIX_MAX {
                    prefix.extend_from_slice(&buf[..n]);
                } else {
                    self.prefix = None;
                }
            }
            n
        };
        self.size += n as u64;
        // An empty `buf` reads 0 without being at the end.
        self.at_end |= n == 0 && !buf.is_empty();
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    /// A reader that returns at most `step` bytes a call, like a pipe.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.1).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn large_writes_and_reads_hash_like_one_pass() {
        for len in [0, 10, OVERLAP_MIN - 1, OVERLAP_MIN, 3 * READ_CHUNK + 12_345] {
            let bytes = data(len);
            let expected = blake3::hash(&bytes).to_hex().to_string();

            let mut out = Vec::new();
            let mut w = HashingWriter::new(&mut out);
            w.write_all(&bytes).unwrap();
            assert_eq!(w.finish(), (expected.clone(), len as u64));
            assert_eq!(out, bytes);

            for (step, hash, fill) in [
                (usize::MAX, true, 0u8),
                (1 << 20, true, 0xAB),
                (4099, true, 0),
                (usize::MAX, false, 0xAB),
                (4099, false, 0),
            ] {
                let mut r =
                    HashingReader::new(BufReader::with_capacity(4096, Trickle(&bytes, step)), hash);
                // Fresh zeroed memory (prefaulted while read) or memory
                // already written: the bytes past the end stay as they were.
                let mut back = vec![fill; len + 7];
                let mut got = 0;
                loop {
                    let n = r.read(&mut back[got..]).unwrap();
                    if n == 0 {
                        break;
                    }
                    got += n;
                }
                assert_eq!(got, len);
                assert_eq!(&back[..len], &bytes[..]);
                assert!(back[len..].iter().all(|&b| b == fill));
                let want = hash.then(|| expected.clone());
                assert_eq!(r.finish().unwrap(), (want, len as u64));
            }
        }
    }

    #[test]
    fn an_error_mid_read_keeps_the_bytes_read_before_it() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("disk gone"));
                }
                let n = buf.len().min(self.0).min(1 << 20);
                buf[..n].fill(7);
                self.0 -= n;
                Ok(n)
            }
        }
        let failing = |n| BufReader::with_capacity(4096, Failing(n));
        let mut r = HashingReader::new(failing(10 << 20), true);
        let mut buf = vec![0u8; 32 << 20];
        assert_eq!(r.read(&mut buf).unwrap(), 10 << 20);
        assert!(r.read(&mut buf).is_err());
        let mut r = HashingReader::new(failing(0), true);
        assert!(r.read(&mut buf).is_err());
        let mut r = HashingReader::new(failing(10 << 20), false);
        assert_eq!(r.read(&mut buf).unwrap(), 10 << 20);
        assert!(r.read(&mut buf).is_err());
    }

    /// A reader over a file with the file itself, as a record file is read:
    /// a small header first, then one large read.
    fn file_reader(
        path: &std::path::Path,
        hash: bool,
    ) -> HashingReader<BufReader<Box<dyn Read + Send>>> {
        let file = File::open(path).unwrap();
        let inner: Box<dyn Read + Send> = Box::new(file.try_clone().unwrap());
        HashingReader::new(BufReader::with_capacity(64 << 10, inner), hash).with_file(file)
    }

    #[test]
    fn large_reads_at_positions_hash_and_read_like_a_stream() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.npy");
        for (len, tail) in [(OVERLAP_MIN, 0), (3 * READ_CHUNK + 12_345, 0), (9 << 20, 5)] {
            let bytes = data(128 + len + tail);
            std::fs::write(&path, &bytes).unwrap();
            let expected = blake3::hash(&bytes).to_hex().to_string();
            for hash in [true, false] {
                let mut r = file_reader(&path, hash);
                let mut header = [0u8; 128];
                r.read_exact(&mut header[..10]).unwrap();
                r.read_exact(&mut header[10..]).unwrap();
                let mut body = vec![0xAB; len];
                r.read_exact(&mut body).unwrap();
                // What follows the large read comes from where it ended.
                let mut after = Vec::new();
                r.read_to_end(&mut after).unwrap();
                assert!(header[..] == bytes[..128]);
                assert!(body[..] == bytes[128..128 + len], "len {len} hash {hash}");
                assert!(after[..] == bytes[128 + len..]);
                let want = hash.then(|| expected.clone());
                assert_eq!(r.finish().unwrap(), (want, bytes.len() as u64));
            }
            // Nothing read after the header: `finish` reads and hashes the rest.
            let mut r = file_reader(&path, true);
            let mut header = [0u8; 128];
            r.read_exact(&mut header).unwrap();
            assert_eq!(r.finish().unwrap().0, Some(expected));
        }
    }

    #[test]
    fn a_file_that_grows_after_a_read_to_its_end_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.npy");
        let bytes = data(OVERLAP_MIN + 200);
        std::fs::write(&path, &bytes).unwrap();
        let mut r = file_reader(&path, true);
        let mut head = [0u8; 200];
        r.read_exact(&mut head).unwrap();
        let mut body = vec![0; OVERLAP_MIN];
        r.read_exact(&mut body).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"more")
            .unwrap();
        let err = r.finish().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
