//! `impl __private::Record`: the hooks the runtime's operations call (key and
//! data as JSON, the autoinc, the record fields, the way back from stored
//! parts, the migration and validation hooks). `Persistence` comes from the
//! runtime's blanket impl over it.

use super::{respan, schema, Needs, StructGen};
use crate::role::Role;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

pub(super) fn expand(gen: &StructGen) -> TokenStream {
    let (krate, p, self_ty) = (&gen.krate, &gen.p, gen.self_ty());
    let header = gen.impl_header(Needs::Record);
    let (impl_generics, where_clause) = (&header.generics, &header.where_clause);
    let schema = schema::expand(gen);
    let key_values = gen.keys().into_iter().map(|f| {
        let name = super::lit(&f.name);
        f.call_with_ref(
            p,
            false,
            |pf, v| quote_spanned!(f.span()=> #pf::key_value(#name, #v)?),
        )
    });
    let data_values = gen.fields.iter().filter(|f| f.is_data()).map(|f| {
        let name = super::lit(&f.name);
        f.call_with_ref(
            p,
            false,
            |pf, v| quote_spanned!(f.span()=> #pf::data_value(#name, #v)?),
        )
    });
    let record_outs = gen.fields.iter().filter(|f| f.is_record()).map(|f| {
        f.call_with_ref(
            p,
            false,
            |pf, v| quote_spanned!(f.span()=> #pf::record_out(#v)),
        )
    });
    let (get_autoinc, set_autoinc) = match gen.autoinc() {
        Some(f) => {
            // Call-site span, like the parameter it names.
            let n = quote!(__persist_n);
            (
                f.call_with_ref(
                    p,
                    false,
                    |pf, v| quote_spanned!(f.span()=> #pf::autoinc_get(#v)),
                ),
                f.call_with_ref(
                    p,
                    true,
                    |pf, v| quote_spanned!(f.span()=> #pf::autoinc_set(#v, #n)),
                ),
            )
        }
        None => (quote!(#p::None), quote!(#p::Ok(()))),
    };
    let parts = quote!(__persist_parts);
    let from_parts = gen.fields.iter().map(|f| {
        let (member, index) = (f.ident(), f.index);
        let value = match f.role {
            Role::Key { .. } => quote_spanned!(f.span()=> #parts.key(#index)?),
            Role::AutoInc { .. } => quote_spanned!(f.span()=> #parts.autoinc()?),
            Role::Data => quote_spanned!(f.span()=> #parts.data(#index)?),
            Role::Record { .. } => quote_spanned!(f.span()=> #parts.record(#index)?),
        };
        quote!(#member: #value)
    });
    let migrate = migrate(gen);
    let validate = validate(gen);

    quote! {
        #[automatically_derived]
        impl #impl_generics #p::Record for #self_ty #where_clause {
            #schema

            fn __key(&self) -> #krate::Result<#p::Vec<#p::Value>> {
                #p::Ok(#p::vec![#(#key_values),*])
            }

            fn __autoinc(&self) -> #p::Option<u64> {
                #get_autoinc
            }

            fn __set_autoinc(&mut self, __persist_n: #p::Option<u64>) -> #krate::Result<()> {
                #set_autoinc
            }

            fn __data(&self) -> #krate::Result<#p::Vec<#p::Value>> {
                #p::Ok(#p::vec![#(#data_values),*])
            }

            fn __records(&self) -> #p::Vec<#p::RecordOut<'_>> {
                #p::vec![#(#record_outs),*]
            }

            fn __from_parts(#parts: &mut #p::Parts) -> #krate::Result<Self> {
                #p::Ok(Self {
                    #(#from_parts,)*
                })
            }

            #migrate

            #validate
        }
    }
}

/// `__migrate` calling the user's `Migrate` impl, with `#[persist(migrate)]`.
fn migrate(gen: &StructGen) -> Option<TokenStream> {
    let (krate, p) = (&gen.krate, &gen.p);
    gen.input.attrs.migrate.as_ref().map(|migrate| {
        // A missing `impl Migrate` is reported at the `migrate` key.
        let span = migrate.span();
        let krate_at = respan(krate, span);
        let args = quote!(__persist_from_version, __persist_meta);
        let call = quote_spanned!(span=> <Self as #krate_at::Migrate>::migrate(#args));
        quote! {
            fn __migrate(
                __persist_from_version: u32,
                __persist_meta: &mut #p::Value,
            ) -> #krate::Result<()> {
                #call
            }
        }
    })
}

/// `__validate` calling the user's `Validate` impl, with `#[persist(validate)]`.
fn validate(gen: &StructGen) -> Option<TokenStream> {
    let p = &gen.p;
    gen.input.attrs.validate.as_ref().map(|validate| {
        // A missing `impl Validate` is reported at the `validate` key.
        let span = validate.span();
        let p_at = respan(p, span);
        let call = quote_spanned!(span=> <Self as #p_at::Validate>::validate(self));
        quote! {
            fn __validate(&self) -> #p::Result<(), #p::BoxError> {
                #call
            }
        }
    })
}
