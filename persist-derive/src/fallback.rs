//! When validation fails: besides the `compile_error!`s, a stub impl so that
//! the user's calls (`save`, `load`, `new`, `filename`, `{}`) do not add a
//! cascade of unrelated errors (thiserror-impl's `fallback.rs`).

use crate::ast::Input;
use crate::role::Role;
use crate::ty::is_string;
use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

pub fn expand(node: &DeriveInput, input: Option<&Input>, krate: &TokenStream) -> TokenStream {
    let p = quote!(#krate::__private);
    let ident = &node.ident;
    let (impl_generics, ty_generics, where_clause) = node.generics.split_for_impl();

    // `new` with the key arguments as far as they can be told, so that a
    // call to it is not one more error.
    let inherent = input.map(|input| {
        let args = input.fields.iter().filter_map(|field| {
            if !matches!(field.role(), Role::Key { .. }) {
                return None;
            }
            let ty = field.ty;
            Some(if is_string(ty) {
                quote!(_: impl #p::Into<#ty>)
            } else {
                quote!(_: #ty)
            })
        });
        quote! {
            #[automatically_derived]
            impl #impl_generics #ident #ty_generics #where_clause {
                pub fn new(#(#args),*) -> Self {
                    ::core::unreachable!()
                }

                pub fn filename(&self) -> #p::String {
                    ::core::unreachable!()
                }
            }
        }
    });

    quote! {
        #[allow(unused_qualifications, clippy::absolute_paths, clippy::too_many_arguments)]
        const _: () = {
            #[automatically_derived]
            impl #impl_generics #p::Record for #ident #ty_generics #where_clause {
                const __SCHEMA: &'static #p::Schema = ::core::unreachable!();

                fn __key(&self) -> #krate::Result<#p::Vec<#p::Value>> {
                    ::core::unreachable!()
                }

                fn __autoinc(&self) -> #p::Option<u64> {
                    ::core::unreachable!()
                }

                fn __set_autoinc(&mut self, _: #p::Option<u64>) -> #krate::Result<()> {
                    ::core::unreachable!()
                }

                fn __data(&self) -> #krate::Result<#p::Vec<#p::Value>> {
                    ::core::unreachable!()
                }

                fn __records(&self) -> #p::Vec<#p::RecordOut<'_>> {
                    ::core::unreachable!()
                }

                fn __from_parts(_: &mut #p::Parts) -> #krate::Result<Self> {
                    ::core::unreachable!()
                }
            }

            #[automatically_derived]
            impl #impl_generics #p::fmt::Display for #ident #ty_generics #where_clause {
                fn fmt(&self, _: &mut #p::fmt::Formatter<'_>) -> #p::fmt::Result {
                    ::core::unreachable!()
                }
            }

            #inherent
        };
    }
}
