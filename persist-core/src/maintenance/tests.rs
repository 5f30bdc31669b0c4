//! Tests of the maintenance functions on stores written by the runtime, with
//! record types made by the derive (through `crate = "crate"`, since
//! `::persist_core` does not name this crate from inside it).

use std::time::Duration;

use super::*;
use crate::error::Error;
use crate::lazy::Lazy;
use crate::meta::Meta;
use crate::persistence::Persistence;
use crate::record::RecordDir;

/// An autoinc type: `run-<animal>-<n>`, with one record file.
#[derive(crate::Persistence, Debug)]
#[persist(name = "run", crate = "crate")]
struct Run {
    #[key]
    #[filename]
    animal: String,
    #[autoinc]
    n: Option<u32>,
    score: f64,
    #[record]
    data: Lazy<Vec<u8>>,
}

/// A type without autoinc: `note-<topic>`, with a text record.
#[derive(crate::Persistence, Debug)]
#[persist(name = "note", crate = "crate")]
struct Note {
    #[key]
    #[filename]
    topic: String,
    #[record]
    text: Lazy<String>,
}

fn run(animal: &str, bytes: &[u8]) -> Run {
    Run {
        animal: animal.into(),
        n: None,
        score: 0.5,
        data: Lazy::new(bytes.to_vec()),
    }
}

fn note(topic: &str, text: &str) -> Note {
    Note {
        topic: topic.into(),
        text: Lazy::new(text.to_owned()),
    }
}

/// Three runs of A00 (0, 1, 2), one of B01, and two notes.
fn filled(store: &Store) -> Result<(RecordDir, RecordDir)> {
    for _ in 0..3 {
        run("A00", b"abcdef").save(store)?;
    }
    let mut b = run("B01", &[7u8; 3000]);
    b.save(store)?;
    let mut n = note("intro", "hello");
    n.save(store)?;
    // Overwrite: the first text file is superseded and removed by the save.
    n.text.set("hello again".to_owned());
    n.save(store)?;
    note("outro", "bye").save(store)?;
    n.save_file(store, "extra.txt", &"kept".to_owned())?;
    Ok((RecordDir::of(&b)?.0, RecordDir::of(&n)?.0))
}

fn stores() -> Vec<(Store, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let local = Store::open(dir.path()).expect("open").durable(false);
    vec![(Store::memory(), None), (local, Some(dir))]
}

fn put(store: &Store, path: &str, bytes: &[u8]) -> Result<()> {
    store
        .backend()
        .put(path, false, &mut |w| w.write_all(bytes).map_err(Error::io))
}

fn all_files(store: &Store) -> Result<Vec<String>> {
    let mut out = Vec::new();
    visit_files(store, "", &mut |path, _| out.push(path.to_owned()))?;
    out.sort();
    Ok(out)
}

const ZERO: GcOptions = GcOptions {
    dry_run: false,
    min_age: Duration::ZERO,
};

#[test]
fn walk_lists_every_record_sorted() -> Result<()> {
    for (store, _dir) in stores() {
        filled(&store)?;
        let records = walk(&store)?;
        let names: Vec<String> = records.iter().map(RecordEntry::name).collect();
        assert_eq!(
            names,
            [
                "note-intro",
                "note-outro",
                "run-A00-0",
                "run-A00-1",
                "run-A00-2",
                "run-B01-0"
            ]
        );
        assert!(records.iter().all(|r| r.meta.is_ok()));
        assert_eq!(records[2].number, Some(0));
        assert_eq!(records[0].number, None);
        assert_eq!(records[0].type_dir, "note");
        // meta.json, the text file and the extra file.
        assert_eq!(records[0].files, 3);
        assert!(records[5].size > 3000);
        assert_eq!(walk_type(&store, "run")?.len(), 4);
        assert_eq!(type_dirs(&store)?, ["note", "run"]);

        let again = record_at(&store, &format!("{}/meta.json", records[3].path))?;
        assert_eq!(again.name(), "run-A00-1");
        assert!(matches!(
            record_at(&store, "run/nothing"),
            Err(Error::InvalidKey { .. })
        ));
    }
    Ok(())
}

#[test]
fn walk_reports_a_damaged_meta_as_an_entry() -> Result<()> {
    for (store, _dir) in stores() {
        let (b, _) = filled(&store)?;
        put(&store, &b.meta_path(), b"{\"format\": 1,")?;
        let records = walk(&store)?;
        assert_eq!(records.len(), 6);
        let bad = records
            .iter()
            .find(|r| r.meta.is_err())
            .expect("damaged entry");
        assert_eq!(bad.name(), "run-B01-0");
        let msg = bad.meta.as_ref().expect_err("damaged").to_string();
        assert!(
            msg.contains("truncated") && msg.contains("run-B01-0"),
            "{msg}"
        );
    }
    Ok(())
}

