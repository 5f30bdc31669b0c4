use persist_core::Persistence;

#[derive(Persistence)]
#[persist(version = 2, migrate)]
struct Fit {
    #[key]
    dataset: String,
    rmse: f64,
}

fn main() {}
