//! Compressed record files (`#[record(compress = "zstd")]`, `"zstd:N"`,
//! `"gzip"`, `"gzip:N"`), on every backend: they round-trip, are named
//! `<stem>-<uuid>.<ext>.zst` / `.gz`, are smaller than the plain file for
//! compressible data, `meta.json` says how each is compressed, damage is found
//! by `load` and by `verify`, and `view_mmap` refuses them.

#[path = "../fixtures/mod.rs"]
mod fixtures;

use std::io::Read;

use persist_core::maintenance::verify;
use persist_core::meta::Meta;
use persist_core::ndarray::{Array1, Array2};
use persist_core::{layout, Error, Lazy, Persistence, Store};

#[derive(Persistence)]
#[persist(name = "squeezed")]
struct Squeezed {
    #[key]
    #[filename]
    name: String,
    #[record]
    plain: Lazy<Array2<i16>>,
    #[record(compress = "zstd")]
    zstd: Lazy<Array2<i16>>,
    #[record(compress = "zstd:19", file = "strong")]
    zstd19: Lazy<Array2<i16>>,
    #[record(compress = "gzip")]
    gzip: Lazy<Array2<i16>>,
    #[record(compress = "gzip:1")]
    gzip1: Lazy<Array1<f64>>,
    #[record(compress = "zstd:1")]
    text: Lazy<String>,
    #[record(compress = "gzip:9")]
    bytes: Lazy<Vec<u8>>,
}

/// A smooth signal with a little noise, as a recording would be: compressible,
/// but not trivially.
fn signal(rows: usize, cols: usize) -> Array2<i16> {
    let mut rng = fixtures::rng::Rng::new(7);
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        let t = i as f64 / 50.0 + j as f64;
        let noise = (rng.next_u64() % 7) as f64 - 3.0;
        (3000.0 * t.sin() + noise) as i16
    })
}

fn filled(name: &str) -> Squeezed {
    let mut s = Squeezed::new(name);
    s.plain.set(signal(4000, 4));
    s.zstd.set(signal(4000, 4));
    s.zstd19.set(signal(4000, 4));
    s.gzip.set(signal(4000, 4));
    s.gzip1.set(Array1::linspace(0.0, 1.0, 5000));
    s.text.set("line\n".repeat(2000));
    s.bytes
        .set((0..20_000u32).map(|i| (i / 100) as u8).collect());
    s
}

fn meta_of(store: &Store, s: &Squeezed) -> (String, Meta) {
    let location = s.location(store).unwrap();
    let meta = Meta::read(store.backend(), &layout::meta_path(&location)).unwrap();
    (location, meta)
}

fn assert_same(a: &Squeezed, b: &Squeezed) {
    assert_eq!(a.plain.get().unwrap(), b.plain.get().unwrap());
    assert_eq!(a.zstd.get().unwrap(), b.zstd.get().unwrap());
    assert_eq!(a.zstd19.get().unwrap(), b.zstd19.get().unwrap());
    assert_eq!(a.gzip.get().unwrap(), b.gzip.get().unwrap());
    assert_eq!(a.gzip1.get().unwrap(), b.gzip1.get().unwrap());
    assert_eq!(a.text.get().unwrap(), b.text.get().unwrap());
    assert_eq!(a.bytes.get().unwrap(), b.bytes.get().unwrap());
}

