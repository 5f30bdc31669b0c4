//! `Vec<u8>` as raw bytes (`.bin`).

use std::io::{Read, Write};

use super::Storable;
use crate::error::{Error, Result};

impl Storable for Vec<u8> {
    const EXTENSION: &'static str = "bin";

    fn write(&self, w: &mut dyn Write) -> Result<()> {
        w.write_all(self).map_err(Error::io)
    }

    fn read(r: &mut dyn Read) -> Result<Self> {
        let mut bytes = Vec::new();
        r.read_to_end(&mut bytes).map_err(Error::io)?;
        Ok(bytes)
    }
}
