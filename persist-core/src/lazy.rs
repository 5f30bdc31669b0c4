//! [`Lazy`]: a record field kept in its own file and read on first access.

use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::{Arc, OnceLock};

use ndarray::{ArrayBase, ArrayView, Dimension, OwnedRepr, ShapeBuilder};
use ndarray_npy::{ViewElement, ViewNpyError, ViewNpyExt};

use crate::error::{Error, Result};
use crate::format::{npy, Storable};
use crate::record_file::RecordFileRef;

/// A value kept in a file of its own beside the record, read from the store the
/// first time [`get`](Lazy::get) is called and cached after that.
///
/// A `#[record]` field has this type. Cloning is cheap (the value is shared), so
/// a loaded record can be handed around without copying its arrays.
///
/// ```
/// use persist_core::Lazy;
/// let mut data: Lazy<Vec<u8>> = Lazy::empty();
/// assert!(data.get().is_err());            // never set: Error::EmptyRecord
/// data.set(vec![1, 2, 3]);
/// assert_eq!(data.get()?, &vec![1, 2, 3]);
/// let shared = data.clone();               // no copy of the bytes
/// assert_eq!(shared.into_inner()?, vec![1, 2, 3]);
/// # Ok::<(), persist_core::Error>(())
/// ```
pub struct Lazy<T> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    value: OnceLock<T>,
    origin: Origin,
}

/// Where an unread value comes from.
pub(crate) enum Origin {
    /// Never set and not loaded from a store.
    Unset,
    /// Loaded from a record that was saved without this file.
    SavedEmpty { record: String, field: String },
    /// A file in a store, not read yet (or read and cached). Boxed: the
    /// other variants are small.
    File(Box<RecordFileRef>),
}

impl<T> Lazy<T> {
    /// A field holding `value`.
    pub fn new(value: T) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(value);
        Lazy {
            inner: Arc::new(Inner {
                value: cell,
                origin: Origin::Unset,
            }),
        }
    }

    /// A field with no value; saving it writes no file, and `get` fails with
    /// [`Error::EmptyRecord`].
    pub fn empty() -> Self {
        Lazy::with_origin(Origin::Unset)
    }

    pub(crate) fn with_origin(origin: Origin) -> Self {
        Lazy {
            inner: Arc::new(Inner {
                value: OnceLock::new(),
                origin,
            }),
        }
    }

    /// Replaces the value (other clones keep the old one).
    pub fn set(&mut self, value: T) {
        *self = Lazy::new(value);
    }

    /// Whether the value is in memory (set, or already read).
    pub fn is_loaded(&self) -> bool {
        self.inner.value.get().is_some()
    }

    /// Whether there is no value at all: never set, or saved empty.
    pub fn is_empty(&self) -> bool {
        !self.is_loaded() && !matches!(self.inner.origin, Origin::File(_))
    }

    /// The file this value was loaded from, if it came from a store.
    pub(crate) fn file(&self) -> Option<&RecordFileRef> {
        match &self.inner.origin {
            Origin::File(f) => Some(&**f),
            _ => None,
        }
    }

    /// The value if it is in memory, without reading anything.
    pub(crate) fn loaded(&self) -> Option<&T> {
        self.inner.value.get()
    }
}

impl<T: Storable> Lazy<T> {
    /// The value: read from the store on the first call (its checksum checked
    /// unless the store was opened with `.verify(false)`), then cached.
    ///
    /// Errors: [`Error::EmptyRecord`] if there is no value,
    /// [`Error::Integrity`] if the file's bytes changed since it was saved,
    /// [`Error::Superseded`] if a newer save replaced and removed the file.
    pub fn get(&self) -> Result<&T> {
        if let Some(v) = self.inner.value.get() {
            return Ok(v);
        }
        let value = match &self.inner.origin {
            Origin::File(file) => file.read::<T>()?,
            Origin::SavedEmpty { record, field } => {
                return Err(Error::EmptyRecord {
                    record: record.clone(),
                    field: field.clone(),
                })
            }
            Origin::Unset => {
                return Err(Error::EmptyRecord {
                    record: String::new(),
                    field: String::new(),
                })
            }
        };
        // Two threads may both read; the first value stored wins and both see it.
        let _ = self.inner.value.set(value);
        self.inner.value.get().ok_or_else(|| Error::EmptyRecord {
            record: String::new(),
            field: String::new(),
        })
    }

