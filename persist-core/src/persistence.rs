//! The [`Persistence`] trait: what every `#[derive(Persistence)]` type can do,
//! written once over the [`Record`] hooks the derive implements.

use serde_json::Value;

use crate::error::{BoxError, Result};
use crate::format::Storable;
use crate::ops::compute::{self, Wanted};
use crate::ops::list::{self, Records};
use crate::ops::{files, location, read, refs, save};
use crate::record::Record;
use crate::store::Store;

/// A result that can be kept in a [`Store`]: derive it, never implement it by
/// hand.
///
/// ```
/// use persist_core::{Lazy, Persistence, Store};
///
/// #[derive(Persistence, Debug)]
/// struct Spectrum {
///     #[key] #[filename] sample: String,
///     #[key] resolution: u32,
///     peak: f64,
///     #[record] values: Lazy<Vec<u8>>,
/// }
///
/// let store = Store::memory();
/// let mut s = Spectrum::new("S1", 4);
/// s.peak = 2.5;
/// s.values.set(vec![1, 2, 3]);
/// s.save(&store)?;
///
/// let back = Spectrum::new("S1", 4).load(&store)?;     // the same key, built again
/// assert_eq!(back.peak, 2.5);
/// assert!(!back.values.is_loaded());                   // not read yet
/// assert_eq!(back.values.get()?, &vec![1, 2, 3]);      // read now
/// assert_eq!(back.filename(), "spectrum-S1");
/// # Ok::<(), persist_core::Error>(())
/// ```
pub trait Persistence: Record {
    /// Saves the record: record files first under new names, `meta.json` last
    /// by atomic rename, superseded files removed after. An `#[autoinc]` field
    /// left `None` is given the next free number (max existing + 1, first 0),
    /// never given to another record, also by another process.
    ///
    /// `Lazy` fields that are empty are saved without a file and load empty;
    /// unread ones loaded from the same record are kept without being rewritten.
    fn save(&mut self, store: &Store) -> Result<()>;

    /// The stored record with this key. Record fields stay unread until touched.
    ///
    /// Errors: [`Error::AutoIncUnresolved`](crate::Error::AutoIncUnresolved) if the autoinc is `None`,
    /// [`Error::NotFound`](crate::Error::NotFound) if nothing is stored under the key.
    fn load(&self, store: &Store) -> Result<Self>;

    /// Whether a record with this key is stored.
    fn exists(&self, store: &Store) -> Result<bool>;

    /// Removes the record, its record files and its extra files;
    /// [`Error::NotFound`](crate::Error::NotFound) if absent. An autoinc number stays taken.
    fn remove(&self, store: &Store) -> Result<()>;

    /// Loads the record; if it is not stored, runs `compute` on `self`, saves
    /// the result and returns it. With an `#[autoinc]` field left `None`, always
    /// computes and saves a new numbered record.
    ///
    /// An error from `compute` comes back as [`Error::Compute`](crate::Error::Compute) and nothing is
    /// saved. A damaged record is an error, not a reason to recompute.
    ///
    /// The key is computed once however many threads, processes or machines
    /// miss it at the same moment on one store: the first takes a lease on
    /// it (a `.lease` file in the record's folder, created only if absent and
    /// renewed while `compute` runs), the others wait and then load what it
    /// saved. A holder that dies is taken over by one waiter once its lease
    /// is [`lease_ttl`](Store::lease_ttl) old; a holder whose `compute` fails
    /// lets the next waiter compute. Waiting past the store's
    /// [`wait_timeout`](Store::wait_timeout) is [`Error::Timeout`](crate::Error::Timeout). A stored
    /// record is loaded without looking at any lease, and an `#[autoinc]`
    /// left `None` is never leased (each call is a new run).
    ///
    /// The store's [`Policy`](crate::Policy) may change this: under
    /// `Recompute` (or `RecomputeTypes` naming this type) it always computes
    /// and replaces the stored record (without a lease); under `ReadOnly` it only loads
    /// ([`Error::NotFound`](crate::Error::NotFound) if absent, without running `compute`;
    /// [`Error::ReadOnly`](crate::Error::ReadOnly) for an autoinc left `None`).
    fn load_or_compute<F>(self, store: &Store, compute: F) -> Result<Self>
    where
        F: FnOnce(&mut Self) -> std::result::Result<(), BoxError>;

