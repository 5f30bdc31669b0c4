//! `fn query() -> <Name>Query`: a typed partial-key query, one setter per
//! key field and the autoinc, `.run(&store)` sorted by file name.

use super::{Builder, FieldGen, Needs, StructGen};
use crate::role::Role;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;

pub(super) fn expand(gen: &StructGen) -> Builder {
    let builder = format_ident!("{}Query", gen.ident());
    // What a query can fix: the key fields and the autoinc.
    let targets: Vec<&FieldGen> = gen
        .fields
        .iter()
        .filter(|f| f.is_key() || f.is_autoinc())
        .collect();
    Builder {
        def: def(gen, &builder, &targets),
        start: start(gen, &builder, &targets),
        methods: methods(gen, &builder, &targets),
    }
}

fn def(gen: &StructGen, builder: &Ident, targets: &[&FieldGen]) -> TokenStream {
    let (p, ident, vis, generics) = (
        &gen.p,
        gen.ident(),
        &gen.input.original.vis,
        gen.input.generics,
    );
    let where_clause = &generics.where_clause;
    let fields = targets.iter().map(|f| {
        let member = f.ident();
        let ty = match f.role {
            Role::AutoInc { int, .. } => int,
            _ => f.ty(),
        };
        quote!(#member: #p::Option<#ty>)
    });
    // The key fields need not mention every parameter.
    let marker = marker(gen).map(|(member, _)| {
        let self_ty = gen.self_ty();
        quote!(#member: #p::PhantomData<fn() -> #self_ty>,)
    });
    let doc = format!(
        "A typed query over the stored [`{ident}`] records, returned by [`{ident}::query`].\n\n\
         One setter per key field; fields left unset match anything. \
         [`run`]({builder}::run) lists the matches."
    );
    quote! {
        #[doc = #doc]
        #[must_use = "call `.run(&store)` to run the query"]
        #[allow(dead_code, unused_qualifications)]
        #vis struct #builder #generics #where_clause {
            #(#fields,)*
            #marker
        }
    }
}

/// The record's `query` function.
fn start(gen: &StructGen, builder: &Ident, targets: &[&FieldGen]) -> TokenStream {
    let (p, ident) = (&gen.p, gen.ident());
    let init = targets.iter().map(|f| {
        let member = f.ident();
        quote!(#member: #p::None)
    });
    let marker_init = marker(gen).map(|(member, init)| quote!(#member: #init,));
    let builder_ty = gen.builder_ty(builder);
    let doc = format!(
        "Starts a [`{builder}`] over the stored `{ident}` records; fields left unset match anything."
    );
    quote! {
        #[doc = #doc]
        pub fn query() -> #builder_ty {
            #builder {
                #(#init,)*
                #marker_init
            }
        }
    }
}

/// The setters and `run`.
fn methods(gen: &StructGen, builder: &Ident, targets: &[&FieldGen]) -> TokenStream {
    let (krate, p, ident, self_ty) = (&gen.krate, &gen.p, gen.ident(), gen.self_ty());
    let builder_ty = gen.builder_ty(builder);
    let header = gen.impl_header(Needs::Record);
    let (impl_generics, where_clause) = (&header.generics, &header.where_clause);
    let setters = targets.iter().map(|f| {
        let member = f.ident();
        let (arg_ty, into, doc) = match f.role {
            Role::AutoInc { int, .. } => (
                quote!(#int),
                quote!(#member),
                format!(
                    "Matches only the records whose autoinc `{}` is this number.",
                    f.name
                ),
            ),
            _ => (
                f.arg_ty(p),
                f.arg_into(p),
                format!("Matches only records whose `{}` equals this value.", f.name),
            ),
        };
        quote! {
            #[doc = #doc]
            pub fn #member(mut self, #member: #arg_ty) -> Self {
                self.#member = #p::Some(#into);
                self
            }
        }
    });
    let filters = gen.keys().into_iter().map(|f| {
        let name = super::lit(&f.name);
        f.call_with_ref(
            p,
            false,
            |pf, v| quote_spanned!(f.span()=> #pf::filter_value(#name, #v)?),
        )
    });
    let autoinc = match gen.autoinc() {
        Some(f) => {
            let member = f.ident();
            quote!(#p::autoinc_get(&self.#member))
        }
        None => quote!(#p::None),
    };
    let doc = format!(
        "Loads every stored `{ident}` that matches the fields set, sorted by file name.\n\n\
         Records ruled out by their file name are not read."
    );
    quote! {
        #[automatically_derived]
        impl #impl_generics #builder_ty #where_clause {
            #(#setters)*

            #[doc = #doc]
            pub fn run(&self, __persist_store: &#krate::Store) -> #krate::Result<#p::Vec<#self_ty>> {
                #p::query::<#self_ty>(
                    __persist_store,
                    #p::vec![#(#filters),*],
                    #autoinc,
                )
            }
        }
    }
}

/// For a generic struct, the `PhantomData` field that holds its parameters
/// (the key fields need not mention each), and its initial value.
fn marker(gen: &StructGen) -> Option<(TokenStream, TokenStream)> {
    let p = &gen.p;
    (!gen.params.is_empty()).then(|| (quote!(__persist_marker), quote!(#p::PhantomData)))
}
