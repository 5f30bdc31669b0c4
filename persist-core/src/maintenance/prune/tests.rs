//! Tests of [`prune`] on stores written by the runtime: each selector, the
//! protections, dry runs, and a prune racing saves of the same key.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::backend::{Backend, Entry, MemoryBackend, WriteFn};
use crate::error::Error;
use crate::lazy::Lazy;
use crate::maintenance::{du, gc, verify, visit_files, walk, GcOptions, LeftoverKind, RecordEntry};
use crate::meta::{rfc3339, Meta, META_FILE};
use crate::persistence::Persistence;
use crate::reference::Ref;
use crate::store::Store;
use crate::Result;

/// An autoinc type: `run-<animal>-<n>`.
#[derive(crate::Persistence, Debug)]
#[persist(name = "run", crate = "crate")]
struct Run {
    #[key]
    #[filename]
    animal: String,
    #[autoinc]
    n: Option<u32>,
    #[record]
    data: Lazy<Vec<u8>>,
}

/// A type without autoinc: `note-<topic>`; `text` is always `n` written out,
/// so a loaded record is whole exactly when the two agree.
#[derive(crate::Persistence, Debug)]
#[persist(name = "note", crate = "crate")]
struct Note {
    #[key]
    #[filename]
    topic: String,
    n: u64,
    #[record]
    text: Lazy<String>,
}

/// An upstream.
#[derive(crate::Persistence, Debug, Clone)]
#[persist(name = "points", crate = "crate")]
struct Points {
    #[key]
    #[filename]
    seed: u32,
    #[record]
    raw: Lazy<String>,
}

/// Computed from one `Points`.
#[derive(crate::Persistence, Debug)]
#[persist(name = "stats", crate = "crate")]
struct Stats {
    #[key]
    points: Ref<Points>,
    #[key]
    #[filename]
    z: u32,
    mean: f64,
}

const DAY: u64 = 86_400;

fn stores() -> Vec<(Store, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let local = Store::open(dir.path()).expect("open").durable(false);
    vec![(Store::memory(), None), (local, Some(dir))]
}

fn run(animal: &str, bytes: usize) -> Run {
    Run {
        animal: animal.into(),
        n: None,
        data: Lazy::new(vec![7u8; bytes]),
    }
}

fn note(topic: &str, n: u64) -> Note {
    Note {
        topic: topic.into(),
        n,
        text: Lazy::new(n.to_string()),
    }
}

fn saved(store: &Store, topic: &str, n: u64) -> Result<String> {
    let mut x = note(topic, n);
    x.save(store)?;
    x.location(store)
}

/// Rewrites the record's `saved_at` to `secs_ago` seconds before now: what
/// `meta.json` says is all prune looks at.
fn age(store: &Store, location: &str, secs_ago: u64) -> Result<()> {
    let path = format!("{location}/{META_FILE}");
    let mut meta = Meta::read(store.backend(), &path)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| Error::corrupt(e.to_string()))?
        .as_secs();
    meta.saved_at = rfc3339(now - secs_ago);
    let bytes = meta.to_bytes()?;
    store.backend().put(&path, false, &mut |w| {
        w.write_all(&bytes).map_err(Error::io)
    })
}

/// Every file of the store with its bytes.
fn tree(store: &Store) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut paths = Vec::new();
    visit_files(store, "", &mut |path, _| paths.push(path.to_owned()))?;
    let mut out = BTreeMap::new();
    for p in paths {
        out.insert(p.clone(), store.backend().read_all(&p)?);
    }
    Ok(out)
}

fn locations(cs: &[PruneCandidate]) -> Vec<&str> {
    cs.iter().map(|c| c.location.as_str()).collect()
}

fn names(store: &Store) -> Result<Vec<String>> {
    Ok(walk(store)?.iter().map(RecordEntry::name).collect())
}

fn assert_verified(store: &Store) -> Result<()> {
    let report = verify(store, |_| {})?;
    assert!(report.is_ok(), "verify after prune: {:?}", report.damaged);
    Ok(())
}

