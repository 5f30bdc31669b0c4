use persist_core::Persistence;

#[derive(Persistence)]
struct Floating {
    values: Vec<f64>,
}

fn main() {
    // The fallback impl keeps these calls from adding errors of their own.
    let store = persist_core::Store::memory();
    let mut value = Floating::new();
    let _ = value.save(&store);
    let _ = value.filename();
}
