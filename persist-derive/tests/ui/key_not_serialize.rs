use persist_core::Persistence;

struct Opaque;

#[derive(Persistence)]
struct Model {
    #[key]
    animal: String,
    #[key]
    opaque: Opaque,
}

fn main() {}
