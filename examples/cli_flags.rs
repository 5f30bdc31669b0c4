//! A program with persist's command-line flags: `StoreArgs` flattened into its
//! own clap parser gives it `--store`, `--recompute`, `--read-only`,
//! `--no-verify` and `--no-fsync` (neuralib's `PersistenceOptions`).
//!
//! It runs a two-step pipeline, a signal and its power spectrum, and says for
//! each whether it was loaded or computed.
//!
//! ```text
//! cargo run --example cli_flags --features clap -- --store /tmp/results
//! cargo run --example cli_flags --features clap -- --store /tmp/results                        # both loaded
//! cargo run --example cli_flags --features clap -- --store /tmp/results --recompute spectrum    # the spectrum again
//! cargo run --example cli_flags --features clap -- --store /tmp/results --read-only --samples 99
//!     # error: record `signal-n99`: not found at …   (exit code 1, nothing written)
//! AWS_ENDPOINT_URL=… AWS_ALLOW_HTTP=true AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… \
//!   cargo run --example cli_flags --features clap,object-store -- --store s3://bucket/results
//! ```

use std::cell::Cell;
use std::process::ExitCode;

use clap::Parser;
use persist_core::cli::StoreArgs;
use persist_core::ndarray::Array1;
use persist_core::{Lazy, Persistence, Ref, Store};

/// Computes (or loads) a signal and its power spectrum.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    store: StoreArgs,
    /// The signal's length.
    #[arg(long, default_value_t = 256)]
    samples: usize,
}

#[derive(Persistence, Debug)]
#[persist(name = "signal")]
struct Signal {
    #[key]
    #[filename(prefix = "n")]
    samples: usize,
    #[record]
    values: Lazy<Array1<f64>>,
}

#[derive(Persistence, Debug)]
#[persist(name = "spectrum")]
struct Spectrum {
    #[key]
    signal: Ref<Signal>,
    peak_bin: usize,
    #[record]
    power: Lazy<Array1<f64>>,
}

/// Says what `load_or_compute` did: `computed` if the closure ran.
fn said(name: impl std::fmt::Display, computed: &Cell<bool>) {
    let what = if computed.get() { "computed" } else { "loaded" };
    println!("{name}: {what}");
}

fn run(store: &Store, samples: usize) -> persist_core::Result<Spectrum> {
    let computed = Cell::new(false);
    let signal = Signal::new(samples).load_or_compute(store, |s| {
        computed.set(true);
        // Two tones, at bins 5 and 17.
        let t = Array1::from_iter((0..samples).map(|i| i as f64 / samples as f64));
        s.values.set(t.mapv(|t| {
            (2.0 * std::f64::consts::PI * 5.0 * t).sin()
                + 0.5 * (2.0 * std::f64::consts::PI * 17.0 * t).sin()
        }));
        Ok(())
    })?;
    said(&signal, &computed);

    let computed = Cell::new(false);
    let spectrum = Spectrum::new(Ref::to(&signal)).load_or_compute(store, |s| {
        computed.set(true);
        let x = signal.values.get()?;
        let n = x.len();
        // A plain DFT: the expensive step worth keeping.
        let power = Array1::from_iter((0..n / 2).map(|k| {
            let (re, im) = x.iter().enumerate().fold((0.0, 0.0), |(re, im), (i, v)| {
                let a = 2.0 * std::f64::consts::PI * (k * i) as f64 / n as f64;
                (re + v * a.cos(), im - v * a.sin())
            });
            re * re + im * im
        }));
        s.peak_bin = power
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(k, _)| k);
        s.power.set(power);
        Ok(())
    })?;
    said(&spectrum, &computed);
    Ok(spectrum)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = cli.store.open().and_then(|store| run(&store, cli.samples));
    match result {
        Ok(spectrum) => {
            println!("peak at bin {}", spectrum.peak_bin);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
