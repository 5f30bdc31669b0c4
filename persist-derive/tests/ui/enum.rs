use persist_core::Persistence;

#[derive(Persistence)]
enum Choice {
    A,
    B,
}

fn main() {}
