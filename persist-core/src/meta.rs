//! `meta.json`: the one file that makes a record visible.
//!
//! It is written last, by atomic rename, after every record file it names is
//! complete; a record exists exactly when its `meta.json` does. It is pretty
//! JSON that a person and Python can read.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::key::{write_canonical_object, write_leaf};

/// The name of the metadata file in a record's folder.
pub const META_FILE: &str = "meta.json";

/// The current layout version, stored as `format`.
pub const FORMAT: u32 = 1;

/// The contents of a record's `meta.json`.
///
/// ```
/// use persist_core::meta::Meta;
/// let text = r#"{"format":1,"type":"example","version":1,"name":"example-A00",
///   "key":{"animal":"A00"},"autoinc":null,"data":{},"records":{},
///   "content_hash":"x","saved_at":"2026-01-01T00:00:00Z"}"#;
/// let meta = Meta::parse(text.as_bytes())?;
/// assert_eq!(meta.type_name, "example");
/// # Ok::<(), persist_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Layout version of this file ([`FORMAT`]).
    pub format: u32,
    /// The record type's name (`#[persist(name)]`).
    #[serde(rename = "type")]
    pub type_name: String,
    /// The struct's `#[persist(version)]` when saved.
    pub version: u32,
    /// The record's file name, such as `example-A00-1234-3`.
    pub name: String,
    /// The key fields by name (the autoinc apart).
    pub key: Map<String, Value>,
    /// The autoinc number, if the type has one.
    pub autoinc: Option<u64>,
    /// The data fields by name.
    pub data: Map<String, Value>,
    /// The record files, by field name.
    pub records: BTreeMap<String, RecordFile>,
    /// Content hashes of the upstream records this one was computed from, by the
    /// JSON pointer of the `Ref` in the key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub upstream: BTreeMap<String, Upstream>,
    /// blake3 over key, data and record-file checksums: what staleness compares.
    pub content_hash: String,
    /// When the save finished (UTC, RFC 3339).
    pub saved_at: String,
    /// Who saved the record and how long its computation took. Not part of
    /// the content hash; `None` in a `meta.json` written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// Where a record comes from, as `meta.json` keeps it under `"provenance"`.
///
/// ```
/// use persist_core::meta::Meta;
/// let text = r#"{"format":1,"type":"example","version":1,"name":"example-A00",
///   "key":{"animal":"A00"},"autoinc":null,"data":{},"records":{},
///   "content_hash":"x","saved_at":"2026-01-01T00:00:00Z",
///   "provenance":{"crate":"analysis","crate_version":"0.3.1","host":"node7",
///     "pid":4242,"persist_version":"0.1.0","compute_seconds":12.5}}"#;
/// let p = Meta::parse(text.as_bytes())?.provenance.expect("kept");
/// assert_eq!((p.crate_name.as_str(), p.pid), ("analysis", 4242));
/// assert_eq!(p.compute_seconds, Some(12.5));
/// # Ok::<(), persist_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The name of the crate that defines the record's type (its
    /// `CARGO_PKG_NAME`, captured by the derive).
    #[serde(rename = "crate")]
    pub crate_name: String,
    /// That crate's version.
    pub crate_version: String,
    /// The host name of the machine that saved it.
    pub host: String,
    /// The process id of the program that saved it.
    pub pid: u32,
    /// The version of persist that saved it.
    pub persist_version: String,
    /// How long the computation of `load_or_compute` took, in seconds; absent
    /// when the record was saved with `save`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_seconds: Option<f64>,
}

impl Provenance {
    /// This process's provenance for a record of a type defined in crate
    /// `crate_name` at `crate_version`.
    pub(crate) fn here(
        crate_name: &str,
        crate_version: &str,
        compute_seconds: Option<f64>,
    ) -> Provenance {
        Provenance {
            crate_name: crate_name.to_owned(),
            crate_version: crate_version.to_owned(),
            host: crate::backend::local::hostname().to_owned(),
            pid: crate::backend::local::process_id(),
            persist_version: env!("CARGO_PKG_VERSION").to_owned(),
            compute_seconds,
        }
    }
}