#[test]
fn compressed_fields_round_trip_with_their_names_sizes_and_meta() {
    fixtures::stores::on_every_store(|store| {
        let mut s = filled("a");
        s.save(store).unwrap();
        let back = Squeezed::new("a").load(store).unwrap();
        assert_same(&s, &back);

        let (location, meta) = meta_of(store, &s);
        let expect = [
            ("plain", "plain-", ".npy", None),
            ("zstd", "zstd-", ".npy.zst", Some("zstd:3")),
            ("zstd19", "strong-", ".npy.zst", Some("zstd:19")),
            ("gzip", "gzip-", ".npy.gz", Some("gzip:6")),
            ("gzip1", "gzip1-", ".npy.gz", Some("gzip:1")),
            ("text", "text-", ".txt.zst", Some("zstd:1")),
            ("bytes", "bytes-", ".bin.gz", Some("gzip:9")),
        ];
        for (field, prefix, suffix, compression) in expect {
            let entry = &meta.records[field];
            assert!(
                entry.file.starts_with(prefix) && entry.file.ends_with(suffix),
                "{field}: {}",
                entry.file
            );
            assert_eq!(entry.compression.as_deref(), compression, "{field}");
            // Size and blake3 are those of the bytes stored.
            let stored = store
                .backend()
                .read_all(&layout::record_file_path(&location, &entry.file))
                .unwrap();
            assert_eq!(entry.size, stored.len() as u64, "{field}");
            assert_eq!(entry.blake3, blake3::hash(&stored).to_hex().to_string());
        }
        // The same array, plain and compressed: the compressed file is smaller
        // (noisy samples compress a little; repetitive data a lot).
        let plain = meta.records["plain"].size;
        for field in ["zstd", "zstd19", "gzip"] {
            let size = meta.records[field].size;
            assert!(size < plain, "{field}: {size} vs {plain} bytes");
        }
        assert!(meta.records["zstd19"].size <= meta.records["zstd"].size);
        assert!(meta.records["text"].size * 50 < 10_000);
        assert!(meta.records["bytes"].size * 20 < 20_000);

        // meta.json as text: an uncompressed entry has no "compression" at all.
        let text = String::from_utf8(
            store
                .backend()
                .read_all(&layout::meta_path(&location))
                .unwrap(),
        )
        .unwrap();
        assert!(text.contains("\"compression\": \"zstd:3\""), "{text}");
        assert_eq!(text.matches("\"compression\"").count(), 6, "{text}");

        assert!(verify(store, |_| {}).unwrap().is_ok());
    });
}

