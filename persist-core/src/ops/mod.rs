//! The operations on records, generic over [`Record`](crate::record::Record):
//! the user methods of [`Persistence`](crate::Persistence) are one call into
//! here each.
//!
//! * `read`: one record by key, its `meta.json` checked and migrated.
//! * `list`: every number of a key, every record of a type.
//! * `save`: the save protocol, and removal.
//! * `autoinc`: claiming numbers.
//! * `compute`: `load_or_compute`, under a lease.
//! * `query`: partial-key queries.
//! * `files`: extra files kept with a record.
//! * `refs`: what follows from the `Ref`s in a key (upstream hashes,
//!   staleness, the params tree).

pub(crate) mod autoinc;
pub(crate) mod compute;
pub(crate) mod files;
pub(crate) mod list;
pub(crate) mod location;
pub(crate) mod query;
pub(crate) mod read;
pub(crate) mod refs;
pub(crate) mod save;
