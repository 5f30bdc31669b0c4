//! The generated API against the real runtime: `new`, `filename`/`Display`,
//! `replace`, `query`, and the schema the derive hands to the runtime.

use persist_core::ndarray::Array1;
use persist_core::{Lazy, Persistence, Store};

#[derive(Persistence, Debug)]
#[persist(name = "example")]
struct Example {
    #[key]
    #[filename]
    use_animal: String,
    #[key]
    use_session: String,
    #[key]
    #[filename]
    use_date: String,
    channels: Vec<i32>,
    #[record]
    data: Lazy<Array1<f64>>,
}

#[derive(Persistence, Debug)]
struct SortedRun {
    #[filename(prefix = "s")]
    session: u32,
    #[autoinc(prefix = "r")]
    run_id: Option<u32>,
    score: f64,
}

#[test]
fn filename_and_display() {
    let x = Example::new("A00", "s", "1234");
    assert_eq!(x.filename(), "example-A00-1234");
    assert_eq!(x.to_string(), "example-A00-1234");
    assert!(x.channels.is_empty());
    assert!(!x.data.is_loaded());

    let run = SortedRun::new(3);
    assert_eq!(run.run_id, None);
    assert!(run.filename().starts_with("sorted_run-s3-"));
}

#[test]
fn replace_keeps_fields_and_resets_autoinc_on_key_change() {
    let mut run = SortedRun::new(3);
    run.score = 0.5;
    run.run_id = Some(4);
    let same_key = run.replace().score(0.75).build();
    assert_eq!(
        (same_key.session, same_key.run_id, same_key.score),
        (3, Some(4), 0.75)
    );
    let other_key = run.replace().session(5).build();
    assert_eq!(
        (other_key.session, other_key.run_id, other_key.score),
        (5, None, 0.5)
    );

    let x = Example::new("A00", "s", "1234")
        .replace()
        .use_date("99")
        .build();
    assert_eq!(x.filename(), "example-A00-99");
}

#[test]
fn save_load_and_query() -> persist_core::Result<()> {
    let store = Store::memory();
    for session in [1, 2] {
        for score in [0.1, 0.2] {
            let mut run = SortedRun::new(session);
            run.score = score;
            run.save(&store)?;
        }
    }
    let loaded = SortedRun::new(2).replace().build();
    assert_eq!(loaded.load_all(&store)?.len(), 2);

    let all = SortedRun::query().run(&store)?;
    assert_eq!(all.len(), 4);
    let s2 = SortedRun::query().session(2).run(&store)?;
    assert_eq!(
        s2.iter().map(|r| (r.session, r.run_id)).collect::<Vec<_>>(),
        [(2, Some(0)), (2, Some(1))]
    );
    let one = SortedRun::query().session(2).run_id(1).run(&store)?;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].score, 0.2);
    assert_eq!(one[0].filename(), "sorted_run-s2-r1");

    let mut x = Example::new("A00", "s", "1234");
    x.channels = vec![1, 2, 3];
    x.data.set(Array1::linspace(0.0, 1.0, 5));
    x.save(&store)?;
    let again = Example::new("A00", "s", "1234").load(&store)?;
    assert_eq!(again.channels, [1, 2, 3]);
    assert_eq!(again.data.get()?[4], 1.0);
    let by_animal = Example::query().use_animal("A00").run(&store)?;
    assert_eq!(by_animal.len(), 1);
    Ok(())
}
