//! The ratio benchmark of PERFORMANCE.md: persist against the raw disk, in the
//! same run.
//!
//! ```text
//! cargo bench -p persist-core --bench ratios                 # full sizes (the defaults)
//! cargo bench -p persist-core --bench ratios -- --quick      # about a minute
//! cargo bench -p persist-core --bench ratios -- --json       # JSON lines
//! cargo bench -p persist-core --bench ratios -- --only save_zstd,load_zstd   # some rows
//! target/release/deps/ratios-<hash> --bench [flags]          # the built binary, no cargo lock
//! ```
//!
//! For each scenario, persist and its raw reference run alternately (the order
//! flips every round), each measurement in a child process of its own (this
//! binary re-executed with `--child`), so that the peak RSS of each side can be
//! read (`VmHWM`, reset with `/proc/self/clear_refs` once the inputs are
//! built). The row shows both medians, their ratio, the target and the largest
//! peak RSS seen. The rows of thousands of small saves are the exception: both
//! sides run in one child, taking turns every 100 records, so that both meet
//! the disk in the same state (see `child_save_small`).
//!
//! Run with no arguments at all (as `cargo test --all-targets` does) it runs a
//! seconds-long smoke preset and checks nothing.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use persist_core::ndarray::{s, Array1, Array2};
use persist_core::{Lazy, Persistence, Store};
use serde_json::{json, Value};

mod common;
use common::{
    flush_disk_writes, raw_mkdir, raw_put, raw_put_new, reset_peak, save_small_by_hand,
    settle_disk, small_load_or_compute, small_record, status_kb, sync_dir, Small, Trial, TRACE_LEN,
};

/// One record holding a big array.
#[derive(Persistence)]
#[persist(name = "big")]
struct Big {
    #[key]
    #[filename]
    name: String,
    #[record]
    data: Lazy<Array2<f64>>,
}

const COLS: usize = 1024;

/// A recording of int16 samples, plain and zstd-compressed (one type name, so
/// the two stores hold the same record).
#[derive(Persistence)]
#[persist(name = "signal")]
struct Signal {
    #[key]
    #[filename]
    name: String,
    #[record]
    data: Lazy<Array2<i16>>,
}

#[derive(Persistence)]
#[persist(name = "signal")]
struct SignalZstd {
    #[key]
    #[filename]
    name: String,
    #[record(compress = "zstd")]
    data: Lazy<Array2<i16>>,
}

/// Channels of the int16 recording (its columns).
const CHANNELS: usize = 64;

// ---------------------------------------------------------------- options

#[derive(Clone, Debug)]
struct Opts {
    array_mb: usize,
    small: usize,
    small_durable: usize,
    lookup: usize,
    lookup_small: usize,
    lookups: usize,
    autoinc: usize,
    rounds: usize,
    json: bool,
    verbose: bool,
    only: Vec<String>,
    dir: Option<PathBuf>,
    label: &'static str,
}

impl Opts {
    fn full() -> Opts {
        Opts {
            array_mb: 256,
            small: 10_000,
            small_durable: 10_000,
            lookup: 100_000,
            lookup_small: 100,
            lookups: 2_000,
            autoinc: 10_000,
            rounds: 5,
            json: false,
            verbose: false,
            only: Vec::new(),
            dir: None,
            label: "full",
        }
    }

    fn quick() -> Opts {
        Opts {
            array_mb: 64,
            small: 1_000,
            small_durable: 200,
            lookup: 10_000,
            lookups: 1_000,
            autoinc: 2_000,
            rounds: 3,
            label: "quick",
            ..Opts::full()
        }
    }

    fn smoke() -> Opts {
        Opts {
            array_mb: 4,
            small: 50,
            small_durable: 20,
            lookup: 300,
            lookups: 100,
            autoinc: 250,
            rounds: 1,
            label: "smoke",
            ..Opts::full()
        }
    }

    /// The seconds-long run of `cargo test --all-targets`: it measures
    /// nothing worth a warm-up and leaves the machine's caches alone.
    fn is_smoke(&self) -> bool {
        self.label == "smoke"
    }

    fn rows(&self) -> usize {
        (self.array_mb << 20) / (COLS * 8)
    }

    fn array_bytes(&self) -> usize {
        self.rows() * COLS * 8
    }

    /// The flags a child needs to rebuild the same inputs.
    fn child_args(&self) -> Vec<String> {
        vec![
            "--array-mb".into(),
            self.array_mb.to_string(),
            "--small".into(),
            self.small.to_string(),
            "--small-durable".into(),
            self.small_durable.to_string(),
            "--lookup".into(),
            self.lookup.to_string(),
            "--lookup-small".into(),
            self.lookup_small.to_string(),
            "--lookups".into(),
            self.lookups.to_string(),
            "--autoinc".into(),
            self.autoinc.to_string(),
        ]
    }

    fn parse(args: &[String]) -> Opts {
        let mut o = if args.iter().any(|a| a == "--quick") {
            Opts::quick()
        } else {
            Opts::full()
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut num = |name: &str| -> usize {
                it.next()
                    .and_then(|v| v.replace('_', "").parse().ok())
                    .unwrap_or_else(|| usage(&format!("{name} needs a number")))
            };
            match a.as_str() {
                "--bench" | "--quick" => {}
                "--json" => o.json = true,
                "-v" | "--verbose" => o.verbose = true,
                "--array-mb" => o.array_mb = num(a),
                "--small" => o.small = num(a),
                "--small-durable" => o.small_durable = num(a),
                "--lookup" => o.lookup = num(a),
                "--lookup-small" => o.lookup_small = num(a),
                "--lookups" => o.lookups = num(a),
                "--autoinc" => o.autoinc = num(a),
                "--rounds" => o.rounds = num(a).max(1),
                "--only" => o.only.extend(
                    it.next()
                        .unwrap_or_else(|| usage("--only needs scenario names"))
                        .split(',')
                        .map(str::to_owned),
                ),
                "--dir" => {
                    o.dir = Some(
                        it.next()
                            .unwrap_or_else(|| usage("--dir needs a path"))
                            .into(),
                    )
                }
                "-h" | "--help" => usage(""),
                other => usage(&format!("unknown argument `{other}`")),
            }
        }
        o
    }
}

