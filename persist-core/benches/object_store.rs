//! persist on object storage against raw `object_store` calls to the same
//! server, in the same run (PERFORMANCE.md, "Object storage").
//!
//! ```text
//! eval "$(.ci/ceph.sh start)"      # or any S3 server: the AWS_* variables and PERSIST_TEST_S3_URL
//! cargo bench -p persist-core --features object-store --bench object_store
//! cargo bench -p persist-core --features object-store --bench object_store -- --mb 64 --records 500
//! cargo bench -p persist-core --features object-store --bench object_store -- --only all_small,sync_small
//! ```
//!
//! Rows, each the median of `--rounds` rounds in which persist and its raw
//! reference take turns (the order flips every round):
//!
//! - `save_large`: saving a record with one `--mb` MiB array, against one raw
//!   multipart upload of as many bytes (8 MiB parts, 8 in flight, the way
//!   `object_store::WriteMultipart` is meant to be used). Target ≤ 1.2×.
//! - `load_large`: loading it and reading the array (hash checked), against
//!   ranged `GET`s of the same object, 8 MiB each, 8 in flight. Target ≤ 1.2×.
//! - `all_small`: `T::all` over `--records` small records, against the same
//!   `meta.json` objects read with one `GET` after another. Target: persist at
//!   least 5× faster. The row also shows raw `GET`s 32 at a time, the floor,
//!   and how much faster than one after another they are: the server's
//!   ceiling for this row.
//! - `sync_small`: `maintenance::sync` of `--records` small records from a
//!   local store to a fresh prefix, `SyncOptions::default()` (32 records at a
//!   time, or `--concurrency N`) against the same sync one record at a time.
//!   Target: at least 5× faster.
//!
//! Without `PERSIST_TEST_S3_URL` it says so and exits (so that
//! `cargo test --all-targets` passes without a server). Everything it writes is
//! under a fresh prefix of that URL and deleted at the end.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use persist_core::maintenance::{sync, SyncOptions, DEFAULT_SYNC_CONCURRENCY};
use persist_core::ndarray::Array1;
use persist_core::object_store::aws::AmazonS3Builder;
use persist_core::object_store::path::Path;
use persist_core::object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use persist_core::testing::test_url;
use persist_core::{Lazy, Persistence, Store};

/// One record holding a large array.
#[derive(Persistence)]
#[persist(name = "osbig")]
struct Big {
    #[key]
    #[filename]
    name: String,
    #[record]
    data: Lazy<Array1<f64>>,
}

/// A small record: its `meta.json` only.
#[derive(Persistence)]
#[persist(name = "ossmall")]
struct Small {
    #[key]
    #[filename]
    id: u32,
    score: f64,
    note: String,
}

/// Part size of the raw upload and the raw ranged reads (persist's part size).
const PART: usize = 8 << 20;
/// Parts or ranges in flight on the raw side.
const RAW_IN_FLIGHT: usize = 8;
/// Small `GET`s in flight for the raw floor of `all_small`.
const RAW_GETS_IN_FLIGHT: usize = 32;

/// The raw side: its own client, and the store's key prefix.
struct Raw {
    store: Arc<dyn ObjectStore>,
    prefix: String,
}

struct Opts {
    mb: usize,
    records: usize,
    rounds: usize,
    /// Records at a time on the concurrent side of `sync_small`.
    concurrency: usize,
    /// The rows to run (`--only a,b`); empty: all of them.
    only: Vec<String>,
}

/// The rows, in the order they run.
const ROWS: [&str; 4] = ["save_large", "load_large", "all_small", "sync_small"];

impl Opts {
    fn runs(&self, row: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|r| r == row)
    }
}

fn parse_opts() -> Opts {
    let mut opts = Opts {
        mb: 256,
        records: 2_000,
        rounds: 3,
        concurrency: DEFAULT_SYNC_CONCURRENCY,
        only: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match arg.as_str() {
            "--mb" => opts.mb = value("--mb"),
            "--records" => opts.records = value("--records"),
            "--rounds" => opts.rounds = value("--rounds").max(1),
            "--concurrency" => opts.concurrency = value("--concurrency").max(1),
            "--only" => {
                let rows = args.next().unwrap_or_default();
                opts.only = rows.split(',').map(str::to_owned).collect();
                if let Some(bad) = opts.only.iter().find(|r| !ROWS.contains(&r.as_str())) {
                    panic!("--only: no row {bad}; rows: {}", ROWS.join(","));
                }
            }
            // What cargo passes to every bench binary.
            "--bench" => {}
            other => panic!(
                "unknown flag {other}; flags: --mb N --records N --rounds N --concurrency N --only ROW,ROW"
            ),
        }
    }
    opts
}

