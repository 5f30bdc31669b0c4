//! The subcommands.

use std::io::{self, IsTerminal};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use persist_core::key::{sanitize, READABLE_MAX};
use persist_core::maintenance::{self, GcOptions, RecordEntry};
use persist_core::meta::Meta;
use persist_core::{Error, Store};
use serde_json::{json, Map, Value};

use crate::npy::NpyHeader;
use crate::output::{
    clip, human_age, human_bytes, short_time, width, Align, Out, Paint, Style, Table,
};
use crate::{CliError, CliResult, Opened};

/// Longest value shown in one cell of `show`.
const VALUE_MAX: usize = 100;

// ---------------------------------------------------------------- ls

pub(crate) fn ls(opened: &Opened, type_name: Option<&str>, json: bool, out: &mut Out) -> CliResult {
    let store = &opened.store;
    let records = match type_name {
        None => maintenance::walk(store)?,
        Some(t) => maintenance::walk_type(store, &type_folder(store, t)?)?,
    };
    if json {
        let rows: Vec<Value> = records.iter().map(|r| ls_json(store, r)).collect();
        out.line(to_json(&Value::Array(rows))?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if records.is_empty() {
        eprintln!("no records in {}", opened.shown);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&[
        ("TYPE", Align::Left),
        ("RECORD", Align::Left),
        ("AUTOINC", Align::Right),
        ("SAVED AT", Align::Left),
        ("SIZE", Align::Right),
    ]);
    let mut damaged = Vec::new();
    for r in &records {
        let autoinc = r.number.map_or_else(|| "-".to_owned(), |n| n.to_string());
        let (saved, style) = match &r.meta {
            Ok(m) => (short_time(&m.saved_at), Style::Plain),
            Err(e) => {
                damaged.push(format!("{}: {e}", r.path));
                ("damaged".to_owned(), Style::Red)
            }
        };
        table.row(vec![
            (r.type_dir.clone(), Style::Plain),
            (r.name(), Style::Bold),
            (autoinc, Style::Plain),
            (saved, style),
            (human_bytes(r.size), Style::Plain),
        ]);
    }
    table.print(out)?;
    for d in damaged {
        eprintln!("persist: warning: {}", d.replace('\n', " "));
    }
    Ok(ExitCode::SUCCESS)
}

fn ls_json(store: &Store, r: &RecordEntry) -> Value {
    let mut v = json!({
        "type": r.type_dir,
        "name": r.name(),
        "autoinc": r.number,
        "path": r.path,
        "location": store.backend().describe(&r.path),
        "size": r.size,
        "files": r.files,
    });
    match &r.meta {
        Ok(m) => {
            v["type"] = Value::from(m.type_name.clone());
            v["version"] = Value::from(m.version);
            v["saved_at"] = Value::from(m.saved_at.clone());
            v["key"] = Value::Object(m.key.clone());
            v["error"] = Value::Null;
        }
        Err(e) => {
            v["saved_at"] = Value::Null;
            v["error"] = Value::from(e.to_string());
        }
    }
    v
}

/// The folder of a type given by name (its folder name or `#[persist(name)]`).
fn type_folder(store: &Store, name: &str) -> CliResult<String> {
    let types = maintenance::type_dirs(store)?;
    let folder = sanitize(name, READABLE_MAX).0;
    if types.contains(&folder) {
        return Ok(folder);
    }
    let known = if types.is_empty() {
        "the store is empty".to_owned()
    } else {
        format!("types: {}", types.join(", "))
    };
    Err(CliError::Message(format!(
        "no type `{name}` in the store ({known})"
    )))
}

fn to_json(v: &Value) -> CliResult<String> {
    serde_json::to_string_pretty(v)
        .map_err(|e| CliError::Message(format!("cannot write JSON: {e}")))
}

// ---------------------------------------------------------------- show

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
                Header::None => ("-".to_owned(), "-".to_owned(), Style::Plain),
                Header::Npy(h) => (h.dtype(), h.shape_text(), Style::Plain),
                Header::Missing => ("missing".to_owned(), "-".to_owned(), Style::Red),
                Header::Unreadable(e) => (clip(e, 40), "-".to_owned(), Style::Red),
            };
            t.row(vec![
                (f.field.clone(), Style::Bold),
                (f.file.file.clone(), Style::Plain),
                (f.file.format.clone(), Style::Plain),
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

/// What the header of a record file says.
enum Header {
    /// Not an npy file.
    None,
    Npy(NpyHeader),
    Missing,
    Unreadable(String),
}

struct ShownFile {
    field: String,
    file: persist_core::meta::RecordFile,
    header: Header,
}

fn record_files(store: &Store, record: &RecordEntry, meta: &Meta) -> Vec<ShownFile> {
    meta.records
        .iter()
        .map(|(field, file)| {
            let plain = !file.file.contains('/') && !file.file.starts_with('.');
            let header = if !plain {
                Header::Unreadable("not a plain file name".to_owned())
            } else {
                match store.backend().get(&record.file_path(&file.file)) {
                    Err(Error::NotFound { .. }) => Header::Missing,
                    Err(e) => Header::Unreadable(e.to_string()),
                    Ok(_) if file.format != "npy" => Header::None,
                    // Only the header is read, never the array.
                    Ok(mut r) => match NpyHeader::read(&mut r) {
                        Ok(h) => Header::Npy(h),
                        Err(e) => Header::Unreadable(e),
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

/// The extra files of a record (`files/`), with their sizes.
fn extra_files(store: &Store, record: &RecordEntry) -> CliResult<Vec<(String, u64)>> {
    let mut out: Vec<(String, u64)> = store
        .backend()
        .list(&record.file_path("files"))?
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
            match &f.header {
                Header::Npy(h) => {
                    v["dtype"] = Value::from(h.dtype());
                    v["descr"] = Value::from(h.descr.clone());
                    v["shape"] = Value::from(h.shape.clone());
                    v["fortran_order"] = Value::from(h.fortran_order);
                }
                Header::Missing => v["error"] = Value::from("missing"),
                Header::Unreadable(e) => v["error"] = Value::from(e.clone()),
                Header::None => {}
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
    })
}

/// Finds a record from a path on disk, a folder relative to the store, or
/// `TYPE/NAME` (or a bare `NAME`) as `ls` prints it.
fn find_record(opened: &Opened, arg: &str) -> CliResult<RecordEntry> {
    let store = &opened.store;
    if let Some(root) = &opened.root {
        let path = Path::new(arg);
        if path.exists() {
            let inside = match (path.canonicalize(), root.canonicalize()) {
                (Ok(p), Ok(r)) => p.strip_prefix(&r).ok().map(|rel| {
                    rel.components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join("/")
                }),
                _ => None,
            };
            match inside {
                Some(rel) => return Ok(maintenance::record_at(store, &rel)?),
                None if path.is_absolute() || arg.starts_with('.') => {
                    return Err(CliError::Message(format!(
                        "`{arg}` is not inside the store {} (pass --store)",
                        opened.shown
                    )))
                }
                None => {}
            }
        }
    }
    match maintenance::record_at(store, arg) {
        Ok(r) => return Ok(r),
        Err(Error::InvalidKey { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let (types, name) = match arg.split_once('/') {
        Some((t, name)) => (vec![type_folder(store, t)?], name),
        None => (maintenance::type_dirs(store)?, arg),
    };
    let mut found = Vec::new();
    for t in types {
        found.extend(
            maintenance::walk_type(store, &t)?
                .into_iter()
                .filter(|r| r.name() == name || r.folder_name() == name),
        );
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(CliError::Message(format!(
            "no record `{arg}` in {} (see `persist ls`)",
            opened.shown
        ))),
        n => {
            let paths: Vec<&str> = found.iter().map(|r| r.path.as_str()).collect();
            Err(CliError::Message(format!(
                "`{arg}` names {n} records (their keys differ in fields not shown in the name); pass one folder: {}",
                paths.join(", ")
            )))
        }
    }
}

// ---------------------------------------------------------------- tree

struct Node {
    name: String,
    is_dir: bool,
    size: u64,
    files: u64,
    children: Vec<Node>,
}

fn build_tree(store: &Store, path: &str, name: String) -> CliResult<Node> {
    let mut entries = store.backend().list(path)?;
    entries.sort_by(|a, b| natural(&a.name, &b.name));
    let mut node = Node {
        name,
        is_dir: true,
        size: 0,
        files: 0,
        children: Vec::with_capacity(entries.len()),
    };
    for e in entries {
        let child_path = if path.is_empty() {
            e.name.clone()
        } else {
            format!("{path}/{}", e.name)
        };
        let child = if e.is_dir {
            build_tree(store, &child_path, e.name)?
        } else {
            Node {
                name: e.name,
                is_dir: false,
                size: e.size,
                files: 1,
                children: Vec::new(),
            }
        };
        node.size += child.size;
        node.files += child.files;
        node.children.push(child);
    }
    Ok(node)
}

/// Numbered folders in numeric order, everything else by name.
fn natural(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        _ => a.cmp(b),
    }
}

pub(crate) fn tree(opened: &Opened, depth: Option<usize>, out: &mut Out) -> CliResult {
    let root = build_tree(&opened.store, "", opened.shown.clone())?;
    let mut lines: Vec<(String, String, Style, String)> = Vec::new();
    lines.push((
        String::new(),
        root.name.clone(),
        Style::Blue,
        human_bytes(root.size),
    ));
    tree_lines(&root, "", 1, depth, &mut lines);
    let w = lines
        .iter()
        .map(|(pre, name, _, _)| width(pre) + width(name))
        .max()
        .unwrap_or(0);
    let sw = lines.iter().map(|l| width(&l.3)).max().unwrap_or(0);
    let p = out.paint;
    for (prefix, name, style, size) in lines {
        let pad = " ".repeat(w - width(&prefix) - width(&name));
        let size = format!("{size:>sw$}");
        out.line(format!(
            "{prefix}{}{pad}  {}",
            p.style(style, &name),
            p.style(Style::Dim, &size)
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn tree_lines(
    node: &Node,
    prefix: &str,
    level: usize,
    depth: Option<usize>,
    lines: &mut Vec<(String, String, Style, String)>,
) {
    let n = node.children.len();
    for (i, child) in node.children.iter().enumerate() {
        let last = i + 1 == n;
        let branch = if last { "└── " } else { "├── " };
        let collapsed =
            child.is_dir && depth.is_some_and(|d| level >= d) && !child.children.is_empty();
        let (name, style) = if child.is_dir {
            let mut name = format!("{}/", child.name);
            if collapsed {
                let files = if child.files == 1 { "file" } else { "files" };
                name.push_str(&format!(" ({} {files})", child.files));
            }
            (name, Style::Blue)
        } else if child.name.starts_with('.') {
            (child.name.clone(), Style::Dim)
        } else {
            (child.name.clone(), Style::Plain)
        };
        lines.push((
            format!("{prefix}{branch}"),
            name,
            style,
            human_bytes(child.size),
        ));
        if child.is_dir && !collapsed {
            let next = format!("{prefix}{}", if last { "    " } else { "│   " });
            tree_lines(child, &next, level + 1, depth, lines);
        }
    }
}

// ---------------------------------------------------------------- verify

pub(crate) fn verify(opened: &Opened, verbose: bool, out: &mut Out) -> CliResult {
    let tty = io::stderr().is_terminal();
    let bar = if tty {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(0),
            indicatif::ProgressDrawTarget::stderr(),
        );
        let colour = Paint::for_stream(true).is_on();
        let template = if colour {
            "{spinner:.green} verifying [{bar:30.cyan/blue}] {bytes}/{total_bytes} {msg}"
        } else {
            "{spinner} verifying [{bar:30}] {bytes}/{total_bytes} {msg}"
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        Some(bar)
    } else {
        None
    };
    let started = Instant::now();
    let mut last_line = Instant::now();
    let report = maintenance::verify(&opened.store, |p| {
        if let Some(bar) = &bar {
            bar.set_length(p.bytes_total);
            bar.set_position(p.bytes_done.min(p.bytes_total));
            bar.set_message(format!(
                "{}/{} records  {}",
                p.records_done, p.records_total, p.record
            ));
        } else if last_line.elapsed() >= Duration::from_secs(5) {
            // Plain progress lines for logs, at most one every 5 s.
            eprintln!(
                "verify: {}/{} records, {} of {}",
                p.records_done,
                p.records_total,
                human_bytes(p.bytes_done),
                human_bytes(p.bytes_total)
            );
            last_line = Instant::now();
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = report?;
    let p = out.paint;
    if verbose {
        let damaged: std::collections::HashSet<&str> =
            report.damaged.iter().map(|d| d.path.as_str()).collect();
        for r in maintenance::walk(&opened.store)? {
            if !damaged.contains(r.path.as_str()) {
                out.line(format!(
                    "{}       {}",
                    p.style(Style::Green, "ok"),
                    r.name()
                ))?;
            }
        }
    }
    for d in &report.damaged {
        out.line(format!("{} {d}", p.style(Style::Red, "damaged:")))?;
    }
    let records = if report.records == 1 {
        "record"
    } else {
        "records"
    };
    let files = if report.files == 1 { "file" } else { "files" };
    let checked = format!(
        "{} {records}, {} {files}, {} in {:.1}s",
        report.records,
        report.files,
        human_bytes(report.bytes),
        started.elapsed().as_secs_f64()
    );
    if report.is_ok() {
        out.line(format!(
            "verified {checked}: {}",
            p.style(Style::Green, "all intact")
        ))?;
        Ok(ExitCode::SUCCESS)
    } else {
        out.line(format!(
            "verified {checked}: {}",
            p.style(Style::Red, &format!("{} damaged", report.damaged.len()))
        ))?;
        Ok(ExitCode::FAILURE)
    }
}

// ---------------------------------------------------------------- gc

pub(crate) fn gc(opened: &Opened, dry_run: bool, min_age: Duration, out: &mut Out) -> CliResult {
    let report = maintenance::gc(&opened.store, &GcOptions { dry_run, min_age })?;
    let p = out.paint;
    for (folder, e) in &report.skipped {
        eprintln!(
            "persist: warning: left {folder} alone: its meta.json cannot be read ({}); run `persist verify`",
            e.to_string().replace('\n', " ")
        );
    }
    if !report.leftovers.is_empty() {
        let mut t = Table::new(&[
            ("SIZE", Align::Right),
            ("LEFTOVER", Align::Left),
            ("FILE", Align::Left),
        ]);
        for l in &report.leftovers {
            t.row(vec![
                (human_bytes(l.bytes), Style::Plain),
                (l.kind.to_string(), Style::Dim),
                (l.path.clone(), Style::Plain),
            ]);
        }
        t.print(out)?;
    }
    let n = report.leftovers.len();
    let files = if n == 1 { "file" } else { "files" };
    let bytes = human_bytes(report.bytes());
    if n == 0 {
        out.line("nothing to remove")?;
    } else if dry_run {
        out.line(format!(
            "would remove {n} {files}, {bytes} {}",
            p.style(Style::Yellow, "(dry run: nothing removed)")
        ))?;
    } else {
        out.line(format!("removed {n} {files}, {bytes}"))?;
    }
    if !report.young.is_empty() {
        let k = report.young.len();
        let files = if k == 1 { "file" } else { "files" };
        out.line(format!(
            "left {k} {files} younger than {} alone (a save may be writing them; --min-age 0 takes them when nothing is running)",
            human_age(min_age)
        ))?;
    }
    for (l, e) in &report.failed {
        eprintln!(
            "persist: error: cannot remove {}: {}",
            l.path,
            e.to_string().replace('\n', " ")
        );
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

// ---------------------------------------------------------------- du

pub(crate) fn du(opened: &Opened, out: &mut Out) -> CliResult {
    let usage = maintenance::du(&opened.store)?;
    if usage.is_empty() {
        eprintln!("no records in {}", opened.shown);
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = Table::new(&[
        ("TYPE", Align::Left),
        ("RECORDS", Align::Right),
        ("FILES", Align::Right),
        ("SIZE", Align::Right),
        ("BYTES", Align::Right),
    ]);
    let (mut records, mut files, mut bytes) = (0, 0, 0);
    for u in &usage {
        records += u.records;
        files += u.files;
        bytes += u.bytes;
        t.row(vec![
            (u.type_dir.clone(), Style::Plain),
            (u.records.to_string(), Style::Plain),
            (u.files.to_string(), Style::Plain),
            (human_bytes(u.bytes), Style::Plain),
            (u.bytes.to_string(), Style::Dim),
        ]);
    }
    if usage.len() > 1 {
        t.row(vec![
            ("total".to_owned(), Style::Bold),
            (records.to_string(), Style::Bold),
            (files.to_string(), Style::Bold),
            (human_bytes(bytes), Style::Bold),
            (bytes.to_string(), Style::Dim),
        ]);
    }
    if !t.is_empty() {
        t.print(out)?;
    }
    Ok(ExitCode::SUCCESS)
}
