//! The misses of the ratio bench's `compute_miss_nosync` row, one side per
//! run, for counting what a miss costs with tools that watch a whole process
//! (`valgrind --tool=callgrind`, `strace -c`): PERFORMANCE.md, "The lease's
//! cost on a miss".
//!
//! ```text
//! cargo build --release -p persist-core --example miss_loop
//! target/release/examples/miss_loop leased 1200 /tmp/store-a   # load_or_compute
//! target/release/examples/miss_loop plain 1200 /tmp/store-b    # load, then save
//! ```
//!
//! Each run first makes 3 misses of keys the loop does not use (the
//! process's one-time work: the lease's renewal thread, the type's folder),
//! then N misses of new keys on a store with `durable(false)`. Two runs with
//! different N (200 and 1200, say) give the cost of one miss as the
//! difference over 1000.

#[path = "../benches/common/mod.rs"]
mod common;

use common::{small_load_or_compute, small_record};
use persist_core::{Persistence, Store};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (leased, n, dir) = match args.as_slice() {
        [_, side, n, dir] if side == "leased" || side == "plain" => (
            side == "leased",
            n.parse::<usize>().expect("a number of misses"),
            dir,
        ),
        _ => {
            eprintln!("usage: miss_loop leased|plain N STORE_DIR");
            std::process::exit(2);
        }
    };
    let store = Store::open(dir).unwrap().durable(false);
    let warm = 1_000_000;
    for i in warm..warm + 3 {
        small_load_or_compute(&store, i, true);
        small_record(i + 100).save(&store).unwrap();
    }
    let started = std::time::Instant::now();
    for i in 0..n {
        small_load_or_compute(&store, i, leased);
    }
    eprintln!(
        "{n} misses ({}): {:.1} µs each",
        if leased {
            "load_or_compute"
        } else {
            "load + save"
        },
        started.elapsed().as_secs_f64() * 1e6 / n.max(1) as f64
    );
}