#[test]
fn verify_passes_an_intact_store_and_reports_progress() -> Result<()> {
    for (store, _dir) in stores() {
        filled(&store)?;
        let mut last = (0, 0, 0, 0);
        let report = verify(&store, |p| {
            last = (p.records_done, p.records_total, p.bytes_done, p.bytes_total);
        })?;
        assert!(report.is_ok(), "{:?}", report.damaged);
        assert_eq!(report.records, 6);
        assert_eq!(report.files, 6);
        assert_eq!(report.bytes, 3 * 6 + 3000 + 11 + 3);
        assert_eq!(last, (6, 6, report.bytes, report.bytes));
    }
    Ok(())
}

#[test]
fn verify_catches_a_flipped_byte_a_missing_file_and_a_bad_meta() -> Result<()> {
    for (store, _dir) in stores() {
        let (b, n) = filled(&store)?;
        let b_meta = Meta::parse(&store.backend().read_all(&b.meta_path())?)?;
        let file = b.file_path(&b_meta.records["data"].file);
        let mut bytes = store.backend().read_all(&file)?;
        bytes[1234] ^= 1;
        put(&store, &file, &bytes)?;

        let n_meta = Meta::parse(&store.backend().read_all(&n.meta_path())?)?;
        store
            .backend()
            .delete(&n.file_path(&n_meta.records["text"].file))?;

        let a1 = walk_type(&store, "run")?
            .into_iter()
            .find(|r| r.name() == "run-A00-1")
            .expect("run-A00-1")
            .path;
        put(&store, &format!("{a1}/meta.json"), b"not json")?;

        let report = verify(&store, |_| {})?;
        assert_eq!(report.records, 6);
        let lines: Vec<String> = report.damaged.iter().map(ToString::to_string).collect();
        assert_eq!(report.damaged.len(), 3, "{lines:#?}");
        let names: Vec<&str> = report.damaged.iter().map(|d| d.record.as_str()).collect();
        assert_eq!(names, ["note-intro", "run-A00-1", "run-B01-0"]);
        assert!(lines[0].contains("missing"), "{}", lines[0]);
        assert!(lines[1].contains("not valid JSON"), "{}", lines[1]);
        assert!(
            matches!(report.damaged[2].problems[0], Error::Integrity { .. }),
            "{}",
            lines[2]
        );
        assert!(lines.iter().all(|l| !l.contains('\n')));
    }
    Ok(())
}

#[test]
fn verify_catches_a_truncated_file_and_a_moved_meta() -> Result<()> {
    let (store, _dir) = stores().remove(1);
    let (b, _) = filled(&store)?;
    let meta = Meta::parse(&store.backend().read_all(&b.meta_path())?)?;
    let file = b.file_path(&meta.records["data"].file);
    put(&store, &file, &[7u8; 100])?;
    // A meta.json copied into another number's folder does not fit it.
    let a0 = walk_type(&store, "run")?.remove(0);
    let bytes = store.backend().read_all(&a0.meta_path())?;
    put(
        &store,
        &format!("{}/9/meta.json", a0.path.trim_end_matches("/0")),
        &bytes,
    )?;
    let report = verify(&store, |_| {})?;
    let lines: Vec<String> = report.damaged.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("has 100 bytes, 3000 were saved")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("holds autoinc number 0 but lies in the folder of number 9")),
        "{lines:#?}"
    );
    Ok(())
}

/// Leaves what interrupted saves leave; returns the leftover paths.
fn crash_leftovers(store: &Store, b: &RecordDir, n: &RecordDir) -> Result<Vec<String>> {
    let key = b.key_path();
    let mut leftovers = vec![
        // An in-flight temp file beside a record, and one among extra files.
        format!("{}/.tmp-abc123", b.path()),
        format!("{}/files/.tmp-def456", n.path()),
        // A record file written by a save that died before its meta.json.
        n.file_path("text-0123456789abcdef0123456789abcdef.txt"),
        // Number 1 of B01 claimed, its file written, then the process died.
        format!("{key}/1/data-00000000000000000000000000000001.bin"),
        // A key folder whose first save died before meta.json.
        "note/note-lost.0123456789abcdef0123456789abcdef/text-00000000000000000000000000000002.txt"
            .to_owned(),
    ];
    for path in &leftovers {
        put(store, path, b"leftover")?;
    }
    store
        .backend()
        .create(&format!("{key}/1/.claim"), b"{}", false)?;
    leftovers.sort();
    Ok(leftovers)
}

