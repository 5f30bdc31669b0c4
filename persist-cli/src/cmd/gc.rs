//! `persist gc`: removes what interrupted saves left behind.

use std::process::ExitCode;
use std::time::Duration;

use persist_core::maintenance::{self, GcOptions};

use crate::output::{human_age, human_bytes, Align, Out, Style, Table};
use crate::{CliResult, Opened};

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