fn usage(err: &str) -> ! {
    if !err.is_empty() {
        eprintln!("ratios: {err}");
    }
    eprintln!(
        "usage: ratios [--quick] [--json] [-v] [--rounds N] [--array-mb N] [--small N]\n\
         \x20             [--small-durable N] [--lookup N] [--lookup-small N] [--lookups N] [--autoinc N] [--only a,b] [--dir PATH]\n\
         scenarios: {}",
        SCENARIOS
            .iter()
            .map(|s| s.id)
            .collect::<Vec<_>>()
            .join(", ")
    );
    std::process::exit(if err.is_empty() { 0 } else { 2 })
}

// ---------------------------------------------------------------- scenarios

struct Scenario {
    id: &'static str,
    title: fn(&Opts) -> String,
    target: f64,
    /// Lower is better: pass when ratio <= target.
    setup: fn(&Opts, &Path),
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        id: "save_big",
        title: |o| format!("save one {} MB f64 array (durable)", o.array_mb),
        target: 1.25,
        setup: |_, _| {},
    },
    Scenario {
        id: "load_big",
        title: |o| format!("load + get() {} MB, verified", o.array_mb),
        target: 1.3,
        setup: setup_big,
    },
    Scenario {
        id: "load_big_noverify",
        title: |o| format!("load + get() {} MB, verify(false)", o.array_mb),
        target: 1.1,
        setup: setup_big,
    },
    Scenario {
        id: "mmap_row",
        title: |o| format!("load + view_mmap_unverified() + 1 row, {} MB", o.array_mb),
        target: 0.01,
        setup: setup_big,
    },
    Scenario {
        id: "mmap_verified",
        title: |o| format!("load + view_mmap() verified + 1 row, {} MB", o.array_mb),
        target: 1.0,
        setup: setup_big,
    },
    Scenario {
        id: "save_zstd",
        title: |o| format!("save {} MB int16 signal, zstd (vs plain npy)", o.array_mb),
        // What compression costs, for the bytes it saves: not a target.
        target: f64::NAN,
        setup: |_, _| {},
    },
    Scenario {
        id: "load_zstd",
        title: |o| {
            format!(
                "load + get() {} MB int16 signal, zstd (vs plain)",
                o.array_mb
            )
        },
        target: f64::NAN,
        setup: setup_signal,
    },
    Scenario {
        id: "save_small",
        title: |o| format!("save {} small records (durable)", o.small_durable),
        target: 1.3,
        setup: |_, _| {},
    },
    Scenario {
        id: "save_small_nosync",
        title: |o| format!("save {} small records (durable(false))", o.small),
        target: 1.3,
        setup: |_, _| {},
    },
    Scenario {
        id: "all_small",
        title: |o| format!("T::all over {} records", o.small),
        target: 1.2,
        setup: setup_all,
    },
    Scenario {
        id: "lookup",
        title: |o| format!("load by key among {} (vs {})", o.lookup, o.lookup_small),
        target: 1.5,
        setup: setup_lookup,
    },
    Scenario {
        id: "compute_miss",
        title: |o| {
            format!(
                "load_or_compute miss, {} small, durable (vs load + save, no lease)",
                o.small_durable
            )
        },
        target: 1.1,
        setup: |_, _| {},
    },
    Scenario {
        id: "compute_miss_nosync",
        title: |o| {
            format!(
                "load_or_compute miss, {} small, no fsync (vs load + save, no lease)",
                o.small
            )
        },
        target: 1.1,
        setup: |_, _| {},
    },
    Scenario {
        id: "compute_hit",
        title: |o| format!("load_or_compute hit, {} small (vs load)", o.small),
        // A hit takes no lease: the same work as load. The margin is noise.
        target: 1.05,
        setup: |_, _| {},
    },
    Scenario {
        id: "autoinc",
        title: |o| {
            format!(
                "autoinc save: last 100 of {} (vs key 2's first 100)",
                o.autoinc
            )
        },
        target: 1.5,
        setup: |_, _| {},
    },
    Scenario {
        id: "autoinc_raw",
        title: |o| format!("  the same files by hand, last 100 of {}", o.autoinc),
        // The file system's own growth, for comparison: not a target.
        target: f64::NAN,
        setup: |_, _| {},
    },
];

// ---------------------------------------------------------------- helpers

fn big_array(o: &Opts) -> Array2<f64> {
    Array2::from_shape_fn((o.rows(), COLS), |(i, j)| (i * COLS + j) as f64 * 0.5)
}

/// A recording as an electrode array gives it: `CHANNELS` columns of int16
/// samples, each a sum of two slow oscillations (its own phase and
/// amplitude) plus a few counts of noise, `array_mb` MiB in all. It
/// compresses as real recordings do, modestly: the noise is incompressible.
fn signal(o: &Opts) -> Array2<i16> {
    let samples = (o.array_mb << 20) / (CHANNELS * 2);
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    Array2::from_shape_fn((samples, CHANNELS), |(i, j)| {
        // splitmix64: cheap, seeded noise of -4..=4 counts.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let noise = ((z ^ (z >> 31)) % 9) as f64 - 4.0;
        let t = i as f64 / 30_000.0;
        let phase = j as f64 * 0.1;
        let slow = 800.0 * (2.0 * std::f64::consts::PI * 7.0 * t + phase).sin()
            + 300.0 * (2.0 * std::f64::consts::PI * 40.0 * t + 2.0 * phase).sin();
        (slow + noise) as i16
    })
}

