//! What the two bench binaries (`ratios`, `peers`) share: the record types they
//! save, the small record they build, the same records written by hand with
//! `std::fs` (the references), and the process bookkeeping (peak RSS, `sync`).
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use persist_core::ndarray::Array1;
use persist_core::{Lazy, Persistence, Storable};
use serde_json::json;

/// A small record: 5 keys, 3 data fields, one 1 KB array.
#[derive(Persistence)]
#[persist(name = "small")]
pub struct Small {
    #[key]
    #[filename]
    pub animal: String,
    #[key]
    pub session: u32,
    #[key]
    #[filename]
    pub date: String,
    #[key]
    pub lab: String,
    #[key]
    pub rig: u32,
    pub note: String,
    pub score: f64,
    pub channels: Vec<i32>,
    #[record]
    pub trace: Lazy<Array1<f64>>,
}

/// The autoinc scenario's record: one key, numbered saves.
#[derive(Persistence)]
#[persist(name = "trial")]
pub struct Trial {
    #[key]
    #[filename]
    pub subject: String,
    #[autoinc]
    pub attempt: Option<u64>,
    pub score: f64,
    pub note: String,
    #[record]
    pub trace: Lazy<Array1<f64>>,
}

/// 1 KB of f64.
pub const TRACE_LEN: usize = 128;

/// The key of small record `i` (data fields left at their defaults).
pub fn small_key(i: usize) -> Small {
    Small::new(
        format!("A{i:06}"),
        (i % 7) as u32,
        "2024-05-01",
        "lab-one",
        (i % 3) as u32,
    )
}