/// One record file, as listed in `meta.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordFile {
    /// The file name in the record's folder (`data-<uuid>.npy`).
    pub file: String,
    /// Its format: the `Storable` extension (`npy`).
    pub format: String,
    /// How the stored bytes are compressed (`"zstd:3"`, `"gzip:6"`: a
    /// [`Codec`](crate::compress::Codec) as text), absent when they are not.
    /// Size and blake3 are those of the stored bytes either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// Its size in bytes.
    pub size: u64,
    /// Its blake3, hex.
    pub blake3: String,
}

/// An upstream record as remembered by a downstream one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upstream {
    /// The upstream's record folder in the store.
    pub at: String,
    /// Its content hash when the downstream was saved (`None`: it was not stored).
    pub content_hash: Option<String>,
}

impl Meta {
    /// Parses `meta.json` bytes; [`Error::Corrupt`] says what is wrong.
    pub fn parse(bytes: &[u8]) -> Result<Meta> {
        Meta::from_value(parse_value(bytes)?)
    }

    /// Reads and parses the `meta.json` at `path` in a backend; errors name
    /// the path.
    pub fn read(backend: &dyn crate::backend::Backend, path: &str) -> Result<Meta> {
        let bytes = backend.read_all(path)?;
        Meta::parse(&bytes).map_err(|e| e.within("", &backend.describe(path)))
    }

    /// Reads a `meta.json` already parsed to JSON.
    pub fn from_value(value: Value) -> Result<Meta> {
        serde_json::from_value(value).map_err(|e| {
            Error::corrupt(format!("meta.json does not have the expected fields: {e}"))
        })
    }

    /// [`saved_at`](Meta::saved_at) as a time; `None` if it is not RFC 3339
    /// UTC as persist writes it (`2026-01-01T00:00:00Z`, fractions of a
    /// second and `+00:00` accepted).
    ///
    /// ```
    /// use persist_core::meta::Meta;
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let text = r#"{"format":1,"type":"t","version":1,"name":"t-a","key":{},
    ///   "autoinc":null,"data":{},"records":{},"content_hash":"x",
    ///   "saved_at":"2026-01-01T00:00:10Z"}"#;
    /// let meta = Meta::parse(text.as_bytes())?;
    /// assert_eq!(meta.saved_time(), Some(UNIX_EPOCH + Duration::from_secs(1_767_225_610)));
    /// # Ok::<(), persist_core::Error>(())
    /// ```
    pub fn saved_time(&self) -> Option<SystemTime> {
        parse_rfc3339(&self.saved_at)
    }

    /// The pretty JSON written to disk.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        // A small record's meta.json fits without growing the buffer.
        let mut out = Vec::with_capacity(2048);
        serde_json::to_writer_pretty(&mut out, self)
            .map_err(|e| Error::corrupt(format!("cannot serialize meta.json: {e}")))?;
        out.push(b'\n');
        Ok(out)
    }

    /// The content hash of a record: blake3 over its key, autoinc, data and the
    /// checksums of its record files (never file names, uuids or times).
    pub fn compute_content_hash(
        key: &Map<String, Value>,
        autoinc: Option<u64>,
        data: &Map<String, Value>,
        records: &BTreeMap<String, RecordFile>,
    ) -> String {
        // The canonical text of {"autoinc", "data", "key", "records": field
        // -> blake3}, written directly (fields in sorted order) instead of
        // building that object from clones first.
        let mut out = Vec::with_capacity(1024);
        out.extend_from_slice(b"{\"autoinc\":");
        match autoinc {
            Some(n) => write_leaf(&n, &mut out),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"data\":");
        write_canonical_object(data, &mut out);
        out.extend_from_slice(b",\"key\":");
        write_canonical_object(key, &mut out);
        out.extend_from_slice(b",\"records\":{");
        // A BTreeMap of Strings iterates in the order the canonical text sorts.
        for (i, (field, file)) in records.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_leaf(field.as_str(), &mut out);
            out.push(b':');
            write_leaf(file.blake3.as_str(), &mut out);
        }
        out.extend_from_slice(b"}}");
        blake3::hash(&out).to_hex().to_string()
    }
}

