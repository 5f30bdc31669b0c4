//! The durability rules of the power-loss file system, one row per case:
//! what a program does, which fsyncs it makes, and what a remount after a
//! cut must show.
//!
//! Needs `/dev/fuse` and root. Elsewhere every test prints why it skips, and
//! fails instead under `CI=true`.
#![cfg(target_os = "linux")]

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use powerfs::{Fsync, Image, PowerFs};

/// `false` (with the reason printed) where the file system cannot be
/// mounted; panics there under `CI=true`, where it must run.
fn can_mount() -> bool {
    match powerfs::usable() {
        Ok(()) => true,
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI must run the power-loss tests, but {why}")
        }
        Err(why) => {
            eprintln!("skipped: {why}");
            false
        }
    }
}

fn fsync_dir(dir: &Path) {
    File::open(dir).unwrap().sync_all().unwrap();
}

fn write_synced(path: &Path, bytes: &[u8]) {
    let mut f = File::create(path).unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
}

/// What a file is after the remount: `None` if its name is gone.
fn read(root: &Path, name: &str) -> Option<Vec<u8>> {
    match fs::read(root.join(name)) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => panic!("{name}: {e}"),
    }
}

struct Case {
    name: &'static str,
    fsync: Fsync,
    /// Run on the mount before the cut; `base` holds `old` = b"old" and the
    /// folder `d`, both durable.
    act: fn(&Path),
    /// Checked on the remount after the cut.
    expect: fn(&Path),
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "write without any fsync is lost",
            fsync: Fsync::Kept,
            act: |r| fs::write(r.join("new"), b"data").unwrap(),
            expect: |r| assert_eq!(read(r, "new"), None),
        },
        Case {
            name: "write with file fsync but no folder fsync: the name is lost",
            fsync: Fsync::Kept,
            act: |r| write_synced(&r.join("new"), b"data"),
            expect: |r| assert_eq!(read(r, "new"), None),
        },
        Case {
            name: "folder fsync without file fsync: the name survives, empty",
            fsync: Fsync::Kept,
            act: |r| {
                fs::write(r.join("new"), b"data").unwrap();
                fsync_dir(r);
            },
            expect: |r| assert_eq!(read(r, "new"), Some(Vec::new())),
        },
        Case {
            name: "file and folder fsynced: survives whole",
            fsync: Fsync::Kept,
            act: |r| {
                write_synced(&r.join("new"), b"data");
                fsync_dir(r);
            },
            expect: |r| assert_eq!(read(r, "new").as_deref(), Some(&b"data"[..])),
        },
        Case {
            name: "append after the fsync is lost, the synced part kept",
            fsync: Fsync::Kept,
            act: |r| {
                let mut f = OpenOptions::new().append(true).open(r.join("old")).unwrap();
                f.write_all(b"+more").unwrap();
            },
            expect: |r| assert_eq!(read(r, "old").as_deref(), Some(&b"old"[..])),
        },
        Case {
            name: "truncate without fsync is lost",
            fsync: Fsync::Kept,
            act: |r| {
                OpenOptions::new()
                    .write(true)
                    .open(r.join("old"))
                    .unwrap()
                    .set_len(0)
                    .unwrap();
            },
            expect: |r| assert_eq!(read(r, "old").as_deref(), Some(&b"old"[..])),
        },
        Case {
            name: "rename without folder fsync is lost",
            fsync: Fsync::Kept,
            act: |r| {
                write_synced(&r.join("tmp"), b"new");
                fsync_dir(r);
                fs::rename(r.join("tmp"), r.join("old")).unwrap();
            },
            expect: |r| {
                assert_eq!(read(r, "old").as_deref(), Some(&b"old"[..]));
                assert_eq!(read(r, "tmp").as_deref(), Some(&b"new"[..]));
            },
        },
        Case {
            name: "rename with folder fsync replaces the target",
            fsync: Fsync::Kept,
            act: |r| {
                write_synced(&r.join("tmp"), b"new");
                fs::rename(r.join("tmp"), r.join("old")).unwrap();
                fsync_dir(r);
            },
            expect: |r| {
                assert_eq!(read(r, "old").as_deref(), Some(&b"new"[..]));
                assert_eq!(read(r, "tmp"), None);
            },
        },
        Case {
            name: "rename into another folder: only the synced folder changes",
            fsync: Fsync::Kept,
            act: |r| {
                fs::rename(r.join("old"), r.join("d/moved")).unwrap();
                fsync_dir(&r.join("d"));
            },
            // The source folder was not fsynced: both names survive (one inode).
            expect: |r| {
                assert_eq!(read(r, "old").as_deref(), Some(&b"old"[..]));
                assert_eq!(read(r, "d/moved").as_deref(), Some(&b"old"[..]));
            },
        },
        Case {
            name: "unlink without folder fsync is lost",
            fsync: Fsync::Kept,
            act: |r| fs::remove_file(r.join("old")).unwrap(),
            expect: |r| assert_eq!(read(r, "old").as_deref(), Some(&b"old"[..])),
        },
        Case {
            name: "unlink with folder fsync is kept",
            fsync: Fsync::Kept,
            act: |r| {
                fs::remove_file(r.join("old")).unwrap();
                fsync_dir(r);
            },
            expect: |r| assert_eq!(read(r, "old"), None),
        },
        Case {
            name: "mkdir without parent fsync is lost with all inside it",
            fsync: Fsync::Kept,
            act: |r| {
                fs::create_dir(r.join("e")).unwrap();
                write_synced(&r.join("e/f"), b"x");
                fsync_dir(&r.join("e"));
            },
            expect: |r| assert!(!r.join("e").exists()),
        },
        Case {
            name: "mkdir with parent fsync survives, its unsynced names do not",
            fsync: Fsync::Kept,
            act: |r| {
                fs::create_dir(r.join("e")).unwrap();
                fsync_dir(r);
                write_synced(&r.join("e/f"), b"x");
            },
            expect: |r| {
                assert!(r.join("e").is_dir());
                assert_eq!(read(r, "e/f"), None);
            },
        },
        Case {
            name: "hard link without folder fsync is lost",
            fsync: Fsync::Kept,
            act: |r| fs::hard_link(r.join("old"), r.join("d/link")).unwrap(),
            expect: |r| assert_eq!(read(r, "d/link"), None),
        },
        Case {
            name: "hard link with folder fsync survives",
            fsync: Fsync::Kept,
            act: |r| {
                fs::hard_link(r.join("old"), r.join("d/link")).unwrap();
                fsync_dir(&r.join("d"));
            },
            expect: |r| assert_eq!(read(r, "d/link").as_deref(), Some(&b"old"[..])),
        },
        Case {
            name: "dropped file fsync: the synced name survives, empty",
            fsync: Fsync::FilesDropped,
            act: |r| {
                write_synced(&r.join("new"), b"data");
                fsync_dir(r);
            },
            expect: |r| assert_eq!(read(r, "new"), Some(Vec::new())),
        },
        Case {
            name: "dropped folder fsync: the synced file's name is lost",
            fsync: Fsync::DirsDropped,
            act: |r| {
                write_synced(&r.join("new"), b"data");
                fsync_dir(r);
            },
            expect: |r| assert_eq!(read(r, "new"), None),
        },
    ]
}

