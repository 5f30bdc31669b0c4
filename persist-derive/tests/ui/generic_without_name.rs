use persist_core::ndarray::Array1;
use persist_core::{Lazy, Persistence};

#[derive(Persistence)]
struct Spectrum<E> {
    #[filename]
    animal: String,
    #[record]
    power: Lazy<Array1<E>>,
}

fn main() {
    let _ = Spectrum::<f64>::new("A00").filename();
}
