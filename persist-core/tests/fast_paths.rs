//! The fast paths of PERFORMANCE.md keep the contract: memory-mapped views,
//! the autoinc counter, pipelined hashing of large record files and their
//! reads at positions.

use persist_core::ndarray::{s, Array1, Array2, Array3, ShapeBuilder};
use persist_core::{Error, Lazy, Persistence, Store};

#[derive(Persistence)]
#[persist(name = "movie")]
struct Movie {
    #[key]
    #[filename]
    name: String,
    #[record]
    frames: Lazy<Array2<f64>>,
    #[record]
    mask: Lazy<Array3<u8>>,
}

#[derive(Persistence)]
#[persist(name = "run")]
struct Run {
    #[key]
    #[filename]
    subject: String,
    #[autoinc]
    n: Option<u32>,
    score: f64,
}

fn saved_movie(store: &Store) -> Array2<f64> {
    let frames = Array2::from_shape_fn((300, 40), |(i, j)| (i * 40 + j) as f64);
    let mut m = Movie::new("m");
    m.frames.set(frames.clone());
    m.mask.set(Array3::from_shape_fn((2, 3, 4), |(a, b, c)| {
        (a + b + c) as u8
    }));
    m.save(store).unwrap();
    frames
}

fn frames_file(dir: &std::path::Path) -> std::path::PathBuf {
    let mut found = Vec::new();
    for entry in walk(dir) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("frames-") && name.ends_with(".npy") {
            found.push(entry);
        }
    }
    assert_eq!(found.len(), 1, "{found:?}");
    found.pop().unwrap()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_memory_map_shows_the_saved_array_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let frames = saved_movie(&store);
    let m = Movie::new("m").load(&store).unwrap();

    let view = m.frames.view_mmap().unwrap();
    assert_eq!(view.shape(), &[300, 40]);
    assert_eq!(view.view(), frames.view());
    assert_eq!(view.view().slice(s![7, ..]), frames.slice(s![7, ..]));
    let fast = m.frames.view_mmap_unverified().unwrap();
    assert_eq!(fast.view(), frames.view());
    assert!(!m.frames.is_loaded(), "a map is not the cached value");
    assert_eq!(m.frames.get().unwrap(), &frames);
    // Mapping after get() still maps the file.
    assert_eq!(m.frames.view_mmap().unwrap().view(), frames.view());

    let mask = m.mask.view_mmap().unwrap();
    assert_eq!(mask.view()[[1, 2, 3]], 6);
    assert!(format!("{mask:?}").contains("[2, 3, 4]"));
}

#[test]
fn a_fortran_order_array_maps_with_its_strides() {
    #[derive(Persistence)]
    struct Col {
        #[key]
        k: u32,
        #[record]
        a: Lazy<Array2<f32>>,
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut a = Array2::<f32>::zeros((5, 7).f());
    for ((i, j), v) in a.indexed_iter_mut() {
        *v = (i * 10 + j) as f32;
    }
    let mut c = Col::new(1);
    c.a.set(a.clone());
    c.save(&store).unwrap();
    let back = Col::new(1).load(&store).unwrap();
    assert_eq!(back.a.view_mmap().unwrap().view(), a.view());
}

#[test]
fn a_changed_file_fails_the_verified_map_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    saved_movie(&store);
    let file = frames_file(dir.path());
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&file, &bytes).unwrap();

    let m = Movie::new("m").load(&store).unwrap();
    assert!(matches!(m.frames.view_mmap(), Err(Error::Integrity { .. })));
    // Documented as unchecked: it shows the bytes as they are.
    assert!(m.frames.view_mmap_unverified().is_ok());
    // With verification off for the store, view_mmap does not hash either.
    let lax = Store::open(dir.path()).unwrap().verify(false);
    let m = Movie::new("m").load(&lax).unwrap();
    assert!(m.frames.view_mmap().is_ok());

    // A file of another size is refused even unverified.
    std::fs::write(&file, &bytes[..bytes.len() - 8]).unwrap();
    let m = Movie::new("m").load(&store).unwrap();
    assert!(matches!(
        m.frames.view_mmap_unverified(),
        Err(Error::Corrupt { .. })
    ));
}