/// An image holding the durable file `old` and the durable folder `d`.
fn base(at: &Path) -> Image {
    let fs = PowerFs::mount(at, Image::new(), Fsync::Kept).unwrap();
    fs::write(fs.path().join("old"), b"old").unwrap();
    fs::create_dir(fs.path().join("d")).unwrap();
    fs.sync();
    fs.power_off().unwrap()
}

#[test]
fn each_rule_holds_after_a_cut() {
    if !can_mount() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = base(dir.path());
    let cases = cases();
    for case in &cases {
        let fs = PowerFs::mount(dir.path(), image.clone(), case.fsync).unwrap();
        // Before the cut the program sees everything it did.
        (case.act)(fs.path());
        let survived = fs.power_off().unwrap();
        let fs = PowerFs::mount(dir.path(), survived, Fsync::Kept).unwrap();
        let root = fs.path().to_path_buf();
        let outcome = std::panic::catch_unwind(|| (case.expect)(&root));
        drop(fs);
        if let Err(e) = outcome {
            panic!("case {:?}: {e:?}", case.name);
        }
        println!("ok: {}", case.name);
    }
    println!("{} rules checked", cases.len());
}

#[test]
fn a_cut_before_the_nth_operation_fails_it_and_all_after() {
    if !can_mount() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fs = PowerFs::mount(dir.path(), Image::new(), Fsync::Kept).unwrap();
    let root = fs.path().to_path_buf();
    write_synced(&root.join("a"), b"1"); // create, write, fsync: ops 1-3
    fsync_dir(&root); // op 4
    assert_eq!(fs.ops(), 4);
    fs.cut_before(7);
    let mut b = File::create(root.join("b")).unwrap(); // op 5
    b.write_all(b"2").unwrap(); // op 6
    assert!(!fs.was_cut());
    let err = b.sync_all().unwrap_err(); // op 7: cut
    assert_eq!(err.raw_os_error(), Some(libc::EIO));
    drop(b);
    assert!(fs.was_cut());
    let err = fs::write(root.join("c"), b"3").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO));
    assert!(
        fs::read(root.join("a")).is_err(),
        "reads fail after the cut too"
    );
    let survived = fs.power_off().unwrap();
    let fs = PowerFs::mount(dir.path(), survived, Fsync::Kept).unwrap();
    assert_eq!(read(fs.path(), "a").as_deref(), Some(&b"1"[..]));
    assert_eq!(read(fs.path(), "b"), None);
    assert_eq!(read(fs.path(), "c"), None);
    assert_eq!(fs.ops(), 0, "a remount counts afresh");
}

