//! `persist show`: the key, data, provenance, record files (with their npy
//! dtype and shape), extra files and upstream records of one record.

use std::io;
use std::process::ExitCode;

use persist_core::compress::Codec;
use persist_core::format::npy;
use persist_core::maintenance::RecordEntry;
use persist_core::meta::{Meta, Provenance, RecordFile};
use persist_core::{layout, Error, Store};
use serde_json::{json, Map, Value};

use super::{find_record, to_json};
use crate::output::{clip, human_bytes, short_time, width, Align, Out, Style, Table};
use crate::{CliError, CliResult, Opened};

/// Longest value shown in one cell of `show`.
const VALUE_MAX: usize = 100;

pub(crate) fn show(opened: &Opened, arg: &str, json: bool, out: &mut Out) -> CliResult {
    let store = &opened.store;
    let record = find_record(opened, arg)?;
    let meta = match &record.meta {
        Ok(m) => m,
        Err(e) => return Err(CliError::Message(format!("{e} (run `persist verify`)"))),
    };
    let files = record_files(store, &record, meta);
    let extras = extra_files(store, &record)?;
    if json {
        let v = show_json(store, &record, meta, &files, &extras);
        out.line(to_json(&v)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let p = out.paint;
    let field = |name: &str| p.style(Style::Bold, &format!("{name:<9}"));
    out.line(format!(
        "{} {}",
        field("record"),
        p.style(Style::Bold, &meta.name)
    ))?;
    out.line(format!(
        "{} {} (version {})",
        field("type"),
        meta.type_name,
        meta.version
    ))?;
    out.line(format!(
        "{} {}",
        field("folder"),
        store.backend().describe(&record.path)
    ))?;
    out.line(format!(
        "{} {} UTC",
        field("saved at"),
        short_time(&meta.saved_at)
    ))?;
    let count = if record.files == 1 { "file" } else { "files" };
    out.line(format!(
        "{} {} in {} {count}",
        field("size"),
        human_bytes(record.size),
        record.files
    ))?;

    section(out, "key", &meta.key)?;
    section(out, "data", &meta.data)?;
    provenance(out, meta.provenance.as_ref())?;

    out.line("")?;
    out.line(p.style(Style::Bold, "record files"))?;
    if files.is_empty() {
        out.line(p.style(Style::Dim, "  (none)"))?;
    } else {
        let mut t = Table::new(&[
            ("FIELD", Align::Left),
            ("FILE", Align::Left),
            ("FORMAT", Align::Left),
            ("DTYPE", Align::Left),
            ("SHAPE", Align::Left),
            ("SIZE", Align::Right),
            ("BLAKE3", Align::Left),
        ])
        .indent(2);
        for f in &files {
            let (dtype, shape, style) = match &f.header {
                ShownHeader::None => ("-".to_owned(), "-".to_owned(), Style::Plain),
                ShownHeader::Npy(h) => (dtype_name(&h.descr), shape_text(h), Style::Plain),
                ShownHeader::Missing => ("missing".to_owned(), "-".to_owned(), Style::Red),
                ShownHeader::Unreadable(e) => (clip(e, 40), "-".to_owned(), Style::Red),
            };
            t.row(vec![
                (f.field.clone(), Style::Bold),
                (f.file.file.clone(), Style::Plain),
                (format_text(&f.file), Style::Plain),
                (dtype, style),
                (shape, Style::Plain),
                (human_bytes(f.file.size), Style::Plain),
                (clip(&f.file.blake3, 17), Style::Dim),
            ]);
        }
        t.print(out)?;
    }
    if !extras.is_empty() {
        out.line("")?;
        out.line(p.style(Style::Bold, "extra files"))?;
        let mut t = Table::new(&[("NAME", Align::Left), ("SIZE", Align::Right)]).indent(2);
        for (name, size) in &extras {
            t.row(vec![
                (name.clone(), Style::Plain),
                (human_bytes(*size), Style::Plain),
            ]);
        }
        t.print(out)?;
    }
    if !meta.upstream.is_empty() {
        out.line("")?;
        out.line(p.style(Style::Bold, "upstream"))?;
        let mut t = Table::new(&[("REF", Align::Left), ("RECORD", Align::Left)]).indent(2);
        for (pointer, up) in &meta.upstream {
            t.row(vec![
                (pointer.clone(), Style::Plain),
                (up.at.clone(), Style::Plain),
            ]);
        }
        t.print(out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A key or data section: one aligned line per field, values as compact JSON.
fn section(out: &mut Out, title: &str, fields: &Map<String, Value>) -> io::Result<()> {
    let p = out.paint;
    out.line("")?;
    out.line(p.style(Style::Bold, title))?;
    if fields.is_empty() {
        return out.line(p.style(Style::Dim, "  (none)"));
    }
    let w = fields.keys().map(|k| width(k)).max().unwrap_or(0);
    for (name, value) in fields {
        let shown = clip(&value.to_string(), VALUE_MAX);
        let pad = " ".repeat(w - width(name));
        out.line(format!("  {name}{pad}  {shown}"))?;
    }
    Ok(())
}

/// Who saved the record, on which machine, and how long it took to compute.
fn provenance(out: &mut Out, provenance: Option<&Provenance>) -> io::Result<()> {
    let p = out.paint;
    out.line("")?;
    out.line(p.style(Style::Bold, "provenance"))?;
    let Some(prov) = provenance else {
        return out.line(p.style(Style::Dim, "  (not recorded: saved by an older persist)"));
    };
    let or_unknown = |s: &str| {
        if s.is_empty() {
            "(unknown)".to_owned()
        } else {
            s.to_owned()
        }
    };
    let computed = match prov.compute_seconds {
        Some(s) => format!("{} (load_or_compute)", seconds_text(s)),
        None => "- (saved with save)".to_owned(),
    };
    let rows = [
        (
            "crate",
            format!(
                "{} {}",
                or_unknown(&prov.crate_name),
                or_unknown(&prov.crate_version)
            ),
        ),
        ("host", or_unknown(&prov.host)),
        ("pid", prov.pid.to_string()),
        ("persist", or_unknown(&prov.persist_version)),
        ("computed", computed),
    ];
    for (name, value) in rows {
        out.line(format!("  {name:<8}  {}", clip(&value, VALUE_MAX)))?;
    }
    Ok(())
}

/// Seconds as a person reads them: `0.042 s`, `12.5 s`, `2 h 03 min`.
fn seconds_text(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return format!("{s} s");
    }
    if s < 1.0 {
        format!("{s:.3} s")
    } else if s < 120.0 {
        format!("{s:.1} s")
    } else if s < 7200.0 {
        format!("{} min {:02} s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{} h {:02} min",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

/// What the header of a record file says.
enum ShownHeader {
    /// Not an npy file.
    None,
    Npy(npy::Header),
    Missing,
    Unreadable(String),
}

struct ShownFile {
    field: String,
    file: RecordFile,
    header: ShownHeader,
}

fn record_files(store: &Store, record: &RecordEntry, meta: &Meta) -> Vec<ShownFile> {
    meta.records
        .iter()
        .map(|(field, file)| {
            let header = if !layout::is_record_file_name(&file.file) {
                ShownHeader::Unreadable("not a plain file name".to_owned())
            } else {
                match store
                    .backend()
                    .get(&layout::record_file_path(&record.path, &file.file))
                {
                    Err(Error::NotFound { .. }) => ShownHeader::Missing,
                    Err(e) => ShownHeader::Unreadable(e.to_string()),
                    Ok(_) if file.format != "npy" => ShownHeader::None,
                    // Only the header is read (decompressed first if the file
                    // is compressed), never the array.
                    Ok(mut r) => match file.compression.as_deref().map(Codec::parse) {
                        None => npy_header(&mut r),
                        Some(Ok(codec)) => match codec.decoder(r) {
                            Ok(mut decoded) => npy_header(&mut decoded),
                            Err(e) => ShownHeader::Unreadable(e.to_string()),
                        },
                        Some(Err(e)) => ShownHeader::Unreadable(e.to_string()),
                    },
                }
            };
            ShownFile {
                field: field.clone(),
                file: file.clone(),
                header,
            }
        })
        .collect()
}

fn npy_header(r: &mut dyn std::io::Read) -> ShownHeader {
    match npy::Header::read(r) {
        Ok(h) => ShownHeader::Npy(h),
        Err(e) => ShownHeader::Unreadable(e.to_string()),
    }
}

/// The format column: `npy`, or `npy (zstd:3)` for a compressed file.
fn format_text(file: &RecordFile) -> String {
    match &file.compression {
        Some(c) => format!("{} ({c})", file.format),
        None => file.format.clone(),
    }
}

/// The extra files of a record (`files/`), with their sizes.
fn extra_files(store: &Store, record: &RecordEntry) -> CliResult<Vec<(String, u64)>> {
    let mut out: Vec<(String, u64)> = store
        .backend()
        .list(&layout::extra_files_dir(&record.path))?
        .into_iter()
        .filter(|e| !e.is_dir && !e.name.starts_with('.'))
        .map(|e| (e.name, e.size))
        .collect();
    out.sort();
    Ok(out)
}

fn show_json(
    store: &Store,
    r: &RecordEntry,
    meta: &Meta,
    files: &[ShownFile],
    extras: &[(String, u64)],
) -> Value {
    let records: Map<String, Value> = files
        .iter()
        .map(|f| {
            let mut v = json!({
                "file": f.file.file,
                "format": f.file.format,
                "size": f.file.size,
                "blake3": f.file.blake3,
            });
            if let Some(c) = &f.file.compression {
                v["compression"] = Value::from(c.clone());
            }
            match &f.header {
                ShownHeader::Npy(h) => {
                    v["dtype"] = Value::from(dtype_name(&h.descr));
                    v["descr"] = Value::from(h.descr.clone());
                    v["shape"] = Value::from(h.shape.clone());
                    v["fortran_order"] = Value::from(h.fortran_order);
                }
                ShownHeader::Missing => v["error"] = Value::from("missing"),
                ShownHeader::Unreadable(e) => v["error"] = Value::from(e.clone()),
                ShownHeader::None => {}
            }
            (f.field.clone(), v)
        })
        .collect();
    json!({
        "name": meta.name,
        "type": meta.type_name,
        "version": meta.version,
        "path": r.path,
        "location": store.backend().describe(&r.path),
        "autoinc": meta.autoinc,
        "saved_at": meta.saved_at,
        "size": r.size,
        "key": meta.key,
        "data": meta.data,
        "records": records,
        "extra_files": extras.iter().map(|(n, s)| json!({"name": n, "size": s})).collect::<Vec<_>>(),
        "upstream": meta.upstream.iter().map(|(k, u)| (k.clone(), json!({"at": u.at, "content_hash": u.content_hash}))).collect::<Map<String, Value>>(),
        "content_hash": meta.content_hash,
        "provenance": meta.provenance,
    })
}

/// The dtype as numpy names it (`float64`), or the type string.
fn dtype_name(descr: &str) -> String {
    let d = descr;
    let (order, code) = match d.chars().next() {
        Some('<' | '>' | '|' | '=') => (&d[..1], &d[1..]),
        _ => ("", d),
    };
    let named = match code {
        "b1" => Some("bool".to_owned()),
        _ => {
            let mut chars = code.chars();
            let kind = chars.next().map(String::from).unwrap_or_default();
            chars.as_str().parse::<u32>().ok().and_then(|bytes| {
                let bits = bytes * 8;
                match kind.as_str() {
                    "f" => Some(format!("float{bits}")),
                    "i" => Some(format!("int{bits}")),
                    "u" => Some(format!("uint{bits}")),
                    "c" => Some(format!("complex{bits}")),
                    "U" => Some(format!("str{bytes}")),
                    "S" => Some(format!("bytes{bytes}")),
                    _ => None,
                }
            })
        }
    };
    match named {
        // Name the byte order only when it is not the usual little-endian.
        Some(n) if order == ">" => format!("{n} (big-endian)"),
        Some(n) => n,
        None => d.to_owned(),
    }
}

/// The shape as numpy prints it: `(3, 4)`, `(5,)`, `()`.
fn shape_text(h: &npy::Header) -> String {
    let dims: Vec<String> = h.shape.iter().map(usize::to_string).collect();
    let mut s = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    if h.fortran_order {
        s.push_str(" F-order");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str) -> Vec<u8> {
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&u16::try_from(header.len()).unwrap_or(0).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&[0u8; 64]);
        out
    }

    #[test]
    fn reads_dtype_and_shape() {
        let bytes = file("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }\n");
        let h = npy::Header::read(&mut bytes.as_slice()).expect("header");
        assert_eq!(dtype_name(&h.descr), "float64");
        assert_eq!(h.shape, [3, 4]);
        assert_eq!(shape_text(&h), "(3, 4)");

        let bytes = file("{'descr': '|u1', 'fortran_order': True, 'shape': (5,), }");
        let h = npy::Header::read(&mut bytes.as_slice()).expect("header");
        assert_eq!(
            (dtype_name(&h.descr).as_str(), shape_text(&h).as_str()),
            ("uint8", "(5,) F-order")
        );

        let bytes = file("{'descr': '>i4', 'fortran_order': False, 'shape': (), }");
        let h = npy::Header::read(&mut bytes.as_slice()).expect("header");
        assert_eq!(
            (dtype_name(&h.descr).as_str(), shape_text(&h).as_str()),
            ("int32 (big-endian)", "()")
        );
    }

    #[test]
    fn seconds_read_as_a_person_reads_them() {
        assert_eq!(seconds_text(0.0421), "0.042 s");
        assert_eq!(seconds_text(12.54), "12.5 s");
        assert_eq!(seconds_text(185.0), "3 min 05 s");
        assert_eq!(seconds_text(7500.0), "2 h 05 min");
    }

    #[test]
    fn refuses_what_is_not_npy() {
        assert!(npy::Header::read(&mut &b"hello world"[..]).is_err());
        assert!(npy::Header::read(&mut &b"\x93NUMPY\x01\x00\xff"[..]).is_err());
        let bytes = file("{'fortran_order': False}");
        assert!(npy::Header::read(&mut bytes.as_slice()).is_err());
    }
}
