use persist_core::Persistence;

#[derive(Persistence)]
struct Model {
    #[key]
    name: String,
    build: String,
}

fn main() {}
