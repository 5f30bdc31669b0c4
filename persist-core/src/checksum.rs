//! blake3 checksums taken while bytes stream through, so nothing is read twice.

use std::io::{self, Read, Write};

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

fn update(hasher: &mut blake3::Hasher, bytes: &[u8]) {
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
        self.inner.write_all(buf)?;
        update(&mut self.hasher, buf);
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
}

impl<R: Read> HashingReader<R> {
    /// With `hash` false it only counts (verification turned off).
    pub(crate) fn new(inner: R, hash: bool) -> Self {
        HashingReader {
            inner,
            hasher: hash.then(blake3::Hasher::new),
            size: 0,
        }
    }

    /// Reads what the consumer left unread (so the checksum covers the whole
    /// file), then returns the blake3 (if hashing) and the byte count.
    pub(crate) fn finish(mut self) -> io::Result<(Option<String>, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((
            self.hasher.map(|h| h.finalize().to_hex().to_string()),
            self.size,
        ))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            update(h, &buf[..n]);
        }
        self.size += n as u64;
        Ok(n)
    }
}
