//! `fn filename(&self)` and `impl Display`, which prints the same: both call
//! the runtime, which builds the name from the schema.

use super::{Needs, StructGen};
use proc_macro2::TokenStream;
use quote::quote;

/// The inherent `filename` method.
pub(super) fn filename(gen: &StructGen) -> TokenStream {
    let (p, ident) = (&gen.p, gen.ident());
    let doc = format!(
        "The readable file name of this `{ident}`: `{}`, then each `#[filename]` field, \
         then the autoinc (`*` while unresolved), joined by `-`.\n\nThe `Display` impl prints the same.",
        gen.input.type_name()
    );
    quote! {
        #[doc = #doc]
        pub fn filename(&self) -> #p::String {
            #p::filename(self)
        }
    }
}

/// `impl Display`.
pub(super) fn expand(gen: &StructGen) -> TokenStream {
    let (p, self_ty) = (&gen.p, gen.self_ty());
    let header = gen.impl_header(Needs::Record);
    let (impl_generics, where_clause) = (&header.generics, &header.where_clause);
    quote! {
        #[automatically_derived]
        impl #impl_generics #p::fmt::Display for #self_ty #where_clause {
            fn fmt(&self, __persist_f: &mut #p::fmt::Formatter<'_>) -> #p::fmt::Result {
                __persist_f.write_str(&#p::filename(self))
            }
        }
    }
}
