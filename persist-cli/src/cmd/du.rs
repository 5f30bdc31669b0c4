//! `persist du`: records, files and bytes per type.

use std::process::ExitCode;

use persist_core::maintenance;

use crate::output::{human_bytes, Align, Out, Style, Table};
use crate::{CliResult, Opened};

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
