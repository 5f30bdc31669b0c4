//! Quickstart: keep an expensive result, get it back by building its key again.
//!
//! A noisy signal is generated with ndarray, its power spectrum is computed by
//! a deliberately slow discrete Fourier transform, and both are kept in a store
//! (`./.persist`, or the folder in `$PERSIST_STORE`). Run it twice: the second
//! run loads instead of computing, and says so.
//!
//! ```text
//! cargo run --example quickstart
//! ```

use std::time::Instant;

use persist_core::ndarray::Array1;
use persist_core::{Lazy, Persistence, Ref, Store};

/// The raw data: identified by its seed and length.
#[derive(Persistence, Debug)]
#[persist(name = "signal")]
struct Signal {
    #[key]
    #[filename(prefix = "seed")]
    seed: u64,
    #[key]
    #[filename(prefix = "n")]
    samples: usize,
    /// Sampling rate in Hz (data: kept in meta.json).
    rate_hz: f64,
    /// The samples, in their own .npy file, read on first access.
    #[record]
    values: Lazy<Array1<f64>>,
}

/// The costly derived result: identified by the signal it came from.
#[derive(Persistence, Debug)]
#[persist(name = "spectrum")]
struct Spectrum {
    #[key]
    signal: Ref<Signal>,
    #[key]
    #[filename]
    method: String,
    peak_hz: f64,
    compute_seconds: f64,
    #[record]
    power: Lazy<Array1<f64>>,
}

/// A small deterministic generator (splitmix64), so the example needs no
/// random-number crate.
fn uniform(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

fn generate(signal: &mut Signal) {
    let mut state = signal.seed;
    let rate = signal.rate_hz;
    let values = Array1::from_shape_fn(signal.samples, |i| {
        let t = i as f64 / rate;
        (2.0 * std::f64::consts::PI * 50.0 * t).sin() + 0.5 * (uniform(&mut state) - 0.5)
    });
    signal.values.set(values);
}

/// O(n²) on purpose: this is the part worth keeping.
fn power_spectrum(x: &Array1<f64>) -> Array1<f64> {
    let n = x.len();
    Array1::from_shape_fn(n / 2, |k| {
        let (mut re, mut im) = (0.0, 0.0);
        for (j, v) in x.iter().enumerate() {
            let angle = -2.0 * std::f64::consts::PI * (k * j) as f64 / n as f64;
            re += v * angle.cos();
            im += v * angle.sin();
        }
        (re * re + im * im) / n as f64
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::var("PERSIST_STORE").unwrap_or_else(|_| ".persist".to_owned());
    let store = Store::open(&path)?;
    println!("store: {path}");

    let started = Instant::now();
    let mut generated = false;
    let mut signal = Signal::new(7, 4096);
    signal.rate_hz = 1000.0;
    let signal = signal.load_or_compute(&store, |s| {
        generated = true;
        generate(s);
        Ok(())
    })?;
    println!(
        "{}: {} in {:.1} ms",
        signal,
        if generated {
            "generated and saved"
        } else {
            "loaded from the store"
        },
        started.elapsed().as_secs_f64() * 1e3
    );

    let started = Instant::now();
    let mut computed = false;
    let spectrum = Spectrum::new(Ref::to(&signal), "dft").load_or_compute(&store, |s| {
        computed = true;
        let t = Instant::now();
        let power = power_spectrum(signal.values.get()?);
        let peak = power
            .iter()
            .enumerate()
            .skip(1)
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(k, _)| k);
        s.peak_hz = peak as f64 * signal.rate_hz / signal.samples as f64;
        s.compute_seconds = t.elapsed().as_secs_f64();
        s.power.set(power);
        Ok(())
    })?;
    println!(
        "{}: {} in {:.1} ms (the transform itself took {:.2} s when it ran)",
        spectrum,
        if computed {
            "computed and saved"
        } else {
            "loaded from the store instead of computing"
        },
        started.elapsed().as_secs_f64() * 1e3,
        spectrum.compute_seconds
    );
    println!(
        "peak at {:.1} Hz; {} power values, read lazily",
        spectrum.peak_hz,
        spectrum.power.get()?.len()
    );
    println!(
        "stale (signal changed since)? {}",
        spectrum.is_stale(&store)?
    );
    if computed {
        println!("run it again: the spectrum is loaded, not computed");
    }
    // What the store did in this run: computed or loaded, and the bytes.
    println!("store: {}", store.stats());
    Ok(())
}
