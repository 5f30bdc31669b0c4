//! The provenance a save keeps in `meta.json`, on every backend: the crate
//! that defines the type and its version (captured by the derive), the host,
//! the process id, persist's version, and for `load_or_compute` the seconds
//! the computation took. It is not part of the content hash, and a
//! `meta.json` written without it still loads.

#[path = "../fixtures/mod.rs"]
mod fixtures;

use std::time::Duration;

use fixtures::stores::on_every_store;
use persist_core::meta::Meta;
use persist_core::{layout, Error, Lazy, Persistence, Ref, Store};
use serde_json::Value;

#[derive(Persistence, Debug, Clone)]
#[persist(name = "trace")]
struct Trace {
    #[key]
    #[filename]
    cell: String,
    gain: f64,
    #[record]
    samples: Lazy<Vec<u8>>,
}

#[derive(Persistence, Debug)]
#[persist(name = "trace_mean")]
struct TraceMean {
    #[key]
    trace: Ref<Trace>,
    mean: f64,
}

fn trace(cell: &str, gain: f64) -> Trace {
    let mut t = Trace::new(cell);
    t.gain = gain;
    t.samples.set(vec![1, 2, 3]);
    t
}

/// The record's `meta.json` as JSON, read through the store's backend.
fn meta_json(store: &Store, value: &impl Persistence) -> Value {
    let path = layout::meta_path(&value.location(store).unwrap());
    serde_json::from_slice(&store.backend().read_all(&path).unwrap()).unwrap()
}

fn write_meta(store: &Store, value: &impl Persistence, meta: &Value) {
    let path = layout::meta_path(&value.location(store).unwrap());
    let bytes = serde_json::to_vec_pretty(meta).unwrap();
    store
        .backend()
        .put(&path, false, &mut |w| {
            w.write_all(&bytes).map_err(Error::io)
        })
        .unwrap();
}

/// The host name as the kernel gives it, where the test can read it
/// independently of persist.
fn kernel_hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
}

#[test]
fn a_save_records_crate_host_pid_and_persist_version() {
    on_every_store(|store| {
        let mut t = trace("c1", 2.0);
        t.save(store).unwrap();
        let meta = meta_json(store, &t);
        let p = &meta["provenance"];
        assert!(p.is_object(), "{meta}");
        // The derive ran in this crate, the root package `persist`.
        assert_eq!(p["crate"], "persist", "{p}");
        assert_eq!(p["crate_version"], env!("CARGO_PKG_VERSION"), "{p}");
        assert_eq!(p["pid"], std::process::id(), "{p}");
        // persist-core's version: the workspace gives every crate the same.
        assert_eq!(p["persist_version"], env!("CARGO_PKG_VERSION"), "{p}");
        let host = p["host"].as_str().unwrap();
        match kernel_hostname() {
            Some(kernel) => assert_eq!(host, kernel),
            None => assert!(!host.is_empty()),
        }
        // A plain save computed nothing.
        assert!(p.get("compute_seconds").is_none(), "{p}");

        // The typed view of the same file.
        let typed = Meta::parse(&serde_json::to_vec(&meta).unwrap()).unwrap();
        let prov = typed.provenance.unwrap();
        assert_eq!(prov.crate_name, "persist");
        assert_eq!(prov.pid, std::process::id());
        assert_eq!(prov.compute_seconds, None);
    });
}

#[test]
fn load_or_compute_records_the_seconds_its_closure_took() {
    on_every_store(|store| {
        let pause = Duration::from_millis(300);
        let t = Trace::new("c1")
            .load_or_compute(store, |t| {
                std::thread::sleep(pause);
                t.gain = 1.5;
                t.samples.set(vec![9]);
                Ok(())
            })
            .unwrap();
        let meta = meta_json(store, &t);
        let seconds = meta["provenance"]["compute_seconds"].as_f64().unwrap();
        assert!(seconds >= pause.as_secs_f64(), "{seconds}");
        assert!(seconds < 60.0, "{seconds}");
        assert_eq!(meta["provenance"]["crate"], "persist");

        // Loaded, not computed: the file is not rewritten.
        let again = Trace::new("c1")
            .load_or_compute(store, |_| panic!("stored already"))
            .unwrap();
        assert_eq!(again.gain, 1.5);
        assert_eq!(meta_json(store, &t), meta);

        // A plain save afterwards drops the compute time: it is this save's.
        let mut t = t;
        t.gain = 3.0;
        t.save(store).unwrap();
        let meta = meta_json(store, &t);
        assert!(
            meta["provenance"].get("compute_seconds").is_none(),
            "{meta}"
        );
    });
}

#[test]
fn a_meta_json_without_provenance_still_loads() {
    on_every_store(|store| {
        let mut t = trace("c1", 2.0);
        t.save(store).unwrap();
        let mut meta = meta_json(store, &t);
        assert!(meta.as_object_mut().unwrap().remove("provenance").is_some());
        write_meta(store, &t, &meta);

        let back = Trace::new("c1").load(store).unwrap();
        assert_eq!(back.gain, 2.0);
        assert_eq!(back.samples.get().unwrap(), &vec![1, 2, 3]);
        assert_eq!(Trace::all(store).unwrap().count(), 1);
        let runs = std::cell::Cell::new(0);
        Trace::new("c1")
            .load_or_compute(store, |_| {
                runs.set(runs.get() + 1);
                Ok(())
            })
            .unwrap();
        assert_eq!(runs.get(), 0);
        let typed = Meta::parse(&serde_json::to_vec(&meta).unwrap()).unwrap();
        assert_eq!(typed.provenance, None);
    });
}

#[test]
fn provenance_is_not_part_of_the_content_hash() {
    on_every_store(|store| {
        let mut t = trace("c1", 2.0);
        t.save(store).unwrap();
        let mut mean = TraceMean::new(Ref::to(&t));
        mean.mean = 2.0;
        mean.save(store).unwrap();
        let first = meta_json(store, &t);

        // The same content saved again, with other provenance (a compute
        // time this time): the same content hash, and the downstream record
        // is not stale.
        let mut other = first.clone();
        other["provenance"]["pid"] = Value::from(1);
        other["provenance"]["host"] = Value::from("elsewhere");
        write_meta(store, &t, &other);
        assert!(!mean.is_stale(store).unwrap());
        t.save(store).unwrap();
        let second = meta_json(store, &t);
        assert_eq!(first["content_hash"], second["content_hash"]);
        assert!(!mean.is_stale(store).unwrap());

        // Other content: another hash, and stale.
        t.gain = 5.0;
        t.save(store).unwrap();
        assert_ne!(meta_json(store, &t)["content_hash"], first["content_hash"]);
        assert!(mean.is_stale(store).unwrap());
    });
}