/// Parses bytes to a JSON object, or says why not.
pub(crate) fn parse_value(bytes: &[u8]) -> Result<Value> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        if e.is_eof() {
            Error::corrupt(format!("meta.json is truncated: {e}"))
        } else {
            Error::corrupt(format!("meta.json is not valid JSON: {e}"))
        }
    })?;
    if !value.is_object() {
        return Err(Error::corrupt("meta.json is not a JSON object"));
    }
    Ok(value)
}

/// Now, as RFC 3339 UTC with seconds (`2026-11-21T23:53:03Z`).
pub(crate) fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// The inverse of [`rfc3339`]: a UTC time with seconds, an optional
/// fraction and `Z` or `+00:00`.
fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let t = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))?;
    let (date, time) = t.split_once('T')?;
    let mut d = date.splitn(3, '-');
    let year: i64 = d.next()?.parse().ok()?;
    let month: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    let (time, fraction) = match time.split_once('.') {
        Some((t, f)) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => (t, f),
        Some(_) => return None,
        None => (time, ""),
    };
    let mut hms = time.splitn(3, ':');
    let h: i64 = hms.next()?.parse().ok()?;
    let m: i64 = hms.next()?.parse().ok()?;
    let s: i64 = hms.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    // Days since 1970-01-01 from a civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + h * 3600 + m * 60 + s).ok()?;
    let nanos = if fraction.is_empty() {
        0
    } else {
        let digits: String = fraction
            .chars()
            .chain(std::iter::repeat('0'))
            .take(9)
            .collect();
        digits.parse().ok()?
    };
    UNIX_EPOCH.checked_add(std::time::Duration::new(secs, nanos))
}

