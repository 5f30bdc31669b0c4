//! Partial-key queries (`T::query()`): exact matches, sorted by file name,
//! the autoinc filter, and the promise that fixing only `#[filename]` fields
//! never reads a record whose folder name already rules it out: shown with a
//! backend that counts reads, and with a damaged record outside the query.

#[path = "../fixtures/mod.rs"]
mod fixtures;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Read;
use std::sync::{Arc, Mutex};

use fixtures::stores::{on_every_store, on_every_store_with_autoinc};
use persist_core::backend::{Backend, Entry, LocalBackend, MemoryBackend, WriteFn};
use persist_core::{Error, Persistence, Result, Store};

#[derive(Persistence, Debug, Clone)]
#[persist(name = "session")]
struct Session {
    #[key]
    #[filename]
    animal: String,
    #[key]
    #[filename(prefix = "d")]
    day: u32,
    #[key]
    site: String, // not in the file name
    score: f64,
}

#[derive(Persistence, Debug, Clone)]
#[persist(name = "attempt")]
struct Attempt {
    #[key]
    #[filename]
    subject: String,
    #[autoinc]
    n: Option<u32>,
    score: f64,
}

const ANIMALS: [&str; 4] = ["A", "B", "A-B", "AB"];
const DAYS: [u32; 3] = [1, 2, 10];
const SITES: [&str; 2] = ["x", "y"];

/// Saves every (animal, day, site) of the grid; the score tells them apart.
fn save_grid(store: &Store) -> Vec<Session> {
    let mut out = Vec::new();
    for (i, animal) in ANIMALS.iter().enumerate() {
        for (j, day) in DAYS.iter().enumerate() {
            for (k, site) in SITES.iter().enumerate() {
                let mut s = Session::new(*animal, *day, *site);
                s.score = (i * 100 + j * 10 + k) as f64;
                s.save(store).unwrap();
                out.push(s);
            }
        }
    }
    out
}

type Id = (String, u32, String);

fn id(s: &Session) -> Id {
    (s.animal.clone(), s.day, s.site.clone())
}

/// Checks a query's result against the grid filtered by hand: the same
/// records, in file-name order, with their data.
fn check(got: Vec<Session>, grid: &[Session], keep: impl Fn(&Session) -> bool) {
    let mut want: Vec<&Session> = grid.iter().filter(|s| keep(s)).collect();
    want.sort_by_key(|s| s.filename());
    let got_names: Vec<String> = got.iter().map(Session::filename).collect();
    let want_names: Vec<String> = want.iter().map(|s| s.filename()).collect();
    assert_eq!(got_names, want_names, "sorted by file name");
    let got_ids: BTreeMap<Id, f64> = got.iter().map(|s| (id(s), s.score)).collect();
    let want_ids: BTreeMap<Id, f64> = want.iter().map(|s| (id(s), s.score)).collect();
    assert_eq!(got_ids, want_ids);
    assert_eq!(got.len(), got_ids.len(), "no record twice");
}

#[test]
fn queries_return_exactly_the_matching_records() {
    on_every_store(|store| {
        let grid = save_grid(store);
        check(Session::query().run(store).unwrap(), &grid, |_| true);
        for animal in ANIMALS {
            check(
                Session::query().animal(animal).run(store).unwrap(),
                &grid,
                |s| s.animal == animal,
            );
            for day in DAYS {
                check(
                    Session::query().animal(animal).day(day).run(store).unwrap(),
                    &grid,
                    |s| s.animal == animal && s.day == day,
                );
            }
        }
        for day in DAYS {
            check(Session::query().day(day).run(store).unwrap(), &grid, |s| {
                s.day == day
            });
        }
        for site in SITES {
            check(
                Session::query().site(site).run(store).unwrap(),
                &grid,
                |s| s.site == site,
            );
            check(
                Session::query().day(2).site(site).run(store).unwrap(),
                &grid,
                |s| s.day == 2 && s.site == site,
            );
        }
        let one = Session::query()
            .animal("A-B")
            .day(10)
            .site("y")
            .run(store)
            .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(id(&one[0]), ("A-B".into(), 10, "y".into()));
        assert!(Session::query().animal("C").run(store).unwrap().is_empty());
        assert!(Session::query().day(3).run(store).unwrap().is_empty());
        assert!(Session::query().site("z").run(store).unwrap().is_empty());
    });
}