#[test]
fn gc_removes_crash_leftovers_and_nothing_else() -> Result<()> {
    for (store, _dir) in stores() {
        let (b, n) = filled(&store)?;
        let before = all_files(&store)?;
        let leftovers = crash_leftovers(&store, &b, &n)?;
        let with_leftovers = all_files(&store)?;

        let preview = gc(
            &store,
            &GcOptions {
                dry_run: true,
                ..ZERO
            },
        )?;
        assert!(preview.dry_run);
        let found: Vec<&str> = preview.leftovers.iter().map(|l| l.path.as_str()).collect();
        assert_eq!(
            found,
            leftovers.iter().map(String::as_str).collect::<Vec<_>>()
        );
        assert_eq!(preview.bytes(), 8 * leftovers.len() as u64);
        assert_eq!(
            all_files(&store)?,
            with_leftovers,
            "a dry run changes nothing"
        );

        let kinds: Vec<LeftoverKind> = preview.leftovers.iter().map(|l| l.kind).collect();
        assert!(kinds.contains(&LeftoverKind::TempFile));
        assert!(kinds.contains(&LeftoverKind::Superseded));
        assert!(kinds.contains(&LeftoverKind::Unfinished));

        let done = gc(&store, &ZERO)?;
        assert_eq!(done.leftovers, preview.leftovers);
        assert!(done.failed.is_empty() && done.skipped.is_empty());
        let mut expected = before.clone();
        expected.push(format!("{}/1/.claim", b.key_path()));
        expected.sort();
        assert_eq!(all_files(&store)?, expected, "only leftovers were removed");

        let second = gc(&store, &ZERO)?;
        assert!(second.leftovers.is_empty(), "{:?}", second.leftovers);
        assert!(verify(&store, |_| {})?.is_ok());
        // The claim is kept: the next B01 run is number 2, not 1.
        let mut next = run("B01", b"x");
        next.save(&store)?;
        assert_eq!(next.n, Some(2));
        assert_eq!(
            note("intro", "")
                .load(&store)?
                .load_file::<String>(&store, "extra.txt")?,
            "kept"
        );
    }
    Ok(())
}

#[test]
fn gc_leaves_young_files_alone() -> Result<()> {
    for (store, _dir) in stores() {
        let (b, n) = filled(&store)?;
        let leftovers = crash_leftovers(&store, &b, &n)?;
        let files = all_files(&store)?;
        let report = gc(&store, &GcOptions::default())?;
        assert!(report.leftovers.is_empty());
        assert_eq!(report.young.len(), leftovers.len());
        assert_eq!(all_files(&store)?, files);
    }
    Ok(())
}

#[test]
fn gc_skips_a_folder_whose_meta_cannot_be_read() -> Result<()> {
    for (store, _dir) in stores() {
        let (b, _) = filled(&store)?;
        put(&store, &b.meta_path(), b"garbage")?;
        put(
            &store,
            &b.file_path("data-ffffffffffffffffffffffffffffffff.bin"),
            b"?",
        )?;
        let files = all_files(&store)?;
        let report = gc(&store, &ZERO)?;
        assert!(report.leftovers.is_empty(), "{:?}", report.leftovers);
        assert_eq!(report.skipped.len(), 1);
        assert_eq!(report.skipped[0].0, b.path());
        assert_eq!(all_files(&store)?, files);
    }
    Ok(())
}

#[test]
fn du_counts_records_files_and_bytes_per_type() -> Result<()> {
    for (store, _dir) in stores() {
        filled(&store)?;
        let usage = du(&store)?;
        assert_eq!(usage.len(), 2);
        assert_eq!((usage[0].type_dir.as_str(), usage[0].records), ("note", 2));
        // Two meta.json, two text files, one extra file.
        assert_eq!(usage[0].files, 5);
        assert_eq!((usage[1].type_dir.as_str(), usage[1].records), ("run", 4));
        // Four meta.json, four claims, four data files.
        assert_eq!(usage[1].files, 12);
        let walked: u64 = walk_type(&store, "run")?.iter().map(|r| r.size).sum();
        assert_eq!(usage[1].bytes, walked);
    }
    Ok(())
}
