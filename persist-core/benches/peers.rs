//! The persist side of the side-by-side run against the Python tools our users
//! come from (numpy, pickle, joblib, dman, persistable, neuralib.persistence);
//! see "Against the Python tools" in PERFORMANCE.md. The driver is
//! `scripts/peers.sh` (`scripts/peers/peers.py`), which runs this binary once
//! per measurement, alternating with the Python tools.
//!
//! ```text
//! peers --scenario NAME --dir PATH [--array-mb N] [--small N] [--autoinc N] [--durable true|false] [--verify true|false] [--by-hand LAYOUT] [--setup]
//! ```
//!
//! One scenario, in this process: `--setup` writes the store a load scenario
//! reads (untimed, then `sync`), without it the scenario is timed and one JSON
//! line is printed:
//! `{"tool":"persist","scenario":"save_big","secs":0.12,"peak_rss_mb":259.1}`
//! (`persist-fast` with `--durable false --verify false`: no fsync and no
//! checksum check, which is what the Python tools do). The peak RSS is `VmHWM`, reset
//! once the inputs are built.
//!
//! `--by-hand folder|file` (`save_small` only) measures no persist at all but
//! the floor of a layout, written with `std::fs` in this process: `hand-folder`
//! is persist's layout (a folder, the npy, `meta.json` by rename) and
//! `hand-file` the one file per record of pickle and neuralib.
//! `--by-hand folder-syscalls|file-syscalls` (`syscalls-folder`,
//! `syscalls-file`) make every name and byte before the timer, so only the
//! file system's own work is timed: the least any save in that layout costs.
//!
//! Run with no arguments at all (as `cargo test --all-targets` does) it is a
//! seconds-long smoke run of every scenario, both durabilities, in a tempdir.

use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use persist_core::ndarray::Array1;
use persist_core::{Lazy, Persistence, Store};
use serde_json::json;

mod common;
use common::{
    flush_disk_writes, reset_peak, small_key, small_record, status_kb, Small, SmallWrite, Trial,
    TRACE_LEN,
};

/// One record holding a big array.
#[derive(Persistence)]
#[persist(name = "big")]
struct Big {
    #[key]
    #[filename]
    name: String,
    #[record]
    data: Lazy<Array1<f64>>,
}

const SCENARIOS: &[&str] = &[
    "save_big",
    "load_big",
    "save_small",
    "load_small",
    "all_small",
    "autoinc",
];

#[derive(Clone, Debug)]
struct Opts {
    scenario: String,
    dir: PathBuf,
    array_mb: usize,
    small: usize,
    autoinc: usize,
    durable: bool,
    verify: bool,
    /// A layout written by hand instead of persist.
    by_hand: Option<ByHand>,
    setup: bool,
}

/// The layouts `--by-hand` writes with `std::fs`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Layout {
    /// persist's: a folder, the npy, `meta.json` by rename.
    Folder,
    /// pickle's: one file per record.
    File,
}

/// What `--by-hand` measures.
#[derive(Clone, Copy, Debug)]
struct ByHand {
    layout: Layout,
    /// Names and bytes made before the timer: only the file system is timed.
    syscalls_only: bool,
}

impl Opts {
    fn tool(&self) -> &'static str {
        if let Some(h) = self.by_hand {
            return match (h.layout, h.syscalls_only) {
                (Layout::Folder, false) => "hand-folder",
                (Layout::File, false) => "hand-file",
                (Layout::Folder, true) => "syscalls-folder",
                (Layout::File, true) => "syscalls-file",
            };
        }
        match (self.durable, self.verify) {
            (true, true) => "persist",
            (false, false) => "persist-fast",
            (false, true) => "persist-nosync",
            (true, false) => "persist-noverify",
        }
    }

    fn parse(args: &[String]) -> Opts {
        let mut o = Opts {
            scenario: String::new(),
            dir: PathBuf::new(),
            array_mb: 256,
            small: 10_000,
            autoinc: 2_000,
            durable: true,
            verify: true,
            by_hand: None,
            setup: false,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = |name: &str| -> String {
                it.next()
                    .cloned()
                    .unwrap_or_else(|| usage(&format!("{name} needs a value")))
            };
            let num = |name: &str, v: String| -> usize {
                v.replace('_', "")
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("{name} needs a number")))
            };
            match a.as_str() {
                // `cargo bench` passes `--bench`.
                "--bench" => {}
                "--scenario" => o.scenario = value(a),
                "--dir" => o.dir = value(a).into(),
                "--array-mb" => o.array_mb = num(a, value(a)),
                "--small" => o.small = num(a, value(a)).max(1),
                "--autoinc" => o.autoinc = num(a, value(a)).max(2),
                "--durable" => o.durable = flag(a, &value(a)),
                "--verify" => o.verify = flag(a, &value(a)),
                "--by-hand" => {
                    let (layout, syscalls_only) = match value(a).as_str() {
                        "folder" => (Layout::Folder, false),
                        "file" => (Layout::File, false),
                        "folder-syscalls" => (Layout::Folder, true),
                        "file-syscalls" => (Layout::File, true),
                        _ => {
                            usage("--by-hand takes folder, file, folder-syscalls or file-syscalls")
                        }
                    };
                    o.by_hand = Some(ByHand {
                        layout,
                        syscalls_only,
                    });
                }
                "--setup" => o.setup = true,
                "-h" | "--help" => usage(""),
                other => usage(&format!("unknown argument `{other}`")),
            }
        }
        if !SCENARIOS.contains(&o.scenario.as_str()) {
            usage("--scenario needs one of the scenarios");
        }
        if o.dir.as_os_str().is_empty() {
            usage("--dir needs a path");
        }
        if o.by_hand.is_some() && (o.scenario != "save_small" || o.setup) {
            usage("--by-hand is for --scenario save_small only");
        }
        o
    }
}