#[test]
fn the_stored_bytes_are_a_standard_stream_of_the_plain_file() {
    fixtures::stores::on_every_store(|store| {
        let mut s = filled("std");
        s.save(store).unwrap();
        let (location, meta) = meta_of(store, &s);
        let read = |field: &str| {
            store
                .backend()
                .read_all(&layout::record_file_path(
                    &location,
                    &meta.records[field].file,
                ))
                .unwrap()
        };
        let plain = read("plain");
        let mut from_zstd = Vec::new();
        persist_core::compress::Codec::Zstd(3)
            .decoder(read("zstd").as_slice())
            .unwrap()
            .read_to_end(&mut from_zstd)
            .unwrap();
        assert_eq!(from_zstd, plain);
        // zstd frames start with their magic number, gzip streams with 1f 8b.
        assert_eq!(&read("zstd")[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
        assert_eq!(&read("gzip")[..2], &[0x1f, 0x8b]);
        let mut from_gzip = Vec::new();
        persist_core::compress::Codec::Gzip(6)
            .decoder(read("gzip").as_slice())
            .unwrap()
            .read_to_end(&mut from_gzip)
            .unwrap();
        assert_eq!(from_gzip, plain);
    });
}

#[test]
fn resaving_keeps_unchanged_files_and_compresses_new_values() {
    fixtures::stores::on_every_store(|store| {
        let mut s = filled("re");
        s.save(store).unwrap();
        let (_, first) = meta_of(store, &s);

        // Loaded and saved unread: the same stored bytes, under new names.
        let mut again = Squeezed::new("re").load(store).unwrap();
        again.gzip1.set(Array1::linspace(0.0, 2.0, 100));
        again.save(store).unwrap();
        let (_, second) = meta_of(store, &again);
        for field in ["zstd", "zstd19", "gzip", "text", "bytes"] {
            let (a, b) = (&first.records[field], &second.records[field]);
            assert_ne!(a.file, b.file, "{field}");
            assert_eq!((&a.blake3, a.size), (&b.blake3, b.size), "{field}");
            assert_eq!(a.compression, b.compression, "{field}");
        }
        assert_eq!(
            second.records["gzip1"].compression.as_deref(),
            Some("gzip:1")
        );
        assert!(second.records["gzip1"].file.ends_with(".npy.gz"));
        let back = Squeezed::new("re").load(store).unwrap();
        assert_eq!(back.gzip1.get().unwrap().len(), 100);
        assert_eq!(back.zstd.get().unwrap(), s.zstd.get().unwrap());
        assert!(verify(store, |_| {}).unwrap().is_ok());
    });
}

#[test]
fn a_compressed_copy_into_another_store_keeps_its_compression() {
    let from = Store::memory();
    let mut s = filled("copy");
    s.save(&from).unwrap();
    let (to, dir) = fixtures::stores::local();
    let mut loaded = Squeezed::new("copy").load(&from).unwrap();
    loaded.save(&to).unwrap();
    let (_, meta) = meta_of(&to, &loaded);
    assert_eq!(meta.records["zstd"].compression.as_deref(), Some("zstd:3"));
    assert!(meta.records["zstd"].file.ends_with(".npy.zst"));
    assert_same(&s, &Squeezed::new("copy").load(&to).unwrap());
    assert!(verify(&to, |_| {}).unwrap().is_ok());
    drop(dir);
}

/// Flips one byte in the middle of `field`'s stored file.
fn damage(store: &Store, s: &Squeezed, field: &str) -> String {
    let (location, meta) = meta_of(store, s);
    let path = layout::record_file_path(&location, &meta.records[field].file);
    let mut bytes = store.backend().read_all(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    store
        .backend()
        .put(&path, false, &mut |w| {
            w.write_all(&bytes).map_err(Error::io)
        })
        .unwrap();
    meta.records[field].file.clone()
}

#[test]
fn a_damaged_compressed_file_is_an_integrity_error_and_verify_reports_it() {
    fixtures::stores::on_every_store(|store| {
        for field in ["zstd", "gzip"] {
            let name = format!("bad-{field}");
            let mut s = filled(&name);
            s.save(store).unwrap();
            let file = damage(store, &s, field);

            let back = Squeezed::new(name.as_str()).load(store).unwrap();
            let e = match field {
                "zstd" => back.zstd.get().map(|_| ()).unwrap_err(),
                _ => back.gzip.get().map(|_| ()).unwrap_err(),
            };
            assert!(matches!(e, Error::Integrity { .. }), "{field}: {e}");
            assert!(e.to_string().contains(&file), "{e}");
            // The other fields are untouched.
            assert_eq!(back.plain.get().unwrap(), s.plain.get().unwrap());

            // Without verification the damage is found by the decoder, or
            // not at all if the flipped byte lies where it goes unnoticed
            // (then the value still has the right shape).
            let unchecked = Squeezed::new(name.as_str())
                .load(&store.clone().verify(false))
                .unwrap();
            let r = match field {
                "zstd" => unchecked.zstd.get().map(|a| a.dim()),
                _ => unchecked.gzip.get().map(|a| a.dim()),
            };
            match r {
                Ok(dim) => assert_eq!(dim, (4000, 4)),
                Err(e) => assert!(
                    matches!(e, Error::Corrupt { .. }),
                    "{field} unverified: {e}"
                ),
            }

            let report = verify(store, |_| {}).unwrap();
            let damaged: Vec<String> = report.damaged.iter().map(|d| d.to_string()).collect();
            assert_eq!(damaged.len(), 1, "{damaged:?}");
            assert!(damaged[0].contains(&file), "{damaged:?}");
            s.remove(store).unwrap();
        }
    });
}

#[test]
fn garbage_in_a_compressed_file_is_corrupt_without_verification() {
    fixtures::stores::on_every_store(|store| {
        let mut s = filled("garbage");
        s.save(store).unwrap();
        let (location, meta) = meta_of(store, &s);
        let path = layout::record_file_path(&location, &meta.records["zstd"].file);
        // As many bytes as were saved, so only the decoder can tell.
        let garbage = vec![0xaa_u8; meta.records["zstd"].size as usize];
        store
            .backend()
            .put(&path, false, &mut |w| {
                w.write_all(&garbage).map_err(Error::io)
            })
            .unwrap();
        let back = Squeezed::new("garbage")
            .load(&store.clone().verify(false))
            .unwrap();
        let e = back.zstd.get().map(|_| ()).unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }), "{e}");
        assert!(e.to_string().contains("zstd data"), "{e}");
        assert!(e.to_string().contains(&meta.records["zstd"].file), "{e}");
    });
}

