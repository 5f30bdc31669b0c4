//! Compressed record files: the [`Codec`] a `#[record(compress = "…")]` field
//! is stored with, and the streaming [`Encoder`] and [`Decoder`] that turn a
//! record file's bytes into what is on disk and back.
//!
//! A compressed record file is named `<stem>-<uuid>.<ext>.zst` (zstd) or
//! `.<ext>.gz` (gzip) and is an ordinary zstd frame or gzip stream of the
//! bytes the uncompressed file would hold, so `zstd -d`, Python's
//! `zstandard` and `gzip` modules read it. Its entry in `meta.json` says
//! `"compression": "zstd:3"` (the codec and level, [`Codec`]'s `Display`),
//! and its size and blake3 are those of the stored, compressed bytes: `persist
//! verify` checks it like any other file.
//!
//! ```
//! use persist_core::compress::Codec;
//! use std::io::{Read, Write};
//!
//! let codec: Codec = "zstd:9".parse()?;
//! assert_eq!(codec, Codec::Zstd(9));
//! assert_eq!(codec.to_string(), "zstd:9");
//! assert_eq!(Codec::parse("gzip")?, Codec::Gzip(6));
//!
//! let data = vec![7u8; 100_000];
//! let mut enc = codec.encoder(Vec::new())?;
//! enc.write_all(&data)?;
//! let stored = enc.finish()?;
//! assert!(stored.len() < 1_000);
//!
//! let mut back = Vec::new();
//! codec.decoder(stored.as_slice())?.read_to_end(&mut back)?;
//! assert_eq!(back, data);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io::{self, BufReader, Read, Write};
use std::str::FromStr;

/// How a record file is compressed: the codec and its level.
///
/// Written in attributes and in `meta.json` as `"zstd"`, `"zstd:N"` (`N` from
/// 1 to 22, default [`ZSTD_DEFAULT`](Codec::ZSTD_DEFAULT)), `"gzip"` or
/// `"gzip:N"` (`N` from 0 to 9, default [`GZIP_DEFAULT`](Codec::GZIP_DEFAULT));
/// [`Display`](fmt::Display) always writes the level.
///
/// ```
/// use persist_core::compress::Codec;
/// assert_eq!(Codec::parse("zstd")?, Codec::Zstd(Codec::ZSTD_DEFAULT));
/// assert_eq!(Codec::parse("gzip:9")?.to_string(), "gzip:9");
/// assert_eq!(Codec::Zstd(3).extension(), "zst");
/// assert!(Codec::parse("zstd:23").is_err());
/// assert!(Codec::parse("lz4").is_err());
/// # Ok::<(), persist_core::compress::ParseCodecError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// Zstandard at a level from 1 (fastest) to 22 (smallest).
    Zstd(i32),
    /// gzip (DEFLATE) at a level from 0 (stored) to 9 (smallest).
    Gzip(u32),
}

/// A compression string that names no [`Codec`]: the message says what is
/// accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseCodecError(String);

impl fmt::Display for ParseCodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseCodecError {}

impl Codec {
    /// The zstd level of `"zstd"` without one (zstd's own default).
    pub const ZSTD_DEFAULT: i32 = 3;
    /// The gzip level of `"gzip"` without one (gzip's own default).
    pub const GZIP_DEFAULT: u32 = 6;
    /// The zstd levels accepted.
    pub const ZSTD_LEVELS: std::ops::RangeInclusive<i32> = 1..=22;
    /// The gzip levels accepted.
    pub const GZIP_LEVELS: std::ops::RangeInclusive<u32> = 0..=9;

    /// Parses `"zstd"`, `"zstd:N"`, `"gzip"` or `"gzip:N"`.
    pub fn parse(s: &str) -> Result<Codec, ParseCodecError> {
        let (name, level) = match s.split_once(':') {
            Some((name, level)) => (name, Some(level)),
            None => (s, None),
        };
        let bad_level = |range: &str, default: &str| {
            ParseCodecError(format!(
                "compression `{s}`: the {name} level must be an integer from {range} ({name} alone is level {default})"
            ))
        };
        match name {
            "zstd" => match level {
                None => Ok(Codec::Zstd(Codec::ZSTD_DEFAULT)),
                Some(l) => match l.parse::<i32>() {
                    Ok(n) if Codec::ZSTD_LEVELS.contains(&n) => Ok(Codec::Zstd(n)),
                    _ => Err(bad_level("1 to 22", "3")),
                },
            },
            "gzip" => match level {
                None => Ok(Codec::Gzip(Codec::GZIP_DEFAULT)),
                Some(l) => match l.parse::<u32>() {
                    Ok(n) if Codec::GZIP_LEVELS.contains(&n) => Ok(Codec::Gzip(n)),
                    _ => Err(bad_level("0 to 9", "6")),
                },
            },
            _ => Err(ParseCodecError(format!(
                "unknown compression `{s}`: expected `zstd`, `zstd:N` (N from 1 to 22), `gzip` or `gzip:N` (N from 0 to 9)"
            ))),
        }
    }

