//! # persist
//!
//! Keep expensive computed results. Describe a result as a plain struct, mark
//! which fields are its identity, and `#[derive(Persistence)]` gives it
//! constructors, a readable file name, `replace`, and save / load /
//! load-or-compute against a [`Store`] on disk, in memory or (with the
//! `object-store` feature) in a bucket. Build the key the way you built it the
//! first time, call `load`, and you get the stored result back.
//!
//! ```
//! use persist_core::{Lazy, Persistence, Store};
//! use persist_core::ndarray::Array1;
//!
//! #[derive(Persistence, Debug)]
//! #[persist(name = "example")]
//! struct Example {
//!     #[key] #[filename] use_animal: String,   // identity, shown in the file name
//!     #[key] use_session: String,              // identity, not shown
//!     #[key] #[filename] use_date: String,
//!     channels: Vec<i32>,                      // data, kept in meta.json
//!     #[record] data: Lazy<Array1<f64>>,       // its own .npy, read on first access
//! }
//!
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(dir.path())?;
//!
//! let result = Example::new("A00", "s", "1234").load_or_compute(&store, |e| {
//!     e.channels = vec![1, 2, 3];
//!     e.data.set(Array1::linspace(0.0, 1.0, 5));
//!     Ok(())
//! })?;
//! assert_eq!(result.filename(), "example-A00-1234");
//!
//! let again = Example::new("A00", "s", "1234").load(&store)?;
//! assert_eq!(again.channels, vec![1, 2, 3]);
//! assert_eq!(again.data.get()?[4], 1.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! See the README for the attributes, the generated items and the on-disk
//! layout.

#![warn(missing_docs)]

// Each module uses only modules of the layers below it: the map is in
// ARCHITECTURE.md, and scripts/module-cycles.py checks there is no cycle.
pub mod backend;
mod checksum;
#[cfg(feature = "clap")]
pub mod cli;
pub mod compress;
pub mod error;
pub mod format;
pub mod key;
pub mod layout;
mod lazy;
mod lease;
pub mod maintenance;
pub mod meta;
mod ops;
mod persistence;
mod record;
mod record_file;
mod reference;
#[doc(hidden)]
pub mod schema;
mod stats;
mod store;
#[doc(hidden)]
#[cfg(feature = "object-store")]
pub mod testing;
mod validate;

#[doc(hidden)]
pub mod private;

/// Not public API: what `#[derive(Persistence)]` generates calls.
#[doc(hidden)]
pub use private as __private;

pub use error::{BoxError, Error, Result};
pub use format::{Json, Storable};
pub use key::KeyHash;
pub use lazy::{Lazy, MmapView};
pub use ops::list::Records;
pub use persistence::{Migrate, Persistence};
pub use record::RecordDir;
pub use reference::Ref;
pub use stats::Stats;
pub use store::{Policy, Store, DEFAULT_LEASE_TTL};
pub use validate::Validate;

/// The derive; see [`Persistence`].
#[cfg(feature = "derive")]
pub use persist_derive::Persistence;

/// The `ndarray` persist-core is built with, so users can match its version.
pub use ndarray;

/// The `serde_json` persist-core is built with.
pub use serde_json;

/// The `object_store` persist-core is built with (feature `object-store`), for
/// [`Store::from_object_store`].
#[cfg(feature = "object-store")]
pub use object_store;
