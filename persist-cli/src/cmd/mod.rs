//! The subcommands, one file each, and what several of them share: finding a
//! type or a record from what the user typed, and writing JSON.

use std::path::Path;

use persist_core::maintenance::{self, RecordEntry};
use persist_core::{layout, Error, Store};
use serde_json::Value;

use crate::{CliError, CliResult, Opened};

mod du;
mod gc;
mod ls;
mod prune;
mod show;
mod sync;
mod tree;
mod verify;

pub(crate) use du::du;
pub(crate) use gc::gc;
pub(crate) use ls::ls;
pub(crate) use prune::prune;
pub(crate) use show::show;
pub(crate) use sync::sync;
pub(crate) use tree::tree;
pub(crate) use verify::verify;

/// The folder of a type given by name (its folder name or `#[persist(name)]`).
pub(crate) fn type_folder(store: &Store, name: &str) -> CliResult<String> {
    let types = maintenance::type_dirs(store)?;
    let folder = layout::type_dir(name);
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

pub(crate) fn to_json(v: &Value) -> CliResult<String> {
    serde_json::to_string_pretty(v)
        .map_err(|e| CliError::Message(format!("cannot write JSON: {e}")))
}

/// Finds a record from a path on disk, a folder relative to the store, or
/// `TYPE/NAME` (or a bare `NAME`) as `ls` prints it.
pub(crate) fn find_record(opened: &Opened, arg: &str) -> CliResult<RecordEntry> {
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
