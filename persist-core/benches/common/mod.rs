//! What the two bench binaries (`ratios`, `peers`) share: the record types they
//! save, the small record they build, and the process bookkeeping (peak RSS,
//! `sync`).
#![allow(dead_code)]

use std::fs;
use std::process::Command;

use persist_core::ndarray::Array1;
use persist_core::{Lazy, Persistence};

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