    /// The codec's name, as in `meta.json` before the level (`zstd`, `gzip`).
    pub fn name(&self) -> &'static str {
        match self {
            Codec::Zstd(_) => "zstd",
            Codec::Gzip(_) => "gzip",
        }
    }

    /// The extension added after the record file's own (`zst`, `gz`), without
    /// the dot.
    pub fn extension(&self) -> &'static str {
        match self {
            Codec::Zstd(_) => "zst",
            Codec::Gzip(_) => "gz",
        }
    }

    /// A writer that compresses into `w`; call [`Encoder::finish`] at the end
    /// (dropping it without that leaves the stream incomplete).
    pub fn encoder<W: Write>(self, w: W) -> io::Result<Encoder<W>> {
        Ok(Encoder(match self {
            Codec::Zstd(level) => {
                let mut e = zstd::stream::write::Encoder::new(w, level)?;
                // The frame carries a checksum of its content, as the zstd
                // command writes it, so damage is found without blake3 too.
                e.include_checksum(true)?;
                EncoderKind::Zstd(e)
            }
            Codec::Gzip(level) => EncoderKind::Gzip(flate2::write::GzEncoder::new(
                w,
                flate2::Compression::new(level.min(9)),
            )),
        }))
    }

    /// A reader of the bytes `r`'s compressed stream holds. Damaged compressed
    /// data is an [`io::ErrorKind::InvalidData`] error that names the codec;
    /// errors of `r` itself come through unchanged.
    pub fn decoder<R: Read>(self, r: R) -> io::Result<Decoder<R>> {
        let failed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let inner = Watched {
            inner: r,
            failed: std::sync::Arc::clone(&failed),
        };
        let kind = match self {
            Codec::Zstd(_) => DecoderKind::Zstd(zstd::stream::read::Decoder::with_buffer(
                BufReader::with_capacity(DECODE_BUF, inner),
            )?),
            Codec::Gzip(_) => DecoderKind::Gzip(flate2::read::MultiGzDecoder::new(
                BufReader::with_capacity(DECODE_BUF, inner),
            )),
        };
        Ok(Decoder {
            kind,
            codec: self,
            failed,
        })
    }
}

/// What a decoder reads from its source at a time.
const DECODE_BUF: usize = 256 * 1024;

impl FromStr for Codec {
    type Err = ParseCodecError;
    fn from_str(s: &str) -> Result<Codec, ParseCodecError> {
        Codec::parse(s)
    }
}

/// `zstd:3`, `gzip:6`: the form `meta.json` holds, which [`Codec::parse`]
/// reads back.
impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Codec::Zstd(level) => write!(f, "zstd:{level}"),
            Codec::Gzip(level) => write!(f, "gzip:{level}"),
        }
    }
}

/// A compressing writer: see [`Codec::encoder`].
pub struct Encoder<W: Write>(EncoderKind<W>);