#[test]
fn a_map_needs_a_local_file() {
    let store = Store::memory();
    saved_movie(&store);
    let m = Movie::new("m").load(&store).unwrap();
    assert!(matches!(
        m.frames.view_mmap(),
        Err(Error::Unsupported { .. })
    ));
    assert!(m.frames.get().is_ok());

    let fresh: Lazy<Array1<f64>> = Lazy::new(Array1::zeros(3));
    assert!(matches!(fresh.view_mmap(), Err(Error::Unsupported { .. })));
    let empty: Lazy<Array1<f64>> = Lazy::empty();
    assert!(matches!(empty.view_mmap(), Err(Error::EmptyRecord { .. })));
}

#[test]
fn the_wrong_element_type_is_a_type_mismatch() {
    #[derive(Persistence)]
    #[persist(name = "movie")]
    struct MovieF32 {
        #[key]
        #[filename]
        name: String,
        #[record]
        frames: Lazy<Array2<f32>>,
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    saved_movie(&store);
    let m = MovieF32::new("m").load(&store).unwrap();
    assert!(matches!(
        m.frames.view_mmap(),
        Err(Error::TypeMismatch { .. })
    ));
}

#[test]
fn a_map_outlives_a_newer_save_that_removes_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let frames = saved_movie(&store);
    let old = Movie::new("m").load(&store).unwrap();
    let view = old.frames.view_mmap().unwrap();
    let mut new = Movie::new("m");
    new.frames.set(Array2::zeros((2, 2)));
    new.save(&store).unwrap();
    assert_eq!(view.view(), frames.view());
    assert!(matches!(
        old.frames.view_mmap(),
        Err(Error::Superseded { .. })
    ));
}

#[test]
fn large_record_files_round_trip_through_the_pipelined_hash() {
    // Above the sizes where hashing overlaps the write and the read.
    let dir = tempfile::tempdir().unwrap();
    for store in [
        Store::open(dir.path()).unwrap(),
        Store::open(dir.path()).unwrap().durable(false),
        Store::memory(),
    ] {
        let big = Array2::from_shape_fn((3000, 1000), |(i, j)| (i ^ j) as f64);
        let mut m = Movie::new("big");
        m.frames.set(big.clone());
        m.save(&store).unwrap();
        let back = Movie::new("big").load(&store).unwrap();
        assert_eq!(back.frames.get().unwrap(), &big);
        let lax = store.clone().verify(false);
        let back = Movie::new("big").load(&lax).unwrap();
        assert_eq!(back.frames.get().unwrap(), &big);
    }
}

#[test]
fn a_changed_large_file_fails_the_verified_read_wherever_it_changed() {
    // 24 MB: read at positions, on several threads, in 2 MiB pieces, each
    // hashed as a subtree. A change in the first piece (with the header), in
    // one in the middle or in the short last one must fail the check.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let big = Array2::from_shape_fn((3001, 1000), |(i, j)| (i * 7 + j) as f64);
    let mut m = Movie::new("big");
    m.frames.set(big.clone());
    m.save(&store).unwrap();
    let path = frames_file(dir.path());
    let saved = std::fs::read(&path).unwrap();
    for at in [200, 9 << 20, saved.len() - 3] {
        let mut bytes = saved.clone();
        bytes[at] ^= 0x10;
        std::fs::write(&path, &bytes).unwrap();
        let back = Movie::new("big").load(&store).unwrap();
        let err = back.frames.get().unwrap_err();
        assert!(matches!(err, Error::Integrity { .. }), "byte {at}: {err}");
        // Unverified, the changed bytes are what comes back.
        let lax = Movie::new("big")
            .load(&store.clone().verify(false))
            .unwrap();
        let got = lax.frames.get().unwrap();
        assert!(got != big, "byte {at}: the change is read");
    }
    // A shorter file is an error with or without the check, never a panic.
    std::fs::write(&path, &saved[..saved.len() - 4096]).unwrap();
    for store in [store.clone(), store.clone().verify(false)] {
        let back = Movie::new("big").load(&store).unwrap();
        assert!(back.frames.get().is_err());
    }
    std::fs::write(&path, &saved).unwrap();
    let back = Movie::new("big").load(&store).unwrap();
    assert_eq!(back.frames.get().unwrap(), &big);
}