fn s3_store(url: &str) -> Arc<dyn ObjectStore> {
    Arc::new(
        AmazonS3Builder::from_env()
            .with_url(url)
            .build()
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}")),
    )
}

/// The key prefix of an `s3://bucket/prefix` URL.
fn url_prefix(url: &str) -> &str {
    url.split_once("://")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map_or("", |(_, prefix)| prefix)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// Runs `persist` and `raw` alternately for `rounds` rounds; their medians.
fn paired(
    rounds: usize,
    mut persist: impl FnMut() -> Duration,
    mut raw: impl FnMut() -> Duration,
) -> (Duration, Duration) {
    let (mut p, mut r) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if round % 2 == 0 {
            p.push(persist());
            r.push(raw());
        } else {
            r.push(raw());
            p.push(persist());
        }
    }
    (median(p), median(r))
}

fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

/// One multipart upload of `body`, `RAW_IN_FLIGHT` parts at a time.
async fn raw_put(store: &dyn ObjectStore, path: &Path, body: &Bytes) {
    let upload = store
        .put_multipart(path)
        .await
        .expect("raw multipart start");
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
    let mut at = 0;
    while at < body.len() {
        let end = (at + PART).min(body.len());
        writer
            .wait_for_capacity(RAW_IN_FLIGHT)
            .await
            .expect("raw part");
        writer.put(body.slice(at..end));
        at = end;
    }
    writer.finish().await.expect("raw multipart complete");
}

/// The object at `path` read as ranged `GET`s, `RAW_IN_FLIGHT` at a time.
async fn raw_get(store: &dyn ObjectStore, path: &Path) -> Vec<u8> {
    let size = store.head(path).await.expect("raw head").size;
    let ranges: Vec<Range<u64>> = (0..size)
        .step_by(PART)
        .map(|at| at..(at + PART as u64).min(size))
        .collect();
    let mut out = Vec::with_capacity(size as usize);
    let mut parts = stream::iter(ranges)
        .map(|r| store.get_range(path, r))
        .buffered(RAW_IN_FLIGHT);
    while let Some(part) = parts.next().await {
        out.extend_from_slice(&part.expect("raw ranged get"));
    }
    out
}

fn row(name: &str, persist: Duration, raw: Duration, target: &str, note: &str) {
    println!(
        "{name:<11} persist {:>9}  raw {:>9}  ratio {:>5.2}x  target {target}{note}",
        secs(persist),
        secs(raw),
        persist.as_secs_f64() / raw.as_secs_f64(),
    );
}

fn bench_large(opts: &Opts, rt: &tokio::runtime::Runtime, store: &Store, raw: &Raw) {
    let n = (opts.mb << 20) / 8;
    let array = Array1::from_iter((0..n).map(|i| i as f64 * 0.5));
    let body = Bytes::from(
        array
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect::<Vec<u8>>(),
    );
    let raw_path = Path::from(format!("{}/raw/large.bin", raw.prefix));
    let raw = raw.store.as_ref();
    let mut record = Big::new("large");
    record.data.set(array.clone());

    if opts.runs("save_large") {
        let (save_p, save_r) = paired(
            opts.rounds,
            || timed(|| record.save(store).expect("persist save")),
            || timed(|| rt.block_on(raw_put(raw, &raw_path, &body))),
        );
        row(
            "save_large",
            save_p,
            save_r,
            "<= 1.20x",
            &format!("  ({} MiB)", opts.mb),
        );
    } else {
        // load_large alone: the record and the raw object saved once, not timed.
        record.save(store).expect("persist save");
        rt.block_on(raw_put(raw, &raw_path, &body));
    }
    if !opts.runs("load_large") {
        return;
    }

    let (load_p, load_r) = paired(
        opts.rounds,
        || {
            timed(|| {
                let loaded = Big::new("large").load(store).expect("persist load");
                assert_eq!(loaded.data.get().expect("persist read").len(), n);
            })
        },
        || {
            timed(|| {
                let bytes = rt.block_on(raw_get(raw, &raw_path));
                assert_eq!(bytes.len(), body.len());
            })
        },
    );
    row(
        "load_large",
        load_p,
        load_r,
        "<= 1.20x",
        &format!("  ({} MiB)", opts.mb),
    );
    let loaded = Big::new("large").load(store).expect("persist load");
    assert!(
        *loaded.data.get().expect("persist read") == array,
        "the array read back differs"
    );
}

