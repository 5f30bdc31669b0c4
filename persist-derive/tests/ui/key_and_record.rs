use persist_core::{Lazy, Persistence};

#[derive(Persistence)]
struct Traces {
    #[key]
    #[record]
    trace: Lazy<String>,
}

fn main() {}
