use persist_core::Persistence;

#[derive(Persistence)]
#[persist(name = "fit", validate)]
struct Fit {
    #[key]
    dataset: String,
    rmse: f64,
}

fn main() {}
