use persist_core::Persistence;

#[derive(Persistence)]
struct Model {
    #[key]
    run: u32,
}

fn main() {}
