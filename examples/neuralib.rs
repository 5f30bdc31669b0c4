//! For neuralib.persistence users: key fields, file-name fields, an autoinc
//! run number, `replace`, and `load_all` of a key's runs.
//!
//! neuralib:
//! ```python
//! @persistence.persistence_class
//! class Example:
//!     use_animal: str = persistence.field(validator=True, filename=True)
//!     use_session: str = persistence.field(validator=True, filename=False)
//!     use_date: str = persistence.field(validator=True, filename=True)
//!     run: int = persistence.autoinc_field()
//!     channels: list[int]
//!     data: np.ndarray
//! ```
//! persist — the same, typed, with keys that never collide, atomic saves,
//! runs numbered safely across processes, and no pickle:
//!
//! ```text
//! cargo run --example neuralib
//! ```

use persist_core::ndarray::Array1;
use persist_core::{Error, Lazy, Persistence, Store};

#[derive(Persistence, Debug, Clone)]
#[persist(name = "example")]
struct Example {
    #[key]
    #[filename]
    use_animal: String,
    #[key]
    use_session: String,
    #[key]
    #[filename(prefix = "d")]
    use_date: String,
    #[autoinc]
    run_no: Option<u32>,
    channels: Vec<i32>,
    #[record]
    data: Lazy<Array1<f64>>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;

    // `Example(use_animal=..., use_session=..., use_date=...)`: only key fields.
    let mut result = Example::new("A00", "morning", "20240101");
    println!("before saving: {result}"); // example-A00-d20240101-*
    assert!(matches!(
        result.load(&store),
        Err(Error::AutoIncUnresolved { .. })
    ));

    // Three runs of the same analysis: 0, 1, 2 (max existing + 1).
    for i in 0..3 {
        result.run_no = None;
        result.channels = vec![i, i + 1];
        result.data.set(Array1::from_elem(4, f64::from(i)));
        result.save(&store)?;
        println!("saved {result}");
    }

    // `_replace`: another session, same animal and date; the run resets.
    let mut evening = result.replace().use_session("evening").build();
    assert_eq!(evening.run_no, None);
    evening.save(&store)?;
    println!("saved {evening} (another session: its own run numbers)");

    // Retrieval is instantiation: build the key again, pick a run.
    let mut key = Example::new("A00", "morning", "20240101");
    key.run_no = Some(1);
    let run1 = key.load(&store)?;
    println!(
        "loaded {run1}: channels {:?}, data {}",
        run1.channels,
        run1.data.get()?
    );

    // `load_all`: every run of the key, ascending.
    let runs = Example::new("A00", "morning", "20240101").load_all(&store)?;
    let numbers: Vec<_> = runs.iter().filter_map(|r| r.run_no).collect();
    println!("runs of the morning session: {numbers:?}");
    assert_eq!(numbers, vec![0, 1, 2]);

    // neuralib's wildcard `load_all(missing)`, typed: any session of A00.
    let all_a00 = Example::query().use_animal("A00").run(&store)?;
    println!("every A00 record: {}", all_a00.len());
    Ok(())
}