#[test]
fn autoinc_numbers_stay_max_plus_one_with_the_counter() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap().durable(false);
    let save = |n: Option<u32>| {
        let mut r = Run::new("s");
        r.n = n;
        r.save(&store).unwrap();
        r.n.unwrap()
    };
    assert_eq!(save(None), 0);
    assert_eq!(save(None), 1);
    assert_eq!(save(None), 2);
    // An explicit number far above: the next automatic one follows it.
    assert_eq!(save(Some(40)), 40);
    assert_eq!(save(None), 41);
    // An explicit number below changes nothing.
    assert_eq!(save(Some(7)), 7);
    assert_eq!(save(None), 42);

    // A claim made behind the counter's back (a process killed after its
    // claim): the next save steps over it.
    let key_dir = walk(dir.path())
        .into_iter()
        .find(|p| p.ends_with("42/meta.json"))
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    std::fs::create_dir(key_dir.join("43")).unwrap();
    std::fs::write(key_dir.join("43/.claim"), "{}").unwrap();
    assert_eq!(save(None), 44);

    // Without the counter (a copy that dropped extended attributes), the
    // folder is listed.
    let copy = tempfile::tempdir().unwrap();
    copy_tree(dir.path(), copy.path());
    let store2 = Store::open(copy.path()).unwrap().durable(false);
    let mut r = Run::new("s");
    r.save(&store2).unwrap();
    assert_eq!(r.n, Some(45));
    assert_eq!(Run::new("s").load_all(&store2).unwrap().len(), 9);
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir(&target).unwrap();
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[test]
fn concurrent_autoinc_saves_never_share_a_number() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap().durable(false);
    let numbers = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..4 {
            let (store, numbers) = (&store, &numbers);
            s.spawn(move || {
                for i in 0..25 {
                    let mut r = Run::new("c");
                    r.score = (t * 100 + i) as f64;
                    r.save(store).unwrap();
                    numbers.lock().unwrap().push(r.n.unwrap());
                }
            });
        }
    });
    let mut numbers = numbers.into_inner().unwrap();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..100).collect::<Vec<u32>>());
}

