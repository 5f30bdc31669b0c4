//! `fn replace(&self) -> <Name>Replace`: a builder holding a clone, one
//! setter per field (the autoinc apart), `.build()`. Changing a key field
//! resets the autoinc to `None`, since the new key has its own numbers.

use super::{Builder, Needs, StructGen};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;

/// Set by a key setter when the struct has an autoinc: `build` then resets it.
const KEY_CHANGED: &str = "__persist_key_changed";

pub(super) fn expand(gen: &StructGen) -> Builder {
    let builder = format_ident!("{}Replace", gen.ident());
    let key_changed = gen.autoinc().map(|_| format_ident!("{KEY_CHANGED}"));
    Builder {
        def: def(gen, &builder, key_changed.as_ref()),
        start: start(gen, &builder, key_changed.as_ref()),
        methods: methods(gen, &builder, key_changed.as_ref()),
    }
}

fn def(gen: &StructGen, builder: &Ident, key_changed: Option<&Ident>) -> TokenStream {
    let (ident, vis, generics) = (gen.ident(), &gen.input.original.vis, gen.input.generics);
    let where_clause = &generics.where_clause;
    let fields = gen.fields.iter().map(|f| {
        let (member, ty) = (f.ident(), f.ty());
        quote!(#member: #ty)
    });
    let flag_field = key_changed.map(|flag| quote!(#flag: bool,));
    let doc = format!(
        "A changed copy of a [`{ident}`] in the making, returned by [`{ident}::replace`].\n\n\
         One setter per field, named as the field; [`build`]({builder}::build) returns the new value.{}",
        if key_changed.is_some() {
            " Changing a key field resets the autoinc to `None`: the new key has its own numbers."
        } else {
            ""
        }
    );
    quote! {
        #[doc = #doc]
        #[must_use = "call `.build()` to get the changed value"]
        #[allow(dead_code)]
        #vis struct #builder #generics #where_clause {
            #(#fields,)*
            #flag_field
        }
    }
}

/// The record's `replace` method.
fn start(gen: &StructGen, builder: &Ident, key_changed: Option<&Ident>) -> TokenStream {
    let clones = gen.fields.iter().map(|f| {
        let member = f.ident();
        let value = f.call_with_ref(
            &gen.p,
            false,
            |pf, v| quote_spanned!(f.span()=> #pf::Clone::clone(#v)),
        );
        quote!(#member: #value)
    });
    let flag_init = key_changed.map(|flag| quote!(#flag: false,));
    let builder_ty = gen.builder_ty(builder);
    let doc = format!(
        "Starts a [`{builder}`]: a copy of `self` to change some fields of, \
         finished with [`build`]({builder}::build)."
    );
    quote! {
        #[doc = #doc]
        pub fn replace(&self) -> #builder_ty {
            #builder {
                #(#clones,)*
                #flag_init
            }
        }
    }
}

/// The setters and `build`.
fn methods(gen: &StructGen, builder: &Ident, key_changed: Option<&Ident>) -> TokenStream {
    let (p, ident, self_ty) = (&gen.p, gen.ident(), gen.self_ty());
    let builder_ty = gen.builder_ty(builder);
    let header = gen.impl_header(Needs::Nothing);
    let (impl_generics, where_clause) = (&header.generics, &header.where_clause);
    let setters = gen.fields.iter().filter(|f| !f.is_autoinc()).map(|f| {
        let (member, arg_ty, into) = (f.ident(), f.arg_ty(p), f.arg_into(p));
        let resets = key_changed.filter(|_| f.is_key());
        let doc = format!(
            "Sets `{}`{}.",
            f.name,
            if resets.is_some() {
                " (a key field: `build` then resets the autoinc to `None`)"
            } else {
                ""
            }
        );
        let flag = resets.map(|flag| quote!(self.#flag = true;));
        quote! {
            #[doc = #doc]
            pub fn #member(mut self, #member: #arg_ty) -> Self {
                self.#member = #into;
                #flag
                self
            }
        }
    });
    let build_fields = gen.fields.iter().map(|f| {
        let member = f.ident();
        quote!(#member: self.#member)
    });
    let read_flag = key_changed.map(|flag| quote!(let __persist_reset = self.#flag;));
    let value_mut = key_changed.map(|_| quote!(mut));
    let reset = gen.autoinc().map(|f| {
        let member = f.ident();
        quote! {
            if __persist_reset {
                __persist_value.#member = #p::None;
            }
        }
    });
    let doc = format!("Returns the changed `{ident}`.");
    quote! {
        #[automatically_derived]
        impl #impl_generics #builder_ty #where_clause {
            #(#setters)*

            #[doc = #doc]
            pub fn build(self) -> #self_ty {
                #read_flag
                let #value_mut __persist_value = #ident {
                    #(#build_fields,)*
                };
                #reset
                __persist_value
            }
        }
    }
}
