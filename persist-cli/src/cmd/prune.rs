//! `persist prune`: removes whole records by age, count per key and size.

use std::process::ExitCode;

use persist_core::maintenance::{self, PruneCandidate, PruneOptions, PruneReason};

use super::type_folder;
use crate::output::{human_age, human_bytes, short_age, Align, Out, Style, Table};
use crate::{CliError, CliResult, Opened};

pub(crate) fn prune(opened: &Opened, mut options: PruneOptions, out: &mut Out) -> CliResult {
    if !options.selects() {
        return Err(CliError::Message(
            "nothing selects records to prune: pass --older-than, --keep-last or --max-size (--type only narrows them)"
                .to_owned(),
        ));
    }
    // Unknown types are a typo, not an empty selection.
    options.types = options
        .types
        .iter()
        .map(|t| type_folder(&opened.store, t))
        .collect::<CliResult<_>>()?;
    let report = maintenance::prune(&opened.store, &options)?;
    let p = out.paint;
    for (folder, e) in &report.unreadable {
        eprintln!(
            "persist: warning: left {folder} alone: its meta.json cannot be read ({}); run `persist verify`",
            e.to_string().replace('\n', " ")
        );
    }
    if !report.removed.is_empty() {
        let mut t = table("REASON");
        for c in &report.removed {
            t.row(row(c, reason(&c.reason, &options), Style::Plain));
        }
        t.print(out)?;
    }
    let n = report.removed.len();
    let bytes = human_bytes(report.bytes());
    if n == 0 {
        out.line("nothing to remove")?;
    } else if options.dry_run {
        out.line(format!(
            "would remove {n} {}, {bytes} {}",
            records(n),
            p.style(Style::Yellow, "(dry run: nothing removed)")
        ))?;
    } else {
        out.line(format!("removed {n} {}, {bytes}", records(n)))?;
    }
    if let Some(limit) = options.max_size {
        let after = report.scope_bytes.saturating_sub(report.bytes());
        out.line(format!(
            "{}: {} before, {} after (--max-size {})",
            if options.types.is_empty() {
                "the store".to_owned()
            } else {
                options.types.join(", ")
            },
            human_bytes(report.scope_bytes),
            human_bytes(after),
            human_bytes(limit)
        ))?;
    }
    if !report.protected.is_empty() {
        let k = report.protected.len();
        out.line("")?;
        out.line(format!("kept {k} selected {}:", records(k)))?;
        let mut t = table("KEPT BECAUSE").indent(2);
        for (c, why) in &report.protected {
            t.row(row(c, why.to_string(), Style::Dim));
        }
        t.print(out)?;
        out.line(format!(
            "  (--min-age {} protects recent records; --with-dependents removes what references a removed record)",
            human_age(options.min_age)
        ))?;
    }
    for c in &report.replaced {
        eprintln!(
            "persist: left {} alone: a save replaced it during the prune",
            c.location
        );
    }
    for (c, e) in &report.failed {
        eprintln!(
            "persist: error: cannot remove {}: {}",
            c.location,
            e.to_string().replace('\n', " ")
        );
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn records(n: usize) -> &'static str {
    if n == 1 {
        "record"
    } else {
        "records"
    }
}

fn table(last: &'static str) -> Table {
    Table::new(&[
        ("LOCATION", Align::Left),
        ("TYPE", Align::Left),
        ("AGE", Align::Right),
        ("SIZE", Align::Right),
        (last, Align::Left),
    ])
}

fn row(c: &PruneCandidate, last: String, style: Style) -> Vec<(String, Style)> {
    vec![
        (c.location.clone(), Style::Plain),
        (c.type_name.clone(), Style::Plain),
        (
            c.age.map_or_else(|| "?".to_owned(), short_age),
            Style::Plain,
        ),
        (human_bytes(c.bytes), Style::Plain),
        (last, style),
    ]
}

/// The reason as the options that gave it.
fn reason(reason: &PruneReason, options: &PruneOptions) -> String {
    match reason {
        PruneReason::OlderThan => match options.older_than {
            Some(age) => format!("older than {}", human_age(age)),
            None => reason.to_string(),
        },
        PruneReason::KeepLast => match options.keep_last {
            Some(n) => format!("not among the last {n} of its key"),
            None => reason.to_string(),
        },
        PruneReason::MaxSize => match options.max_size {
            Some(limit) => format!("oldest while over {}", human_bytes(limit)),
            None => reason.to_string(),
        },
        other => other.to_string(),
    }
}
