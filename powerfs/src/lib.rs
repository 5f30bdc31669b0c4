//! A FUSE file system for tests that forgets, at a simulated power cut,
//! everything that was not made durable.
//!
//! It keeps two images of every inode: what programs see (`live`), and what
//! survives a cut (`durable`). The rules are the POSIX guarantee, stricter
//! than ext4 or XFS in practice:
//!
//! * a file's bytes, size and extended attributes become durable on `fsync`
//!   (or `fdatasync`) of that file;
//! * a name (create, mkdir, rename, link, unlink, rmdir, symlink) becomes
//!   durable on `fsync` of the folder that holds it. A rename between two
//!   folders is durable in each folder on that folder's fsync.
//!
//! Nothing else reaches the "disk": a file whose name was fsynced but whose
//! data was not comes back empty; a file written and fsynced whose folder was
//! not comes back missing. The test can cut power at once ([`PowerFs::cut`])
//! or just before the N-th mutating operation ([`PowerFs::cut_before`]);
//! from then on every operation fails with `EIO`, as if the machine were
//! dead. [`PowerFs::power_off`] unmounts and returns the surviving
//! [`Image`], which [`PowerFs::mount`] mounts again.
//!
//! [`Fsync`] can make the file system silently drop the fsync of files or
//! of folders (while reporting success), modelling a store that skips them:
//! the tests above it must then find lost data.
//!
//! Mounting needs `/dev/fuse` and root (the mount is made with `mount(2)`
//! directly; no `fusermount` or libfuse): [`usable`] says why not otherwise.
#![cfg(target_os = "linux")]

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use fuser::{
    AccessFlags, BackgroundSession, Config, Errno, FileAttr, FileHandle, FileType, Filesystem,
    FopenFlags, Generation, INodeNo, LockOwner, MountOption, OpenFlags, RenameFlags, ReplyAttr,
    ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs,
    ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};

/// What the file system does with an `fsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// Every fsync makes what it covers durable: the real rules.
    Kept,
    /// The fsync of a file succeeds but makes nothing durable (folders are
    /// still honoured): a store that never fsyncs its files.
    FilesDropped,
    /// The fsync of a folder succeeds but makes nothing durable (files are
    /// still honoured): a store that never fsyncs its folders.
    DirsDropped,
}

/// Whether this process can mount a [`PowerFs`] (it mounts and unmounts
/// one to find out): `Err` says why not.
pub fn usable() -> Result<(), String> {
    if !Path::new("/dev/fuse").exists() {
        return Err("/dev/fuse is missing (no FUSE in this kernel or container)".into());
    }
    // SAFETY: a plain syscall without arguments.
    if unsafe { libc::geteuid() } != 0 {
        return Err("mounting without fusermount needs root".into());
    }
    // A container can have both and still refuse mount(2): try once per
    // process. Tests run in parallel threads; one probe at one path, shared
    // by all, keeps one test's unmount from cutting another's probe mount.
    static PROBE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    PROBE
        .get_or_init(|| {
            let probe = std::env::temp_dir().join(format!("powerfs-probe-{}", std::process::id()));
            std::fs::create_dir_all(&probe).map_err(|e| format!("{}: {e}", probe.display()))?;
            let mounted = PowerFs::mount(&probe, Image::new(), Fsync::Kept)
                .and_then(|fs| fs.power_off().map(|_| ()));
            let _ = std::fs::remove_dir(&probe);
            mounted.map_err(|e| format!("mounting a FUSE file system failed: {e}"))
        })
        .clone()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Symlink,
}

/// One inode's state as seen at one moment: its bytes (a file), its names (a
/// folder) or its target (a link), with its extended attributes.
#[derive(Debug, Clone)]
struct Content {
    data: Vec<u8>,
    entries: BTreeMap<OsString, u64>,
    target: PathBuf,
    xattrs: BTreeMap<OsString, Vec<u8>>,
    mtime: SystemTime,
    perm: u16,
}

