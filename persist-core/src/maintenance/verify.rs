//! Checking every record of a store against what its `meta.json` promises.

use std::fmt;
use std::io::Read;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::key::{sanitize, split_record_dir_name, KeyHash, READABLE_MAX};
use crate::meta::{Meta, RecordFile};
use crate::store::Store;

use super::walk::{walk, RecordEntry};

/// Bytes read and hashed at a time: files are streamed, never loaded whole.
const CHUNK: usize = 1 << 20;

/// Above this many bytes in one chunk, hash on several threads.
const PARALLEL_HASH_MIN: usize = 256 * 1024;

/// How far [`verify`] has come, passed to its progress callback.
///
/// ```
/// use persist_core::maintenance::verify;
/// let report = verify(&persist_core::Store::memory(), |p| {
///     eprintln!("{}/{} records, {}/{} bytes", p.records_done, p.records_total, p.bytes_done, p.bytes_total);
/// })?;
/// # Ok::<(), persist_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct VerifyProgress<'a> {
    /// Records fully checked.
    pub records_done: usize,
    /// Records in the store.
    pub records_total: usize,
    /// Bytes of record files hashed so far.
    pub bytes_done: u64,
    /// Bytes of record files to hash, as `meta.json` states their sizes.
    pub bytes_total: u64,
    /// The record being checked (its file name).
    pub record: &'a str,
}

/// A record that failed [`verify`], with everything wrong with it.
///
/// Its `Display` is one line: the record, its folder, and each problem.
///
/// ```
/// use persist_core::maintenance::Damage;
/// use persist_core::Error;
/// let d = Damage {
///     record: "example-A00-1234".into(),
///     path: "example/example-A00-1234.0123456789abcdef0123456789abcdef".into(),
///     problems: vec![Error::corrupt("meta.json is truncated")],
/// };
/// assert!(d.to_string().starts_with("example-A00-1234 (example/"));
/// ```
#[derive(Debug)]
pub struct Damage {
    /// The record's file name.
    pub record: String,
    /// Its folder in the store.
    pub path: String,
    /// What is wrong, one error per problem, each naming the file concerned.
    pub problems: Vec<Error>,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): ", self.record, self.path)?;
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            // Messages are single lines; keep the report one line per record.
            f.write_str(&p.to_string().replace('\n', " "))?;
        }
        Ok(())
    }
}

/// What [`verify`] found.
///
/// ```
/// use persist_core::maintenance::verify;
/// let report = verify(&persist_core::Store::memory(), |_| {})?;
/// assert!(report.is_ok());
/// assert_eq!((report.records, report.files, report.bytes), (0, 0, 0));
/// # Ok::<(), persist_core::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// Records checked.
    pub records: usize,
    /// Record files checked.
    pub files: usize,
    /// Bytes hashed.
    pub bytes: u64,
    /// The damaged records, in store order.
    pub damaged: Vec<Damage>,
}

impl VerifyReport {
    /// Whether every record is intact.
    ///
    /// ```
    /// assert!(persist_core::maintenance::VerifyReport::default().is_ok());
    /// ```
    pub fn is_ok(&self) -> bool {
        self.damaged.is_empty()
    }
}