/// The size of the one record file of the record in `store_dir`.
fn record_file_bytes(store_dir: &Path) -> f64 {
    let walked = persist_core::maintenance::walk(&Store::open(store_dir).unwrap()).unwrap();
    let meta = walked[0].meta.as_ref().unwrap();
    meta.records.values().map(|r| r.size).sum::<u64>() as f64
}

/// The npy bytes of an array (for references that write "the same bytes").
fn npy_header(shape: &[usize]) -> Vec<u8> {
    // The header ndarray-npy writes for a standard-layout little-endian f64 array.
    let shape_str = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let dict = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape_str}, }}");
    let mut header = Vec::new();
    header.extend_from_slice(b"\x93NUMPY\x01\x00");
    let unpadded = 10 + dict.len() + 1;
    let total = unpadded.div_ceil(64) * 64;
    let hlen = (total - 10) as u16;
    header.extend_from_slice(&hlen.to_le_bytes());
    header.extend_from_slice(dict.as_bytes());
    header.resize(total - 1, b' ');
    header.push(b'\n');
    header
}

fn as_bytes(data: &[f64]) -> &[u8] {
    // SAFETY: f64 has no padding and any byte is a valid u8.
    unsafe { std::slice::from_raw_parts(data.as_ptr().cast::<u8>(), std::mem::size_of_val(data)) }
}

fn as_bytes_mut(data: &mut [f64]) -> &mut [u8] {
    // SAFETY: as above; every bit pattern is a valid f64.
    unsafe {
        std::slice::from_raw_parts_mut(data.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(data))
    }
}

fn big_file(store_dir: &Path) -> PathBuf {
    let rec = store_dir.join("big");
    let key_dir = fs::read_dir(&rec).unwrap().next().unwrap().unwrap().path();
    fs::read_dir(&key_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "npy"))
        .unwrap()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

// ---------------------------------------------------------------- setups (parent, untimed)

fn setup_big(o: &Opts, dir: &Path) {
    let store_dir = dir.join("big-store");
    if store_dir.exists() {
        return;
    }
    let store = Store::open(&store_dir).unwrap();
    let mut b = Big::new("b");
    b.data.set(big_array(o));
    b.save(&store).unwrap();
}

fn setup_signal(o: &Opts, dir: &Path) {
    let plain_dir = dir.join("signal-plain");
    if plain_dir.exists() {
        return;
    }
    let data = signal(o);
    let mut plain = Signal::new("s");
    plain.data.set(data.clone());
    plain.save(&Store::open(&plain_dir).unwrap()).unwrap();
    let mut zstd = SignalZstd::new("s");
    zstd.data.set(data);
    zstd.save(&Store::open(dir.join("signal-zstd")).unwrap())
        .unwrap();
}

fn setup_all(o: &Opts, dir: &Path) {
    let store_dir = dir.join("all-store");
    if store_dir.exists() {
        return;
    }
    let store = Store::open(&store_dir).unwrap().durable(false);
    for i in 0..o.small {
        small_record(i).save(&store).unwrap();
    }
}

