// Temporary: a hand-written impl of the generated code, to exercise the runtime.
use persist_core::__private as p;
use persist_core::ndarray::Array1;
use persist_core::*;

#[derive(Debug)]
struct Ex {
    animal: String,
    session: String,
    run: Option<u32>,
    channels: Vec<i32>,
    data: Lazy<Array1<f64>>,
}

impl Persistence for Ex {
    const __SCHEMA: &'static p::Schema = &p::Schema {
        name: "ex",
        version: 1,
        keys: &[
            p::KeyField { name: "animal", filename: true, prefix: "" },
            p::KeyField { name: "session", filename: false, prefix: "" },
        ],
        autoinc: Some(p::AutoIncField { name: "run", prefix: "r" }),
        data: &["channels"],
        records: &[p::RecordField { name: "data", stem: "data" }],
    };
    fn __key(&self) -> Result<Vec<p::Value>> {
        Ok(vec![p::key_value("animal", &self.animal)?, p::key_value("session", &self.session)?])
    }
    fn __autoinc(&self) -> Option<u64> {
        p::autoinc_get(&self.run)
    }
    fn __set_autoinc(&mut self, n: Option<u64>) -> Result<()> {
        p::autoinc_set(&mut self.run, n)
    }
    fn __data(&self) -> Result<Vec<p::Value>> {
        Ok(vec![p::data_value("channels", &self.channels)?])
    }
    fn __records(&self) -> Vec<p::RecordOut<'_>> {
        vec![p::record_out(&self.data)]
    }
    fn __from_parts(parts: &mut p::Parts) -> Result<Self> {
        Ok(Ex { animal: parts.key(0)?, session: parts.key(1)?, run: parts.autoinc()?, channels: parts.data(0)?, data: parts.record(0)? })
    }
}

#[test]
fn round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut e = Ex { animal: "A00".into(), session: "s/1".into(), run: None, channels: vec![1, 2], data: Lazy::new(Array1::linspace(0., 1., 4)) };
    e.save(&store).unwrap();
    assert_eq!(e.run, Some(0));
    e.run = None;
    e.save(&store).unwrap();
    assert_eq!(e.run, Some(1));
    let back = e.load(&store).unwrap();
    assert_eq!(back.channels, vec![1, 2]);
    assert!(!back.data.is_loaded());
    assert_eq!(back.data.get().unwrap()[3], 1.0);
    let all = e.load_all(&store).unwrap();
    assert_eq!(all.len(), 2);
    let every: Vec<_> = Ex::all(&store).unwrap().collect();
    assert_eq!(every.len(), 2);
    std::process::Command::new("find").arg(dir.path()).status().unwrap();
    let m = std::fs::read_to_string(dir.path().join(p::record_dir(&back).unwrap().meta_path())).unwrap();
    println!("{m}");
    println!("{}", p::filename(&back));
}
