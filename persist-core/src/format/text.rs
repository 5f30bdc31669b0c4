//! `String` as UTF-8 text (`.txt`).

use std::io::{Read, Write};

use super::Storable;
use crate::error::{Error, Result};

impl Storable for String {
    const EXTENSION: &'static str = "txt";

    fn write(&self, w: &mut dyn Write) -> Result<()> {
        w.write_all(self.as_bytes()).map_err(Error::io)
    }

    fn read(r: &mut dyn Read) -> Result<Self> {
        let mut bytes = Vec::new();
        r.read_to_end(&mut bytes).map_err(Error::io)?;
        String::from_utf8(bytes).map_err(|e| Error::corrupt(format!("text is not UTF-8: {e}")))
    }
}