fn lookup_store(dir: &Path, n: usize) -> PathBuf {
    let store_dir = dir.join(format!("lookup-{n}"));
    if store_dir.exists() {
        return store_dir;
    }
    let store = Store::open(&store_dir).unwrap().durable(false);
    let started = Instant::now();
    for i in 0..n {
        let mut r = small_record(i);
        r.trace = Lazy::empty();
        r.save(&store).unwrap();
        if i > 0 && i % 20_000 == 0 {
            eprintln!(
                "  (setup: {i} of {n} records, {:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    store_dir
}

fn setup_lookup(o: &Opts, dir: &Path) {
    lookup_store(dir, o.lookup);
    lookup_store(dir, o.lookup_small);
}

// ---------------------------------------------------------------- children (timed)

struct Measured {
    secs: f64,
    extra: Option<f64>,
}

fn run_child(args: &[String]) {
    let scenario = args[0].clone();
    let side = args[1].clone();
    let work = PathBuf::from(&args[2]);
    let o = Opts::parse(&args[3..]);
    if scenario == "setup" {
        // `--child setup <scenario> <work>`: only the inputs, for profiling one
        // side by hand (`--child <scenario> persist <work>` after it).
        let sc = SCENARIOS.iter().find(|sc| sc.id == side);
        let sc = sc.unwrap_or_else(|| usage(&format!("unknown scenario {side}")));
        fs::create_dir_all(&work).unwrap();
        (sc.setup)(&o, &work);
        return;
    }
    let persist = side == "persist";
    // Inputs are built before the peak is reset; the timed part follows.
    let m = match scenario.as_str() {
        "save_big" => child_save_big(&o, &work, persist),
        "load_big" => child_load_big(&work, persist, true),
        "load_big_noverify" => child_load_big(&work, persist, false),
        "mmap_row" => child_mmap(&work, persist, false),
        "mmap_verified" => child_mmap(&work, persist, true),
        "save_zstd" => child_save_signal(&o, &work, persist),
        "load_zstd" => child_load_signal(&work, persist),
        "save_small" => child_save_small(&o, &work, true),
        "save_small_nosync" => child_save_small(&o, &work, false),
        "all_small" => child_all(&o, &work, persist),
        "lookup" => child_lookup(&o, &work, persist),
        "compute_miss" => child_compute(&o, &work, false, true),
        "compute_miss_nosync" => child_compute(&o, &work, false, false),
        "compute_hit" => child_compute(&o, &work, true, false),
        "autoinc" => child_autoinc(&o, &work),
        "autoinc_raw" => child_autoinc_raw(&o, &work),
        other => usage(&format!("unknown scenario {other}")),
    };
    let base = BASE_RSS.with(|b| b.get());
    println!(
        "RESULT {} {} {} {}",
        m.secs,
        m.extra.map_or("-".to_owned(), |e| e.to_string()),
        status_kb("VmHWM:").unwrap_or(0),
        base
    );
}

thread_local! {
    static BASE_RSS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Marks the start of the timed part: resets the peak and notes the RSS.
fn start() -> Instant {
    reset_peak();
    BASE_RSS.with(|b| b.set(status_kb("VmRSS:").unwrap_or(0)));
    Instant::now()
}

fn child_save_big(o: &Opts, work: &Path, persist: bool) -> Measured {
    let array = big_array(o);
    let out = work.join("out");
    if persist {
        let store = Store::open(&out).unwrap();
        let mut b = Big::new("b");
        b.data.set(array);
        let t = start();
        b.save(&store).unwrap();
        Measured {
            secs: t.elapsed().as_secs_f64(),
            extra: None,
        }
    } else {
        fs::create_dir_all(&out).unwrap();
        let data = array.as_slice().unwrap();
        let header = npy_header(array.shape());
        let t = start();
        raw_put(&out, "data.npy", true, |f| {
            f.write_all(&header).unwrap();
            f.write_all(as_bytes(data)).unwrap();
        });
        Measured {
            secs: t.elapsed().as_secs_f64(),
            extra: None,
        }
    }
}

/// Saves the recording, zstd-compressed (`persist`) or plain; `extra` is the
/// bytes on disk.
fn child_save_signal(o: &Opts, work: &Path, compressed: bool) -> Measured {
    let data = signal(o);
    let out = work.join("out");
    let store = Store::open(&out).unwrap();
    let t = start();
    if compressed {
        let mut s = SignalZstd::new("s");
        s.data.set(data);
        s.save(&store).unwrap();
    } else {
        let mut s = Signal::new("s");
        s.data.set(data);
        s.save(&store).unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    Measured {
        secs,
        extra: Some(record_file_bytes(&out)),
    }
}

/// Loads the recording and reads it whole (verified), from the zstd store
/// (`persist`) or the plain one; `extra` is the bytes on disk.
fn child_load_signal(work: &Path, compressed: bool) -> Measured {
    let dir = work.join(if compressed {
        "signal-zstd"
    } else {
        "signal-plain"
    });
    let store = Store::open(&dir).unwrap();
    let t = start();
    let loaded = Signal::new("s").load(&store).unwrap();
    let a = loaded.data.get().unwrap();
    let last = a[[a.nrows() - 1, CHANNELS - 1]];
    let secs = t.elapsed().as_secs_f64();
    assert!(a.nrows() > 0 && last > i16::MIN);
    Measured {
        secs,
        extra: Some(record_file_bytes(&dir)),
    }
}

fn raw_read_array(path: &Path) -> Vec<f64> {
    let mut f = File::open(path).unwrap();
    let len = f.metadata().unwrap().len() as usize;
    let mut header = [0u8; 10];
    f.read_exact(&mut header).unwrap();
    let hlen = u16::from_le_bytes([header[8], header[9]]) as usize;
    let mut dict = vec![0u8; hlen];
    f.read_exact(&mut dict).unwrap();
    let n = (len - 10 - hlen) / 8;
    let mut out = vec![0f64; n];
    f.read_exact(as_bytes_mut(&mut out)).unwrap();
    out
}

fn child_load_big(work: &Path, persist: bool, verify: bool) -> Measured {
    let store_dir = work.join("big-store");
    let path = big_file(&store_dir);
    let t = start();
    let sum = if persist {
        let store = Store::open(&store_dir).unwrap().verify(verify);
        let b = Big::new("b").load(&store).unwrap();
        let a = b.data.get().unwrap();
        a[[a.nrows() - 1, COLS - 1]]
    } else {
        let v = raw_read_array(&path);
        v[v.len() - 1]
    };
    let secs = t.elapsed().as_secs_f64();
    assert!(sum > 0.0);
    Measured { secs, extra: None }
}

fn child_mmap(work: &Path, persist: bool, verify: bool) -> Measured {
    let store_dir = work.join("big-store");
    let store = Store::open(&store_dir).unwrap();
    let t = start();
    let row_sum = if persist {
        let b = Big::new("b").load(&store).unwrap();
        let map = if verify {
            b.data.view_mmap().unwrap()
        } else {
            b.data.view_mmap_unverified().unwrap()
        };
        let view = map.view();
        view.slice(s![view.nrows() / 2, ..]).sum()
    } else {
        let b = Big::new("b").load(&store).unwrap();
        let a = b.data.get().unwrap();
        a.slice(s![a.nrows() / 2, ..]).sum()
    };
    let secs = t.elapsed().as_secs_f64();
    assert!(row_sum > 0.0);
    Measured { secs, extra: None }
}

/// Records per block in the paired scenarios (small saves, autoinc): the two
/// sides take turns at this grain.
const PAIR_BLOCK: usize = 100;

/// Both sides of a small-save row in one process, taking turns every
/// `PAIR_BLOCK` records (who goes first flips every block): persist saves
/// record `i` into its store, then the reference writes the same record by
/// hand into a folder beside it, or the other way round.
///
/// Run one after the other, each side met the disk in another state: creating
/// tens of thousands of inodes on this ext4 costs 2-3x more or less depending
/// on what the allocator meets (groups with recently freed inodes, writeback
/// of the files made a few seconds before), and which side drew the slow
/// stretch decided the ratio (0.68-1.67 over five runs). Taking turns, both
/// sides see the same stretches.
fn child_save_small(o: &Opts, work: &Path, durable: bool) -> Measured {
    let count = if durable { o.small_durable } else { o.small };
    let store = Store::open(work.join("persist")).unwrap().durable(durable);
    let hand = work.join("reference");
    fs::create_dir_all(&hand).unwrap();
    if durable {
        sync_dir(work);
    }
    let type_dir = hand.join("small");
    let (mut persist_secs, mut reference_secs) = (0.0, 0.0);
    let _ = start();
    for (block, first) in (0..count).step_by(PAIR_BLOCK).enumerate() {
        let records = first..(first + PAIR_BLOCK).min(count);
        let persist_first = block % 2 == 0;
        for persist in [persist_first, !persist_first] {
            let t = Instant::now();
            if persist {
                for i in records.clone() {
                    small_record(i).save(&store).unwrap();
                }
                persist_secs += t.elapsed().as_secs_f64();
            } else {
                if first == 0 {
                    raw_mkdir(&type_dir, durable);
                }
                for i in records.clone() {
                    save_small_by_hand(&type_dir, i, &small_record(i), durable);
                }
                reference_secs += t.elapsed().as_secs_f64();
            }
        }
    }
    Measured {
        secs: persist_secs,
        extra: Some(reference_secs),
    }
}

/// `load_or_compute` against what it did before leases, in alternating
/// blocks of `PAIR_BLOCK` keys: on a miss, `load` (absent), the computation,
/// `save`; on a hit (`hit`: every key saved first, untimed), `load`. Misses
/// run with and without fsync (without it the lease's create and delete weigh
/// most); hits take no lease, so they run without fsync only.
fn child_compute(o: &Opts, work: &Path, hit: bool, durable: bool) -> Measured {
    let count = if durable { o.small_durable } else { o.small };
    let store = Store::open(work.join("persist")).unwrap().durable(durable);
    if hit {
        for i in 0..count {
            small_record(i).save(&store).unwrap();
        }
        flush_disk_writes();
    }
    let (mut leased_secs, mut plain_secs) = (0.0, 0.0);
    let _ = start();
    for (block, first) in (0..count).step_by(PAIR_BLOCK).enumerate() {
        let end = (first + PAIR_BLOCK).min(count);
        // On a miss each side gets its own keys: odd ones leased, even plain.
        let keys = |leased: bool| {
            (first..end).map(move |i| if hit { i } else { 2 * i + usize::from(leased) })
        };
        let leased_first = block % 2 == 0;
        for leased in [leased_first, !leased_first] {
            let t = Instant::now();
            for i in keys(leased) {
                small_load_or_compute(&store, i, leased);
            }
            let secs = t.elapsed().as_secs_f64();
            if leased {
                leased_secs += secs;
            } else {
                plain_secs += secs;
            }
        }
    }
    Measured {
        secs: leased_secs,
        extra: Some(plain_secs),
    }
}

fn child_all(o: &Opts, work: &Path, persist: bool) -> Measured {
    let store_dir = work.join("all-store");
    let t = start();
    let n = if persist {
        let store = Store::open(&store_dir).unwrap();
        let mut n = 0;
        for r in Small::all(&store).unwrap() {
            let r = r.unwrap();
            n += usize::from(!r.note.is_empty());
        }
        n
    } else {
        let mut n = 0;
        for e in fs::read_dir(store_dir.join("small")).unwrap() {
            let e = e.unwrap();
            if !e.file_type().unwrap().is_dir() {
                continue;
            }
            let bytes = fs::read(e.path().join("meta.json")).unwrap();
            let v: Value = serde_json::from_slice(&bytes).unwrap();
            n += usize::from(v["data"]["note"].is_string());
        }
        n
    };
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(n, o.small);
    Measured { secs, extra: None }
}

fn child_lookup(o: &Opts, work: &Path, persist: bool) -> Measured {
    // "persist" looks up among many records, "reference" among few; both by key.
    let n = if persist { o.lookup } else { o.lookup_small };
    let store = Store::open(work.join(format!("lookup-{n}"))).unwrap();
    // The same number of distinct records on both sides (as many as the
    // small store holds), spread evenly over the store and visited in a fixed
    // pseudo-random order: the sides differ in how many records the type
    // holds, not in how many the lookups touch. (2,000 distinct records
    // against 100 cost ~3 µs more a lookup in cache misses on kernel
    // metadata and page cache, whatever the store's size.)
    let distinct = o.lookup_small.clamp(1, n);
    let keys: Vec<usize> = (0..o.lookups)
        .map(|k| (k.wrapping_mul(2_654_435_761) ^ (k >> 3)) % distinct * (n / distinct))
        .collect();
    let queries: Vec<(Small, f64)> = keys
        .iter()
        .map(|&i| {
            let r = small_record(i);
            let q = Small::new(r.animal, r.session, r.date, r.lab, r.rig);
            (q, r.score)
        })
        .collect();
    let t = start();
    for (q, score) in &queries {
        let back = q.load(&store).unwrap();
        assert_eq!(back.score, *score);
    }
    Measured {
        secs: t.elapsed().as_secs_f64() / o.lookups as f64,
        extra: None,
    }
}

/// The autoinc row's measurement, for persist (`autoinc`) or by hand
/// (`autoinc_raw`): `save(key, n)` makes save number `n` of key 0 or 1 and
/// returns its seconds. Key 0 gets `o.autoinc` saves; the last 100 are the
/// measured value. The reference is the first 100 saves of key 1, made in
/// between those last 100 (taking turns, who goes first flipping every save).
///
/// The first 100 saves of key 0 itself, made at the start, met another disk:
/// nothing written yet, no writeback running. That difference alone grew the
/// same saves made by hand 1.0-3.9x from run to run, which says nothing about
/// persist. Key 1's first saves, made at the same time as key 0's last ones,
/// leave only what the number of saves before them costs: key 0's numbering
/// and its folder of thousands of numbered folders.
fn paired_autoinc(o: &Opts, mut save: impl FnMut(usize, usize) -> f64) -> Measured {
    let k = 100.min(o.autoinc / 2);
    let window = o.autoinc - k;
    let mut last = Vec::with_capacity(k);
    let mut fresh = Vec::with_capacity(k);
    let _ = start();
    for n in 0..window {
        save(0, n);
    }
    // Without fsync, the kernel writes earlier saves' files later, and the
    // saves that happen to run then pay for it: the window starts with
    // nothing pending.
    flush_disk_writes();
    for j in 0..k {
        if j % 2 == 0 {
            last.push(save(0, window + j));
            fresh.push(save(1, j));
        } else {
            fresh.push(save(1, j));
            last.push(save(0, window + j));
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    Measured {
        secs: mean(&last),
        extra: Some(mean(&fresh)),
    }
}

fn child_autoinc(o: &Opts, work: &Path) -> Measured {
    let store = Store::open(work.join("out")).unwrap().durable(false);
    paired_autoinc(o, |key, n| {
        let mut t = Trial::new(format!("s{key}"));
        t.score = n as f64;
        t.note = "an autoinc save".to_owned();
        t.trace
            .set(Array1::from_shape_fn(TRACE_LEN, |k| (n + k) as f64));
        let started = Instant::now();
        t.save(&store).unwrap();
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(t.attempt, Some(n as u64));
        secs
    })
}

/// The file system's own share of the autoinc scenario: the same folders and
/// files (a numbered folder, its claim, the npy written in place and the
/// meta.json written to a temporary name and renamed) created by hand, no
/// persist.
fn child_autoinc_raw(o: &Opts, work: &Path) -> Measured {
    let trial = work.join("out").join("trial");
    for key in 0..2 {
        fs::create_dir_all(trial.join(format!("trial-s{key}.key"))).unwrap();
    }
    paired_autoinc(o, |key, n| {
        let trace = Array1::from_shape_fn(TRACE_LEN, |k| (n + k) as f64);
        let started = Instant::now();
        let dir = trial.join(format!("trial-s{key}.key")).join(n.to_string());
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join(".claim"), b"{\"pid\": 1}\n").unwrap();
        raw_put_new(&dir, "trace.npy", false, |f| {
            use persist_core::Storable;
            let mut w = BufWriter::new(f);
            trace.write(&mut w).unwrap();
            w.flush().unwrap();
        });
        let meta = json!({"type": "trial", "key": {"subject": format!("s{key}")}, "autoinc": n,
                          "data": {"score": n as f64, "note": "an autoinc save"}});
        raw_put(&dir, "meta.json", false, |f| {
            serde_json::to_writer_pretty(f, &meta).unwrap();
        });
        started.elapsed().as_secs_f64()
    })
}

// ---------------------------------------------------------------- parent

struct Sample {
    secs: f64,
    extra: Option<f64>,
    peak_kb: u64,
    base_kb: u64,
}

fn spawn(exe: &Path, id: &str, side: &str, work: &Path, o: &Opts) -> Sample {
    let out = Command::new(exe)
        .arg("--child")
        .arg(id)
        .arg(side)
        .arg(work)
        .args(o.child_args())
        .output()
        .expect("re-run the bench binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.starts_with("RESULT "));
    let Some(line) = line.filter(|_| out.status.success()) else {
        panic!(
            "child {id}/{side} failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let f: Vec<&str> = line.split_whitespace().collect();
    Sample {
        secs: f[1].parse().unwrap(),
        extra: f[2].parse().ok(),
        peak_kb: f[3].parse().unwrap(),
        base_kb: f[4].parse().unwrap(),
    }
}

struct Row {
    id: &'static str,
    title: String,
    persist: f64,
    reference: f64,
    target: f64,
    persist_peak_mb: f64,
    reference_peak_mb: f64,
    /// Peak RSS during the timed part above the RSS at its start, persist side.
    persist_rise_mb: f64,
    /// What each side left on disk, for the rows that report it.
    disk_bytes: Option<(f64, f64)>,
    rounds: usize,
}

impl Row {
    fn ratio(&self) -> f64 {
        self.persist / self.reference
    }
    fn pass(&self) -> bool {
        self.target.is_nan() || self.ratio() <= self.target
    }
}

fn fmt_secs(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn run_scenario(exe: &Path, sc: &Scenario, o: &Opts, work: &Path) -> Row {
    let started = Instant::now();
    (sc.setup)(o, work);
    let setup_secs = started.elapsed().as_secs_f64();
    if setup_secs > 5.0 {
        eprintln!("  ({} setup took {setup_secs:.0} s)", sc.id);
    }
    let mut p = Vec::new();
    let mut r = Vec::new();
    let mut p_peak = 0u64;
    let mut r_peak = 0u64;
    let mut p_rise = 0u64;
    let (mut p_bytes, mut r_bytes) = (None, None);
    // The long scenarios (thousands of saves each) run at most 3 rounds, each
    // in one child that measures both sides, taking turns (see
    // `child_save_small`, `child_compute` and `paired_autoinc`).
    let paired = matches!(
        sc.id,
        "save_small"
            | "save_small_nosync"
            | "autoinc"
            | "autoinc_raw"
            | "compute_miss"
            | "compute_miss_nosync"
            | "compute_hit"
    );
    let rounds = if paired { o.rounds.min(3) } else { o.rounds };
    // One untimed round first for the short scenarios: the first children
    // of a scenario were often the slow ones (on this VM the host backs a
    // process's fresh memory lazily).
    let warmup = usize::from(!paired && !o.is_smoke());
    for round in 0..warmup + rounds {
        let measured = round >= warmup;
        if paired {
            // Each round starts with nothing pending and no recently freed
            // inode in the kernel's cache (see `settle_disk`).
            if !o.is_smoke() {
                settle_disk();
            }
            let round_dir = work.join(format!("{}-{round}", sc.id));
            fs::create_dir_all(&round_dir).unwrap();
            // Thousands of small files are not removed until the bench ends
            // (the work folder goes then): on ext4 without a journal (this
            // machine's disk), inodes freed in the last 60 s are skipped one
            // by one when a new inode is allocated (`recently_deleted` in the
            // kernel's profile), so removing one round's 40,000 files made
            // every file created in the next rounds slower, growing as the
            // allocator moved into the groups they had used.
            let s = spawn(exe, sc.id, "both", &round_dir, o);
            if o.verbose {
                eprintln!(
                    "  {} round {round}: persist {}, reference {}",
                    sc.id,
                    fmt_secs(s.secs),
                    fmt_secs(s.extra.unwrap_or(f64::NAN))
                );
            }
            p.push(s.secs);
            r.push(s.extra.unwrap_or(f64::NAN));
            // One process, so one peak for both sides.
            p_peak = p_peak.max(s.peak_kb);
            r_peak = r_peak.max(s.peak_kb);
            continue;
        }
        let order: [&str; 2] = if round % 2 == 0 {
            ["persist", "reference"]
        } else {
            ["reference", "persist"]
        };
        for side in order {
            // Savers get a fresh folder, removed after; readers share the setup.
            let writes = matches!(sc.id, "save_big" | "save_zstd");
            let child_dir = if writes {
                let d = work.join(format!("{}-{round}-{side}", sc.id));
                fs::create_dir_all(&d).unwrap();
                d
            } else {
                work.to_path_buf()
            };
            let s = spawn(exe, sc.id, side, &child_dir, o);
            if o.verbose {
                eprintln!(
                    "  {} {} {side}: {} (peak {:.0} MB)",
                    sc.id,
                    if measured {
                        format!("round {}", round - warmup)
                    } else {
                        "warm-up".to_owned()
                    },
                    fmt_secs(s.secs),
                    mb(s.peak_kb)
                );
            }
            if writes {
                let _ = fs::remove_dir_all(&child_dir);
            }
            if !measured {
                continue;
            }
            if side == "persist" {
                p.push(s.secs);
                p_peak = p_peak.max(s.peak_kb);
                p_rise = p_rise.max(s.peak_kb.saturating_sub(s.base_kb));
                p_bytes = p_bytes.or(s.extra);
            } else {
                r.push(s.secs);
                r_peak = r_peak.max(s.peak_kb);
                r_bytes = r_bytes.or(s.extra);
            }
        }
    }
    Row {
        id: sc.id,
        title: (sc.title)(o),
        persist: median(&mut p),
        reference: median(&mut r),
        target: sc.target,
        persist_peak_mb: mb(p_peak),
        reference_peak_mb: mb(r_peak),
        persist_rise_mb: mb(p_rise),
        disk_bytes: p_bytes.zip(r_bytes),
        rounds,
    }
}

fn print_header(o: &Opts) {
    if o.json {
        return;
    }
    println!(
        "persist ratio bench ({} preset: array {} MB, {} small records ({} durable), lookup among {} vs {}, {} autoinc saves; {} rounds)",
        o.label, o.array_mb, o.small, o.small_durable, o.lookup, o.lookup_small, o.autoinc, o.rounds
    );
    println!(
        "| {:<56} | {:>10} | {:>10} | {:>7} | {:>6} | {:<4} | {:>20} |",
        "scenario", "persist", "reference", "ratio", "target", "pass", "peak RSS MB (p / ref)"
    );
    println!(
        "|{}|{}|{}|{}|{}|{}|{}|",
        "-".repeat(58),
        "-".repeat(12),
        "-".repeat(12),
        "-".repeat(9),
        "-".repeat(8),
        "-".repeat(6),
        "-".repeat(22)
    );
}

fn print_row(o: &Opts, row: &Row) {
    if o.json {
        println!(
            "{}",
            json!({
                "scenario": row.id,
                "title": row.title,
                "persist_s": row.persist,
                "reference_s": row.reference,
                "ratio": row.ratio(),
                "target": (!row.target.is_nan()).then_some(row.target),
                "pass": (!row.target.is_nan()).then(|| row.pass()),
                "persist_peak_rss_mb": row.persist_peak_mb,
                "reference_peak_rss_mb": row.reference_peak_mb,
                "persist_disk_bytes": row.disk_bytes.map(|b| b.0),
                "reference_disk_bytes": row.disk_bytes.map(|b| b.1),
                "rounds": row.rounds,
            })
        );
    } else {
        println!(
            "| {:<56} | {:>10} | {:>10} | {:>7.3} | {:>6} | {:<4} | {:>20} |",
            row.title,
            fmt_secs(row.persist),
            fmt_secs(row.reference),
            row.ratio(),
            if row.target.is_nan() {
                "info".to_owned()
            } else {
                format!("≤ {}", row.target)
            },
            if row.target.is_nan() {
                "-"
            } else if row.pass() {
                "pass"
            } else {
                "FAIL"
            },
            format!("{:.0} / {:.0}", row.persist_peak_mb, row.reference_peak_mb)
        );
    }
}

/// The memory targets: (name, value, target, unit, pass).
fn memory_checks(o: &Opts, rows: &[Row]) -> Vec<(String, f64, f64, &'static str)> {
    let array_mb = o.array_bytes() as f64 / (1 << 20) as f64;
    let mut out = Vec::new();
    if let Some(r) = rows.iter().find(|r| r.id == "save_big") {
        out.push((
            format!("save {} MB: peak RSS rise beyond the array", o.array_mb),
            r.persist_rise_mb,
            16.0,
            "MB",
        ));
    }
    for id in ["load_big", "load_big_noverify"] {
        if let Some(r) = rows.iter().find(|r| r.id == id) {
            out.push((
                format!("{}: peak RSS / array size", r.title),
                r.persist_peak_mb / array_mb,
                1.1,
                "x",
            ));
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--child") {
        run_child(&args[1..]);
        return;
    }
    // `cargo test --all-targets` runs bench binaries with no arguments (cargo
    // bench always passes `--bench`): a smoke run, seconds long.
    let mut o = if args.is_empty() {
        Opts::smoke()
    } else {
        Opts::parse(&args)
    };
    if o.is_smoke() {
        o.only.clear();
    }
    let exe = std::env::current_exe().expect("the bench binary's path");
    let tmp;
    let work = match &o.dir {
        Some(d) => {
            fs::create_dir_all(d).unwrap();
            tempfile::tempdir_in(d).unwrap()
        }
        None => {
            // Beside the build, on the same disk as a user's store would be.
            tmp = option_env!("CARGO_TARGET_TMPDIR").map(PathBuf::from);
            match &tmp {
                Some(d) => {
                    fs::create_dir_all(d).unwrap();
                    tempfile::tempdir_in(d).unwrap()
                }
                None => tempfile::tempdir().unwrap(),
            }
        }
    };
    // Files removed in the minutes before (a build, an earlier run's cleanup)
    // would slow the small-file rows, on either side (see `settle_disk`).
    if !o.is_smoke() && !settle_disk() {
        eprintln!(
            "note: could not drop the page cache (needs root): the small-file rows may be \
             slowed if many files were removed in the last minutes"
        );
    }
    print_header(&o);
    let mut rows = Vec::new();
    for sc in SCENARIOS {
        if !o.only.is_empty() && !o.only.iter().any(|x| x == sc.id) {
            continue;
        }
        let row = run_scenario(&exe, sc, &o, work.path());
        print_row(&o, &row);
        rows.push(row);
    }
    let checks = memory_checks(&o, &rows);
    if o.json {
        for (name, value, target, unit) in &checks {
            println!(
                "{}",
                json!({"check": name, "value": value, "target": target, "unit": unit,
                       "pass": value <= target})
            );
        }
    } else if !checks.is_empty() {
        println!();
        println!(
            "| {:<66} | {:>8} | {:>8} | {:<4} |",
            "memory", "value", "target", "pass"
        );
        println!(
            "|{}|{}|{}|{}|",
            "-".repeat(68),
            "-".repeat(10),
            "-".repeat(10),
            "-".repeat(6)
        );
        for (name, value, target, unit) in &checks {
            println!(
                "| {:<66} | {:>8} | {:>8} | {:<4} |",
                name,
                format!("{value:.2} {unit}"),
                format!("≤ {target} {unit}"),
                if value <= target { "pass" } else { "FAIL" }
            );
        }
    }
    let disk: Vec<&Row> = rows.iter().filter(|r| r.disk_bytes.is_some()).collect();
    if !o.json && !disk.is_empty() {
        println!();
        println!(
            "| {:<56} | {:>10} | {:>10} | {:>7} |",
            "bytes on disk", "persist", "reference", "ratio"
        );
        println!(
            "|{}|{}|{}|{}|",
            "-".repeat(58),
            "-".repeat(12),
            "-".repeat(12),
            "-".repeat(9)
        );
        for r in disk {
            let (p, q) = r.disk_bytes.unwrap_or((f64::NAN, f64::NAN));
            println!(
                "| {:<56} | {:>10} | {:>10} | {:>7.3} |",
                r.title,
                format!("{:.1} MB", p / (1 << 20) as f64),
                format!("{:.1} MB", q / (1 << 20) as f64),
                p / q
            );
        }
    }
    if std::env::var_os("RATIOS_KEEP").is_some() {
        eprintln!("kept {}", work.keep().display());
    } else {
        // Removing the run's ~200,000 files leaves inodes the kernel will
        // not reuse for a minute or more (see `settle_disk`): written out and
        // out of the cache now, they do not slow what runs next.
        let _ = work.close();
        if !o.is_smoke() {
            settle_disk();
        }
    }
    let targets = rows.iter().filter(|r| !r.target.is_nan()).count() + checks.len();
    let failed = rows.iter().filter(|r| !r.pass()).count()
        + checks.iter().filter(|(_, v, t, _)| v > t).count();
    if !o.json {
        println!();
        println!("{} of {targets} targets met", targets - failed);
    }
}
