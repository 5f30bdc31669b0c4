//! For persistable users: parameters in, payload out; `load_generate` (load,
//! else generate and persist) with a payload validation step
//! (`#[persist(validate)]`, persistable's `_validate_payload`).
//!
//! ```text
//! cargo run --example persistable
//! ```

use persist_core::ndarray::Array1;
use persist_core::{BoxError, Error, Lazy, Persistence, Store, Validate};

/// `PersistableParams`: every key field is a parameter.
#[derive(Persistence, Debug)]
#[persist(name = "array_payload", validate)]
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
/// its parameters. A stored payload that fails it is generated again; a
/// generated one that fails it is never saved.
impl Validate for ArrayPayload {
    fn validate(&self) -> Result<(), BoxError> {
        let values = self.payload.get()?;
        if values.len() != self.n {
            return Err(format!("payload has {} values, n = {}", values.len(), self.n).into());
        }
        if values.iter().any(|v| v.abs() > self.scale) {
            return Err("payload exceeds its scale".into());
        }
        Ok(())
    }
}

/// `load_generate()`: validated whether loaded or generated.
fn load_generate(store: &Store, n: usize, scale: f64) -> persist_core::Result<ArrayPayload> {
    let mut generated = false;
    let payload = ArrayPayload::new(n, scale).load_or_compute(store, |p| {
        generated = true;
        p.payload.set(Array1::from_shape_fn(p.n, |i| {
            scale * ((i as f64) / 3.0).sin()
        }));
        Ok(())
    })?;
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

    // A payload saved by hand that does not fit its parameters does not load,
    // and load_generate replaces it.
    let mut short = ArrayPayload::new(10, 1.0);
    short.payload.set(Array1::zeros(3));
    short.save(&store)?;
    match ArrayPayload::new(10, 1.0).load(&store) {
        Err(err @ Error::Invalid { .. }) => println!("{err}"),
        other => return Err(format!("expected Error::Invalid, got {other:?}").into()),
    }
    load_generate(&store, 10, 1.0)?; // generated again, replacing it

    // A generated payload that fails the check is an error, and nothing is saved.
    let err = ArrayPayload::new(5, 0.1)
        .load_or_compute(&store, |p| {
            p.payload.set(Array1::from_elem(5, 1.0));
            Ok(())
        })
        .unwrap_err();
    println!("{err}");
    assert!(!ArrayPayload::new(5, 0.1).exists(&store)?);

    // `1` and `1.0` are different JSON numbers; persist keys are typed, so a
    // `f64` parameter always serializes the same way.
    let a = ArrayPayload::new(100, 1.0).filename();
    println!("file name for scale 1.0: {a}");
    Ok(())
}
