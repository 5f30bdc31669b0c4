//! The grammar of `#[record(compress = "…")]`: `zstd`, `zstd:N` (1 to 22),
//! `gzip`, `gzip:N` (0 to 9). The same rules as the runtime's
//! `persist_core::compress::Codec::parse`, checked here so that a bad value is
//! a compile error at the string literal.

/// A compression the derive accepts, with its level resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Zstd(i32),
    Gzip(u32),
}

/// zstd's and gzip's own default levels, as the runtime has them.
const ZSTD_DEFAULT: i32 = 3;
const GZIP_DEFAULT: u32 = 6;

/// Parses a `compress` value, or says what is accepted.
pub fn parse(s: &str) -> Result<Codec, String> {
    let (name, level) = match s.split_once(':') {
        Some((name, level)) => (name, Some(level)),
        None => (s, None),
    };
    match (name, level) {
        ("zstd", None) => Ok(Codec::Zstd(ZSTD_DEFAULT)),
        ("gzip", None) => Ok(Codec::Gzip(GZIP_DEFAULT)),
        ("zstd", Some(l)) => match l.parse::<i32>() {
            Ok(n) if (1..=22).contains(&n) => Ok(Codec::Zstd(n)),
            _ => Err(format!(
                "the zstd level must be an integer from 1 to 22, found `{l}` \
                 (`compress = \"zstd\"` is level {ZSTD_DEFAULT})"
            )),
        },
        ("gzip", Some(l)) => match l.parse::<u32>() {
            Ok(n) if n <= 9 => Ok(Codec::Gzip(n)),
            _ => Err(format!(
                "the gzip level must be an integer from 0 to 9, found `{l}` \
                 (`compress = \"gzip\"` is level {GZIP_DEFAULT})"
            )),
        },
        _ => Err(format!(
            "unknown compression `{s}`: expected `\"zstd\"`, `\"zstd:N\"` (N from 1 to 22), \
             `\"gzip\"` or `\"gzip:N\"` (N from 0 to 9)"
        )),
    }
}
