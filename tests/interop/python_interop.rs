//! Records are readable from Python: numpy loads every `.npy`, `json` loads
//! `meta.json`, numpy loads compressed record files after `zstandard` or
//! `gzip` decompression, and an array numpy wrote reads back in Rust.
//!
//! Needs `python3` with numpy (and `zstandard` for the compressed files;
//! `$PERSIST_PYTHON` picks the interpreter). Without them the tests print why
//! and pass; with `CI=true` they fail instead.

#[path = "../fixtures/mod.rs"]
mod fixtures;

use std::path::Path;
use std::process::Command;

use persist_core::ndarray::{array, Array1, Array2, Array3, ShapeBuilder};
use persist_core::{Lazy, Persistence, Storable};

#[derive(Persistence, Debug)]
#[persist(name = "interop")]
struct Interop {
    #[key]
    #[filename]
    animal: String,
    #[key]
    session: u32,
    channels: Vec<i32>,
    label: String,
    #[record]
    trace: Lazy<Array1<f64>>,
    #[record]
    counts: Lazy<Array2<i32>>,
    #[record]
    volume: Lazy<Array3<f32>>,
    #[record]
    mask: Lazy<Array1<bool>>,
    #[record]
    raw: Lazy<Array1<u8>>,
    #[record]
    fortran: Lazy<Array2<i64>>,
}

/// The Python interpreter with numpy, or `None` (after saying why).
fn python() -> Option<String> {
    python_with("numpy")
}

