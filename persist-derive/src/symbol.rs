//! Attribute names, as constants so that a typo is a compile error here
//! rather than a silently ignored attribute (serde_derive's `symbol.rs`).

use std::fmt::{self, Display};
use syn::{Ident, Path};

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Symbol(pub &'static str);

// Attributes.
pub const PERSIST: Symbol = Symbol("persist");
pub const KEY: Symbol = Symbol("key");
pub const FILENAME: Symbol = Symbol("filename");
pub const AUTOINC: Symbol = Symbol("autoinc");
pub const RECORD: Symbol = Symbol("record");

/// Every field attribute, in the order they are documented.
pub const FIELD_ATTRS: [Symbol; 4] = [KEY, FILENAME, AUTOINC, RECORD];

// Keys inside `#[persist(...)]`.
pub const NAME: Symbol = Symbol("name");
pub const CRATE: Symbol = Symbol("crate");
pub const VERSION: Symbol = Symbol("version");
pub const MIGRATE: Symbol = Symbol("migrate");
pub const VALIDATE: Symbol = Symbol("validate");

// Keys inside the field attributes.
pub const PREFIX: Symbol = Symbol("prefix");
pub const FILE: Symbol = Symbol("file");
pub const COMPRESS: Symbol = Symbol("compress");

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for &Ident {
    fn eq(&self, word: &Symbol) -> bool {
        *self == word.0
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl PartialEq<Symbol> for &Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl Display for Symbol {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str(self.0)
    }
}