impl Content {
    fn new(perm: u16) -> Content {
        Content {
            data: Vec::new(),
            entries: BTreeMap::new(),
            target: PathBuf::new(),
            xattrs: BTreeMap::new(),
            mtime: SystemTime::now(),
            perm,
        }
    }
}

#[derive(Debug, Clone)]
struct Inode {
    kind: Kind,
    live: Content,
    durable: Content,
}

const ROOT: u64 = 1;

/// What survived a power cut (or a new, empty disk): every inode as it was
/// last made durable. Mount it with [`PowerFs::mount`].
#[derive(Debug, Clone)]
pub struct Image {
    nodes: BTreeMap<u64, (Kind, Content)>,
}

impl Default for Image {
    fn default() -> Self {
        Image::new()
    }
}

impl Image {
    /// An empty disk: a root folder and nothing in it.
    pub fn new() -> Image {
        let mut nodes = BTreeMap::new();
        nodes.insert(ROOT, (Kind::Dir, Content::new(0o755)));
        Image { nodes }
    }

    /// The inodes reachable from the root: what a remount shows.
    fn reachable(&self) -> Vec<u64> {
        let mut seen = std::collections::BTreeSet::new();
        let mut todo = vec![ROOT];
        while let Some(ino) = todo.pop() {
            if !seen.insert(ino) {
                continue;
            }
            if let Some((Kind::Dir, content)) = self.nodes.get(&ino) {
                todo.extend(content.entries.values().copied());
            }
        }
        seen.into_iter().collect()
    }
}

struct State {
    nodes: HashMap<u64, Inode>,
    next_ino: u64,
    /// Mutating operations done so far (the cut one not included).
    ops: u64,
    cut_before: Option<u64>,
    cut: bool,
    fsync: Fsync,
}

impl State {
    fn from_image(image: Image, fsync: Fsync) -> State {
        let keep = image.reachable();
        let mut nodes = HashMap::new();
        for (ino, (kind, content)) in image.nodes {
            if keep.binary_search(&ino).is_ok() {
                nodes.insert(
                    ino,
                    Inode {
                        kind,
                        live: content.clone(),
                        durable: content,
                    },
                );
            }
        }
        let next_ino = nodes.keys().max().copied().unwrap_or(ROOT) + 1;
        State {
            nodes,
            next_ino,
            ops: 0,
            cut_before: None,
            cut: false,
            fsync,
        }
    }

    fn survivors(&self, names_kept: bool) -> Image {
        let survivor = |node: &Inode| {
            let mut content = node.durable.clone();
            if names_kept && node.kind == Kind::Dir {
                content.entries = node.live.entries.clone();
            }
            (node.kind, content)
        };
        Image {
            nodes: self
                .nodes
                .iter()
                .map(|(ino, node)| (*ino, survivor(node)))
                .collect(),
        }
    }

    /// Every operation after the cut fails: the machine is dead.
    fn alive(&self) -> Result<(), Errno> {
        if self.cut {
            Err(Errno::EIO)
        } else {
            Ok(())
        }
    }

    /// Counts a mutating operation, or cuts the power just before it.
    fn mutate(&mut self) -> Result<(), Errno> {
        self.alive()?;
        let n = self.ops + 1;
        if self.cut_before == Some(n) {
            self.cut = true;
            return Err(Errno::EIO);
        }
        self.ops = n;
        Ok(())
    }

    fn node(&self, ino: INodeNo) -> Result<&Inode, Errno> {
        self.nodes.get(&ino.0).ok_or(Errno::ENOENT)
    }

    fn node_mut(&mut self, ino: INodeNo) -> Result<&mut Inode, Errno> {
        self.nodes.get_mut(&ino.0).ok_or(Errno::ENOENT)
    }

    fn dir(&self, ino: INodeNo) -> Result<&Content, Errno> {
        let node = self.node(ino)?;
        if node.kind != Kind::Dir {
            return Err(Errno::ENOTDIR);
        }
        Ok(&node.live)
    }

    fn dir_mut(&mut self, ino: INodeNo) -> Result<&mut Content, Errno> {
        let node = self.node_mut(ino)?;
        if node.kind != Kind::Dir {
            return Err(Errno::ENOTDIR);
        }
        Ok(&mut node.live)
    }

