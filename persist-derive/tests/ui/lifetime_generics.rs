use persist_core::Persistence;

#[derive(Persistence)]
struct Model<'a> {
    #[key]
    animal: &'a str,
}

fn main() {}