/// Checks every record of the store: its `meta.json` parses and fits its folder
/// (type, key hash, autoinc number), and every record file it names exists, has
/// the stored size and matches the stored blake3. Files are streamed in chunks,
/// never read into memory whole. Extra files (`save_file`) are not checked:
/// they carry no checksum.
///
/// `progress` is called as files are hashed. An error is returned only when the
/// store cannot be listed; damage is in the report, one [`Damage`] per record.
///
/// ```
/// use persist_core::maintenance::verify;
/// let store = persist_core::Store::memory();
/// let report = verify(&store, |_| {})?;
/// for damage in &report.damaged {
///     println!("damaged: {damage}");
/// }
/// # Ok::<(), persist_core::Error>(())
/// ```
pub fn verify(
    store: &Store,
    mut progress: impl FnMut(&VerifyProgress<'_>),
) -> Result<VerifyReport> {
    let records = walk(store)?;
    let bytes_total = records
        .iter()
        .filter_map(|r| r.meta.as_ref().ok())
        .flat_map(|m| m.records.values())
        .map(|f| f.size)
        .sum();
    let mut report = VerifyReport::default();
    let mut buf = vec![0u8; CHUNK];
    let mut bytes_done = 0u64;
    let records_total = records.len();
    for (i, record) in records.into_iter().enumerate() {
        let name = record.name();
        let mut problems = Vec::new();
        match &record.meta {
            Err(e) => problems.push(clear_record(e)),
            Ok(meta) => {
                problems.extend(check_placement(store, &record, meta));
                for (field, file) in &meta.records {
                    report.files += 1;
                    let at_start = bytes_done;
                    let result = check_file(store, &record, field, file, &mut buf, &mut |n| {
                        bytes_done += n;
                        progress(&VerifyProgress {
                            records_done: i,
                            records_total,
                            bytes_done,
                            bytes_total,
                            record: &name,
                        });
                    });
                    report.bytes += bytes_done - at_start;
                    // Keep the bar's total consistent when a file is shorter than stated.
                    bytes_done = at_start + file.size.max(bytes_done - at_start);
                    if let Err(e) = result {
                        problems.push(e);
                    }
                }
            }
        }
        report.records += 1;
        progress(&VerifyProgress {
            records_done: i + 1,
            records_total,
            bytes_done,
            bytes_total,
            record: &name,
        });
        if !problems.is_empty() {
            report.damaged.push(Damage {
                record: name,
                path: record.path.clone(),
                problems,
            });
        }
    }
    Ok(report)
}

/// The error without its record name (the [`Damage`] carries it once).
fn clear_record(e: &Error) -> Error {
    let path = e.path().unwrap_or_default().to_owned();
    match e {
        Error::Corrupt { reason, .. } => Error::Corrupt {
            record: String::new(),
            path,
            reason: reason.clone(),
        },
        Error::NotFound { .. } => Error::NotFound {
            record: String::new(),
            path,
        },
        Error::Io { source, .. } => Error::Io {
            record: String::new(),
            path,
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        other => Error::corrupt(other.to_string()).within("", &path),
    }
}

/// Checks that `meta.json` describes the folder it lies in.
fn check_placement(store: &Store, record: &RecordEntry, meta: &Meta) -> Vec<Error> {
    let meta_shown = store.backend().describe(&record.meta_path());
    let mut out = Vec::new();
    let mut wrong = |reason: String| out.push(Error::corrupt(reason).within("", &meta_shown));
    let expected_type = sanitize(&meta.type_name, READABLE_MAX).0;
    if expected_type != record.type_dir {
        wrong(format!(
            "meta.json is of type `{}` but lies in the folder of type `{}`",
            meta.type_name, record.type_dir
        ));
    }
    if meta.autoinc != record.number {
        wrong(format!(
            "meta.json holds autoinc {} but lies in the folder of {}",
            shown_number(meta.autoinc),
            shown_number(record.number)
        ));
    }
    if let Some((_, hash)) = split_record_dir_name(&record.key_dir) {
        let computed = KeyHash::of(&Value::Object(meta.key.clone())).short();
        if !computed.eq_ignore_ascii_case(hash) {
            wrong(format!(
                "meta.json holds a key whose hash is {computed}, but its folder is named for {hash}"
            ));
        }
    }
    out
}

fn shown_number(n: Option<u64>) -> String {
    n.map_or_else(|| "no number".to_owned(), |n| format!("number {n}"))
}

/// Streams one record file through blake3 and compares size and checksum.
fn check_file(
    store: &Store,
    record: &RecordEntry,
    field: &str,
    file: &RecordFile,
    buf: &mut [u8],
    hashed: &mut dyn FnMut(u64),
) -> Result<()> {
    let path = record.file_path(&file.file);
    let shown = store.backend().describe(&path);
    let plain = !file.file.is_empty()
        && !file.file.contains(['/', '\\', '\0'])
        && !file.file.starts_with('.');
    if !plain {
        return Err(Error::corrupt(format!(
            "record file name `{}` of field `{field}` is not a plain file name",
            file.file
        ))
        .within("", &store.backend().describe(&record.meta_path())));
    }
    let mut reader = match store.backend().get(&path) {
        Ok(r) => r,
        Err(Error::NotFound { .. }) => {
            return Err(
                Error::corrupt(format!("record file of field `{field}` is missing"))
                    .within("", &shown),
            )
        }
        Err(e) => return Err(clear_record(&e).within("", &shown)),
    };
    let mut hasher = blake3::Hasher::new();
    let mut size = 0u64;
    loop {
        let n = match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(e).within("", &shown)),
        };
        let chunk = &buf[..n];
        if n >= PARALLEL_HASH_MIN {
            hasher.update_rayon(chunk);
        } else {
            hasher.update(chunk);
        }
        size += n as u64;
        hashed(n as u64);
    }
    let found = hasher.finalize().to_hex().to_string();
    if size != file.size {
        return Err(Error::corrupt(format!(
            "record file of field `{field}` has {size} bytes, {} were saved",
            file.size
        ))
        .within("", &shown));
    }
    if !found.eq_ignore_ascii_case(&file.blake3) {
        return Err(Error::Integrity {
            record: String::new(),
            path: shown,
            expected: file.blake3.clone(),
            found,
        });
    }
    Ok(())
}
