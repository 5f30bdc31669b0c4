use persist_core::Persistence;

#[derive(Persistence)]
struct Traces {
    #[key]
    animal: String,
    #[record]
    trace: Vec<f64>,
}

fn main() {}