#[test]
fn all_over_many_records_reads_ahead_and_keeps_order_and_errors() {
    #[derive(Persistence)]
    #[persist(name = "cell")]
    struct Cell {
        #[key]
        #[filename]
        id: String,
        value: u32,
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap().durable(false);
    for i in 0..150u32 {
        let mut c = Cell::new(format!("c{i:03}"));
        c.value = i;
        c.save(&store).unwrap();
    }
    // One damaged meta.json, one record folder with no meta.json yet.
    let damaged = walk(dir.path())
        .into_iter()
        .find(|p| p.to_string_lossy().contains("cell-c077.") && p.ends_with("meta.json"))
        .unwrap();
    std::fs::write(&damaged, b"{ not json").unwrap();
    let unfinished = walk(dir.path())
        .into_iter()
        .find(|p| p.to_string_lossy().contains("cell-c078.") && p.ends_with("meta.json"))
        .unwrap();
    std::fs::remove_file(&unfinished).unwrap();

    let items: Vec<_> = Cell::all(&store).unwrap().collect();
    assert_eq!(items.len(), 149, "the folder without meta.json is skipped");
    let mut values = Vec::new();
    for item in &items {
        match item {
            Ok(c) => values.push(c.value),
            Err(e) => assert!(matches!(e, Error::Corrupt { .. }), "{e}"),
        }
    }
    assert_eq!(items.iter().filter(|i| i.is_err()).count(), 1);
    let expected: Vec<u32> = (0..150).filter(|&i| i != 77 && i != 78).collect();
    assert_eq!(values, expected);

    // Stopping early is fine: the reading thread stops with the iterator.
    let first: Vec<_> = Cell::all(&store).unwrap().take(3).collect();
    assert_eq!(first.len(), 3);
    let mut all = Cell::all(&store).unwrap();
    assert!(all.size_hint().1.unwrap() >= 149);
    assert!(all.next().is_some());
}

/// `make_dir` remembers the folder it made or checked, and writes into it skip
/// the symbolic-link walk; a folder removed behind the store's back (by
/// another process) is made again on the next write instead of failing it.
#[test]
fn writes_into_a_checked_folder_survive_its_removal_and_never_follow_links() {
    use persist_core::backend::{Backend, LocalBackend};
    let tmp = tempfile::tempdir().unwrap();
    let backend = LocalBackend::new(tmp.path().join("store")).unwrap();
    let bytes =
        |b: &'static [u8]| move |w: &mut dyn std::io::Write| w.write_all(b).map_err(Error::io);

    assert_eq!(backend.make_dir("t/r", false).unwrap(), Some(true));
    assert_eq!(backend.make_dir("t/r", true).unwrap(), Some(false));
    backend
        .put_new("t/r/a.bin", false, &mut bytes(b"one"))
        .unwrap();
    std::fs::remove_dir_all(tmp.path().join("store/t/r")).unwrap();
    backend
        .put_new("t/r/b.bin", false, &mut bytes(b"two"))
        .unwrap();
    backend
        .put("t/r/meta.json", false, &mut bytes(b"{}"))
        .unwrap();
    assert_eq!(backend.read_all("t/r/b.bin").unwrap(), b"two");
    assert_eq!(backend.read_all("t/r/meta.json").unwrap(), b"{}");
    assert!(matches!(
        backend.read_all("t/r/a.bin"),
        Err(Error::NotFound { .. })
    ));
    // put_new never writes over a file that is there.
    assert!(matches!(
        backend.put_new("t/r/b.bin", false, &mut bytes(b"three")),
        Err(Error::Io { .. })
    ));
    assert_eq!(backend.read_all("t/r/b.bin").unwrap(), b"two");

    // A link in the folder's place is refused, checked or not.
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, tmp.path().join("store/t/l")).unwrap();
    assert!(matches!(
        backend.make_dir("t/l", false),
        Err(Error::Corrupt { .. })
    ));
    assert!(matches!(
        backend.put_new("t/l/x.bin", false, &mut bytes(b"x")),
        Err(Error::Corrupt { .. })
    ));
    std::fs::remove_dir_all(tmp.path().join("store/t/r")).unwrap();
    std::os::unix::fs::symlink(&outside, tmp.path().join("store/t/r")).unwrap();
    assert!(matches!(
        backend.make_dir("t/r", false),
        Err(Error::Corrupt { .. })
    ));
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
}

/// A record whose folder was removed by hand saves again (the folder its
/// previous save made and checked is gone: the save makes it anew).
#[test]
fn a_record_saves_again_after_its_folder_was_removed_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let frames = saved_movie(&store);
    std::fs::remove_dir_all(tmp.path().join("movie")).unwrap();
    saved_movie(&store);
    let back = Movie::new("m").load(&store).unwrap();
    assert_eq!(back.frames.get().unwrap(), &frames);
}