#[test]
fn results_are_sorted_by_file_name_not_by_value() {
    on_every_store(|store| {
        for day in [10, 2, 1] {
            Session::new("A", day, "x").save(store).unwrap();
        }
        let names: Vec<String> = Session::query()
            .animal("A")
            .run(store)
            .unwrap()
            .iter()
            .map(Session::filename)
            .collect();
        assert_eq!(names, ["session-A-d1", "session-A-d10", "session-A-d2"]);
    });
}

#[test]
fn a_query_on_an_empty_store_is_empty() {
    let store = Store::memory();
    assert!(Session::query().run(&store).unwrap().is_empty());
    assert!(Attempt::query().n(0).run(&store).unwrap().is_empty());
}

#[test]
fn values_that_look_alike_in_a_file_name_are_told_apart() {
    on_every_store(|store| {
        // `/` is shown as `_` in the folder name; the key still differs.
        for animal in ["a/b", "a_b", "a b"] {
            let mut s = Session::new(animal, 1, "x");
            s.score = animal.len() as f64;
            s.save(store).unwrap();
        }
        for animal in ["a/b", "a_b", "a b"] {
            let got = Session::query().animal(animal).run(store).unwrap();
            assert_eq!(got.len(), 1, "{animal}");
            assert_eq!(got[0].animal, animal);
        }
        // A value so long that the folder name is cut still matches.
        let long = "L".repeat(300);
        Session::new(long.clone(), 5, "x").save(store).unwrap();
        let got = Session::query().animal(long.clone()).run(store).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].animal, long);
        assert!(Session::query()
            .animal(format!("{long}M"))
            .run(store)
            .unwrap()
            .is_empty());
        assert_eq!(Session::query().day(5).run(store).unwrap().len(), 1);
    });
}

#[test]
fn the_autoinc_filter_picks_one_number_per_key() {
    on_every_store_with_autoinc(|store| {
        for (subject, count) in [("A", 3), ("B", 2), ("C", 1)] {
            for i in 0..count {
                let mut a = Attempt::new(subject);
                a.score = f64::from(i);
                a.save(store).unwrap();
            }
        }
        let names = |v: Vec<Attempt>| v.iter().map(Attempt::filename).collect::<Vec<_>>();
        assert_eq!(
            names(Attempt::query().n(1).run(store).unwrap()),
            ["attempt-A-1", "attempt-B-1"]
        );
        assert_eq!(
            names(Attempt::query().subject("A").n(2).run(store).unwrap()),
            ["attempt-A-2"]
        );
        assert!(Attempt::query()
            .subject("C")
            .n(1)
            .run(store)
            .unwrap()
            .is_empty());
        assert_eq!(
            names(Attempt::query().subject("B").run(store).unwrap()),
            ["attempt-B-0", "attempt-B-1"]
        );
        assert_eq!(Attempt::query().run(store).unwrap().len(), 6);
        let got = Attempt::query().subject("A").n(2).run(store).unwrap();
        assert_eq!((got[0].n, got[0].score), (Some(2), 2.0));
    });
}

#[test]
fn a_claimed_number_whose_save_never_finished_is_skipped() {
    on_every_store_with_autoinc(|store| {
        Attempt::new("A").save(store).unwrap();
        // Number 1 claimed, never saved.
        let mut half = Attempt::new("A");
        half.n = Some(1);
        let claim = persist_core::__private::record_dir(&half)
            .unwrap()
            .claim_path();
        assert!(store.backend().create(&claim, b"{}", false).unwrap());
        assert_eq!(Attempt::query().subject("A").run(store).unwrap().len(), 1);
        assert!(Attempt::query().n(1).run(store).unwrap().is_empty());
    });
}