    /// Like [`load_or_compute`](Persistence::load_or_compute), but a stored
    /// record that [`is_stale`](Persistence::is_stale) (an upstream it was
    /// computed from changed or is gone) is computed again and replaced.
    ///
    /// `compute` runs on `self` as passed (its data fields as you built them,
    /// typically their defaults), never on the stale record; if it fails, the
    /// stale record is kept and the error comes back as [`Error::Compute`](crate::Error::Compute). A
    /// damaged record is an error, not a reason to recompute. Under
    /// [`Policy::ReadOnly`](crate::Policy::ReadOnly) a stale record is
    /// [`Error::ReadOnly`](crate::Error::ReadOnly), never returned as if it were fresh.
    ///
    /// ```
    /// use persist_core::{Persistence, Ref, Store};
    ///
    /// #[derive(Persistence)]
    /// struct Data { #[key] name: String, values: Vec<f64> }
    ///
    /// #[derive(Persistence)]
    /// struct Mean { #[key] data: Ref<Data>, mean: f64 }
    ///
    /// let store = Store::memory();
    /// let mean_of = |data: &Data| {
    ///     Mean::new(Ref::to(data)).load_fresh_or_compute(&store, |m| {
    ///         let values = m.data.load(&store)?.values;
    ///         m.mean = values.iter().sum::<f64>() / values.len() as f64;
    ///         Ok(())
    ///     })
    /// };
    ///
    /// let mut data = Data::new("d");
    /// data.values = vec![1.0, 3.0];
    /// data.save(&store)?;
    /// assert_eq!(mean_of(&data)?.mean, 2.0);     // computed and saved
    ///
    /// data.values = vec![5.0, 7.0];
    /// data.save(&store)?;                        // the stored Mean is now stale
    /// assert_eq!(mean_of(&data)?.mean, 6.0);     // so it is computed again
    /// # Ok::<(), persist_core::Error>(())
    /// ```
    fn load_fresh_or_compute<F>(self, store: &Store, compute: F) -> Result<Self>
    where
        F: FnOnce(&mut Self) -> std::result::Result<(), BoxError>;

    /// Every stored record with this key, any autoinc number, ascending. Numbers
    /// claimed by a save that never finished are skipped.
    fn load_all(&self, store: &Store) -> Result<Vec<Self>>;

    /// Every stored record of this type, by file name. A damaged record is one
    /// `Err` item; the listing goes on.
    fn all(store: &Store) -> Result<Records<Self>>;

    /// The record's place in the store, relative to it:
    /// `<type>/<folder>` (`/<n>` after it for an autoinc number), the
    /// folder being the readable file name and the key's hash. It names one
    /// key's record on every backend and for every program, so it can be
    /// printed, kept in a log or another record, and given back to
    /// [`load_location`](Persistence::load_location).
    /// [`Store::local_path`] makes it a path on the local disk.
    ///
    /// The place does not depend on whether the record is saved yet;
    /// [`Error::AutoIncUnresolved`](crate::Error::AutoIncUnresolved) if the autoinc is `None`.
    ///
    /// ```
    /// use persist_core::{Persistence, Store};
    ///
    /// #[derive(Persistence)]
    /// struct Run { #[key] #[filename] model: String, #[autoinc] n: Option<u32>, loss: f64 }
    ///
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(dir.path())?;
    /// let mut run = Run::new("mlp");
    /// assert!(run.location(&store).is_err());            // no number yet
    /// run.save(&store)?;
    /// let place = run.location(&store)?;
    /// assert!(place.starts_with("run/run-mlp.") && place.ends_with("/0"));
    /// let folder = store.local_path(&place).unwrap();   // on the local disk
    /// assert!(folder.join("meta.json").is_file());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn location(&self, store: &Store) -> Result<String>;

    /// The record stored at `location`, a place
    /// [`location`](Persistence::location) gave (machinable's
    /// `from_directory`): the key is read from the record itself, so a program
    /// that only kept the place gets the whole record back.
    ///
    /// Errors: [`Error::NotFound`](crate::Error::NotFound) if nothing is stored there,
    /// [`Error::TypeMismatch`](crate::Error::TypeMismatch) if the place holds another type's record,
    /// [`Error::InvalidKey`](crate::Error::InvalidKey) if `location` is not a record's place (empty,
    /// absolute, `..`, a folder that is not a record folder).
    ///
    /// ```
    /// use persist_core::{Error, Persistence, Store};
    ///
    /// #[derive(Persistence, Debug, PartialEq)]
    /// struct Fit { #[key] dataset: String, #[key] degree: u32, rmse: f64 }
    ///
    /// let store = Store::memory();
    /// let mut fit = Fit::new("iris", 3);
    /// fit.rmse = 0.25;
    /// fit.save(&store)?;
    /// let place = fit.location(&store)?;
    ///
    /// let back = Fit::load_location(&store, &place)?;    // no key needed
    /// assert_eq!(back, fit);
    /// assert!(matches!(Fit::load_location(&store, "../etc"), Err(Error::InvalidKey { .. })));
    /// fit.remove(&store)?;
    /// assert!(matches!(Fit::load_location(&store, &place), Err(Error::NotFound { .. })));
    /// # Ok::<(), persist_core::Error>(())
    /// ```
    fn load_location(store: &Store, location: &str) -> Result<Self>;

