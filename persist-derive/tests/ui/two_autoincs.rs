use persist_core::Persistence;

#[derive(Persistence)]
struct Runs {
    #[key]
    animal: String,
    #[autoinc]
    run_id: Option<u32>,
    #[autoinc]
    trial: Option<u32>,
}

fn main() {}