/// `put_replacing` on the local disk and in memory: the new object is there
/// whole, the replaced one gone, whatever their sizes, whether it is handed
/// what `create_kept` kept of the replaced object or not, and also when the
/// replaced object was put again since it was kept (a renewed lease); with
/// nothing to replace it is a put; a link planted at the replaced name is not
/// written through.
#[test]
fn a_put_replacing_an_object_takes_its_place() {
    use persist_core::backend::{Backend, Kept, LocalBackend, MemoryBackend};
    let tmp = tempfile::tempdir().unwrap();
    let local = LocalBackend::new(tmp.path().join("store")).unwrap();
    let backends: [(&str, &dyn Backend); 2] =
        [("local", &local), ("memory", &MemoryBackend::default())];
    let bytes =
        |b: &'static [u8]| move |w: &mut dyn std::io::Write| w.write_all(b).map_err(Error::io);
    for (name, backend) in backends {
        for (old, new) in [
            (
                &b"a lease body, longer than what replaces it"[..],
                &b"short"[..],
            ),
            (
                &b"short"[..],
                &b"a meta.json, longer than the lease it replaces"[..],
            ),
        ] {
            for how in ["created", "kept", "kept, then put again"] {
                let kept = if how == "created" {
                    assert!(backend.create("t/r/.lease", old, false).unwrap());
                    Kept::default()
                } else {
                    backend
                        .create_kept("t/r/.lease", old, false)
                        .unwrap()
                        .unwrap()
                };
                if how == "kept, then put again" {
                    backend
                        .put("t/r/.lease", false, &mut bytes(b"a renewed lease body"))
                        .unwrap();
                }
                backend
                    .put_replacing("t/r/meta.json", "t/r/.lease", kept, false, &mut |w| {
                        w.write_all(new).map_err(Error::io)
                    })
                    .unwrap();
                assert_eq!(
                    backend.read_all("t/r/meta.json").unwrap(),
                    new,
                    "{name}, {how}"
                );
                assert!(
                    matches!(backend.read_all("t/r/.lease"), Err(Error::NotFound { .. })),
                    "{name}, {how}: the replaced object is gone"
                );
            }
        }
        assert!(
            backend
                .create_kept("t/r/meta.json", b"", false)
                .unwrap()
                .is_none(),
            "{name}: nothing is created where something is"
        );
        backend
            .put_replacing(
                "t/r/meta.json",
                "t/r/.gone",
                Kept::default(),
                false,
                &mut bytes(b"again"),
            )
            .unwrap();
        assert_eq!(
            backend.read_all("t/r/meta.json").unwrap(),
            b"again",
            "{name}"
        );
    }
    let names: Vec<String> = std::fs::read_dir(tmp.path().join("store/t/r"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["meta.json"], "no temporary file is left");

    let outside = tmp.path().join("outside.txt");
    std::fs::write(&outside, b"kept").unwrap();
    std::os::unix::fs::symlink(&outside, tmp.path().join("store/t/r/.lease")).unwrap();
    assert!(local
        .put_replacing(
            "t/r/meta.json",
            "t/r/.lease",
            Kept::default(),
            false,
            &mut bytes(b"x")
        )
        .is_err());
    assert_eq!(std::fs::read(&outside).unwrap(), b"kept");
    assert_eq!(local.read_all("t/r/meta.json").unwrap(), b"again");
}

/// An uncontended `load_or_compute` miss on the local disk ends its lease
/// with its `meta.json`: the record's folder holds the record and nothing
/// else, durable or not, and the record loads.
#[test]
fn a_computed_record_leaves_no_lease_behind() {
    for durable in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap().durable(durable);
        let frames = Array2::from_shape_fn((30, 4), |(i, j)| (i * 4 + j) as f64);
        let computed = Movie::new("m")
            .load_or_compute(&store, |m| {
                m.frames.set(frames.clone());
                Ok(())
            })
            .unwrap();
        assert_eq!(computed.frames.get().unwrap(), &frames);
        let dir = frames_file(&tmp.path().join("movie"))
            .parent()
            .unwrap()
            .to_path_buf();
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names.len(), 2, "durable {durable}: {names:?}");
        assert_eq!(names[1], "meta.json", "durable {durable}: {names:?}");
        assert!(
            names[0].starts_with("frames-"),
            "durable {durable}: {names:?}"
        );
        let back = Movie::new("m").load(&store).unwrap();
        assert_eq!(back.frames.get().unwrap(), &frames);
        assert_eq!(store.stats().computed, 1);
    }
}
