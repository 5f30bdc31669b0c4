//! `persist verify`: every record checked against its checksums, with a
//! progress bar on a terminal.

use std::collections::HashSet;
use std::io::{self, IsTerminal};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use persist_core::maintenance;

use crate::output::{human_bytes, Out, Paint, Style};
use crate::{CliResult, Opened};

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
        let damaged: HashSet<&str> = report.damaged.iter().map(|d| d.path.as_str()).collect();
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