// ---- proving what is not read --------------------------------------------

/// A backend that counts `get` calls per path and `list` calls per prefix.
#[derive(Clone)]
struct Counting<B> {
    inner: B,
    gets: Arc<Mutex<BTreeMap<String, usize>>>,
    lists: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl<B> Counting<B> {
    fn new(inner: B) -> Self {
        Counting {
            inner,
            gets: Arc::default(),
            lists: Arc::default(),
        }
    }
}

impl<B: fmt::Debug> fmt::Debug for Counting<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Counting").field(&self.inner).finish()
    }
}

impl<B: Backend> Backend for Counting<B> {
    fn put(&self, path: &str, durable: bool, write: &mut WriteFn<'_>) -> Result<()> {
        self.inner.put(path, durable, write)
    }
    fn create(&self, path: &str, bytes: &[u8], durable: bool) -> Result<bool> {
        self.inner.create(path, bytes, durable)
    }
    fn get(&self, path: &str) -> Result<Box<dyn Read + Send>> {
        *self
            .gets
            .lock()
            .unwrap()
            .entry(path.to_owned())
            .or_default() += 1;
        self.inner.get(path)
    }
    fn list(&self, prefix: &str) -> Result<Vec<Entry>> {
        *self
            .lists
            .lock()
            .unwrap()
            .entry(prefix.to_owned())
            .or_default() += 1;
        self.inner.list(prefix)
    }
    fn delete(&self, path: &str) -> Result<()> {
        self.inner.delete(path)
    }
    fn delete_all(&self, prefix: &str) -> Result<()> {
        self.inner.delete_all(prefix)
    }
    fn describe(&self, path: &str) -> String {
        self.inner.describe(path)
    }
    // No `local_path`: every read goes through `get`, where it is counted.
}

/// Runs `f` on a counting memory store and a counting local store.
fn on_counting_stores(f: impl Fn(&Store, &dyn CountView)) {
    let memory = Counting::new(MemoryBackend::default());
    eprintln!("-- on the counting memory store");
    f(&Store::with_backend(memory.clone()), &memory);

    let dir = tempfile::tempdir().unwrap();
    let local = Counting::new(LocalBackend::new(dir.path()).unwrap());
    eprintln!("-- on the counting local store");
    f(&Store::with_backend(local.clone()), &local);
}

/// The counters, whatever the backend underneath.
trait CountView {
    fn reset(&self);
    fn meta_reads(&self) -> BTreeMap<String, usize>;
    fn all_gets(&self) -> usize;
    fn listed(&self) -> BTreeSet<String>;
}

impl<B> CountView for Counting<B> {
    fn reset(&self) {
        self.gets.lock().unwrap().clear();
        self.lists.lock().unwrap().clear();
    }

    /// The `meta.json` files read since the last reset, with how often.
    fn meta_reads(&self) -> BTreeMap<String, usize> {
        self.gets
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p.ends_with("/meta.json"))
            .map(|(p, n)| (p.clone(), *n))
            .collect()
    }

    fn all_gets(&self) -> usize {
        self.gets.lock().unwrap().values().sum()
    }

    fn listed(&self) -> BTreeSet<String> {
        self.lists.lock().unwrap().keys().cloned().collect()
    }
}

fn meta_path<T: Persistence>(v: &T) -> String {
    persist_core::__private::record_dir(v).unwrap().meta_path()
}

