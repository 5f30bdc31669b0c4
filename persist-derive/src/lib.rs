//! The `#[derive(Persistence)]` macro of persist.
//!
//! Do not depend on this crate directly: use [`persist_core`], which
//! re-exports the derive (with its default `derive` feature) next to the
//! runtime it generates code for, and documents the attributes
//! (`#[key]`, `#[filename]`, `#[autoinc]`, `#[record]`, `#[persist(…)]`) and
//! everything the derive generates.
//!
//! [`persist_core`]: https://docs.rs/persist-core
//!
//! The stages follow thiserror-impl and serde_derive: `ast` and `attr` parse
//! the input, `valid` checks every rule and reports all errors at once,
//! `expand` generates code (one generator per generated item: the `Record`
//! impl, `new`, `filename` and `Display`, the replace and query builders),
//! and `fallback` keeps a failed derive from causing follow-up errors in the
//! user's code. Shared by the stages: `role` (what each field is), `ty` (how
//! a field type is recognised) and `crate_path` (the runtime's path).

#![allow(clippy::module_name_repetitions)]

mod ast;
mod attr;
mod codec;
mod crate_path;
mod ctxt;
mod expand;
mod fallback;
mod role;
mod symbol;
mod ty;
mod valid;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Derives `persist_core::Persistence`, `new`, `filename`, `replace`,
/// `query` and `Display` for a struct with named fields.
///
/// See the `persist_core` documentation for the attributes and the
/// generated API.
///
/// # Generic structs
///
/// Type parameters are allowed when the struct names its records with
/// `#[persist(name = "…")]` (without it the derive is an error at the
/// generics): the place on disk is chosen by that name and the key, so every
/// instantiation shares it, and `Spectrum<f32>` finds a record saved as
/// `Spectrum<f64>` with the same key (its array then fails to read with
/// `TypeMismatch`). The generated impls bound the fields whose type mentions
/// a parameter, not the parameter: here `Array1<E>: Storable`, which holds
/// for every npy element type. Lifetime and const parameters are refused.
///
/// ```
/// use persist_core::ndarray::{array, Array1};
/// use persist_core::{Lazy, Persistence, Store};
///
/// #[derive(Persistence)]
/// #[persist(name = "spectrum")]
/// struct Spectrum<E> {
///     #[filename]
///     animal: String,
///     #[record]
///     power: Lazy<Array1<E>>,
/// }
///
/// # fn main() -> persist_core::Result<()> {
/// let store = Store::memory();
/// let mut narrow = Spectrum::<f32>::new("A00");
/// narrow.power.set(array![0.5, 1.5]);
/// narrow.save(&store)?;
///
/// let back = Spectrum::<f32>::new("A00").load(&store)?;
/// assert_eq!(back.power.get()?, &array![0.5f32, 1.5]);
/// assert_eq!(back.to_string(), "spectrum-A00");
/// # Ok(())
/// # }
/// ```
#[proc_macro_derive(Persistence, attributes(persist, key, filename, autoinc, record))]
pub fn derive_persistence(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}

#[cfg(test)]
mod tests;
