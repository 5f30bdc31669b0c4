use persist_core::Persistence;

#[derive(Persistence)]
#[persist(nmae = "sessions")]
struct Session {
    #[filename(prefx = "s")]
    animal: String,
}

fn main() {}
