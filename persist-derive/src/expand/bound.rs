//! Generic structs: the `where` clauses of the generated impls. A bound is
//! put on a field's type only when that type mentions a type parameter
//! (thiserror's `generics.rs`, serde's `bound.rs`), so `struct S<K, M>
//! { #[key] id: K, marker: PhantomData<M> }` needs `K: KeyType` (serde both
//! ways) and `PhantomData<M>: DataType`, which holds for every `M`.

use super::StructGen;
use crate::role::Role;
use crate::ty::{lazy_inner, mentions};
use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::{parse_quote, WherePredicate};

/// What an impl asks of the fields that mention a type parameter.
#[derive(Clone, Copy)]
pub(super) enum Needs {
    /// Only the struct's own `where` clause (the builders' setters).
    Nothing,
    /// What the `Record` hooks use: keys and data through serde, data
    /// `Default`, record files `Storable`.
    Record,
    /// `Record`, and every field `Clone` (the `replace` method).
    RecordAndClone,
}

/// `impl<…>` and `where …` for an impl over the struct (or one of its
/// builders, which have the same parameters); empty for a plain struct.
pub(super) struct ImplHeader {
    pub generics: TokenStream,
    pub where_clause: TokenStream,
}

impl StructGen<'_> {
    pub(super) fn impl_header(&self, needs: Needs) -> ImplHeader {
        let mut generics = self.input.generics.clone();
        let predicates = self.predicates(needs);
        if !predicates.is_empty() {
            generics.make_where_clause().predicates.extend(predicates);
        }
        let (impl_generics, _, where_clause) = generics.split_for_impl();
        ImplHeader {
            generics: impl_generics.to_token_stream(),
            where_clause: where_clause.to_token_stream(),
        }
    }

    fn predicates(&self, needs: Needs) -> Vec<WherePredicate> {
        let (krate, p) = (&self.krate, &self.p);
        let mut predicates = Vec::new();
        if self.params.is_empty() || matches!(needs, Needs::Nothing) {
            return predicates;
        }
        for f in &self.fields {
            let ty = f.ty();
            if !mentions(ty, &self.params) {
                continue;
            }
            match f.role {
                Role::Key { .. } => predicates.push(parse_quote!(#ty: #p::KeyType)),
                Role::Data => predicates.push(parse_quote!(#ty: #p::DataType)),
                Role::Record { .. } => {
                    if let Some(inner) = lazy_inner(ty) {
                        predicates.push(parse_quote!(#inner: #krate::Storable));
                    }
                }
                // `Option<u32 | u64 | usize>`, never generic.
                Role::AutoInc { .. } => {}
            }
            if matches!(needs, Needs::RecordAndClone) {
                predicates.push(parse_quote!(#ty: #p::Clone));
            }
        }
        predicates
    }

    /// The struct's type with its parameters, e.g. `Spectrum<E>`.
    pub(super) fn self_ty(&self) -> TokenStream {
        let ident = self.ident();
        let (_, ty_generics, _) = self.input.generics.split_for_impl();
        quote!(#ident #ty_generics)
    }

    /// A builder's type with the struct's parameters, e.g. `SpectrumQuery<E>`.
    pub(super) fn builder_ty(&self, builder: &syn::Ident) -> TokenStream {
        let (_, ty_generics, _) = self.input.generics.split_for_impl();
        quote!(#builder #ty_generics)
    }
}
