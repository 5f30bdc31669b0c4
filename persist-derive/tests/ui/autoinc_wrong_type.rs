use persist_core::Persistence;

#[derive(Persistence)]
struct Runs {
    #[key]
    animal: String,
    #[autoinc]
    run_id: u32,
}

fn main() {}
