//! [`Validate`]: a type's own check of a stored or computed result
//! (`#[persist(validate)]`).

use crate::error::BoxError;

/// A check every loaded and every computed value of a type must pass.
///
/// Opt in with `#[persist(validate)]` on the struct and implement this trait.
/// Then:
///
/// - `load` (and `load_location`, `load_all`, `query`, `all`, `Ref::load`) of a
///   stored record that fails the check is [`Error::Invalid`](crate::Error::Invalid),
///   naming the record and its `meta.json`; `load_all` and `query` fail whole,
///   `all` yields one `Err` item for it;
/// - `load_or_compute` and `load_fresh_or_compute` treat a stored record that
///   fails it as absent: they compute it again and replace it;
/// - a computed result that fails it is [`Error::Invalid`](crate::Error::Invalid)
///   and is not saved (a record stored before stays as it was).
///
/// `save` does not check: what a program saves by hand is its own choice.
/// Under [`Policy::ReadOnly`](crate::Policy::ReadOnly), a stored record that
/// fails the check is `Error::Invalid`, as with `load`.
///
/// The check may read `Lazy` record fields; they are then loaded.
///
/// ```
/// use persist_core::{BoxError, Error, Persistence, Store, Validate};
///
/// #[derive(Persistence, Debug)]
/// #[persist(name = "fit", validate)]
/// struct Fit {
///     #[key] dataset: String,
///     rmse: f64,
/// }
///
/// impl Validate for Fit {
///     fn validate(&self) -> Result<(), BoxError> {
///         if self.rmse.is_finite() && self.rmse >= 0.0 {
///             Ok(())
///         } else {
///             Err(format!("rmse {} is not a non-negative number", self.rmse).into())
///         }
///     }
/// }
///
/// let store = Store::memory();
///
/// // A computed result that fails the check is an error and is not saved.
/// let err = Fit::new("d1")
///     .load_or_compute(&store, |f| {
///         f.rmse = -1.0;
///         Ok(())
///     })
///     .unwrap_err();
/// assert!(matches!(err, Error::Invalid { .. }), "{err}");
/// assert!(!Fit::new("d1").exists(&store)?);
///
/// // A stored record that fails it does not load...
/// let mut bad = Fit::new("d2");
/// bad.rmse = -2.0;
/// bad.save(&store)?;                      // `save` does not check
/// let err = Fit::new("d2").load(&store).unwrap_err();
/// assert!(matches!(err, Error::Invalid { .. }), "{err}");
///
/// // ...and `load_or_compute` computes it again and replaces it.
/// let fit = Fit::new("d2").load_or_compute(&store, |f| {
///     f.rmse = 0.5;
///     Ok(())
/// })?;
/// assert_eq!(fit.rmse, 0.5);
/// assert_eq!(Fit::new("d2").load(&store)?.rmse, 0.5);
/// # Ok::<(), persist_core::Error>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`#[persist(validate)]` needs `impl persist_core::Validate for {Self}`",
    label = "`{Self}` does not implement `persist_core::Validate`",
    note = "implement `persist_core::Validate` for `{Self}` (`fn validate(&self) -> Result<(), persist_core::BoxError>`), or remove `validate` from `#[persist(...)]`"
)]
pub trait Validate {
    /// `Ok(())` if the value is a usable result; otherwise why it is not.
    fn validate(&self) -> Result<(), BoxError>;
}
