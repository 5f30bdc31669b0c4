//! `persist sync SRC DST`: copies the records DST lacks or holds older, with a
//! progress bar on a terminal.

use std::io::{self, IsTerminal};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use persist_core::maintenance::{self, SyncOptions};

use crate::output::{human_bytes, Out, Paint, Style};
use crate::{CliResult, Opened};

pub(crate) fn sync(src: &Opened, dst: &Opened, opts: &SyncOptions, out: &mut Out) -> CliResult {
    let bar = progress_bar();
    let started = Instant::now();
    let last_line = std::sync::Mutex::new(Instant::now());
    let report = maintenance::sync(&src.store, &dst.store, opts, |p| {
        if let Some(bar) = &bar {
            bar.set_length(p.records_total as u64);
            bar.set_position(p.records_done as u64);
            bar.set_message(human_bytes(p.bytes_done));
        } else if let Ok(mut last) = last_line.lock() {
            // Plain progress lines for logs, at most one every 5 s.
            if last.elapsed() >= Duration::from_secs(5) {
                eprintln!(
                    "sync: {}/{} records, {} copied",
                    p.records_done,
                    p.records_total,
                    human_bytes(p.bytes_done)
                );
                *last = Instant::now();
            }
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = report?;
    let p = out.paint;
    let verb = if opts.dry_run { "would copy" } else { "copied" };
    for path in &report.copied {
        out.line(format!("{} {path}", p.style(Style::Green, verb)))?;
    }
    for path in &report.newer_in_destination {
        out.line(format!(
            "{} {path}: {} holds a newer version",
            p.style(Style::Dim, "left"),
            dst.shown
        ))?;
    }
    for c in &report.conflicts {
        out.line(format!("{} {c}", p.style(Style::Red, "conflict:")))?;
    }
    for f in &report.failed {
        let line = f.to_string().replace('\n', " ");
        out.line(format!("{} {line}", p.style(Style::Red, "failed:")))?;
    }
    let records = |n: usize| if n == 1 { "record" } else { "records" };
    let copied = report.copied.len();
    let summary = if opts.dry_run {
        format!(
            "{} to {}: would copy {copied} {}, {} up to date",
            src.shown,
            dst.shown,
            records(copied),
            report.up_to_date
        )
    } else {
        format!(
            "{} to {}: copied {copied} {} ({}) in {:.1}s, {} up to date",
            src.shown,
            dst.shown,
            records(copied),
            human_bytes(report.bytes),
            started.elapsed().as_secs_f64(),
            report.up_to_date
        )
    };
    let mut trouble = Vec::new();
    if !report.newer_in_destination.is_empty() {
        trouble.push(format!(
            "{} newer in the destination",
            report.newer_in_destination.len()
        ));
    }
    if !report.conflicts.is_empty() {
        trouble.push(p.style(Style::Red, &format!("{} conflicts", report.conflicts.len())));
    }
    if !report.failed.is_empty() {
        trouble.push(p.style(Style::Red, &format!("{} failed", report.failed.len())));
    }
    if trouble.is_empty() {
        out.line(summary)?;
    } else {
        out.line(format!("{summary}, {}", trouble.join(", ")))?;
    }
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A bar counting records on a terminal's stderr; `None` elsewhere.
fn progress_bar() -> Option<indicatif::ProgressBar> {
    if !io::stderr().is_terminal() {
        return None;
    }
    let bar =
        indicatif::ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::stderr());
    let template = if Paint::for_stream(true).is_on() {
        "{spinner:.green} syncing [{bar:30.cyan/blue}] {pos}/{len} records, {msg} ({per_sec}, {eta})"
    } else {
        "{spinner} syncing [{bar:30}] {pos}/{len} records, {msg} ({per_sec}, {eta})"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    Some(bar)
}
