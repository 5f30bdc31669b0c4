//! Every `Storable` format round-trips through a record: npy arrays of every
//! element type numpy and ndarray-npy share, in any number of dimensions, and
//! text, bytes and JSON.

#[path = "../fixtures/mod.rs"]
mod fixtures;

use num_complex::Complex;
use persist_core::ndarray::{Array, Array0, Array1, Array2, Array4, Array6, ArrayD, IxDyn};
use persist_core::{Json, Lazy, Persistence, Storable};
use serde::{Deserialize, Serialize};

#[derive(Persistence)]
struct Holder {
    #[key]
    #[filename]
    name: String,
    #[record]
    i8s: Lazy<Array1<i8>>,
    #[record]
    i16s: Lazy<Array1<i16>>,
    #[record]
    i32s: Lazy<Array1<i32>>,
    #[record]
    i64s: Lazy<Array1<i64>>,
    #[record]
    u8s: Lazy<Array1<u8>>,
    #[record]
    u16s: Lazy<Array1<u16>>,
    #[record]
    u32s: Lazy<Array1<u32>>,
    #[record]
    u64s: Lazy<Array1<u64>>,
    #[record]
    f32s: Lazy<Array2<f32>>,
    #[record]
    f64s: Lazy<Array4<f64>>,
    #[record]
    bools: Lazy<Array1<bool>>,
    #[record]
    c32s: Lazy<Array1<Complex<f32>>>,
    #[record]
    c64s: Lazy<Array1<Complex<f64>>>,
    #[record]
    scalar: Lazy<Array0<f64>>,
    #[record]
    six: Lazy<Array6<u8>>,
    #[record]
    dynamic: Lazy<ArrayD<i32>>,
    #[record]
    empty: Lazy<Array2<f64>>,
    #[record]
    text: Lazy<String>,
    #[record]
    bytes: Lazy<Vec<u8>>,
    #[record]
    json: Lazy<Json<Config>>,
    #[record]
    value: Lazy<serde_json::Value>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Config {
    name: String,
    rates: Vec<f64>,
}

fn ramp<A>(n: usize, f: impl Fn(usize) -> A) -> Array1<A> {
    Array1::from_shape_fn(n, f)
}

#[test]
fn every_format_round_trips() {
    fixtures::stores::on_every_store(|store| {
        let mut h = Holder::new("all");
        h.i8s.set(ramp(5, |i| i as i8 - 2));
        h.i16s.set(ramp(5, |i| i16::MIN + i as i16));
        h.i32s.set(ramp(5, |i| i32::MAX - i as i32));
        h.i64s.set(ramp(5, |i| i64::MIN + i as i64));
        h.u8s.set(ramp(5, |i| 250 + i as u8));
        h.u16s.set(ramp(5, |i| u16::MAX - i as u16));
        h.u32s.set(ramp(5, |i| u32::MAX - i as u32));
        h.u64s.set(ramp(5, |i| u64::MAX - i as u64));
        h.f32s.set(Array2::from_shape_fn((2, 3), |(i, j)| {
            i as f32 + j as f32 / 10.0
        }));
        h.f64s
            .set(Array4::from_shape_fn((2, 1, 3, 2), |(a, b, c, d)| {
                (a * 1000 + b * 100 + c * 10 + d) as f64
            }));
        h.bools.set(ramp(4, |i| i % 2 == 0));
        h.c32s.set(ramp(3, |i| Complex::new(i as f32, -(i as f32))));
        h.c64s.set(ramp(3, |i| Complex::new(0.5, i as f64)));
        h.scalar.set(Array0::from_elem((), std::f64::consts::PI));
        h.six.set(Array6::from_shape_fn(
            (1, 2, 1, 2, 1, 2),
            |(a, b, c, d, e, f)| (a + 2 * b + 4 * c + 8 * d + 16 * e + 32 * f) as u8,
        ));
        h.dynamic
            .set(ArrayD::from_shape_fn(IxDyn(&[2, 2, 2]), |ix| {
                (ix[0] * 4 + ix[1] * 2 + ix[2]) as i32
            }));
        h.empty.set(Array2::zeros((0, 3)));
        h.text.set("line one\nlíne two ✓\n".into());
        h.bytes.set(vec![0, 1, 2, 255]);
        h.json.set(Json(Config {
            name: "c".into(),
            rates: vec![0.1, 1e-300],
        }));
        h.value.set(serde_json::json!({"a": [1, "two", null]}));
        h.save(store).unwrap();

        let b = Holder::new("all").load(store).unwrap();
        macro_rules! same {
            ($($f:ident),*) => {$(
                assert_eq!(b.$f.get().unwrap(), h.$f.get().unwrap(), stringify!($f));
            )*};
        }
        same!(
            i8s, i16s, i32s, i64s, u8s, u16s, u32s, u64s, f32s, f64s, bools, c32s, c64s, scalar,
            six, dynamic, empty, text, bytes, json, value
        );
        assert_eq!(b.empty.get().unwrap().shape(), &[0, 3]);
    });
}

#[test]
fn a_dynamic_array_reads_whatever_was_written() {
    let mut buf = Vec::new();
    Array::from_shape_fn((2, 3, 4), |(i, j, k)| (i + j + k) as f32)
        .write(&mut buf)
        .unwrap();
    let back = ArrayD::<f32>::read(&mut buf.as_slice()).unwrap();
    assert_eq!(back.shape(), &[2, 3, 4]);
}

#[test]
fn corrupt_bytes_are_typed_errors_not_panics() {
    let mut buf = Vec::new();
    Array1::<f64>::zeros(16).write(&mut buf).unwrap();
    for cut in [0, 5, 10, buf.len() / 2, buf.len() - 1] {
        let err = Array1::<f64>::read(&mut &buf[..cut]).unwrap_err();
        assert!(
            matches!(
                err,
                persist_core::Error::Corrupt { .. } | persist_core::Error::Io { .. }
            ),
            "cut {cut}: {err}"
        );
    }
    let err = String::read(&mut &[0xff, 0xfe][..]).unwrap_err();
    assert!(matches!(err, persist_core::Error::Corrupt { .. }), "{err}");
    let err = Json::<Config>::read(&mut &b"{\"name\": 1}"[..]).unwrap_err();
    assert!(
        matches!(err, persist_core::Error::TypeMismatch { .. }),
        "{err}"
    );
    let err = serde_json::Value::read(&mut &b"{"[..]).unwrap_err();
    assert!(matches!(err, persist_core::Error::Corrupt { .. }), "{err}");
}