#[test]
fn older_than_removes_records_saved_before_the_limit() -> Result<()> {
    for (store, _dir) in stores() {
        let old = saved(&store, "old", 1)?;
        let recent = saved(&store, "recent", 2)?;
        saved(&store, "new", 3)?;
        age(&store, &old, 40 * DAY)?;
        age(&store, &recent, 10 * DAY)?;
        let opts = PruneOptions::default().older_than(Duration::from_secs(30 * DAY));
        let report = prune(&store, &opts)?;
        assert!(!report.dry_run);
        assert_eq!(locations(&report.removed), [old.as_str()]);
        let c = &report.removed[0];
        assert_eq!(c.reason, PruneReason::OlderThan);
        assert_eq!(
            (c.type_name.as_str(), c.name.as_str()),
            ("note", "note-old")
        );
        assert!(c.age.is_some_and(|a| a >= Duration::from_secs(40 * DAY)));
        assert!(c.bytes > 0 && report.bytes() == c.bytes);
        assert!(report.protected.is_empty() && report.failed.is_empty());
        assert!(!note("old", 0).exists(&store)?);
        assert_eq!(note("recent", 0).load(&store)?.n, 2);
        assert_eq!(names(&store)?, ["note-new", "note-recent"]);
        // Nothing is left in its folder.
        assert!(store.backend().list(&old)?.is_empty());
        assert_verified(&store)?;
    }
    Ok(())
}

#[test]
fn keep_last_keeps_the_newest_numbers_of_each_key() -> Result<()> {
    for (store, _dir) in stores() {
        for _ in 0..5 {
            run("A00", 10).save(&store)?;
        }
        for _ in 0..2 {
            run("B01", 10).save(&store)?;
        }
        saved(&store, "plain", 1)?;
        let opts = PruneOptions::default().keep_last(2).min_age(Duration::ZERO);
        let report = prune(&store, &opts)?;
        let removed: Vec<&str> = report.removed.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(removed, ["run-A00-0", "run-A00-1", "run-A00-2"]);
        assert!(report
            .removed
            .iter()
            .all(|c| c.reason == PruneReason::KeepLast));
        assert_eq!(
            names(&store)?,
            [
                "note-plain",
                "run-A00-3",
                "run-A00-4",
                "run-B01-0",
                "run-B01-1"
            ]
        );
        // The claims stay: a number is never given twice.
        let mut next = run("A00", 10);
        next.save(&store)?;
        assert_eq!(next.n, Some(5));
        let mut gone = run("A00", 0);
        gone.n = Some(1);
        assert!(matches!(gone.load(&store), Err(Error::NotFound { .. })));
        assert_verified(&store)?;
        // Nothing left for gc.
        let leftovers = gc(
            &store,
            &GcOptions {
                dry_run: true,
                min_age: Duration::ZERO,
            },
        )?;
        assert!(leftovers.leftovers.is_empty(), "{:?}", leftovers.leftovers);
    }
    Ok(())
}

#[test]
fn max_size_removes_the_oldest_until_under() -> Result<()> {
    for (store, _dir) in stores() {
        let mut locs = Vec::new();
        for i in 0..6u64 {
            // Records of the same size: names, numbers and texts of one digit.
            let mut x = note(&format!("t{i}"), i);
            x.save(&store)?;
            let loc = x.location(&store)?;
            // t0 oldest, t5 newest; in an order unlike the names' so the
            // choice is by time.
            age(
                &store,
                &loc,
                [5, 3, 4, 1, 2, 0][i as usize] * DAY + 3600 * 2,
            )?;
            locs.push(loc);
        }
        let total: u64 = du(&store)?.iter().map(|t| t.bytes).sum();
        let each = walk(&store)?[0].size;
        // Room for three and a half records: the three oldest must go.
        let limit = total - 2 * each - each / 2;
        let report = prune(&store, &PruneOptions::default().max_size(limit))?;
        let removed: Vec<&str> = report.removed.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(removed, ["note-t0", "note-t1", "note-t2"]);
        assert!(report
            .removed
            .iter()
            .all(|c| c.reason == PruneReason::MaxSize));
        assert_eq!(report.scope_bytes, total);
        let after: u64 = du(&store)?.iter().map(|t| t.bytes).sum();
        assert!(after <= limit, "{after} > {limit}");
        // Not one more than needed: without the last, it would be over.
        assert!(after + each > limit);
        assert_verified(&store)?;
        // Under the limit already: nothing goes.
        let again = prune(&store, &PruneOptions::default().max_size(limit))?;
        assert!(again.removed.is_empty());
    }
    Ok(())
}