    fn child(&self, parent: INodeNo, name: &OsStr) -> Result<u64, Errno> {
        self.dir(parent)?
            .entries
            .get(name)
            .copied()
            .ok_or(Errno::ENOENT)
    }

    fn attr(&self, ino: u64) -> Result<FileAttr, Errno> {
        let node = self.nodes.get(&ino).ok_or(Errno::ENOENT)?;
        let (kind, size) = match node.kind {
            Kind::File => (FileType::RegularFile, node.live.data.len() as u64),
            Kind::Dir => (FileType::Directory, 0),
            Kind::Symlink => (FileType::Symlink, node.live.target.as_os_str().len() as u64),
        };
        Ok(FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: node.live.mtime,
            mtime: node.live.mtime,
            ctime: node.live.mtime,
            crtime: node.live.mtime,
            kind,
            perm: node.live.perm,
            nlink: if node.kind == Kind::Dir { 2 } else { 1 },
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        })
    }

    /// Adds a new inode named `name` in `parent`.
    fn make(&mut self, parent: INodeNo, name: &OsStr, kind: Kind, perm: u16) -> Result<u64, Errno> {
        self.mutate()?;
        if self.dir(parent)?.entries.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        // A new inode has nothing durable yet: a cut before its fsync
        // leaves it empty wherever its name survives.
        self.nodes.insert(
            ino,
            Inode {
                kind,
                live: Content::new(perm),
                durable: Content::new(perm),
            },
        );
        let dir = self.dir_mut(parent)?;
        dir.entries.insert(name.to_os_string(), ino);
        dir.mtime = SystemTime::now();
        Ok(ino)
    }

    fn remove(&mut self, parent: INodeNo, name: &OsStr, want_dir: bool) -> Result<(), Errno> {
        self.mutate()?;
        let ino = self.child(parent, name)?;
        let node = self.nodes.get(&ino).ok_or(Errno::ENOENT)?;
        match (node.kind == Kind::Dir, want_dir) {
            (true, false) => return Err(Errno::EISDIR),
            (false, true) => return Err(Errno::ENOTDIR),
            (true, true) if !node.live.entries.is_empty() => return Err(Errno::ENOTEMPTY),
            _ => {}
        }
        let dir = self.dir_mut(parent)?;
        dir.entries.remove(name);
        dir.mtime = SystemTime::now();
        // The inode stays: the durable image may still name it, and open
        // files may still use it.
        Ok(())
    }

    fn rename(
        &mut self,
        parent: INodeNo,
        name: &OsStr,
        new_parent: INodeNo,
        new_name: &OsStr,
        flags: RenameFlags,
    ) -> Result<(), Errno> {
        self.mutate()?;
        let ino = self.child(parent, name)?;
        let replaced = self.dir(new_parent)?.entries.get(new_name).copied();
        if let Some(old) = replaced {
            if flags.contains(RenameFlags::RENAME_NOREPLACE) {
                return Err(Errno::EEXIST);
            }
            if old == ino {
                return Ok(());
            }
            let (kind, old_kind) = (self.nodes[&ino].kind, self.nodes[&old].kind);
            match (kind == Kind::Dir, old_kind == Kind::Dir) {
                (false, true) => return Err(Errno::EISDIR),
                (true, false) => return Err(Errno::ENOTDIR),
                (true, true) if !self.nodes[&old].live.entries.is_empty() => {
                    return Err(Errno::ENOTEMPTY)
                }
                _ => {}
            }
        }
        if !flags.difference(RenameFlags::RENAME_NOREPLACE).is_empty() {
            return Err(Errno::EINVAL);
        }
        let now = SystemTime::now();
        let from = self.dir_mut(parent)?;
        from.entries.remove(name);
        from.mtime = now;
        let to = self.dir_mut(new_parent)?;
        to.entries.insert(new_name.to_os_string(), ino);
        to.mtime = now;
        Ok(())
    }

    fn write(&mut self, ino: INodeNo, offset: u64, bytes: &[u8]) -> Result<u32, Errno> {
        self.mutate()?;
        let node = self.node_mut(ino)?;
        if node.kind != Kind::File {
            return Err(Errno::EISDIR);
        }
        let start = usize::try_from(offset).map_err(|_| Errno::EFBIG)?;
        let end = start.checked_add(bytes.len()).ok_or(Errno::EFBIG)?;
        let data = &mut node.live.data;
        if data.len() < end {
            data.resize(end, 0);
        }
        data[start..end].copy_from_slice(bytes);
        node.live.mtime = SystemTime::now();
        u32::try_from(bytes.len()).map_err(|_| Errno::EINVAL)
    }

    fn fsync(&mut self, ino: INodeNo, dir: bool) -> Result<(), Errno> {
        self.mutate()?;
        let dropped = match self.fsync {
            Fsync::Kept => false,
            Fsync::FilesDropped => !dir,
            Fsync::DirsDropped => dir,
        };
        let node = self.node_mut(ino)?;
        if !dropped {
            node.durable = node.live.clone();
        }
        Ok(())
    }

    /// Everything live becomes durable, as after `sync(2)` and a clean
    /// unmount.
    fn sync_all(&mut self) {
        for node in self.nodes.values_mut() {
            node.durable = node.live.clone();
        }
    }
}

