//! For dman users: numbered runs that never reuse a number (`mruns`), a
//! config kept as JSON, arrays in their own files loaded only when touched, and
//! `track` (load or default, change, save).
//!
//! ```text
//! cargo run --example dman
//! ```

use persist_core::ndarray::{Array1, Array2};
use persist_core::{Json, Lazy, Persistence, Store};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
struct Config {
    learning_rate: f64,
    epochs: u32,
}

/// One run of an experiment (dman's `modelclass` with `recordfield`s).
#[derive(Persistence, Debug)]
#[persist(name = "training")]
struct Run {
    #[key]
    #[filename]
    experiment: String,
    #[autoinc(prefix = "run")]
    run_no: Option<u32>,
    config: Config,
    final_loss: f64,
    #[record(file = "loss")]
    loss: Lazy<Array1<f64>>,
    #[record(file = "weights")]
    weights: Lazy<Array2<f32>>,
    #[record(file = "config")]
    config_file: Lazy<Json<Config>>,
}

/// dman's `track`: a small counter record, loaded or defaulted, changed, saved.
#[derive(Persistence, Debug)]
#[persist(name = "tracked")]
struct Counter {
    #[key]
    #[filename]
    name: String,
    count: u64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;

    for (i, lr) in [0.1, 0.01, 0.001].into_iter().enumerate() {
        let mut run = Run::new("mlp");
        run.config = Config {
            learning_rate: lr,
            epochs: 5,
        };
        let loss = Array1::from_shape_fn(5, |e| 1.0 / (1.0 + lr * 100.0 * e as f64));
        run.final_loss = loss[4];
        run.loss.set(loss);
        run.weights.set(Array2::from_elem((3, 3), i as f32));
        run.config_file.set(Json(run.config.clone()));
        run.save(&store)?;
        println!("saved {run}");
    }

    // Lazy records: listing every run reads metadata only, no arrays.
    for run in Run::all(&store)? {
        let run = run?;
        println!(
            "{run}: lr={} final loss {:.3} (loss loaded? {})",
            run.config.learning_rate,
            run.final_loss,
            run.loss.is_loaded()
        );
    }
    let mut second = Run::new("mlp");
    second.run_no = Some(1);
    let second = second.load(&store)?;
    println!("run 1 loss curve: {}", second.loss.get()?);
    assert_eq!(second.config_file.get()?.0, second.config);

    // track: load or default, change, save (twice).
    for _ in 0..2 {
        let mut counter = Counter::new("visits").load(&store).or_else(|e| match e {
            persist_core::Error::NotFound { .. } => Ok(Counter::new("visits")),
            other => Err(other),
        })?;
        counter.count += 1;
        counter.save(&store)?;
        println!("{counter}: count = {}", counter.count);
    }
    Ok(())
}
