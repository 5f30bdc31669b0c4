//! Reading a large part of a local file on several threads at once, each piece
//! at its own position, and hashing each piece as a subtree of the file's
//! blake3 tree while it is still in the cache.
//!
//! One thread reading 256 MiB from the page cache spends as much time taking
//! page faults in its fresh buffer as copying, and blake3 over the result
//! takes another pass; split into pieces, both cores fault, copy and hash.

use std::fs::File;
use std::io;
use std::sync::Mutex;

use blake3::hazmat::{
    merge_subtrees_non_root, merge_subtrees_root, ChainingValue, HasherExt, Mode,
};

/// The size of a piece: a power of two of blake3 chunks, so that pieces at
/// multiples of it are whole subtrees of the file's hash tree.
pub(crate) const LEAF: u64 = 2 << 20;

/// What [`read_pieces`] did.
pub(crate) struct Pieces {
    /// The bytes read from the front of the buffer, up to the first piece that
    /// came back short.
    pub(crate) filled: usize,
    /// Why a piece came back short, if it was an error and not the file's end.
    pub(crate) error: Option<io::Error>,
    /// The file's blake3, when asked for and every piece was read whole.
    pub(crate) root: Option<blake3::Hash>,
}

/// Reads `file[start .. start + buf.len()]` into `buf` in pieces split at
/// multiples of [`LEAF`], on as many threads as there are cores (at most 4).
///
/// With `before` (the file's bytes before `start`, with `start < LEAF`, and
/// the file ending at `start + buf.len()`), each piece is also hashed as a
/// subtree, and the subtrees are merged into the file's blake3: the same hash
/// as one pass over the whole file.
///
/// The file's offset is not used (nor moved): the caller places it after.
pub(crate) fn read_pieces(
    file: &File,
    start: u64,
    buf: &mut [u8],
    before: Option<&[u8]>,
) -> Pieces {
    let end = start + buf.len() as u64;
    // A root merge needs two subtrees; a start past the first leaf would need
    // what came before it re-read.
    let before = before.filter(|b| b.len() as u64 == start && start < LEAF && end > LEAF);
    let mut pieces = Vec::new();
    let mut rest = buf;
    let mut at = start;
    while !rest.is_empty() {
        let next = (at / LEAF + 1) * LEAF;
        let take = usize::try_from(next - at).map_or(rest.len(), |n| n.min(rest.len()));
        let (piece, tail) = rest.split_at_mut(take);
        pieces.push((at, piece));
        rest = tail;
        at = next;
    }
    let count = pieces.len();
    let queue = Mutex::new(pieces.into_iter().enumerate());
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let work = || {
        let mut done = Vec::new();
        loop {
            let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
            let Some((index, (offset, piece))) = next else {
                return done;
            };
            populate(piece);
            let (got, error) = read_at_fully(file, piece, offset);
            let cv = before.filter(|_| got == piece.len()).map(|before| {
                let mut hasher = blake3::Hasher::new();
                if index == 0 {
                    hasher.update(before);
                } else {
                    hasher.set_input_offset(offset);
                }
                hasher.update(piece).finalize_non_root()
            });
            done.push((index, got, piece.len(), error, cv));
        }
    };
    let mut results = std::thread::scope(|s| {
        // A thread that cannot be started leaves its share to the others.
        let helpers: Vec<_> = (1..workers)
            .filter_map(|_| std::thread::Builder::new().spawn_scoped(s, work).ok())
            .collect();
        let mut all = work();
        for h in helpers {
            all.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        all
    });
    results.sort_by_key(|r| r.0);
    debug_assert_eq!(results.len(), count);

    let mut filled = 0;
    let mut error = None;
    let mut cvs = Vec::with_capacity(count);
    for (_, got, len, err, cv) in results {
        filled += got;
        cvs.extend(cv);
        if got < len {
            error = err;
            break;
        }
    }
    let whole = filled as u64 == end - start;
    let root = before.filter(|_| whole).and_then(|_| merge(cvs));
    Pieces {
        filled,
        error,
        root,
    }
}

/// The root hash over subtrees of one size (the last may be shorter), merged
/// layer by layer as the blake3 tree does; `None` for fewer than two.
fn merge(mut cvs: Vec<ChainingValue>) -> Option<blake3::Hash> {
    if cvs.len() < 2 {
        return None;
    }
    while cvs.len() > 2 {
        let n = cvs.len();
        for i in 0..n / 2 {
            cvs[i] = merge_subtrees_non_root(&cvs[2 * i], &cvs[2 * i + 1], Mode::Hash);
        }
        // An odd one out moves up a layer as it is.
        if n % 2 == 1 {
            cvs[n / 2] = cvs[n - 1];
        }
        cvs.truncate(n / 2 + n % 2);
    }
    Some(merge_subtrees_root(&cvs[0], &cvs[1], Mode::Hash))
}

/// Reads `buf.len()` bytes at `offset`, or fewer at the file's end or on an
/// error (returned with the count).
fn read_at_fully(file: &File, buf: &mut [u8], offset: u64) -> (usize, Option<io::Error>) {
    read_fully(buf, |rest, got| read_at(file, rest, offset + got as u64))
}

/// Fills `buf` by calling `read(rest of buf, bytes so far)` until it is full,
/// `read` returns 0 (the end) or an error other than `Interrupted`; the count,
/// and the error if there was one.
pub(crate) fn read_fully(
    buf: &mut [u8],
    mut read: impl FnMut(&mut [u8], usize) -> io::Result<usize>,
) -> (usize, Option<io::Error>) {
    let mut got = 0;
    while got < buf.len() {
        match read(&mut buf[got..], got) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (got, Some(e)),
        }
    }
    (got, None)
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

/// Maps in the pages of `buf` in one call (`MADV_POPULATE_WRITE`, Linux 5.14)
/// instead of one fault per 4 KiB page during the copy; false if the kernel
/// refused (then the copy takes its faults as usual).
///
/// Mapping a page never changes its contents, so this is safe on memory that
/// is already written, or that another thread copies into meanwhile.
#[cfg(target_os = "linux")]
pub(crate) fn populate(buf: &mut [u8]) -> bool {
    populate_range(buf.as_mut_ptr() as usize, buf.len())
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn populate(_buf: &mut [u8]) -> bool {
    false
}

/// [`populate`] of the whole pages inside `base..base + len`, which must lie in
/// memory the caller may write.
#[cfg(target_os = "linux")]
pub(crate) fn populate_range(base: usize, len: usize) -> bool {
    const PAGE: usize = 4096;
    let first = base.next_multiple_of(PAGE);
    let end = (base + len) / PAGE * PAGE;
    if end <= first {
        return true;
    }
    // SAFETY: `first..end` lies inside memory the caller may write;
    // MADV_POPULATE_WRITE maps pages without reading or writing them.
    unsafe {
        libc::madvise(
            first as *mut libc::c_void,
            end - first,
            libc::MADV_POPULATE_WRITE,
        ) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_of(bytes: &[u8]) -> (tempfile::NamedTempFile, File) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        let file = File::open(f.path()).unwrap();
        (f, file)
    }

    #[test]
    fn pieces_read_and_hash_like_one_pass() {
        let leaf = LEAF as usize;
        for len in [leaf + 1, 2 * leaf, 3 * leaf + 4_321, 8 * leaf, 9 * leaf - 1] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let (_keep, file) = file_of(&bytes);
            for start in [0, 128, 70_000] {
                let mut buf = vec![0xAB; len - start];
                let p = read_pieces(&file, start as u64, &mut buf, Some(&bytes[..start]));
                assert_eq!(p.filled, len - start);
                assert!(p.error.is_none());
                assert!(buf == bytes[start..]);
                assert_eq!(
                    p.root,
                    Some(blake3::hash(&bytes)),
                    "len {len} start {start}"
                );

                let mut buf = vec![0; len - start];
                let p = read_pieces(&file, start as u64, &mut buf, None);
                assert_eq!((p.filled, p.root), (len - start, None));
                assert!(buf == bytes[start..]);
            }
        }
    }

    #[test]
    fn a_file_shorter_than_the_buffer_fills_what_it_has_and_gives_no_hash() {
        let leaf = LEAF as usize;
        let bytes: Vec<u8> = (0..3 * leaf + 100).map(|i| (i % 253) as u8).collect();
        let (_keep, file) = file_of(&bytes);
        let mut buf = vec![7u8; 5 * leaf];
        let p = read_pieces(&file, 10, &mut buf, Some(&bytes[..10]));
        assert_eq!(p.filled, bytes.len() - 10);
        assert!(p.root.is_none() && p.error.is_none());
        assert!(buf[..p.filled] == bytes[10..]);
    }
}