enum EncoderKind<W: Write> {
    Zstd(zstd::stream::write::Encoder<'static, W>),
    Gzip(flate2::write::GzEncoder<W>),
}

impl<W: Write> Encoder<W> {
    /// Writes the end of the compressed stream and returns the inner writer
    /// (not flushed).
    pub fn finish(self) -> io::Result<W> {
        match self.0 {
            EncoderKind::Zstd(e) => e.finish(),
            EncoderKind::Gzip(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.0 {
            EncoderKind::Zstd(e) => e.write(buf),
            EncoderKind::Gzip(e) => e.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.0 {
            EncoderKind::Zstd(e) => e.write_all(buf),
            EncoderKind::Gzip(e) => e.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.0 {
            EncoderKind::Zstd(e) => e.flush(),
            EncoderKind::Gzip(e) => e.flush(),
        }
    }
}

/// A decompressing reader: see [`Codec::decoder`].
pub struct Decoder<R: Read> {
    kind: DecoderKind<R>,
    codec: Codec,
    /// Set when the source itself failed, so its error is not reported as
    /// damaged data.
    failed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

enum DecoderKind<R: Read> {
    Zstd(zstd::stream::read::Decoder<'static, BufReader<Watched<R>>>),
    Gzip(flate2::read::MultiGzDecoder<BufReader<Watched<R>>>),
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let result = match &mut self.kind {
            DecoderKind::Zstd(d) => d.read(buf),
            DecoderKind::Gzip(d) => d.read(buf),
        };
        result.map_err(|e| {
            if self.failed.load(std::sync::atomic::Ordering::Relaxed) {
                e
            } else {
                let what = match e.kind() {
                    io::ErrorKind::UnexpectedEof => "is truncated".to_owned(),
                    _ => format!("is damaged ({e})"),
                };
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    Damaged(format!("{} data {what}", self.codec.name())),
                )
            }
        })
    }
}

/// A decoder's error for damaged compressed data (inside an `io::Error`).
#[derive(Debug)]
struct Damaged(String);

impl fmt::Display for Damaged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Damaged {}

/// What is wrong, if `e` is a [`Decoder`]'s error for damaged compressed data
/// (not one of its source).
pub(crate) fn damaged(e: &io::Error) -> Option<String> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Damaged>())
        .map(|d| d.0.clone())
}

/// The decoder's source, noting whether it failed.
struct Watched<R> {
    inner: R,
    failed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|_| {
            self.failed
                .store(true, std::sync::atomic::Ordering::Relaxed);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        for (text, codec, shown) in [
            ("zstd", Codec::Zstd(3), "zstd:3"),
            ("zstd:1", Codec::Zstd(1), "zstd:1"),
            ("zstd:22", Codec::Zstd(22), "zstd:22"),
            ("gzip", Codec::Gzip(6), "gzip:6"),
            ("gzip:0", Codec::Gzip(0), "gzip:0"),
            ("gzip:9", Codec::Gzip(9), "gzip:9"),
        ] {
            assert_eq!(Codec::parse(text), Ok(codec), "{text}");
            assert_eq!(codec.to_string(), shown);
            assert_eq!(Codec::parse(shown), Ok(codec));
        }
    }

    #[test]
    fn parse_refuses_what_names_no_codec() {
        for bad in [
            "", "lz4", "zstd:", "zstd:0", "zstd:23", "zstd:-1", "zstd:x", "gzip:10", "gzip:-1",
            "ZSTD", "zstd:3:1", " zstd",
        ] {
            let e = Codec::parse(bad).expect_err(bad);
            assert!(e.to_string().contains(&format!("`{bad}`")), "{e}");
        }
        let e = Codec::parse("zstd:23").unwrap_err().to_string();
        assert!(e.contains("1 to 22"), "{e}");
        let e = Codec::parse("gzip:10").unwrap_err().to_string();
        assert!(e.contains("0 to 9"), "{e}");
    }

    fn sample() -> Vec<u8> {
        (0..300_000u32).map(|i| (i / 1000) as u8).collect()
    }

    #[test]
    fn streams_round_trip_and_shrink() {
        let data = sample();
        for codec in [
            Codec::Zstd(1),
            Codec::Zstd(19),
            Codec::Gzip(1),
            Codec::Gzip(9),
        ] {
            let mut enc = codec.encoder(Vec::new()).unwrap();
            for chunk in data.chunks(7_777) {
                enc.write_all(chunk).unwrap();
            }
            let stored = enc.finish().unwrap();
            assert!(stored.len() * 20 < data.len(), "{codec}: {}", stored.len());
            let mut back = Vec::new();
            codec
                .decoder(stored.as_slice())
                .unwrap()
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "{codec}");
        }
    }

    #[test]
    fn the_files_are_standard_streams() {
        let data = sample();
        let mut enc = Codec::Zstd(3).encoder(Vec::new()).unwrap();
        enc.write_all(&data).unwrap();
        let stored = enc.finish().unwrap();
        assert_eq!(zstd::stream::decode_all(stored.as_slice()).unwrap(), data);
        let mut enc = Codec::Gzip(6).encoder(Vec::new()).unwrap();
        enc.write_all(&data).unwrap();
        let stored = enc.finish().unwrap();
        assert_eq!(&stored[..2], b"\x1f\x8b");
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(stored.as_slice())
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn damaged_or_truncated_data_is_invalid_data_naming_the_codec() {
        let data = sample();
        for codec in [Codec::Zstd(3), Codec::Gzip(6)] {
            let mut enc = codec.encoder(Vec::new()).unwrap();
            enc.write_all(&data).unwrap();
            let stored = enc.finish().unwrap();
            let mut flipped = stored.clone();
            let mid = flipped.len() / 2;
            flipped[mid] ^= 0xff;
            let truncated = &stored[..stored.len() / 2];
            for bad in [&flipped[..], truncated, b"not compressed at all"] {
                let mut back = Vec::new();
                let e = codec
                    .decoder(bad)
                    .and_then(|mut d| d.read_to_end(&mut back))
                    .expect_err(codec.name());
                assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{codec}: {e}");
                assert!(e.to_string().contains(codec.name()), "{e}");
                assert!(damaged(&e).is_some(), "{e}");
            }
        }
    }

    #[test]
    fn source_errors_come_through_unchanged() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::PermissionDenied, "nope"))
            }
        }
        for codec in [Codec::Zstd(3), Codec::Gzip(6)] {
            let mut back = Vec::new();
            let e = codec
                .decoder(Failing)
                .and_then(|mut d| d.read_to_end(&mut back))
                .unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{codec}: {e}");
            assert!(damaged(&e).is_none());
        }
    }
}