    /// The value itself: moved out if this is the only handle, cloned otherwise.
    pub fn into_inner(self) -> Result<T>
    where
        T: Clone,
    {
        self.get()?;
        match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner.value.into_inner().ok_or_else(|| Error::EmptyRecord {
                record: String::new(),
                field: String::new(),
            }),
            Err(shared) => shared
                .value
                .get()
                .cloned()
                .ok_or_else(|| Error::EmptyRecord {
                    record: String::new(),
                    field: String::new(),
                }),
        }
    }
}

impl<A, D> Lazy<ArrayBase<OwnedRepr<A>, D>>
where
    A: ViewElement,
    D: Dimension,
{
    /// The stored array as a read-only memory map of its `.npy` file, without
    /// reading it into memory: pages are read by the OS when touched, and
    /// several processes mapping one file share them.
    ///
    /// The file's blake3 is checked over the mapped bytes first, unless the
    /// store was opened with `.verify(false)`: that reads the file once (at
    /// hashing speed, still no copy and no allocation). To skip even that, see
    /// [`view_mmap_unverified`](Lazy::view_mmap_unverified).
    ///
    /// This never uses or fills the cached value of [`get`](Lazy::get); it maps
    /// the file the record was loaded with, also if the value was read since.
    ///
    /// Errors: [`Error::Unsupported`] if the value is not in a file on the local
    /// disk (a memory or object store, a value only [`set`](Lazy::set)) or its
    /// file is compressed (`#[record(compress = "…")]`),
    /// [`Error::EmptyRecord`] if there is no value, [`Error::Integrity`] if the
    /// bytes changed, [`Error::TypeMismatch`] for another element type or
    /// dimension, [`Error::Superseded`] if a newer save removed the file.
    ///
    /// Persist never writes to a record file after saving it, and a file a
    /// newer save removes stays readable through an existing map. Another
    /// program that truncates or rewrites the file in place while it is mapped
    /// changes what the view shows (or crashes the process with `SIGBUS`), as
    /// with any memory map.
    ///
    /// ```
    /// use persist_core::ndarray::{s, Array2};
    /// use persist_core::{Lazy, Persistence, Store};
    ///
    /// #[derive(Persistence)]
    /// struct Movie {
    ///     #[key] #[filename] name: String,
    ///     #[record] frames: Lazy<Array2<f64>>,
    /// }
    ///
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(dir.path())?;
    /// let mut m = Movie::new("m1");
    /// m.frames.set(Array2::from_shape_fn((1000, 64), |(i, j)| (i * 64 + j) as f64));
    /// m.save(&store)?;
    ///
    /// let loaded = Movie::new("m1").load(&store)?;
    /// let frames = loaded.frames.view_mmap()?;          // checksum checked, nothing copied
    /// assert_eq!(frames.view().shape(), &[1000, 64]);
    /// assert_eq!(frames.view()[[999, 63]], 63999.0);
    /// let fast = loaded.frames.view_mmap_unverified()?; // microseconds: one row read
    /// assert_eq!(fast.view().slice(s![3, ..]).sum(), (192..256).sum::<usize>() as f64);
    /// assert!(!loaded.frames.is_loaded());              // get() would still read the file
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn view_mmap(&self) -> Result<MmapView<A, D>> {
        let verify = self.file().is_some_and(|f| f.store.is_verifying());
        self.map_with(verify)
    }

    /// Like [`view_mmap`](Lazy::view_mmap) but without checking the blake3:
    /// opening costs microseconds whatever the size, and only the bytes touched
    /// are read. The file's size and its `.npy` header are still checked, but
    /// damaged data inside it is not detected; `persist verify` or
    /// [`view_mmap`](Lazy::view_mmap) finds it.
    pub fn view_mmap_unverified(&self) -> Result<MmapView<A, D>> {
        self.map_with(false)
    }

    fn map_with(&self, verify: bool) -> Result<MmapView<A, D>> {
        let file = match &self.inner.origin {
            Origin::File(file) => &**file,
            Origin::SavedEmpty { record, field } => {
                return Err(Error::EmptyRecord {
                    record: record.clone(),
                    field: field.clone(),
                })
            }
            Origin::Unset if self.is_loaded() => {
                return Err(Error::Unsupported {
                    record: String::new(),
                    reason: "the value is in memory, not in a store file; use get()".to_owned(),
                })
            }
            Origin::Unset => {
                return Err(Error::EmptyRecord {
                    record: String::new(),
                    field: String::new(),
                })
            }
        };
        let map = file.map(verify)?;
        let ctx = |e: Error| e.within(&file.record, &file.shown());
        let view = ArrayView::<A, D>::view_npy(&map).map_err(|e| ctx(view_error::<A>(e)))?;
        let offset = if view.is_empty() {
            0
        } else {
            view.as_ptr() as usize - map.as_ptr() as usize
        };
        let dim = view.raw_dim();
        let mut strides = D::zeros(view.ndim());
        for (s, &v) in strides.slice_mut().iter_mut().zip(view.strides()) {
            // npy data has non-negative strides (C or Fortran order).
            *s = v as usize;
        }
        Ok(MmapView {
            map,
            offset,
            dim,
            strides,
            _elem: PhantomData,
        })
    }
}

