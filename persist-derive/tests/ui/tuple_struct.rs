use persist_core::Persistence;

#[derive(Persistence)]
struct Pair(#[key] String, Vec<f64>);

fn main() {}