#[test]
fn types_restrict_the_scope() -> Result<()> {
    for (store, _dir) in stores() {
        let n = saved(&store, "a", 1)?;
        let mut r = run("A00", 10);
        r.save(&store)?;
        let rl = r.location(&store)?;
        age(&store, &n, 3 * DAY)?;
        age(&store, &rl, 3 * DAY)?;
        let opts = PruneOptions::default()
            .older_than(Duration::from_secs(DAY))
            .types(["note"]);
        let report = prune(&store, &opts.clone().dry_run(true))?;
        assert_eq!(locations(&report.removed), [n.as_str()]);
        assert_eq!(report.scope_bytes, du(&store)?[0].bytes);
        let report = prune(&store, &opts)?;
        assert_eq!(locations(&report.removed), [n.as_str()]);
        assert_eq!(names(&store)?, ["run-A00-0"]);
        // By type folder as well as by name; an unknown type selects nothing.
        let none = prune(&store, &opts.clone().types(["nothing"]))?;
        assert!(none.removed.is_empty());
        let report = prune(&store, &opts.types(["run"]))?;
        assert_eq!(locations(&report.removed), [rl.as_str()]);
        assert!(walk(&store)?.is_empty());
        assert_verified(&store)?;
    }
    Ok(())
}

#[test]
fn no_selector_selects_nothing() -> Result<()> {
    for (store, _dir) in stores() {
        let n = saved(&store, "a", 1)?;
        age(&store, &n, 3 * DAY)?;
        let report = prune(&store, &PruneOptions::default().types(["note"]))?;
        assert!(report.removed.is_empty());
        assert_eq!(names(&store)?, ["note-a"]);
    }
    Ok(())
}

#[test]
fn min_age_protects_young_records() -> Result<()> {
    for (store, _dir) in stores() {
        let a = saved(&store, "a", 1)?;
        let b = saved(&store, "b", 2)?;
        age(&store, &a, 600)?;
        age(&store, &b, 2 * 3600)?;
        let opts = PruneOptions::default().older_than(Duration::from_secs(300));
        let report = prune(&store, &opts)?;
        assert_eq!(locations(&report.removed), [b.as_str()]);
        assert_eq!(report.protected.len(), 1);
        assert_eq!(report.protected[0].0.location, a);
        assert_eq!(report.protected[0].1, Protection::YoungerThanMinAge);
        assert!(note("a", 0).exists(&store)?);
        // A younger limit lets it go.
        let report = prune(&store, &opts.min_age(Duration::from_secs(300)))?;
        assert_eq!(locations(&report.removed), [a.as_str()]);
        assert!(walk(&store)?.is_empty());
        // A time that cannot be read is never old enough.
        let c = saved(&store, "c", 3)?;
        let path = format!("{c}/{META_FILE}");
        let mut meta = Meta::read(store.backend(), &path)?;
        meta.saved_at = "some day".into();
        let bytes = meta.to_bytes()?;
        store.backend().put(&path, false, &mut |w| {
            w.write_all(&bytes).map_err(Error::io)
        })?;
        let report = prune(&store, &PruneOptions::default().max_size(0))?;
        assert!(report.removed.is_empty());
        assert_eq!(report.protected[0].1, Protection::YoungerThanMinAge);
        assert!(note("c", 0).exists(&store)?);
    }
    Ok(())
}

/// An old upstream and its downstream; returns their locations.
fn chain(store: &Store, downstream_age: u64) -> Result<(String, String)> {
    let mut p = Points {
        seed: 1,
        raw: Lazy::new("1 2 3".into()),
    };
    p.save(store)?;
    let mut s = Stats {
        points: Ref::to(&p),
        z: 2,
        mean: 2.0,
    };
    s.save(store)?;
    let (pl, sl) = (p.location(store)?, s.location(store)?);
    age(store, &pl, 40 * DAY)?;
    age(store, &sl, downstream_age)?;
    Ok((pl, sl))
}

