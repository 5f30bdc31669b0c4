use persist_core::Persistence;

#[derive(Persistence)]
#[persist(crate = "persist_core")]
struct Model {
    #[key]
    animal: String,
}

fn main() {}