#[test]
fn records_ruled_out_by_name_are_never_read() {
    on_counting_stores(|store, counts| {
        let grid = save_grid(store);

        // animal and day fixed: only the two sites of session-A-d1 are read.
        counts.reset();
        let got = Session::query().animal("A").day(1).run(store).unwrap();
        assert_eq!(got.len(), 2);
        let want: BTreeMap<String, usize> = grid
            .iter()
            .filter(|s| s.animal == "A" && s.day == 1)
            .map(|s| (meta_path(s), 1))
            .collect();
        assert_eq!(
            counts.meta_reads(),
            want,
            "each match read once, nothing else"
        );
        assert_eq!(counts.all_gets(), 2, "no record file is read either");

        // Only the day fixed: 8 of the 24 records can match by name.
        counts.reset();
        let got = Session::query().day(10).run(store).unwrap();
        assert_eq!(got.len(), 8);
        assert_eq!(counts.meta_reads().len(), 8);
        assert!(counts.meta_reads().keys().all(|p| p.contains("-d10.")));

        // A fixed animal whose name is a prefix of others ("A" of "A-B"):
        // "session-A-B-d1" could be animal "A" by its name alone, so it is
        // read and ruled out by its key; "AB" is ruled out by its name.
        counts.reset();
        let got = Session::query().animal("A").run(store).unwrap();
        assert_eq!(got.len(), 6);
        let read = counts.meta_reads();
        assert_eq!(read.len(), 12, "{read:#?}");
        assert!(read.keys().all(|p| !p.contains("session-AB-")), "{read:#?}");

        // A field that is not in the file name cannot rule out by name: all read.
        counts.reset();
        assert_eq!(Session::query().site("x").run(store).unwrap().len(), 12);
        assert_eq!(counts.meta_reads().len(), 24);
    });
}

#[test]
fn autoinc_numbers_ruled_out_are_never_read() {
    on_counting_stores(|store, counts| {
        for subject in ["A", "B", "C"] {
            for _ in 0..3 {
                Attempt::new(subject).save(store).unwrap();
            }
        }
        counts.reset();
        let got = Attempt::query().n(2).run(store).unwrap();
        assert_eq!(got.len(), 3);
        let read = counts.meta_reads();
        assert_eq!(read.len(), 3, "{read:#?}");
        assert!(
            read.keys().all(|p| p.ends_with("/2/meta.json")),
            "{read:#?}"
        );

        // A subject ruled out by name: its numbers are not even listed.
        counts.reset();
        let got = Attempt::query().subject("B").run(store).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(counts.meta_reads().len(), 3);
        let listed = counts.listed();
        assert!(
            listed
                .iter()
                .all(|p| !p.contains("attempt-A.") && !p.contains("attempt-C.")),
            "{listed:#?}"
        );
    });
}

/// Overwrites a record's `meta.json` with bytes that are not JSON.
fn damage<T: Persistence>(store: &Store, v: &T) {
    store
        .backend()
        .put(&meta_path(v), false, &mut |w| {
            w.write_all(b"{ not json").map_err(Error::io)
        })
        .unwrap();
}

#[test]
fn a_damaged_record_outside_the_query_does_not_disturb_it() {
    on_every_store(|store| {
        let grid = save_grid(store);
        let victim = grid
            .iter()
            .find(|s| s.animal == "B" && s.day == 2 && s.site == "y")
            .unwrap();
        damage(store, victim);

        // Queries whose file-name filter rules the damaged record out.
        check(
            Session::query().animal("A").run(store).unwrap(),
            &grid,
            |s| s.animal == "A",
        );
        check(Session::query().day(1).run(store).unwrap(), &grid, |s| {
            s.day == 1
        });
        check(
            Session::query().animal("B").day(10).run(store).unwrap(),
            &grid,
            |s| s.animal == "B" && s.day == 10,
        );

        // The damage is real: a query that has to read it says so.
        let err = Session::query().animal("B").day(2).run(store).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("session-B-d2"), "{err}");
        let err = Session::query().site("y").run(store).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
        // And `all` reports it as one bad item among good ones.
        let items: Vec<_> = Session::all(store).unwrap().collect();
        assert_eq!(items.len(), grid.len());
        assert_eq!(items.iter().filter(|r| r.is_err()).count(), 1);
    });
}