#[test]
fn a_record_a_ref_names_is_kept_unless_its_dependents_go() -> Result<()> {
    let old = Duration::from_secs(30 * DAY);
    for (store, _dir) in stores() {
        // The downstream is recent: only the upstream is selected, and kept.
        let (pl, sl) = chain(&store, DAY)?;
        let report = prune(&store, &PruneOptions::default().older_than(old))?;
        assert!(report.removed.is_empty());
        assert_eq!(report.protected.len(), 1);
        assert_eq!(report.protected[0].0.location, pl);
        assert_eq!(report.protected[0].1, Protection::ReferencedBy(sl.clone()));

        // Both old but only points in scope: still kept.
        age(&store, &sl, 40 * DAY)?;
        let scoped = PruneOptions::default().older_than(old).types(["points"]);
        let report = prune(&store, &scoped)?;
        assert!(report.removed.is_empty());
        assert_eq!(report.protected[0].1, Protection::ReferencedBy(sl.clone()));

        // With dependents, a young one still protects the chain.
        age(&store, &sl, 60)?;
        let report = prune(&store, &scoped.clone().with_dependents(true))?;
        assert!(report.removed.is_empty());
        let prot: Vec<(&str, &Protection)> = report
            .protected
            .iter()
            .map(|(c, p)| (c.location.as_str(), p))
            .collect();
        assert_eq!(
            prot,
            [
                (pl.as_str(), &Protection::ReferencedBy(sl.clone())),
                (sl.as_str(), &Protection::YoungerThanMinAge)
            ]
        );
        assert_eq!(names(&store)?.len(), 2);

        // An old dependent goes with it, and is reported as such.
        age(&store, &sl, 40 * DAY)?;
        let report = prune(&store, &scoped.clone().with_dependents(true))?;
        let mut removed: Vec<(&str, PruneReason)> = report
            .removed
            .iter()
            .map(|c| (c.location.as_str(), c.reason.clone()))
            .collect();
        removed.sort();
        let mut want = vec![
            (pl.as_str(), PruneReason::OlderThan),
            (sl.as_str(), PruneReason::DependsOn(pl.clone())),
        ];
        want.sort();
        assert_eq!(removed, want);
        assert!(walk(&store)?.is_empty());
        assert_verified(&store)?;

        // Both selected by age, no dependents option: the downstream goes,
        // so nothing that stays references the upstream, and it goes too.
        let (pl, sl) = chain(&store, 40 * DAY)?;
        let report = prune(&store, &PruneOptions::default().older_than(old))?;
        let mut got = locations(&report.removed);
        got.sort_unstable();
        let mut want = vec![pl.as_str(), sl.as_str()];
        want.sort_unstable();
        assert_eq!(got, want);
        assert!(report.protected.is_empty());
        assert!(walk(&store)?.is_empty());
    }
    Ok(())
}

#[test]
fn dry_run_deletes_nothing() -> Result<()> {
    for (store, _dir) in stores() {
        for _ in 0..4 {
            run("A00", 100).save(&store)?;
        }
        let a = saved(&store, "a", 1)?;
        age(&store, &a, 40 * DAY)?;
        let (pl, _) = chain(&store, 40 * DAY)?;
        let before = tree(&store)?;
        let opts = PruneOptions::default()
            .older_than(Duration::from_secs(DAY))
            .keep_last(1)
            .max_size(0)
            .min_age(Duration::ZERO)
            .with_dependents(true)
            .dry_run(true);
        let report = prune(&store, &opts)?;
        assert!(report.dry_run);
        // Everything would go...
        assert_eq!(report.removed.len(), 7);
        assert!(locations(&report.removed).contains(&pl.as_str()));
        assert!(report.bytes() > 400);
        // ...and nothing did.
        assert_eq!(tree(&store)?, before);
        // The same options without dry_run remove what the dry run listed.
        let done = prune(&store, &opts.dry_run(false))?;
        assert_eq!(locations(&done.removed), locations(&report.removed));
        assert_eq!(done.bytes(), report.bytes());
        assert!(walk(&store)?.is_empty());
        assert_verified(&store)?;
    }
    Ok(())
}