fn view_error<A>(e: ViewNpyError) -> Error {
    match e {
        ViewNpyError::Io(e) => Error::io(e),
        ViewNpyError::WrongNdim(expected, found) => npy::wrong_ndim(expected, found),
        ViewNpyError::WrongDescriptor(descr) => npy::wrong_dtype::<A>(&descr),
        ViewNpyError::NonNativeEndian => Error::type_mismatch(
            "npy data in the native byte order (needed for a memory map)",
            "the other byte order; use get()",
        ),
        ViewNpyError::MissingBytes(n) => {
            Error::corrupt(format!("npy file is truncated ({n} bytes missing)"))
        }
        other => Error::corrupt(format!("not a valid npy file for a memory map: {other}")),
    }
}

/// A stored array mapped into memory read-only: see
/// [`Lazy::view_mmap`]. [`view`](MmapView::view) borrows it as an
/// `ArrayView`; the map lives as long as this value.
pub struct MmapView<A, D> {
    map: memmap2::Mmap,
    /// Where the first element is, in bytes from the start of the map.
    offset: usize,
    dim: D,
    strides: D,
    _elem: PhantomData<A>,
}

impl<A, D: Dimension> MmapView<A, D> {
    /// The array, borrowed from the map.
    pub fn view(&self) -> ArrayView<'_, A, D> {
        let ptr = if self.dim.size() == 0 {
            NonNull::<A>::dangling().as_ptr().cast_const()
        } else {
            // In bounds: `offset` came from a view of this map.
            self.map[self.offset..].as_ptr().cast::<A>()
        };
        // SAFETY: shape, strides and offset are those of the view ndarray-npy
        // built (checked for size, alignment and element type) over these same
        // bytes, which stay mapped and unchanged while `self` is borrowed.
        unsafe { ArrayView::from_shape_ptr(self.dim.clone().strides(self.strides.clone()), ptr) }
    }

    /// The array's shape.
    pub fn shape(&self) -> &[usize] {
        self.dim.slice()
    }

    /// The size of the mapped file in bytes.
    pub fn file_len(&self) -> usize {
        self.map.len()
    }
}

impl<A, D: Dimension> fmt::Debug for MmapView<A, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MmapView")
            .field("shape", &self.shape())
            .field("elem", &std::any::type_name::<A>())
            .field("file_len", &self.map.len())
            .finish()
    }
}

impl<T> Clone for Lazy<T> {
    fn clone(&self) -> Self {
        Lazy {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> Default for Lazy<T> {
    fn default() -> Self {
        Lazy::empty()
    }
}

impl<T> From<T> for Lazy<T> {
    fn from(value: T) -> Self {
        Lazy::new(value)
    }
}

/// Shows the value if it is in memory, else where it would be read from; never
/// reads a file.
impl<T: fmt::Debug> fmt::Debug for Lazy<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.inner.value.get(), &self.inner.origin) {
            (Some(v), _) => f.debug_tuple("Lazy").field(v).finish(),
            (None, Origin::File(file)) => write!(f, "Lazy(<unread: {}>)", file.shown()),
            (None, _) => f.write_str("Lazy(<empty>)"),
        }
    }
}
