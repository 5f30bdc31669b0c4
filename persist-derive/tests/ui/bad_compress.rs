use persist_core::{Lazy, Persistence};

#[derive(Persistence)]
struct Recording {
    #[key]
    animal: String,
    #[record(compress = "lz4")]
    raw: Lazy<Vec<u8>>,
    #[record(compress = "zstd:23")]
    fine: Lazy<Vec<u8>>,
    #[record(compress = "gzip:10")]
    coarse: Lazy<Vec<u8>>,
}

fn main() {}