#[test]
fn a_read_only_store_refuses_unless_dry_run() -> Result<()> {
    let store = Store::memory();
    let a = saved(&store, "a", 1)?;
    age(&store, &a, 40 * DAY)?;
    let ro = store.clone().policy(crate::Policy::ReadOnly);
    let opts = PruneOptions::default().older_than(Duration::from_secs(DAY));
    assert!(matches!(prune(&ro, &opts), Err(Error::ReadOnly { .. })));
    assert_eq!(prune(&ro, &opts.dry_run(true))?.removed.len(), 1);
    assert!(note("a", 0).exists(&store)?);
    Ok(())
}

/// A memory backend that runs `hook` once, just before the first rename of a
/// `meta.json`: a save landing between the prune's listing and its removal.
#[derive(Debug)]
struct SaveBeforeRename {
    inner: MemoryBackend,
    /// Forward renames to the memory backend (atomic), or take the trait's
    /// default (a copy and a delete, as on object storage).
    atomic: bool,
    fired: AtomicBool,
    hook: HookSlot,
}

#[derive(Default)]
struct HookSlot(Mutex<Option<Box<dyn FnOnce() + Send>>>);

impl std::fmt::Debug for HookSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("hook")
    }
}

impl Backend for SaveBeforeRename {
    fn put(&self, path: &str, durable: bool, write: &mut WriteFn<'_>) -> Result<()> {
        self.inner.put(path, durable, write)
    }
    fn create(&self, path: &str, bytes: &[u8], durable: bool) -> Result<bool> {
        self.inner.create(path, bytes, durable)
    }
    fn get(&self, path: &str) -> Result<Box<dyn Read + Send>> {
        self.inner.get(path)
    }
    fn list(&self, prefix: &str) -> Result<Vec<Entry>> {
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
    fn copy(&self, from: &str, to: &str, durable: bool) -> Result<()> {
        self.inner.copy(from, to, durable)
    }
    fn rename(&self, from: &str, to: &str, durable: bool) -> Result<()> {
        if from.ends_with(META_FILE) && !self.fired.swap(true, Ordering::SeqCst) {
            let hook = self
                .hook
                .0
                .lock()
                .map_err(|_| Error::corrupt("poisoned"))?
                .take();
            if let Some(hook) = hook {
                hook();
            }
        }
        if self.atomic {
            self.inner.rename(from, to, durable)
        } else {
            self.copy(from, to, durable)?;
            self.delete(from)
        }
    }
}

#[test]
fn a_record_a_save_replaced_since_the_listing_is_left_whole() -> Result<()> {
    for atomic in [true, false] {
        let inner = MemoryBackend::default();
        let backend = Arc::new(SaveBeforeRename {
            inner: inner.clone(),
            atomic,
            fired: AtomicBool::new(false),
            hook: HookSlot::default(),
        });
        let store = Store::from_shared_backend(backend.clone());
        let a = saved(&store, "a", 1)?;
        age(&store, &a, 40 * DAY)?;
        let writer = Store::with_backend(inner.clone());
        *backend
            .hook
            .0
            .lock()
            .map_err(|_| Error::corrupt("poisoned"))? = Some(Box::new(move || {
            note("a", 2).save(&writer).expect("the racing save");
        }));
        let report = prune(
            &store,
            &PruneOptions::default().older_than(Duration::from_secs(DAY)),
        )?;
        assert!(backend.fired.load(Ordering::SeqCst));
        assert!(
            report.removed.is_empty(),
            "atomic {atomic}: {:?}",
            report.removed
        );
        assert_eq!(locations(&report.replaced), [a.as_str()]);
        let loaded = note("a", 0).load(&store)?;
        assert_eq!((loaded.n, loaded.text.get()?.as_str()), (2, "2"));
        assert_verified(&store)?;
        // Nothing of the prune is left but the replaced version's files,
        // which gc removes.
        let leftovers = gc(
            &store,
            &GcOptions {
                dry_run: false,
                min_age: Duration::ZERO,
            },
        )?;
        assert!(leftovers
            .leftovers
            .iter()
            .all(|l| l.kind == LeftoverKind::Superseded));
        assert_verified(&store)?;
    }
    Ok(())
}

/// A thread saves the same key over and over, another loads it, while prune
/// runs in a loop taking every record: each load finds the record whole or
/// absent, every save succeeds, and the store verifies clean afterwards.
#[test]
fn a_prune_racing_saves_leaves_every_record_whole() -> Result<()> {
    for (store, _dir) in stores() {
        let stop = Arc::new(AtomicBool::new(false));
        let saver = {
            let (store, stop) = (store.clone(), stop.clone());
            std::thread::spawn(move || -> Result<u64> {
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    note("hot", n)
                        .save(&store)
                        .map_err(|e| Error::corrupt(format!("save {n} failed: {e}")))?;
                }
                Ok(n)
            })
        };
        let reader = {
            let (store, stop) = (store.clone(), stop.clone());
            std::thread::spawn(move || -> Result<(u64, u64)> {
                let (mut whole, mut absent) = (0, 0);
                while !stop.load(Ordering::SeqCst) {
                    match note("hot", 0).load(&store) {
                        Ok(x) => match x.text.get() {
                            Ok(text) => {
                                assert_eq!(*text, x.n.to_string(), "a torn record");
                                whole += 1;
                            }
                            // Removed (or replaced) after its meta.json was read.
                            Err(Error::Superseded { .. } | Error::NotFound { .. }) => {}
                            Err(e) => return Err(e),
                        },
                        Err(Error::NotFound { .. }) => absent += 1,
                        Err(e) => return Err(Error::corrupt(format!("load failed: {e}"))),
                    }
                }
                Ok((whole, absent))
            })
        };
        let opts = PruneOptions::default()
            .older_than(Duration::ZERO)
            .min_age(Duration::ZERO);
        let (mut removed, mut replaced) = (0, 0);
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_millis(1500) {
            let report = prune(&store, &opts)?;
            assert!(report.failed.is_empty(), "{:?}", report.failed);
            removed += report.removed.len();
            replaced += report.replaced.len();
        }
        stop.store(true, Ordering::SeqCst);
        let saves = saver.join().expect("saver")?;
        let (whole, absent) = reader.join().expect("reader")?;
        assert!(
            saves > 10 && removed > 0,
            "{saves} saves, {removed} removed"
        );
        eprintln!("{saves} saves, {removed} pruned, {replaced} replaced, {whole} whole loads, {absent} absent");
        // The last save's record is there, or was pruned after it.
        match note("hot", 0).load(&store) {
            Ok(x) => assert_eq!(*x.text.get()?, x.n.to_string()),
            Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        assert_verified(&store)?;
        note("hot", saves + 1).save(&store)?;
        let x = note("hot", 0).load(&store)?;
        assert_eq!(
            (x.n, x.text.get()?.clone()),
            (saves + 1, (saves + 1).to_string())
        );
        assert_verified(&store)?;
    }
    Ok(())
}

#[test]
fn max_size_takes_an_upstream_once_its_dependent_goes() -> Result<()> {
    for (store, _dir) in stores() {
        // Oldest first: the upstream (40 days) is referenced by its
        // downstream (30 days) when it comes up, and free once that goes.
        let (pl, sl) = chain(&store, 30 * DAY)?;
        let n = saved(&store, "newer", 1)?;
        age(&store, &n, 10 * DAY)?;
        let sizes: BTreeMap<String, u64> = walk(&store)?
            .into_iter()
            .map(|r| (r.path, r.size))
            .collect();
        let total: u64 = du(&store)?.iter().map(|t| t.bytes).sum();
        let limit = total - sizes[&pl] - sizes[&sl];
        let report = prune(&store, &PruneOptions::default().max_size(limit))?;
        let mut got = locations(&report.removed);
        got.sort_unstable();
        let mut want = vec![pl.as_str(), sl.as_str()];
        want.sort_unstable();
        assert_eq!(got, want);
        assert!(report.protected.is_empty(), "{:?}", report.protected);
        assert_eq!(names(&store)?, ["note-newer"]);
        assert_verified(&store)?;
    }
    Ok(())
}
