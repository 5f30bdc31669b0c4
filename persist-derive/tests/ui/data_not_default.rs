use persist_core::Persistence;

#[derive(serde::Serialize, serde::Deserialize, Clone)]
struct NoDefault(u8);

#[derive(Persistence)]
struct Model {
    #[key]
    animal: String,
    value: NoDefault,
}

fn main() {}
