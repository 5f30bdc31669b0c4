//! Generic structs against the real runtime: bounds only on the fields whose
//! type mentions a parameter, and one place on disk per `name` whatever the
//! parameters are.

use persist_core::ndarray::{array, Array1};
use persist_core::{Error, Lazy, Persistence, Store};
use std::marker::PhantomData;

/// A power spectrum of any npy element type.
#[derive(Persistence, Debug)]
#[persist(name = "spectrum")]
struct Spectrum<E> {
    #[filename]
    animal: String,
    #[key]
    session: u32,
    peak_hz: f64,
    #[record]
    power: Lazy<Array1<E>>,
}

/// Implements nothing: usable as `M` below because `M` only appears inside
/// `PhantomData`, and the derive bounds `PhantomData<M>`, not `M`.
struct NoTraits;

#[derive(Persistence)]
#[persist(name = "tagged")]
struct Tagged<K, M> {
    #[key]
    id: K,
    note: String,
    marker: PhantomData<M>,
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("store");
    (dir, store)
}

#[test]
fn two_instantiations_save_and_load_their_arrays() -> persist_core::Result<()> {
    let (_dir, store) = open();
    let wide_values = array![0.25, -1.5, 1e-300, f64::MAX];
    let mut wide = Spectrum::<f64>::new("A00", 1);
    wide.peak_hz = 12.5;
    wide.power.set(wide_values.clone());
    wide.save(&store)?;
    let narrow_values = array![3.5f32, -0.125, f32::MIN_POSITIVE];
    let mut narrow = Spectrum::<f32>::new("A01", 2);
    narrow.peak_hz = 40.0;
    narrow.power.set(narrow_values.clone());
    narrow.save(&store)?;

    let wide_back = Spectrum::<f64>::new("A00", 1).load(&store)?;
    assert_eq!(wide_back.peak_hz, 12.5);
    assert_eq!(wide_back.power.get()?, &wide_values);
    let narrow_back = Spectrum::<f32>::new("A01", 2).load(&store)?;
    assert_eq!(narrow_back.peak_hz, 40.0);
    assert_eq!(narrow_back.power.get()?, &narrow_values);

    assert_eq!(Spectrum::<f32>::new("A01", 2).to_string(), "spectrum-A01");
    let found = Spectrum::<f64>::query().animal("A00").run(&store)?;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].power.get()?, &wide_values);
    let changed = wide_back.replace().peak_hz(13.0).build();
    assert_eq!((changed.animal.as_str(), changed.peak_hz), ("A00", 13.0));
    Ok(())
}

#[test]
fn the_place_is_the_name_not_the_parameters() -> persist_core::Result<()> {
    let (_dir, store) = open();
    let mut wide = Spectrum::<f64>::new("A00", 1);
    wide.power.set(array![1.0, 2.0]);
    wide.save(&store)?;

    // The same name and key: the f32 type finds the f64 record, and its
    // array does not fit.
    assert!(Spectrum::<f32>::new("A00", 1).exists(&store)?);
    let as_narrow = Spectrum::<f32>::new("A00", 1).load(&store)?;
    let err = as_narrow.power.get().expect_err("an f64 array read as f32");
    assert!(matches!(err, Error::TypeMismatch { .. }), "{err}");
    Ok(())
}

#[test]
fn a_parameter_only_in_phantom_data_needs_no_traits() -> persist_core::Result<()> {
    let (_dir, store) = open();
    let mut by_number = Tagged::<u32, NoTraits>::new(7);
    by_number.note = "number".to_owned();
    by_number.save(&store)?;
    let mut by_text = Tagged::<String, NoTraits>::new("7".to_owned());
    by_text.note = "text".to_owned();
    by_text.save(&store)?;

    // `7` and `"7"` are different keys.
    let number_back = Tagged::<u32, NoTraits>::new(7).load(&store)?;
    assert_eq!((number_back.id, number_back.note.as_str()), (7, "number"));
    let text_back = Tagged::<String, NoTraits>::new("7".to_owned()).load(&store)?;
    assert_eq!(
        (text_back.id.as_str(), text_back.note.as_str()),
        ("7", "text")
    );
    let renamed = number_back.replace().id(8).build();
    assert!(matches!(renamed.load(&store), Err(Error::NotFound { .. })));
    Ok(())
}