fn flag(name: &str, v: &str) -> bool {
    match v {
        "true" | "1" | "yes" => true,
        "false" | "0" | "no" => false,
        other => usage(&format!("{name} takes true or false, not `{other}`")),
    }
}

fn usage(err: &str) -> ! {
    if !err.is_empty() {
        eprintln!("peers: {err}");
    }
    eprintln!(
        "usage: peers --scenario NAME --dir PATH [--array-mb N] [--small N] [--autoinc N]\n\
         \x20            [--durable true|false] [--verify true|false]\n\
         \x20            [--by-hand folder|file|folder-syscalls|file-syscalls]\n\
         \x20            [--setup]\n\
         scenarios: {}",
        SCENARIOS.join(", ")
    );
    std::process::exit(if err.is_empty() { 0 } else { 2 })
}

// ---------------------------------------------------------------- inputs

fn big_array(o: &Opts) -> Array1<f64> {
    let n = (o.array_mb << 20) / 8;
    Array1::from_shape_fn(n, |i| i as f64 * 0.5)
}

fn store(o: &Opts) -> Store {
    Store::open(&o.dir)
        .unwrap()
        .durable(o.durable)
        .verify(o.verify)
}

// ---------------------------------------------------------------- peak RSS

/// Resets the peak RSS to the current RSS (Linux >= 4.0) and starts the timer.
fn start() -> Instant {
    reset_peak();
    Instant::now()
}

fn peak_rss_mb() -> f64 {
    status_kb("VmHWM:").unwrap_or(0) as f64 / 1024.0
}

// ---------------------------------------------------------------- scenarios

fn setup(o: &Opts) {
    // The store a load scenario reads; durable or not, it is synced after.
    let store = Store::open(&o.dir).unwrap().durable(false);
    match o.scenario.as_str() {
        "load_big" => {
            let mut b = Big::new("b");
            b.data.set(big_array(o));
            b.save(&store).unwrap();
        }
        "load_small" | "all_small" => {
            for i in 0..o.small {
                small_record(i).save(&store).unwrap();
            }
        }
        _ => {}
    }
    flush_disk_writes();
}

