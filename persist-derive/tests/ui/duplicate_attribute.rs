use persist_core::Persistence;

#[derive(Persistence)]
#[persist(name = "a", name = "b")]
struct Model {
    #[key]
    #[key]
    animal: String,
}

fn main() {}
