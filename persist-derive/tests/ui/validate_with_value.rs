use persist_core::Persistence;

#[derive(Persistence)]
#[persist(validate = "check")]
struct Fit {
    #[key]
    dataset: String,
    rmse: f64,
}

fn main() {}