/// Runs the timed part of a scenario; returns the JSON line's fields.
fn run(o: &Opts) -> serde_json::Value {
    let extra = match o.scenario.as_str() {
        "save_big" => {
            let store = store(o);
            let mut b = Big::new("b");
            b.data.set(big_array(o));
            let t = start();
            b.save(&store).unwrap();
            (t.elapsed().as_secs_f64(), json!({}))
        }
        "load_big" => {
            let store = store(o);
            let t = start();
            let b = Big::new("b").load(&store).unwrap();
            let n = b.data.get().unwrap().len();
            let secs = t.elapsed().as_secs_f64();
            assert_eq!(n, (o.array_mb << 20) / 8);
            (secs, json!({}))
        }
        "save_small" if o.by_hand.is_some() => {
            let h = o.by_hand.expect("checked by the guard");
            let records: Vec<Small> = (0..o.small).map(small_record).collect();
            let type_dir = o.dir.join("small");
            fs::create_dir_all(&type_dir).unwrap();
            let made = |i: usize, r: &Small| match h.layout {
                Layout::Folder => SmallWrite::folder(&type_dir, i, r),
                Layout::File => SmallWrite::file(&type_dir, i, r),
            };
            // With `syscalls_only`, every name and byte is made before the timer.
            let made_first: Option<Vec<SmallWrite>> = h.syscalls_only.then(|| {
                records
                    .iter()
                    .enumerate()
                    .map(|(i, r)| made(i, r))
                    .collect()
            });
            let t = start();
            match &made_first {
                Some(writes) => writes.iter().for_each(|w| w.write(o.durable)),
                None => {
                    for (i, r) in records.iter().enumerate() {
                        made(i, r).write(o.durable);
                    }
                }
            }
            (t.elapsed().as_secs_f64(), json!({}))
        }
        "save_small" => {
            let store = store(o);
            let mut records: Vec<Small> = (0..o.small).map(small_record).collect();
            let t = start();
            for r in &mut records {
                r.save(&store).unwrap();
            }
            (t.elapsed().as_secs_f64(), json!({}))
        }
        "load_small" => {
            let store = store(o);
            let keys: Vec<Small> = (0..o.small).map(small_key).collect();
            let t = start();
            let mut sum = 0.0;
            for k in &keys {
                let r = k.load(&store).unwrap();
                sum += r.trace.get().unwrap().sum() + r.score;
            }
            let secs = t.elapsed().as_secs_f64();
            assert!(sum > 0.0);
            (secs, json!({}))
        }
        "all_small" => {
            let store = store(o);
            let t = start();
            let mut n = 0;
            for r in Small::all(&store).unwrap() {
                let r = r.unwrap();
                n += usize::from(!r.note.is_empty());
            }
            let secs = t.elapsed().as_secs_f64();
            assert_eq!(n, o.small);
            (secs, json!({}))
        }
        "autoinc" => {
            let store = store(o);
            let mut records: Vec<Trial> = (0..o.autoinc)
                .map(|i| {
                    let mut t = Trial::new("s1");
                    t.score = i as f64;
                    t.note = "an autoinc save".to_owned();
                    t.trace
                        .set(Array1::from_shape_fn(TRACE_LEN, |k| (i + k) as f64));
                    t
                })
                .collect();
            let mut times = Vec::with_capacity(o.autoinc);
            let t = start();
            for (i, r) in records.iter_mut().enumerate() {
                let started = Instant::now();
                r.save(&store).unwrap();
                times.push(started.elapsed().as_secs_f64());
                assert_eq!(r.attempt, Some(i as u64));
            }
            let secs = t.elapsed().as_secs_f64();
            let k = 100.min(o.autoinc / 2);
            let first = times[..k].iter().sum::<f64>() / k as f64;
            let last = times[times.len() - k..].iter().sum::<f64>() / k as f64;
            (
                secs,
                json!({"first_mean_s": first, "last_mean_s": last, "window": k}),
            )
        }
        other => usage(&format!("unknown scenario {other}")),
    };
    let (secs, mut line) = extra;
    let peak = peak_rss_mb();
    let obj = line.as_object_mut().unwrap();
    obj.insert("tool".into(), o.tool().into());
    obj.insert("scenario".into(), o.scenario.clone().into());
    obj.insert("secs".into(), secs.into());
    obj.insert("peak_rss_mb".into(), ((peak * 10.0).round() / 10.0).into());
    line
}

/// The line printed, with `tool` and `scenario` first.
fn print_line(v: &serde_json::Value) {
    let obj = v.as_object().unwrap();
    let mut out = format!(
        "{{\"tool\":{},\"scenario\":{}",
        obj["tool"], obj["scenario"]
    );
    for (k, val) in obj {
        if k != "tool" && k != "scenario" {
            out.push_str(&format!(",\"{k}\":{val}"));
        }
    }
    out.push('}');
    println!("{out}");
}

fn smoke() {
    let tmp = tempfile::tempdir().unwrap();
    for durable in [true, false] {
        for &scenario in SCENARIOS {
            let o = Opts {
                scenario: scenario.to_owned(),
                dir: tmp.path().join(format!("{scenario}-{durable}")),
                array_mb: 4,
                small: 30,
                autoinc: 20,
                durable,
                verify: durable,
                by_hand: None,
                setup: false,
            };
            if scenario.starts_with("load") || scenario.starts_with("all") {
                setup(&o);
            }
            print_line(&run(&o));
        }
    }
    for (layout, syscalls_only) in [
        (Layout::Folder, false),
        (Layout::File, false),
        (Layout::Folder, true),
        (Layout::File, true),
    ] {
        let o = Opts {
            scenario: "save_small".to_owned(),
            dir: tmp
                .path()
                .join(format!("by-hand-{layout:?}-{syscalls_only}")),
            array_mb: 4,
            small: 30,
            autoinc: 20,
            durable: false,
            verify: false,
            by_hand: Some(ByHand {
                layout,
                syscalls_only,
            }),
            setup: false,
        };
        print_line(&run(&o));
        let written = fs::read_dir(o.dir.join("small")).unwrap().count();
        assert_eq!(written, 30, "{layout:?}: one folder or file a record");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo test --all-targets` runs bench binaries with no arguments (cargo
    // bench always passes `--bench`): a smoke run, seconds long.
    if args.is_empty() || args == ["--bench"] {
        smoke();
        return;
    }
    let o = Opts::parse(&args);
    fs::create_dir_all(&o.dir).unwrap();
    if o.setup {
        let t = Instant::now();
        setup(&o);
        print_line(&json!({
            "tool": o.tool(),
            "scenario": o.scenario,
            "setup_secs": t.elapsed().as_secs_f64(),
        }));
    } else {
        print_line(&run(&o));
    }
}
