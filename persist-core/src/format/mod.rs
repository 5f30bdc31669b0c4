//! How a value becomes the bytes of a file: the [`Storable`] trait and its
//! implementations for arrays (`npy`), text (`txt`), bytes (`bin`) and JSON.

use std::io::{Read, Write};

use crate::error::Result;

mod bytes;
mod json;
pub mod npy;
mod text;

pub use json::Json;

/// A value kept in a file of its own (dman's `storable`): a `#[record]` field's
/// `Lazy<T>` needs `T: Storable`, and so do `save_file` / `load_file`.
///
/// Implement it for your own types; the store takes care of atomic writes,
/// checksums and naming, the implementation only turns the value into bytes
/// and back.
///
/// ```
/// use persist_core::{Error, Result, Storable};
/// use std::io::{Read, Write};
///
/// /// A point cloud kept as CSV.
/// struct Points(Vec<(f64, f64)>);
///
/// impl Storable for Points {
///     const EXTENSION: &'static str = "csv";
///     fn write(&self, w: &mut dyn Write) -> Result<()> {
///         for (x, y) in &self.0 {
///             writeln!(w, "{x},{y}").map_err(Error::io)?;
///         }
///         Ok(())
///     }
///     fn read(r: &mut dyn Read) -> Result<Self> {
///         let mut text = String::new();
///         r.read_to_string(&mut text).map_err(Error::io)?;
///         let parse = |s: &str| s.trim().parse::<f64>().map_err(|e| Error::corrupt(e.to_string()));
///         let mut points = Vec::new();
///         for line in text.lines() {
///             let (x, y) = line.split_once(',').ok_or_else(|| Error::corrupt("expected x,y"))?;
///             points.push((parse(x)?, parse(y)?));
///         }
///         Ok(Points(points))
///     }
/// }
///
/// let mut buf = Vec::new();
/// Points(vec![(1.0, 2.5)]).write(&mut buf)?;
/// assert_eq!(Points::read(&mut buf.as_slice())?.0, vec![(1.0, 2.5)]);
/// # Ok::<(), Error>(())
/// ```
pub trait Storable: Sized {
    /// The file extension, without the dot (`"npy"`).
    const EXTENSION: &'static str;

    /// Writes the value. Errors from `w` are I/O errors ([`Error::io`](crate::Error::io)).
    fn write(&self, w: &mut dyn Write) -> Result<()>;

    /// Reads a value written by [`write`](Storable::write); the reader holds
    /// exactly the file's bytes.
    fn read(r: &mut dyn Read) -> Result<Self>;
}