/// The Python interpreter that can import `modules` (comma-separated), or
/// `None` (after saying why).
fn python_with(modules: &str) -> Option<String> {
    let py = std::env::var("PERSIST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let ok = Command::new(&py)
        .args(["-c", &format!("import {modules}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        return Some(py);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but `{py}` cannot import {modules}: .ci/run must install it"
    );
    eprintln!("skipping the Python interop test: `{py}` with {modules} is not available");
    None
}

fn run_python(py: &str, script: &str, args: &[&Path]) -> String {
    let out = Command::new(py)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn numpy_and_json_read_what_persist_wrote() {
    let Some(py) = python() else { return };
    let (store, dir) = fixtures::stores::local();
    let mut rec = Interop::new("A00", 3);
    rec.channels = vec![-1, 0, 7];
    rec.label = "ünïcødé".into();
    rec.trace.set(Array1::linspace(-1.5, 2.5, 9));
    rec.counts.set(array![[1, -2, 3], [4, 5, -6]]);
    rec.volume
        .set(Array3::from_shape_fn((2, 3, 4), |(i, j, k)| {
            (i * 100 + j * 10 + k) as f32 / 4.0
        }));
    rec.mask.set(array![true, false, true]);
    rec.raw.set(array![0u8, 127, 255]);
    rec.fortran
        .set(Array2::from_shape_vec((2, 3).f(), vec![1, 2, 3, 4, 5, 6]).unwrap());
    rec.save(&store).unwrap();

    let meta = dir.path().join(
        persist_core::__private::record_dir(&rec)
            .unwrap()
            .meta_path(),
    );
    // Python loads meta.json, then every record file it names, and prints
    // what it read as JSON for the comparison here.
    let script = r#"
import json, sys, pathlib, numpy as np
meta_path = pathlib.Path(sys.argv[1])
meta = json.load(open(meta_path, encoding="utf-8"))
out = {"type": meta["type"], "key": meta["key"], "data": meta["data"], "autoinc": meta["autoinc"], "arrays": {}}
for field, rec in meta["records"].items():
    a = np.load(meta_path.parent / rec["file"], allow_pickle=False)
    out["arrays"][field] = {"dtype": str(a.dtype), "shape": list(a.shape), "values": a.tolist()}
print(json.dumps(out))
"#;
    let read: serde_json::Value = serde_json::from_str(&run_python(&py, script, &[&meta])).unwrap();
    assert_eq!(read["type"], "interop");
    assert_eq!(
        read["key"],
        serde_json::json!({"animal": "A00", "session": 3})
    );
    assert_eq!(read["data"]["channels"], serde_json::json!([-1, 0, 7]));
    assert_eq!(read["data"]["label"], "ünïcødé");
    assert_eq!(read["autoinc"], serde_json::Value::Null);

    let arrays = &read["arrays"];
    let check = |field: &str, dtype: &str, shape: serde_json::Value, values: serde_json::Value| {
        assert_eq!(arrays[field]["dtype"], dtype, "{field}");
        assert_eq!(arrays[field]["shape"], shape, "{field}");
        assert_eq!(arrays[field]["values"], values, "{field}");
    };
    let trace: Vec<f64> = rec.trace.get().unwrap().to_vec();
    check(
        "trace",
        "float64",
        serde_json::json!([9]),
        serde_json::json!(trace),
    );
    check(
        "counts",
        "int32",
        serde_json::json!([2, 3]),
        serde_json::json!([[1, -2, 3], [4, 5, -6]]),
    );
    let volume: Vec<Vec<Vec<f32>>> = (0..2)
        .map(|i| {
            (0..3)
                .map(|j| {
                    (0..4)
                        .map(|k| (i * 100 + j * 10 + k) as f32 / 4.0)
                        .collect()
                })
                .collect()
        })
        .collect();
    check(
        "volume",
        "float32",
        serde_json::json!([2, 3, 4]),
        serde_json::json!(volume),
    );
    check(
        "mask",
        "bool",
        serde_json::json!([3]),
        serde_json::json!([true, false, true]),
    );
    check(
        "raw",
        "uint8",
        serde_json::json!([3]),
        serde_json::json!([0, 127, 255]),
    );
    // Logical values, whatever the memory order.
    check(
        "fortran",
        "int64",
        serde_json::json!([2, 3]),
        serde_json::json!([[1, 3, 5], [2, 4, 6]]),
    );
}

#[derive(Persistence)]
#[persist(name = "interop_compressed")]
struct Compressed {
    #[key]
    #[filename]
    animal: String,
    #[record(compress = "zstd")]
    trace: Lazy<Array2<i16>>,
    #[record(compress = "zstd:19")]
    strong: Lazy<Array1<f64>>,
    #[record(compress = "gzip")]
    counts: Lazy<Array2<i32>>,
    #[record(compress = "gzip:1")]
    fortran: Lazy<Array2<i64>>,
}

#[test]
fn numpy_reads_compressed_files_after_zstandard_or_gzip() {
    let Some(py) = python_with("numpy, zstandard") else {
        return;
    };
    let (store, dir) = fixtures::stores::local();
    let mut rec = Compressed::new("A00");
    rec.trace.set(Array2::from_shape_fn((500, 3), |(i, j)| {
        ((i as f64 / 20.0).sin() * 1000.0) as i16 + j as i16
    }));
    rec.strong.set(Array1::linspace(0.0, 1.0, 1001));
    rec.counts.set(array![[1, -2, 3], [4, 5, -6]]);
    rec.fortran
        .set(Array2::from_shape_vec((2, 3).f(), vec![1, 2, 3, 4, 5, 6]).unwrap());
    rec.save(&store).unwrap();
    let meta = dir.path().join(persist_core::layout::meta_path(
        &rec.location(&store).unwrap(),
    ));
    // The way a Python user reads them: decompress the file's bytes by its
    // "compression" (zstandard or gzip), then numpy.load the npy inside.
    let script = r#"
import gzip, io, json, sys, pathlib, numpy as np, zstandard
meta_path = pathlib.Path(sys.argv[1])
meta = json.load(open(meta_path, encoding="utf-8"))
out = {}
for field, rec in meta["records"].items():
    stored = (meta_path.parent / rec["file"]).read_bytes()
    codec = rec["compression"].split(":")[0]
    if codec == "zstd":
        raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(stored)).read()
    else:
        raw = gzip.decompress(stored)
    a = np.load(io.BytesIO(raw), allow_pickle=False)
    out[field] = {"file": rec["file"], "compression": rec["compression"], "dtype": str(a.dtype),
                  "shape": list(a.shape), "values": a.tolist()}
print(json.dumps(out))
"#;
    let read: serde_json::Value = serde_json::from_str(&run_python(&py, script, &[&meta])).unwrap();
    let check = |field: &str, compression: &str, dtype: &str, values: serde_json::Value| {
        let got = &read[field];
        let suffix = if compression.starts_with("zstd") {
            ".npy.zst"
        } else {
            ".npy.gz"
        };
        assert!(
            got["file"].as_str().unwrap().ends_with(suffix),
            "{field}: {got}"
        );
        assert_eq!(got["compression"], compression, "{field}");
        assert_eq!(got["dtype"], dtype, "{field}");
        assert_eq!(got["values"], values, "{field}");
    };
    let trace: Vec<Vec<i16>> = rec
        .trace
        .get()
        .unwrap()
        .outer_iter()
        .map(|row| row.to_vec())
        .collect();
    check("trace", "zstd:3", "int16", serde_json::json!(trace));
    check(
        "strong",
        "zstd:19",
        "float64",
        serde_json::json!(rec.strong.get().unwrap().to_vec()),
    );
    check(
        "counts",
        "gzip:6",
        "int32",
        serde_json::json!([[1, -2, 3], [4, 5, -6]]),
    );
    check(
        "fortran",
        "gzip:1",
        "int64",
        serde_json::json!([[1, 3, 5], [2, 4, 6]]),
    );
}

#[test]
fn persist_reads_what_numpy_wrote() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
import sys, pathlib, numpy as np
d = pathlib.Path(sys.argv[1])
np.save(d / "c.npy", np.arange(12, dtype=np.float64).reshape(3, 4) / 8)
np.save(d / "f.npy", np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3)))
np.save(d / "big.npy", np.arange(5, dtype=">i8"))
np.save(d / "u16.npy", np.array([1, 65535], dtype=np.uint16))
"#;
    run_python(&py, script, &[dir.path()]);
    let read = |name: &str| std::fs::File::open(dir.path().join(name)).unwrap();

    let c = Array2::<f64>::read(&mut read("c.npy")).unwrap();
    assert_eq!(
        c,
        Array2::from_shape_fn((3, 4), |(i, j)| (i * 4 + j) as f64 / 8.0)
    );
    let f = Array2::<i32>::read(&mut read("f.npy")).unwrap();
    assert_eq!(f, array![[0, 1, 2], [3, 4, 5]]);
    let big = Array1::<i64>::read(&mut read("big.npy")).unwrap();
    assert_eq!(big, array![0, 1, 2, 3, 4]);
    let u16s = Array1::<u16>::read(&mut read("u16.npy")).unwrap();
    assert_eq!(u16s, array![1, 65535]);
    // The wrong element type is a typed error, not garbage.
    let err = Array1::<f32>::read(&mut read("u16.npy")).unwrap_err();
    assert!(
        matches!(err, persist_core::Error::TypeMismatch { .. }),
        "{err}"
    );
}