#[test]
fn view_mmap_of_a_compressed_field_is_unsupported() {
    let (store, _dir) = fixtures::stores::local();
    let mut s = filled("mmap");
    s.save(&store).unwrap();
    let back = Squeezed::new("mmap").load(&store).unwrap();
    // The plain field maps; the compressed ones cannot.
    assert_eq!(back.plain.view_mmap().unwrap().shape(), &[4000, 4]);
    let (_, meta) = meta_of(&store, &s);
    for (field, view) in [
        ("zstd", back.zstd.view_mmap().map(|_| ())),
        ("gzip", back.gzip.view_mmap().map(|_| ())),
        ("zstd19", back.zstd19.view_mmap_unverified().map(|_| ())),
    ] {
        let e = view.unwrap_err();
        assert!(matches!(e, Error::Unsupported { .. }), "{field}: {e}");
        let shown = e.to_string();
        assert!(shown.contains(&meta.records[field].file), "{shown}");
        assert!(shown.contains("compressed"), "{shown}");
        assert!(shown.contains("squeezed-mmap"), "{shown}");
    }
    // get() still reads them.
    assert_eq!(back.zstd.get().unwrap(), s.zstd.get().unwrap());
}

#[test]
fn an_unknown_compression_in_meta_json_is_corrupt_naming_record_and_path() {
    fixtures::stores::on_every_store(|store| {
        let mut s = filled("unknown");
        s.save(store).unwrap();
        let (location, mut meta) = meta_of(store, &s);
        meta.records.get_mut("zstd").unwrap().compression = Some("lz4:1".to_owned());
        let bytes = meta.to_bytes().unwrap();
        let meta_path = layout::meta_path(&location);
        store
            .backend()
            .put(&meta_path, false, &mut |w| {
                w.write_all(&bytes).map_err(Error::io)
            })
            .unwrap();
        let e = Squeezed::new("unknown")
            .load(store)
            .map(|_| ())
            .unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }), "{e}");
        assert_eq!(e.record(), Some("squeezed-unknown"), "{e}");
        assert!(e.path().is_some_and(|p| p.ends_with("meta.json")), "{e}");
        assert!(e.to_string().contains("lz4:1"), "{e}");
        assert!(e.to_string().contains("`zstd`"), "{e}");
    });
}

/// A record saved before compression existed (no "compression" in its
/// entries) loads unchanged, and a struct that now compresses the field reads
/// it as it is stored.
#[derive(Persistence)]
#[persist(name = "evolving")]
struct Before {
    #[key]
    name: String,
    #[record]
    data: Lazy<Array2<i16>>,
}

#[derive(Persistence)]
#[persist(name = "evolving")]
struct After {
    #[key]
    name: String,
    #[record(compress = "zstd")]
    data: Lazy<Array2<i16>>,
}

#[test]
fn compression_can_be_added_to_a_field_of_stored_records() {
    fixtures::stores::on_every_store(|store| {
        let mut before = Before::new("e");
        before.data.set(signal(1000, 2));
        before.save(store).unwrap();
        let text = String::from_utf8(
            store
                .backend()
                .read_all(&layout::meta_path(&before.location(store).unwrap()))
                .unwrap(),
        )
        .unwrap();
        assert!(!text.contains("compression"), "{text}");

        let mut after = After::new("e").load(store).unwrap();
        assert_eq!(after.data.get().unwrap(), before.data.get().unwrap());
        // Set again, it is written compressed; the old struct reads that too.
        let value = after.data.get().unwrap().clone();
        after.data.set(value);
        after.save(store).unwrap();
        let meta = Meta::read(
            store.backend(),
            &layout::meta_path(&after.location(store).unwrap()),
        )
        .unwrap();
        assert_eq!(meta.records["data"].compression.as_deref(), Some("zstd:3"));
        let old = Before::new("e").load(store).unwrap();
        assert_eq!(old.data.get().unwrap(), before.data.get().unwrap());
    });
}
