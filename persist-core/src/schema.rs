//! What the derive tells the runtime about a struct: its name, version, and
//! which fields are key, autoinc, data and record. Built as a `const` by the
//! derive; not public API.

/// A persisted struct's shape.
#[derive(Debug)]
pub struct Schema {
    /// The type name (`#[persist(name)]`, default the struct name in snake_case).
    pub name: &'static str,
    /// `#[persist(version)]`, default 1.
    pub version: u32,
    /// Key fields in declaration order, the autoinc apart.
    pub keys: &'static [KeyField],
    /// The `#[autoinc]` field.
    pub autoinc: Option<AutoIncField>,
    /// Data fields in declaration order.
    pub data: &'static [&'static str],
    /// `#[record]` fields in declaration order.
    pub records: &'static [RecordField],
    /// The name of the crate that defines the struct (its `CARGO_PKG_NAME`
    /// when the derive ran; empty outside Cargo), for the provenance.
    pub crate_name: &'static str,
    /// That crate's version (`CARGO_PKG_VERSION`).
    pub crate_version: &'static str,
}

/// A `#[key]` field.
#[derive(Debug)]
pub struct KeyField {
    /// The field name.
    pub name: &'static str,
    /// Whether it is shown in the file name (`#[filename]`).
    pub filename: bool,
    /// The prefix before its value in the file name.
    pub prefix: &'static str,
}

/// The `#[autoinc]` field.
#[derive(Debug)]
pub struct AutoIncField {
    /// The field name.
    pub name: &'static str,
    /// The prefix before the number in the file name.
    pub prefix: &'static str,
}

/// A `#[record]` field.
#[derive(Debug)]
pub struct RecordField {
    /// The field name.
    pub name: &'static str,
    /// The stem of its file name (`<stem>-<uuid>.<ext>`).
    pub stem: &'static str,
    /// `#[record(compress = "…")]`: how its file is compressed when written.
    pub compress: Option<crate::compress::Codec>,
}
