//! JSON files: `serde_json::Value` and any serde type through [`Json`].

use std::io::{Read, Write};
use std::ops::{Deref, DerefMut};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::Storable;
use crate::error::{Error, Result};

/// Any serde type kept as a pretty-printed `.json` file.
///
/// ```
/// use persist_core::{Json, Storable};
/// let mut buf = Vec::new();
/// Json(vec![1, 2, 3]).write(&mut buf)?;
/// let back: Json<Vec<i32>> = Json::read(&mut buf.as_slice())?;
/// assert_eq!(*back, vec![1, 2, 3]);
/// # Ok::<(), persist_core::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// The wrapped value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> From<T> for Json<T> {
    fn from(value: T) -> Self {
        Json(value)
    }
}

fn write_json<T: Serialize + ?Sized>(value: &T, w: &mut dyn Write) -> Result<()> {
    serde_json::to_writer_pretty(&mut *w, value).map_err(|e| {
        if e.is_io() {
            Error::io(e.into())
        } else {
            Error::corrupt(format!("cannot serialize to JSON: {e}"))
        }
    })
}

fn read_json<T: DeserializeOwned>(r: &mut dyn Read) -> Result<T> {
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes).map_err(Error::io)?;
    serde_json::from_slice(&bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => Error::type_mismatch(
            std::any::type_name::<T>(),
            format!("JSON that does not fit it ({e})"),
        ),
        _ => Error::corrupt(format!("not valid JSON: {e}")),
    })
}

impl<T: Serialize + DeserializeOwned> Storable for Json<T> {
    const EXTENSION: &'static str = "json";

    fn write(&self, w: &mut dyn Write) -> Result<()> {
        write_json(&self.0, w)
    }

    fn read(r: &mut dyn Read) -> Result<Self> {
        read_json(r).map(Json)
    }
}

impl Storable for serde_json::Value {
    const EXTENSION: &'static str = "json";

    fn write(&self, w: &mut dyn Write) -> Result<()> {
        write_json(self, w)
    }

    fn read(r: &mut dyn Read) -> Result<Self> {
        read_json(r)
    }
}
