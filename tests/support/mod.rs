//! Shared by the reliability suites (crash, faults, concurrency, corpus,
//! keys_prop): child processes that re-run the test binary itself, a small
//! seeded random generator, and an independent scan of a store folder that
//! knows the on-disk layout of DESIGN.md but none of persist's code.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use persist_core::meta::Meta;

/// The variable that turns a run of a test binary into a child process.
pub const ROLE_VAR: &str = "PERSIST_TEST_CHILD_ROLE";

/// The child role this process was started for, if it is a child.
pub fn child_role() -> Option<String> {
    std::env::var(ROLE_VAR).ok()
}

/// Starts this test binary again, running only the test `entry` (which
/// dispatches on [`child_role`]), with `envs` set.
pub fn spawn_child(entry: &str, role: &str, envs: &[(&str, String)], stdout: Stdio) -> Child {
    let exe = std::env::current_exe().expect("current_exe");
    Command::new(exe)
        .args([entry, "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env(ROLE_VAR, role)
        .env("RUST_BACKTRACE", "1")
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child test process")
}

/// Lines a child printed with the prefix `@@ `, without it.
pub fn tagged_lines(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("@@ ").map(str::to_owned))
        .collect()
}

/// splitmix64: small, seeded, good enough to pick kill instants and sizes.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded from `PERSIST_TEST_SEED` if set, else from the clock; the seed is
    /// printed so a failing run can be repeated.
    pub fn from_env(what: &str) -> Rng {
        let seed = std::env::var("PERSIST_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        eprintln!("{what}: PERSIST_TEST_SEED={seed}");
        Rng(seed)
    }

    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }
}

/// A stable 64-bit mix of a string (what record contents are derived from, so
/// metadata and arrays can be checked against each other).
pub fn mix(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    Rng::new(h).next_u64()
}

/// What an independent walk of a store folder finds, by the layout alone.
#[derive(Debug, Default)]
pub struct Scan {
    /// Folders holding a `meta.json` that parses.
    pub records: Vec<PathBuf>,
    /// `meta.json` files that do not parse (damage; never expected here).
    pub bad_meta: Vec<(PathBuf, String)>,
    /// Record files a `meta.json` names that are missing.
    pub missing: Vec<PathBuf>,
    /// `.tmp-*` files of writes that never finished.
    pub temp_files: Vec<PathBuf>,
    /// Files in a record folder that its `meta.json` does not name (and that
    /// are not `meta.json`, `.claim` or extra files).
    pub orphans: Vec<PathBuf>,
    /// Numbered folders whose save never finished (no `meta.json`).
    pub unfinished: Vec<PathBuf>,
    /// Files in such unfinished folders other than `.claim`.
    pub unfinished_files: Vec<PathBuf>,
    /// Every autoinc number folder seen, as (key folder, number).
    pub numbers: BTreeSet<(PathBuf, u64)>,
}

impl Scan {
    /// Files a crash can leave that gc must remove.
    pub fn leftovers(&self) -> usize {
        self.temp_files.len() + self.orphans.len() + self.unfinished_files.len()
    }
}

/// Walks `root` (a local store folder).
pub fn scan(root: &Path) -> Scan {
    let mut out = Scan::default();
    scan_dir(root, 0, &mut out);
    out
}

fn is_number(name: &str) -> Option<u64> {
    let n: u64 = name.parse().ok()?;
    (n.to_string() == name).then_some(n)
}

fn scan_dir(dir: &Path, depth: usize, out: &mut Scan) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<(String, PathBuf, bool)> = rd
        .filter_map(|e| e.ok())
        .map(|e| {
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            (
                e.file_name().to_string_lossy().into_owned(),
                e.path(),
                is_dir,
            )
        })
        .collect();
    entries.sort();
    let meta_path = dir.join("meta.json");
    let named: Option<BTreeSet<String>> = if meta_path.is_file() {
        match std::fs::read(&meta_path)
            .map_err(|e| e.to_string())
            .and_then(|b| Meta::parse(&b).map_err(|e| e.to_string()))
        {
            Ok(meta) => {
                out.records.push(dir.to_path_buf());
                let files: BTreeSet<String> =
                    meta.records.values().map(|r| r.file.clone()).collect();
                for f in &files {
                    if !dir.join(f).is_file() {
                        out.missing.push(dir.join(f));
                    }
                }
                Some(files)
            }
            Err(e) => {
                out.bad_meta.push((meta_path.clone(), e));
                None
            }
        }
    } else {
        None
    };
    // A numbered folder under a key folder (depth 2: type/key/n).
    let numbered = if depth == 3 {
        dir.file_name().and_then(|n| n.to_str()).and_then(is_number)
    } else {
        None
    };
    if let (Some(n), Some(parent)) = (numbered, dir.parent()) {
        out.numbers.insert((parent.to_path_buf(), n));
        if !meta_path.is_file() {
            out.unfinished.push(dir.to_path_buf());
        }
    }
    for (name, path, is_dir) in entries {
        if name.starts_with(".tmp-") {
            out.temp_files.push(path);
            continue;
        }
        if is_dir {
            if name == "files" && meta_path.exists() {
                scan_extra(&path, out);
            } else {
                scan_dir(&path, depth + 1, out);
            }
            continue;
        }
        // Bookkeeping persist keeps (`.claim`, the autoinc counter `.next`).
        if depth < 2 || name.starts_with('.') {
            continue;
        }
        match &named {
            Some(files) if name != "meta.json" && !files.contains(&name) => out.orphans.push(path),
            Some(_) => {}
            // A folder without meta.json: a save that never finished (a
            // numbered folder keeps its claim).
            None if numbered.is_some() || depth == 2 => out.unfinished_files.push(path),
            None => {}
        }
    }
}

fn scan_extra(dir: &Path, out: &mut Scan) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(|e| e.ok()) {
        if e.file_name().to_string_lossy().starts_with(".tmp-") {
            out.temp_files.push(e.path());
        }
    }
}
