//! For persistable users: parameters in, payload out; `load_generate` (load,
//! else generate and persist) with a payload validation step.
//!
//! ```text
//! cargo run --example persistable
//! ```

use persist_core::ndarray::Array1;
use persist_core::{Lazy, Persistence, Store};

/// `PersistableParams`: every key field is a parameter.
#[derive(Persistence, Debug)]
#[persist(name = "array_payload")]
struct ArrayPayload {
    #[key]
    #[filename(prefix = "n")]
    n: usize,
    #[key]
    #[filename(prefix = "scale")]
    scale: f64,
    #[record]
    payload: Lazy<Array1<f64>>,
}

/// persistable's `_validate_payload`: a loaded or generated payload must fit
/// its parameters.
fn validate(p: &ArrayPayload) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let values = p.payload.get()?;
    if values.len() != p.n {
        return Err(format!("payload has {} values, n = {}", values.len(), p.n).into());
    }
    if values.iter().any(|v| v.abs() > p.scale) {
        return Err("payload exceeds its scale".into());
    }
    Ok(())
}

/// `load_generate()`.
fn load_generate(
    store: &Store,
    n: usize,
    scale: f64,
) -> Result<ArrayPayload, Box<dyn std::error::Error>> {
    let mut generated = false;
    let payload = ArrayPayload::new(n, scale).load_or_compute(store, |p| {
        generated = true;
        p.payload.set(Array1::from_shape_fn(p.n, |i| {
            scale * ((i as f64) / 3.0).sin()
        }));
        validate(p) // a failing check here means nothing is saved
    })?;
    if !generated {
        validate(&payload).map_err(|e| e.to_string())?;
    }
    println!(
        "{payload}: {} (params {})",
        if generated {
            "generated, validated and persisted"
        } else {
            "loaded and validated"
        },
        payload.params_tree()
    );
    Ok(payload)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    load_generate(&store, 100, 2.0)?;
    load_generate(&store, 100, 2.0)?; // loaded this time
    load_generate(&store, 100, 0.5)?; // other parameters: generated
                                      // `1` and `1.0` are different JSON numbers; persist keys are typed, so a
                                      // `f64` parameter always serializes the same way.
    let a = ArrayPayload::new(100, 1.0).filename();
    println!("file name for scale 1.0: {a}");
    Ok(())
}