/// The [`Filesystem`] the kernel talks to; the test keeps the other handle
/// on the shared state.
struct PowerFsServer {
    state: Arc<Mutex<State>>,
}

impl PowerFsServer {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Nothing is cached by the kernel beyond one request: every lookup and
/// attribute comes from the live image, which only this file system changes.
const TTL: Duration = Duration::ZERO;

fn perm_of(mode: u32, umask: u32) -> u16 {
    (mode & !umask & 0o7777) as u16
}

impl Filesystem for PowerFsServer {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let state = self.lock();
        match state
            .alive()
            .and_then(|()| state.child(parent, name))
            .and_then(|ino| state.attr(ino))
        {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let state = self.lock();
        match state.alive().and_then(|()| state.attr(ino.0)) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut state = self.lock();
        let result = (|| {
            state.mutate()?;
            let node = state.node_mut(ino)?;
            if let Some(size) = size {
                if node.kind != Kind::File {
                    return Err(Errno::EISDIR);
                }
                let size = usize::try_from(size).map_err(|_| Errno::EFBIG)?;
                node.live.data.resize(size, 0);
                node.live.mtime = SystemTime::now();
            }
            if let Some(mode) = mode {
                node.live.perm = (mode & 0o7777) as u16;
            }
            match mtime {
                Some(TimeOrNow::SpecificTime(t)) => node.live.mtime = t,
                Some(TimeOrNow::Now) => node.live.mtime = SystemTime::now(),
                None => {}
            }
            state.attr(ino.0)
        })();
        match result {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let state = self.lock();
        match state.alive().and_then(|()| state.node(ino)) {
            Ok(node) if node.kind == Kind::Symlink => {
                reply.data(node.live.target.as_os_str().as_encoded_bytes())
            }
            Ok(_) => reply.error(Errno::EINVAL),
            Err(e) => reply.error(e),
        }
    }

    fn mknod(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        if mode & libc::S_IFMT != libc::S_IFREG {
            return reply.error(Errno::EPERM);
        }
        let mut state = self.lock();
        match state
            .make(parent, name, Kind::File, perm_of(mode, umask))
            .and_then(|ino| state.attr(ino))
        {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let mut state = self.lock();
        match state
            .make(parent, name, Kind::Dir, perm_of(mode, umask))
            .and_then(|ino| state.attr(ino))
        {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.lock().remove(parent, name, false) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.lock().remove(parent, name, true) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn symlink(
        &self,
        _req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let mut state = self.lock();
        let result = state
            .make(parent, link_name, Kind::Symlink, 0o777)
            .and_then(|ino| {
                // A link's target is part of creating it: it is durable with the
                // name, as on the disks this models.
                let node = state.nodes.get_mut(&ino).ok_or(Errno::ENOENT)?;
                node.live.target = target.to_path_buf();
                node.durable.target = target.to_path_buf();
                state.attr(ino)
            });
        match result {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        match self.lock().rename(parent, name, newparent, newname, flags) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let mut state = self.lock();
        let result = (|| {
            state.mutate()?;
            if state.node(ino)?.kind == Kind::Dir {
                return Err(Errno::EPERM);
            }
            let dir = state.dir_mut(newparent)?;
            if dir.entries.contains_key(newname) {
                return Err(Errno::EEXIST);
            }
            dir.entries.insert(newname.to_os_string(), ino.0);
            dir.mtime = SystemTime::now();
            state.attr(ino.0)
        })();
        match result {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let state = self.lock();
        match state.alive().and_then(|()| state.node(ino)) {
            Ok(_) => reply.opened(FileHandle(0), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let state = self.lock();
        match state.alive().and_then(|()| state.node(ino)) {
            Ok(node) if node.kind == Kind::File => {
                let data = &node.live.data;
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                let end = start.saturating_add(size as usize).min(data.len());
                reply.data(&data[start..end]);
            }
            Ok(_) => reply.error(Errno::EISDIR),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.lock().write(ino, offset, data) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // `close` makes nothing durable: only fsync does.
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        match self.lock().fsync(ino, false) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let state = self.lock();
        match state.alive().and_then(|()| state.dir(ino)) {
            Ok(_) => reply.opened(FileHandle(0), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let state = self.lock();
        let dir = match state.alive().and_then(|()| state.dir(ino)) {
            Ok(dir) => dir,
            Err(e) => return reply.error(e),
        };
        let dots = [
            (ino.0, FileType::Directory, OsStr::new(".")),
            (ino.0, FileType::Directory, OsStr::new("..")),
        ];
        let names = dir.entries.iter().map(|(name, child)| {
            let kind = match state.nodes.get(child).map(|n| n.kind) {
                Some(Kind::Dir) => FileType::Directory,
                Some(Kind::Symlink) => FileType::Symlink,
                _ => FileType::RegularFile,
            };
            (*child, kind, name.as_os_str())
        });
        for (i, (child, kind, name)) in dots
            .into_iter()
            .chain(names)
            .enumerate()
            .skip(offset as usize)
        {
            if reply.add(INodeNo(child), i as u64 + 1, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        match self.lock().fsync(ino, true) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        reply.statfs(1 << 20, 1 << 19, 1 << 19, 1 << 20, 1 << 19, 4096, 255, 4096);
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        let mut state = self.lock();
        let result = (|| {
            state.mutate()?;
            let node = state.node_mut(ino)?;
            let exists = node.live.xattrs.contains_key(name);
            if flags & libc::XATTR_CREATE != 0 && exists {
                return Err(Errno::EEXIST);
            }
            if flags & libc::XATTR_REPLACE != 0 && !exists {
                return Err(Errno::NO_XATTR);
            }
            node.live.xattrs.insert(name.to_os_string(), value.to_vec());
            Ok(())
        })();
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let state = self.lock();
        let value = match state.alive().and_then(|()| state.node(ino)) {
            Ok(node) => node.live.xattrs.get(name),
            Err(e) => return reply.error(e),
        };
        match value {
            None => reply.error(Errno::NO_XATTR),
            Some(v) if size == 0 => reply.size(v.len() as u32),
            Some(v) if v.len() <= size as usize => reply.data(v),
            Some(_) => reply.error(Errno::ERANGE),
        }
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        let state = self.lock();
        let mut names = Vec::new();
        match state.alive().and_then(|()| state.node(ino)) {
            Ok(node) => {
                for name in node.live.xattrs.keys() {
                    names.extend_from_slice(name.as_encoded_bytes());
                    names.push(0);
                }
            }
            Err(e) => return reply.error(e),
        }
        if size == 0 {
            reply.size(names.len() as u32)
        } else if names.len() <= size as usize {
            reply.data(&names)
        } else {
            reply.error(Errno::ERANGE)
        }
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut state = self.lock();
        let result = (|| {
            state.mutate()?;
            match state.node_mut(ino)?.live.xattrs.remove(name) {
                Some(_) => Ok(()),
                None => Err(Errno::NO_XATTR),
            }
        })();
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn access(&self, _req: &Request, ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        let state = self.lock();
        match state.alive().and_then(|()| state.node(ino)) {
            Ok(_) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let mut state = self.lock();
        match state
            .make(parent, name, Kind::File, perm_of(mode, umask))
            .and_then(|ino| state.attr(ino))
        {
            Ok(attr) => reply.created(
                &TTL,
                &attr,
                Generation(0),
                FileHandle(0),
                FopenFlags::empty(),
            ),
            Err(e) => reply.error(e),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _length: u64,
        _mode: i32,
        reply: ReplyEmpty,
    ) {
        // As a file system without it: callers fall back to plain writes.
        reply.error(Errno::EOPNOTSUPP);
    }
}

/// A mounted power-loss file system.
///
/// ```no_run
/// use powerfs::{Fsync, Image, PowerFs};
/// let dir = tempfile::tempdir()?;
/// let fs = PowerFs::mount(dir.path(), Image::new(), Fsync::Kept)?;
/// std::fs::write(fs.path().join("a"), b"lost")?; // never fsynced
/// let survived = fs.power_off()?;
/// let fs = PowerFs::mount(dir.path(), survived, Fsync::Kept)?;
/// assert!(!fs.path().join("a").exists());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct PowerFs {
    state: Arc<Mutex<State>>,
    session: Option<BackgroundSession>,
    path: PathBuf,
}

impl std::fmt::Debug for PowerFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PowerFs")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl PowerFs {
    /// Mounts `image` at the empty folder `at`, with every inode's live state
    /// as it survived.
    pub fn mount(at: &Path, image: Image, fsync: Fsync) -> io::Result<PowerFs> {
        let state = Arc::new(Mutex::new(State::from_image(image, fsync)));
        let server = PowerFsServer {
            state: Arc::clone(&state),
        };
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName("powerfs".into()),
            MountOption::Subtype("powerfs".into()),
        ];
        let session = fuser::spawn_mount(server, at, &config)?;
        Ok(PowerFs {
            state,
            session: Some(session),
            path: at.to_path_buf(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Mutating operations done since the mount (create, mkdir, write,
    /// truncate, rename, link, unlink, rmdir, setxattr, fsync, ...).
    pub fn ops(&self) -> u64 {
        self.lock().ops
    }

    /// Cuts the power just before mutating operation number `n` (counted
    /// from the mount, the first being 1): that operation and every one after
    /// it fail with `EIO`.
    pub fn cut_before(&self, n: u64) {
        self.lock().cut_before = Some(n);
    }

    /// Cuts the power now.
    pub fn cut(&self) {
        self.lock().cut = true;
    }

    /// Whether the power was cut.
    pub fn was_cut(&self) -> bool {
        self.lock().cut
    }

    /// Makes everything programs see durable, as `sync(2)` and a clean
    /// unmount would (setting a scene before the operation under test).
    pub fn sync(&self) {
        self.lock().sync_all();
    }

    /// Cuts the power (if it was not cut already), unmounts, and returns what
    /// survived. Nothing on the mount may still be open.
    pub fn power_off(mut self) -> io::Result<Image> {
        self.cut();
        self.unmount()?;
        Ok(self.lock().survivors(false))
    }

    /// Like [`power_off`](Self::power_off), on a disk that journals every
    /// name change in order whether or not its folder was fsynced, but
    /// writes file data only on fsync (as ext4 with `data=writeback`): every
    /// create, rename and unlink survives, a file never fsynced comes back
    /// empty.
    pub fn power_off_keeping_names(mut self) -> io::Result<Image> {
        self.cut();
        self.unmount()?;
        Ok(self.lock().survivors(true))
    }

    fn unmount(&mut self) -> io::Result<()> {
        match self.session.take() {
            Some(session) => session.umount_and_join(),
            None => Ok(()),
        }
    }
}

impl Drop for PowerFs {
    fn drop(&mut self) {
        let _ = self.unmount();
    }
}
