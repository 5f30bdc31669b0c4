use persist_core::{Persistence, Store};

struct Opaque;

#[derive(Persistence)]
#[persist(name = "tagged")]
struct Tagged<K> {
    #[key]
    id: K,
    note: String,
}

fn main() {
    let store = Store::memory();
    let _ = Tagged::new(Opaque).exists(&store);
}
