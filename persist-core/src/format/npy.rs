//! ndarray owned arrays as `.npy`, readable by `numpy.load`.

use std::io::{Read, Write};

use ndarray::{ArrayBase, Dimension, OwnedRepr};
use ndarray_npy::{
    ReadNpyError, ReadNpyExt, ReadableElement, WritableElement, WriteNpyError, WriteNpyExt,
};

use super::Storable;
use crate::error::{Error, Result};

impl<A, D> Storable for ArrayBase<OwnedRepr<A>, D>
where
    A: WritableElement + ReadableElement,
    D: Dimension,
{
    const EXTENSION: &'static str = "npy";

    fn write(&self, w: &mut dyn Write) -> Result<()> {
        self.write_npy(w).map_err(|e| match e {
            WriteNpyError::Io(e) => Error::io(e),
            other => Error::corrupt(format!("cannot write npy: {other}")),
        })
    }

    fn read(r: &mut dyn Read) -> Result<Self> {
        Self::read_npy(r).map_err(|e| match e {
            ReadNpyError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Error::corrupt("npy file is truncated")
            }
            ReadNpyError::Io(e) => Error::io(e),
            ReadNpyError::WrongNdim(expected, found) => Error::type_mismatch(
                match expected {
                    Some(n) => format!("an array of {n} dimension(s)"),
                    None => "an array of any dimension".to_owned(),
                },
                format!("an array of {found} dimension(s)"),
            ),
            ReadNpyError::WrongDescriptor(descr) => Error::type_mismatch(
                format!("npy dtype of {}", std::any::type_name::<A>()),
                format!("dtype {descr}"),
            ),
            ReadNpyError::MissingData => Error::corrupt("npy file is truncated (data missing)"),
            other => Error::corrupt(format!("not a valid npy file: {other}")),
        })
    }
}
