//! For machinable users: `get(Class, config)` = load if committed, else create;
//! a unique id per committed config; extra files (`save_file` / `load_file`) in
//! text, JSON and npy kept with the record.
//!
//! ```text
//! cargo run --example machinable
//! ```

use persist_core::ndarray::Array2;
use persist_core::{Json, Persistence, Store};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
struct Metrics {
    accuracy: f64,
    epochs: u32,
}

/// An experiment identified by its whole config.
#[derive(Persistence, Debug)]
#[persist(name = "experiment")]
struct Experiment {
    #[key]
    #[filename]
    model: String,
    #[key]
    learning_rate: f64,
    #[key]
    layers: Vec<u32>,
    /// When the run was committed (data, not identity).
    status: String,
}

/// `get(Experiment, config)`: the stored experiment, or a new committed one.
fn get(store: &Store, model: &str, lr: f64, layers: Vec<u32>) -> persist_core::Result<Experiment> {
    Experiment::new(model, lr, layers).load_or_compute(store, |e| {
        e.status = "committed".into();
        Ok(())
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;

    let exp = get(&store, "mlp", 0.1, vec![64, 64])?;
    // The unique id of a committed config: its record folder (type, readable
    // name and key hash).
    let id = exp.location(&store)?;
    println!("{exp} is committed at {id}");
    // `local_directory()`: the folder on disk (None for memory or S3 stores).
    if let Some(folder) = store.local_path(&id) {
        println!("  its folder: {}", folder.display());
    }
    // `from_directory()`: the id alone brings the whole experiment back.
    let from_id = Experiment::load_location(&store, &id)?;
    assert_eq!(from_id.to_string(), exp.to_string());
    println!("  loaded from its id alone: {from_id} ({})", from_id.status);

    // Files kept with the record, by extension.
    exp.save_file(&store, "notes.txt", &"converged after 3 epochs".to_string())?;
    exp.save_file(
        &store,
        "metrics.json",
        &Json(Metrics {
            accuracy: 0.93,
            epochs: 3,
        }),
    )?;
    exp.save_file(&store, "confusion.npy", &Array2::<u32>::eye(3))?;

    // Later, elsewhere: the same config gets the same experiment back.
    let again = get(&store, "mlp", 0.1, vec![64, 64])?;
    let metrics: Json<Metrics> = again.load_file(&store, "metrics.json")?;
    let confusion: Array2<u32> = again.load_file(&store, "confusion.npy")?;
    println!(
        "{again}: {} / accuracy {} / confusion diag {}",
        again.load_file::<String>(&store, "notes.txt")?,
        metrics.accuracy,
        confusion.diag()
    );

    // A corrupt or missing file is an error, never a silent `None`.
    match again.load_file::<String>(&store, "missing.txt") {
        Err(e) => println!("as expected: {e}"),
        Ok(_) => unreachable!(),
    }
    // Another learning rate is another experiment.
    let other = get(&store, "mlp", 1.0, vec![64, 64])?;
    println!("{other} is another record: {}", other.location(&store)?);
    Ok(())
}
