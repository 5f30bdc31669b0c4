//! What each field is to the record: the one place that turns a field's
//! markers into its role, used by the generator and by the fallback stub.

use crate::ast::Field;
use crate::ty::autoinc_int;
use syn::{LitStr, Type};

/// What a field is, once validated.
pub enum Role<'a> {
    /// `#[key]` or `#[filename]` (which implies `#[key]`).
    Key {
        filename: bool,
        prefix: Option<&'a LitStr>,
    },
    AutoInc {
        prefix: Option<&'a LitStr>,
        /// The integer inside `Option<…>`.
        int: &'a Type,
    },
    Record {
        stem: Option<&'a LitStr>,
        /// `compress = "…"`, as written (valid.rs checks it parses).
        compress: Option<&'a LitStr>,
    },
    Data,
}

impl Field<'_> {
    /// The role (autoinc wins, then record, then key), so that an input that
    /// failed validation still gets one role per field.
    pub fn role(&self) -> Role<'_> {
        let a = &self.attrs;
        if let Some(marker) = &a.autoinc {
            Role::AutoInc {
                prefix: marker.value.as_ref(),
                int: autoinc_int(self.ty).unwrap_or(self.ty),
            }
        } else if let Some(marker) = &a.record {
            Role::Record {
                stem: marker.value.as_ref(),
                compress: marker.compress.as_ref(),
            }
        } else if a.key.is_some() || a.filename.is_some() {
            Role::Key {
                filename: a.filename.is_some(),
                prefix: a.filename.as_ref().and_then(|m| m.value.as_ref()),
            }
        } else {
            Role::Data
        }
    }
}
