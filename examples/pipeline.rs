//! persistable's two-step pipeline in Rust: Gaussian points, then an outlier
//! estimator computed from them and tracking them with a `Ref`.
//!
//! ```text
//! cargo run --example pipeline
//! ```
//!
//! 1. The points `(n, seed)` and the estimator `(points, z)` are computed and
//!    saved.
//! 2. Run again: both are loaded, nothing is computed.
//! 3. The points are regenerated with another scale (same key, new content):
//!    the estimator reports that it is stale, and `load_fresh_or_compute`
//!    computes it again.
//!
//! The store lives in `<system temp dir>/persist-pipeline-example` and is
//! emptied at the start, so every run tells the same story.

use std::cell::Cell;

use persist_core::ndarray::Array1;
use persist_core::{BoxError, Lazy, Persistence, Ref, Store};

/// Step one: `n` points drawn from N(0, scale²) with `seed`. `scale` is data,
/// not part of the key: regenerating with another scale replaces the record.
#[derive(Persistence, Debug)]
#[persist(name = "gaussian_points")]
struct Points {
    #[key]
    #[filename(prefix = "n")]
    n: usize,
    #[key]
    #[filename(prefix = "seed")]
    seed: u64,
    scale: f64,
    #[record]
    values: Lazy<Array1<f64>>,
}

/// Step two: the points whose z-score exceeds `z`, computed from one `Points`
/// record (its key nests into this one's).
#[derive(Persistence, Debug)]
#[persist(name = "outliers")]
struct Outliers {
    #[key]
    points: Ref<Points>,
    #[key]
    #[filename(prefix = "z")]
    z: f64,
    mean: f64,
    std: f64,
    indices: Vec<usize>,
}

/// splitmix64: a small, good-enough PRNG with no dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// Standard normal, by Box–Muller.
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

fn generate(p: &mut Points) {
    let mut rng = SplitMix64(p.seed);
    let scale = p.scale;
    p.values
        .set(Array1::from_shape_fn(p.n, |_| scale * rng.normal()));
}

fn estimate(o: &mut Outliers, store: &Store) -> Result<(), BoxError> {
    let points = o.points.load(store)?;
    let values = points.values.get()?;
    let mean = values.mean().ok_or("no points")?;
    let std = values.std(0.0);
    o.mean = mean;
    o.std = std;
    o.indices = values
        .iter()
        .enumerate()
        .filter(|(_, v)| ((*v - mean) / std).abs() > o.z)
        .map(|(i, _)| i)
        .collect();
    Ok(())
}

/// The points: loaded if stored, else generated with `scale` and saved.
fn points(store: &Store, n: usize, seed: u64, scale: f64) -> persist_core::Result<Points> {
    let generated = Cell::new(false);
    let mut p = Points::new(n, seed);
    p.scale = scale;
    let p = p.load_or_compute(store, |p| {
        generated.set(true);
        generate(p);
        Ok(())
    })?;
    println!(
        "  points   {p}: {} (scale {})",
        if generated.get() {
            "generated and saved"
        } else {
            "loaded"
        },
        p.scale
    );
    Ok(p)
}

/// The estimator: loaded if stored and fresh, else computed and saved.
fn outliers(store: &Store, points: &Points, z: f64) -> persist_core::Result<Outliers> {
    let key = Outliers::new(Ref::to(points), z);
    let before = if key.exists(store)? {
        if key.is_stale(store)? {
            "stale (its points changed since it was computed): computed again"
        } else {
            "loaded (its points are unchanged)"
        }
    } else {
        "computed and saved"
    };
    let o = key.load_fresh_or_compute(store, |o| estimate(o, store))?;
    println!("  outliers {o}: {before}");
    println!(
        "           mean {:+.4}, std {:.4}, {} of {} points beyond z = {}: {:?}",
        o.mean,
        o.std,
        o.indices.len(),
        points.n,
        o.z,
        o.indices
    );
    Ok(o)
}

fn run(store: &Store, scale: f64) -> persist_core::Result<Outliers> {
    let p = points(store, 2_000, 7, scale)?;
    outliers(store, &p, 3.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::temp_dir().join("persist-pipeline-example");
    if root.exists() {
        std::fs::remove_dir_all(&root)?;
    }
    let store = Store::open(&root)?;
    println!("store: {}\n", root.display());

    println!("run 1: nothing stored yet");
    let first = run(&store, 1.0)?;
    println!("  params tree of the estimator: {}", first.params_tree());

    println!("\nrun 2: the same parameters");
    run(&store, 1.0)?;

    println!("\nthe points are regenerated with scale 2.5 (same key, new content)");
    let mut p = Points::new(2_000, 7);
    p.scale = 2.5;
    generate(&mut p);
    p.save(&store)?;
    println!("  points   {p}: generated and saved (scale {})", p.scale);
    println!("  outliers {first}: is_stale = {}", first.is_stale(&store)?);

    println!("\nrun 3: the estimator is computed again from the new points");
    let third = run(&store, 2.5)?;
    assert!(!third.is_stale(&store)?);
    println!("  (z-scores do not depend on the scale: the same points are outliers, with a new mean and std)");

    println!("\nrun 4: everything fresh again");
    run(&store, 2.5)?;

    println!("\nhow the estimator's meta.json keeps its Ref:");
    let folder = store
        .local_path(&third.location(&store)?)
        .ok_or("the store is on the local disk")?;
    let meta_path = folder.join("meta.json");
    let meta: persist_core::serde_json::Value =
        persist_core::serde_json::from_slice(&std::fs::read(meta_path)?)?;
    for field in ["key", "upstream"] {
        let pretty = persist_core::serde_json::to_string_pretty(&meta[field])?;
        println!("  \"{field}\": {}", pretty.replace('\n', "\n  "));
    }

    println!("\non disk:");
    let mut files = Vec::new();
    walk(&root, &mut files)?;
    files.sort();
    for f in files {
        println!("  {}", f.strip_prefix(&root)?.display());
    }
    Ok(())
}

fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}
