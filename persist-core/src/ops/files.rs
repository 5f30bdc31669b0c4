//! Extra files kept with a record (machinable's `save_file` / `load_file`).
//!
//! They live in the record's `files/` folder, apart from its own files, so a
//! name can never clash with them; saves and gc leave them alone.

use std::io::BufReader;

use crate::error::{Error, Result};
use crate::format::Storable;
use crate::ops::read::{meta_exists, resolved_dir};
use crate::record::{Record, RecordDir};
use crate::store::Store;

/// Checks an extra file's name: one plain file name whose extension is `V`'s.
fn check_name<V: Storable>(dir: &RecordDir, name: &str) -> Result<()> {
    let plain = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0']);
    if !plain {
        return Err(Error::InvalidKey {
            record: dir.name().to_owned(),
            reason: format!(
                "extra file name {name:?} must be one plain file name (no `/`, no leading `.`)"
            ),
        });
    }
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    if ext != V::EXTENSION {
        return Err(Error::TypeMismatch {
            record: dir.name().to_owned(),
            path: name.to_owned(),
            expected: format!("a name ending in `.{}`", V::EXTENSION),
            found: format!("{name:?}"),
        });
    }
    Ok(())
}

pub(crate) fn save_file<T: Record, V: Storable>(
    value: &T,
    store: &Store,
    name: &str,
    file: &V,
) -> Result<()> {
    let dir = resolved_dir(value)?;
    check_name::<V>(&dir, name)?;
    store.check_writable(dir.name(), &dir.files_path())?;
    if !meta_exists(store, &dir)? {
        return Err(Error::NotFound {
            record: dir.name().to_owned(),
            path: format!(
                "{} (save the record before keeping files with it)",
                store.backend().describe(&dir.meta_path())
            ),
        });
    }
    let path = format!("{}/{name}", dir.files_path());
    store
        .backend()
        .put(&path, store.is_durable(), &mut |w| file.write(w))
        .map_err(|e| e.in_record(dir.name()))
}

pub(crate) fn load_file<T: Record, V: Storable>(value: &T, store: &Store, name: &str) -> Result<V> {
    let dir = resolved_dir(value)?;
    check_name::<V>(&dir, name)?;
    let path = format!("{}/{name}", dir.files_path());
    let shown = store.backend().describe(&path);
    let reader = store
        .backend()
        .get(&path)
        .map_err(|e| e.within(dir.name(), &shown))?;
    V::read(&mut BufReader::new(reader)).map_err(|e| e.within(dir.name(), &shown))
}
