//! `persist ls`: one row per record.

use std::process::ExitCode;

use persist_core::maintenance::{self, RecordEntry};
use persist_core::Store;
use serde_json::{json, Value};

use super::{to_json, type_folder};
use crate::output::{human_bytes, short_time, Align, Out, Style, Table};
use crate::{CliResult, Opened};

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