/// Small record `i` loaded or computed, as the `compute_*` rows time it:
/// with `leased`, a `load_or_compute`; without, what it did before leases (a
/// `load`, and if it finds nothing the computation and a `save`). The
/// computation fills in [`small_record`]'s data.
pub fn small_load_or_compute(store: &persist_core::Store, i: usize, leased: bool) -> Small {
    let compute = |r: &mut Small| {
        let full = small_record(i);
        r.note = full.note;
        r.score = full.score;
        r.channels = full.channels;
        r.trace = full.trace;
    };
    let r = if leased {
        small_key(i)
            .load_or_compute(store, |r| {
                compute(r);
                Ok(())
            })
            .unwrap()
    } else {
        match small_key(i).load(store) {
            Ok(r) => r,
            Err(persist_core::Error::NotFound { .. }) => {
                let mut r = small_key(i);
                compute(&mut r);
                r.save(store).unwrap();
                r
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(r.score, i as f64 * 0.25);
    r
}

/// Small record `i`, with its data and array.
pub fn small_record(i: usize) -> Small {
    let mut r = small_key(i);
    r.note = format!("recorded by the bench, record {i}");
    r.score = i as f64 * 0.25;
    r.channels = vec![1, 2, 3, 5, 8, 13, 21, 34];
    r.trace
        .set(Array1::from_shape_fn(TRACE_LEN, |k| (i + k) as f64));
    r
}

/// A field of `/proc/self/status` in KiB (`VmHWM:`, `VmRSS:`).
pub fn status_kb(field: &str) -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets the peak RSS to the current RSS (Linux >= 4.0).
pub fn reset_peak() {
    let _ = fs::write("/proc/self/clear_refs", "5");
}

/// Writes every dirty page of the machine to disk (`sync`).
pub fn flush_disk_writes() {
    let _ = Command::new("sync").status();
}

/// Puts the disk in the state a user's saves meet on a machine that has not
/// just removed thousands of files: everything written out (`sync`), then the
/// clean page cache dropped (`/proc/sys/vm/drop_caches`, root only; nothing
/// unwritten is lost). Returns false when the cache could not be dropped.
///
/// Why: ext4 without a journal (the disk of PERFORMANCE.md's numbers) will not
/// reuse an inode freed in the last 60 s, and checks every free inode it passes
/// against the cached block of its inode table (`recently_deleted()` in
/// `fs/ext4/ialloc.c`). After a `cargo build`, a removed store or an earlier
/// bench run's cleanup, each new file then costs 3-10x more, by an amount
/// that depends on where the kernel places it. A block that is no longer
/// cached is not checked, so dropping the cache ends that penalty at once.
/// Measured: the autoinc row's hand-written saves took 366 µs a save right
/// after a run's cleanup, 52 µs after this.
pub fn settle_disk() -> bool {
    flush_disk_writes();
    fs::write("/proc/sys/vm/drop_caches", "1").is_ok()
}

// ---------------------------------------------------------------- by hand

pub fn sync_dir(dir: &Path) {
    File::open(dir).unwrap().sync_all().unwrap();
}

/// What a careful hand-written save does: a temp file in the target folder,
/// written, (fsync), renamed over the target, (fsync of the folder).
pub fn raw_put(dir: &Path, name: &str, durable: bool, write: impl FnOnce(&mut File)) {
    let tmp = dir.join(format!(".tmp-{name}"));
    let mut f = File::create(&tmp).unwrap();
    write(&mut f);
    if durable {
        f.sync_all().unwrap();
    }
    fs::rename(&tmp, dir.join(name)).unwrap();
    if durable {
        sync_dir(dir);
    }
}

/// A careful hand-written save's data file, which nothing reads before the
/// metadata written after it names it: created under its new name (never
/// over another file), written in place, (fsync of it and of the folder).
pub fn raw_put_new(dir: &Path, name: &str, durable: bool, write: impl FnOnce(&mut File)) {
    let mut f = File::create_new(dir.join(name)).unwrap();
    write(&mut f);
    if durable {
        f.sync_all().unwrap();
        sync_dir(dir);
    }
}

pub fn raw_mkdir(dir: &Path, durable: bool) {
    fs::create_dir(dir).unwrap();
    if durable {
        sync_dir(dir.parent().unwrap());
    }
}

/// The JSON of small record `r` as a hand-written save would store it.
fn small_meta(r: &Small, trace_file: &str) -> serde_json::Value {
    json!({
        "type": "small",
        "key": {"animal": r.animal, "session": r.session, "date": r.date,
                "lab": r.lab, "rig": r.rig},
        "data": {"note": r.note, "score": r.score, "channels": r.channels},
        "records": {"trace": {"file": trace_file, "format": "npy"}},
    })
}

/// Small record `i` written by hand in one of two layouts, split in two: what
/// any save must make first (the names and the bytes, [`SmallWrite::folder`]
/// and [`SmallWrite::file`]) and what only the file system does
/// ([`SmallWrite::write`]). No checksum, canonical key or checks.
pub enum SmallWrite {
    /// persist's layout: a folder, the npy created in place, then `meta.json`
    /// by temp file and rename (the same steps and sync policy as a persist
    /// save). The floor of that layout.
    Folder {
        dir: PathBuf,
        npy: Vec<u8>,
        meta: Vec<u8>,
    },
    /// One file per record, what pickle and neuralib's `PickleHandler` do:
    /// created or truncated in place, no folder, no rename, never fsynced;
    /// the JSON, then the npy bytes. The floor of that layout.
    File { path: PathBuf, bytes: Vec<u8> },
}

impl SmallWrite {
    pub fn folder(type_dir: &Path, i: usize, r: &Small) -> SmallWrite {
        let meta = serde_json::to_vec_pretty(&small_meta(r, "trace.npy")).unwrap();
        SmallWrite::Folder {
            dir: type_dir.join(format!("small-{}-{}.{i}", r.animal, r.date)),
            npy: npy_bytes(r),
            meta,
        }
    }

    pub fn file(dir: &Path, i: usize, r: &Small) -> SmallWrite {
        let name = format!(
            "small-{}-{}-{}-{}-{}.{i}",
            r.animal, r.session, r.date, r.lab, r.rig
        );
        let mut bytes = serde_json::to_vec(&small_meta(r, "")).unwrap();
        bytes.extend(npy_bytes(r));
        SmallWrite::File {
            path: dir.join(name),
            bytes,
        }
    }

    pub fn write(&self, durable: bool) {
        match self {
            SmallWrite::Folder { dir, npy, meta } => {
                raw_mkdir(dir, durable);
                raw_put_new(dir, "trace.npy", durable, |f| f.write_all(npy).unwrap());
                raw_put(dir, "meta.json", durable, |f| f.write_all(meta).unwrap());
            }
            SmallWrite::File { path, bytes } => {
                File::create(path).unwrap().write_all(bytes).unwrap();
            }
        }
    }
}

fn npy_bytes(r: &Small) -> Vec<u8> {
    let mut npy = Vec::new();
    r.trace.get().unwrap().write(&mut npy).unwrap();
    npy
}

/// Small record `i` in persist's layout by hand ([`SmallWrite::Folder`]),
/// its bytes made as it is saved.
pub fn save_small_by_hand(type_dir: &Path, i: usize, r: &Small, durable: bool) {
    SmallWrite::folder(type_dir, i, r).write(durable);
}