fn bench_all(opts: &Opts, rt: &tokio::runtime::Runtime, store: &Store, raw: &Raw) {
    // The records, saved from 8 threads (not timed).
    std::thread::scope(|s| {
        for t in 0..8 {
            s.spawn(move || {
                for id in (t..opts.records).step_by(8) {
                    let mut r = Small::new(id as u32);
                    r.score = id as f64;
                    r.note = format!("record {id}");
                    r.save(store).expect("save small");
                }
            });
        }
    });
    let prefix = Path::from(format!("{}/ossmall", raw.prefix));
    let raw = raw.store.as_ref();
    let metas: Vec<Path> = rt.block_on(async {
        raw.list(Some(&prefix))
            .try_filter_map(|m| async move {
                Ok(m.location
                    .as_ref()
                    .ends_with("/meta.json")
                    .then_some(m.location))
            })
            .try_collect()
            .await
            .expect("raw list")
    });
    assert_eq!(metas.len(), opts.records, "meta.json objects listed");

    let persist_all = || {
        timed(|| {
            let mut n = 0;
            for record in Small::all(store).expect("persist all") {
                let record = record.expect("a record");
                assert_eq!(record.note, format!("record {}", record.id));
                n += 1;
            }
            assert_eq!(n, opts.records);
        })
    };
    let raw_one_by_one = || {
        timed(|| {
            rt.block_on(async {
                for path in &metas {
                    raw.get(path)
                        .await
                        .expect("raw get")
                        .bytes()
                        .await
                        .expect("raw body");
                }
            })
        })
    };
    let (all_p, all_r) = paired(opts.rounds, persist_all, raw_one_by_one);
    let floor = median(
        (0..opts.rounds)
            .map(|_| {
                timed(|| {
                    rt.block_on(async {
                        stream::iter(&metas)
                            .map(|path| async move { raw.get(path).await?.bytes().await })
                            .buffer_unordered(RAW_GETS_IN_FLIGHT)
                            .try_for_each(|_| async { Ok(()) })
                            .await
                            .expect("raw concurrent gets")
                    })
                })
            })
            .collect(),
    );
    row(
        "all_small",
        all_p,
        all_r,
        ">= 5x faster (ratio <= 0.20x)",
        &format!(
            "  ({} records; raw {RAW_GETS_IN_FLIGHT} GETs at a time {}, {:.2}x faster than \
             one after another, persist {:.2}x that)",
            opts.records,
            secs(floor),
            all_r.as_secs_f64() / floor.as_secs_f64(),
            all_p.as_secs_f64() / floor.as_secs_f64()
        ),
    );
}

/// Syncs `--records` small records from a local store to fresh prefixes of
/// `url`: `--concurrency` at a time against one after another.
fn bench_sync(opts: &Opts, url: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let local = Store::open(dir.path()).expect("local store").durable(false);
    for id in 0..opts.records {
        let mut r = Small::new(id as u32);
        r.score = id as f64;
        r.note = format!("record {id}");
        r.save(&local).expect("save small");
    }
    let mut round = 0;
    let mut once = |concurrency: usize| {
        round += 1;
        let dst = Store::open_url(&format!("{url}/sync-{round}")).expect("open sync prefix");
        let opts = SyncOptions {
            concurrency,
            ..SyncOptions::default()
        };
        let took = timed(|| {
            let report = sync(&local, &dst, &opts, |_| {}).expect("sync");
            assert!(report.is_ok(), "{report}");
        });
        dst.backend().delete_all("").expect("clean up sync prefix");
        took
    };
    let mut times = (Vec::new(), Vec::new());
    for r in 0..opts.rounds {
        for concurrent in [r % 2 == 0, r % 2 != 0] {
            if concurrent {
                times.0.push(once(opts.concurrency));
            } else {
                times.1.push(once(1));
            }
        }
    }
    row(
        "sync_small",
        median(times.0),
        median(times.1),
        ">= 5x faster (ratio <= 0.20x)",
        &format!(
            "  ({} records, {} at a time against one at a time)",
            opts.records, opts.concurrency
        ),
    );
}

fn main() {
    let opts = parse_opts();
    let Some(url) = test_url("bench") else {
        println!("object_store bench: PERSIST_TEST_S3_URL is not set; nothing measured");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    // Two clients, so that neither side reuses the other's connections.
    let store = Store::open_url(&url).expect("open store");
    let raw = Raw {
        store: s3_store(&url),
        prefix: url_prefix(&url).to_owned(),
    };
    println!(
        "object_store bench on {} ({} rounds)",
        std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| url.clone()),
        opts.rounds
    );
    if opts.runs("save_large") || opts.runs("load_large") {
        bench_large(&opts, &rt, &store, &raw);
    }
    if opts.runs("all_small") {
        bench_all(&opts, &rt, &store, &raw);
    }
    if opts.runs("sync_small") {
        bench_sync(&opts, &url);
    }
    store.backend().delete_all("").expect("clean up");
}