    /// Keeps an extra file with the record (the record must be saved). `name`
    /// must end in `.` + `V::EXTENSION`, else [`Error::TypeMismatch`](crate::Error::TypeMismatch). Extra
    /// files live apart from the record's own files; `remove` removes them.
    fn save_file<V: Storable>(&self, store: &Store, name: &str, value: &V) -> Result<()>;

    /// Reads an extra file kept with [`save_file`](Persistence::save_file).
    fn load_file<V: Storable>(&self, store: &Store, name: &str) -> Result<V>;

    /// The key as a JSON object by field name (the autoinc included); a
    /// [`Ref`](crate::Ref) field holds its upstream's params tree.
    fn params_tree(&self) -> Value;

    /// Whether an upstream record this one was computed from (a
    /// [`Ref`](crate::Ref) in its key) now has other content, or is gone, since
    /// this record was saved. [`Error::NotFound`](crate::Error::NotFound) if this record is not stored.
    ///
    /// Content is compared by hash (key, data and record-file contents), so an
    /// upstream saved again with the same content is no change. Staleness
    /// follows chains: in A → B → C, a change to A makes B stale and C too
    /// (C was computed from a B that was computed from old data) until B is
    /// computed again; C then stays stale only if B's content changed.
    /// A record without `Ref`s is never stale.
    fn is_stale(&self, store: &Store) -> Result<bool>;
}

/// Every type the derive made a [`Record`] is a [`Persistence`]: the user
/// methods are written once, over the hooks.
impl<T: Record> Persistence for T {
    fn save(&mut self, store: &Store) -> Result<()> {
        save::save(self, store)
    }

    fn load(&self, store: &Store) -> Result<Self> {
        read::load(self, store)
    }

    fn exists(&self, store: &Store) -> Result<bool> {
        read::exists(self, store)
    }

    fn remove(&self, store: &Store) -> Result<()> {
        save::remove(self, store)
    }

    fn load_or_compute<F>(self, store: &Store, compute: F) -> Result<Self>
    where
        F: FnOnce(&mut Self) -> std::result::Result<(), BoxError>,
    {
        compute::load_or_compute(self, store, Wanted::Stored, compute)
    }

    fn load_fresh_or_compute<F>(self, store: &Store, compute: F) -> Result<Self>
    where
        F: FnOnce(&mut Self) -> std::result::Result<(), BoxError>,
    {
        compute::load_or_compute(self, store, Wanted::Fresh, compute)
    }

    fn load_all(&self, store: &Store) -> Result<Vec<Self>> {
        list::load_all(self, store)
    }

    fn all(store: &Store) -> Result<Records<Self>> {
        list::all(store)
    }

    fn location(&self, _store: &Store) -> Result<String> {
        location::location(self)
    }

    fn load_location(store: &Store, location: &str) -> Result<Self> {
        location::load_location(store, location)
    }

    fn save_file<V: Storable>(&self, store: &Store, name: &str, value: &V) -> Result<()> {
        files::save_file(self, store, name, value)
    }

    fn load_file<V: Storable>(&self, store: &Store, name: &str) -> Result<V> {
        files::load_file(self, store, name)
    }

    fn params_tree(&self) -> Value {
        refs::params_tree(self)
    }

    fn is_stale(&self, store: &Store) -> Result<bool> {
        refs::is_stale(self, store)
    }
}

/// A migration hook for records saved with another `#[persist(version)]`.
///
/// Opt in with `#[persist(version = N, migrate)]` and implement this trait: the
/// hook gets the old record's whole `meta.json` (fields `key`, `data`,
/// `records`, …) and rewrites it in place to fit the current version.
///
/// ```
/// use persist_core::{Migrate, Persistence, Result, Store};
/// use serde_json::Value;
///
/// #[derive(Persistence)]
/// #[persist(name = "fit", version = 2, migrate)]
/// struct Fit {
///     #[key] dataset: String,
///     rmse: f64,          // version 1 called it `error`
/// }
///
/// impl Migrate for Fit {
///     fn migrate(from_version: u32, meta: &mut Value) -> Result<()> {
///         if from_version == 1 {
///             if let Some(data) = meta["data"].as_object_mut() {
///                 if let Some(v) = data.remove("error") {
///                     data.insert("rmse".into(), v);
///                 }
///             }
///         }
///         Ok(())
///     }
/// }
/// # let _ = Store::memory();
/// ```
pub trait Migrate {
    /// Rewrites a record saved with `from_version` so it loads as the current
    /// version.
    fn migrate(from_version: u32, meta: &mut Value) -> Result<()>;
}
