use persist_core::Persistence;

#[derive(Persistence)]
#[persist(name = "My Model")]
struct Model {
    #[key]
    animal: String,
}

fn main() {}