#[test]
fn xattrs_are_durable_on_fsync() {
    if !can_mount() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fs = PowerFs::mount(dir.path(), Image::new(), Fsync::Kept).unwrap();
    let d = fs.path().join("k");
    fs::create_dir(&d).unwrap();
    fsync_dir(fs.path());
    set_xattr(&d, "user.kept", b"1");
    fsync_dir(&d);
    set_xattr(&d, "user.lost", b"2");
    let fs = PowerFs::mount(dir.path(), fs.power_off().unwrap(), Fsync::Kept).unwrap();
    let d = fs.path().join("k");
    assert_eq!(get_xattr(&d, "user.kept").as_deref(), Some(&b"1"[..]));
    assert_eq!(get_xattr(&d, "user.lost"), None);
}

fn set_xattr(path: &Path, name: &str, value: &[u8]) {
    let p = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let n = std::ffi::CString::new(name).unwrap();
    // SAFETY: NUL-terminated strings and a value of the length given.
    let rc = unsafe {
        libc::setxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    assert_eq!(rc, 0, "setxattr: {}", std::io::Error::last_os_error());
}

fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let p = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let n = std::ffi::CString::new(name).unwrap();
    let mut buf = [0u8; 64];
    // SAFETY: NUL-terminated strings and a buffer of the length given.
    let rc = unsafe { libc::getxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (rc >= 0).then(|| buf[..rc as usize].to_vec())
}

#[test]
fn a_disk_that_keeps_names_keeps_them_without_their_data() {
    if !can_mount() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = base(dir.path());
    let fs = PowerFs::mount(dir.path(), image, Fsync::Kept).unwrap();
    let root = fs.path().to_path_buf();
    fs::write(root.join("tmp"), b"new").unwrap(); // no fsync at all
    fs::rename(root.join("tmp"), root.join("old")).unwrap();
    fs::write(root.join("d/never"), b"x").unwrap();
    let fs = PowerFs::mount(
        dir.path(),
        fs.power_off_keeping_names().unwrap(),
        Fsync::Kept,
    )
    .unwrap();
    assert_eq!(
        read(fs.path(), "old"),
        Some(Vec::new()),
        "renamed over, data lost"
    );
    assert_eq!(read(fs.path(), "tmp"), None);
    assert_eq!(read(fs.path(), "d/never"), Some(Vec::new()));
}