pub(crate) fn rfc3339(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let rem = unix % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_at_parses_back() {
        for secs in [0u64, 59, 86_399, 951_782_400, 1_767_225_610, 4_102_444_800] {
            let text = rfc3339(secs);
            assert_eq!(
                parse_rfc3339(&text),
                Some(UNIX_EPOCH + std::time::Duration::from_secs(secs)),
                "{text}"
            );
        }
        assert_eq!(
            parse_rfc3339("1970-01-01T00:00:01.5+00:00"),
            Some(UNIX_EPOCH + std::time::Duration::from_millis(1500))
        );
        for bad in [
            "",
            "2026-01-01",
            "2026-13-01T00:00:00Z",
            "2026-01-01T00:00:00",
            "x",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    /// The canonical text as it was first written (a `Value` built from
    /// clones, leaves through `Display`): the content hashes stored in
    /// existing records were computed this way, so the direct writer must
    /// give the same bytes, or every upstream would look changed.
    fn canonical_as_first_written(value: &Value, out: &mut String) {
        use std::fmt::Write as _;
        match value {
            Value::Object(map) => {
                let mut fields: Vec<(&String, &Value)> = map.iter().collect();
                fields.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (k, v)) in fields.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{}", Value::String(k.clone()));
                    out.push(':');
                    canonical_as_first_written(v, out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical_as_first_written(v, out);
                }
                out.push(']');
            }
            leaf => {
                let _ = write!(out, "{leaf}");
            }
        }
    }

    #[test]
    fn content_hash_and_canonical_text_are_those_first_written() {
        let object = |v: Value| match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let keys = [
            serde_json::json!({}),
            serde_json::json!({"z": 1, "a": "x", "m": [1, 2.5, -3e-7, null, true]}),
            serde_json::json!({"name": "é\"\\/\n\u{1}\u{7f}☃", "n": u64::MAX, "i": i64::MIN,
                               "nested": {"b": {"d": 1, "c": 2}, "a": []}, "f": 0.1}),
            serde_json::json!({"up": {"$ref": "base", "key": {"y": 2, "x": 1}, "at": "base-1.ab"}}),
        ];
        let datas = [
            serde_json::json!({}),
            serde_json::json!({"score": 0.5, "note": "hi", "channels": [1, 2, 3]}),
        ];
        let file = |h: &str| RecordFile {
            file: format!("x-{h}.npy"),
            format: "npy".to_owned(),
            compression: None,
            size: 3,
            blake3: h.to_owned(),
        };
        let record_sets = [
            BTreeMap::new(),
            BTreeMap::from([("trace".to_owned(), file("ab12"))]),
            BTreeMap::from([
                ("b".to_owned(), file("01")),
                ("a".to_owned(), file("02")),
                ("Z".to_owned(), file("03")),
            ]),
        ];
        for key in &keys {
            let mut first = String::new();
            canonical_as_first_written(key, &mut first);
            assert_eq!(crate::key::canonical_json(key), first);
            for data in &datas {
                for records in &record_sets {
                    for autoinc in [None, Some(0), Some(41)] {
                        let files: Map<String, Value> = records
                            .iter()
                            .map(|(k, f)| (k.clone(), Value::String(f.blake3.clone())))
                            .collect();
                        let content = serde_json::json!({
                            "key": key, "autoinc": autoinc, "data": data, "records": files,
                        });
                        let mut text = String::new();
                        canonical_as_first_written(&content, &mut text);
                        assert_eq!(
                            Meta::compute_content_hash(
                                &object(key.clone()),
                                autoinc,
                                &object(data.clone()),
                                records
                            ),
                            blake3::hash(text.as_bytes()).to_hex().to_string(),
                            "{text}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn provenance_is_optional_and_round_trips() {
        let old = br#"{"format":1,"type":"t","version":1,"name":"t-a","key":{"a":1},
            "autoinc":null,"data":{},"records":{},"content_hash":"h","saved_at":"s"}"#;
        let mut meta = Meta::parse(old).expect("a meta.json without provenance");
        assert_eq!(meta.provenance, None);
        let text = String::from_utf8(meta.to_bytes().expect("bytes")).expect("utf-8");
        assert!(!text.contains("provenance"), "{text}");

        meta.provenance = Some(Provenance::here("analysis", "0.3.1", Some(1.5)));
        let back = Meta::parse(&meta.to_bytes().expect("bytes")).expect("parses");
        assert_eq!(back, meta);
        let p = back.provenance.expect("kept");
        assert_eq!(p.pid, std::process::id());
        assert_eq!(p.persist_version, env!("CARGO_PKG_VERSION"));
        let value = parse_value(&meta.to_bytes().expect("bytes")).expect("JSON");
        assert_eq!(value["provenance"]["crate"], "analysis");
        assert_eq!(value["provenance"]["compute_seconds"], 1.5);

        // A plain save's provenance has no compute_seconds field at all.
        meta.provenance = Some(Provenance::here("analysis", "0.3.1", None));
        let value = parse_value(&meta.to_bytes().expect("bytes")).expect("JSON");
        assert!(
            value["provenance"].get("compute_seconds").is_none(),
            "{value}"
        );
    }

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_305_183), "2026-11-21T23:53:03Z");
    }

    #[test]
    fn parse_reports_what_is_wrong() {
        let e = Meta::parse(b"{\"format\": 1,").unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        let e = Meta::parse(b"[1]").unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }));
        let e = Meta::parse(b"{\"format\": 1}").unwrap_err();
        assert!(e.to_string().contains("missing field"), "{e}");
    }
}
