use persist_core::Persistence;

#[derive(Persistence)]
#[persist(validate, name = "fit", validate)]
struct Fit {
    #[key]
    dataset: String,
    rmse: f64,
}

impl persist_core::Validate for Fit {
    fn validate(&self) -> Result<(), persist_core::BoxError> {
        Ok(())
    }
}

fn main() {}
