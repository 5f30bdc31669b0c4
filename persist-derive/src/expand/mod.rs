//! Code generation only: every decision about validity was made in `valid.rs`.
//!
//! One generator per generated item: `record_impl` (the hidden `Record`
//! trait, with its schema in `schema`), `new`, `display` (`filename` and
//! `Display`), and the `replace` and `query` builders. This module resolves
//! the fields once ([`StructGen`]) and puts the items together.

mod bound;
mod display;
mod field;
mod new;
mod query;
mod record_impl;
mod replace;
mod schema;

use crate::ast::Input;
use crate::crate_path::runtime_path;
use crate::ctxt::Ctxt;
use crate::role::Role;
use crate::{fallback, valid};
use bound::Needs;
use field::FieldGen;
use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::quote;
use syn::{DeriveInput, Ident, LitStr};

pub fn derive(node: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let input = Input::from_syn(&cx, node);
    if let Some(input) = &input {
        valid::check(&cx, input);
    }
    match cx.check() {
        Ok(()) => impl_struct(&input.expect("checked")),
        Err(err) => {
            let krate = runtime_path(input.as_ref());
            let errors = err.into_compile_error();
            let stub = fallback::expand(node, input.as_ref(), &krate);
            quote! {
                #errors
                #stub
            }
        }
    }
}

/// The struct as the generators see it: the runtime's paths, each field
/// with its role and index, and its type parameters.
struct StructGen<'a> {
    input: &'a Input<'a>,
    /// The runtime crate, e.g. `::persist_core`.
    krate: TokenStream,
    /// Its hidden support module, `#krate::__private`.
    p: TokenStream,
    fields: Vec<FieldGen<'a>>,
    /// The type parameters of a generic struct.
    params: Vec<&'a Ident>,
}

impl<'a> StructGen<'a> {
    fn new(input: &'a Input<'a>) -> Self {
        let krate = runtime_path(Some(input));
        let p = quote!(#krate::__private);
        let (mut keys, mut data, mut records) = (0, 0, 0);
        let fields = input
            .fields
            .iter()
            .map(|field| {
                let role = field.role();
                let counter = match role {
                    Role::Key { .. } => Some(&mut keys),
                    Role::Data => Some(&mut data),
                    Role::Record { .. } => Some(&mut records),
                    Role::AutoInc { .. } => None,
                };
                let index = counter.map_or(0, |c| {
                    *c += 1;
                    *c - 1
                });
                FieldGen {
                    field,
                    name: field.name(),
                    role,
                    index,
                }
            })
            .collect();
        StructGen {
            input,
            krate,
            p,
            fields,
            params: input.generics.type_params().map(|t| &t.ident).collect(),
        }
    }

    fn ident(&self) -> &'a Ident {
        self.input.ident
    }

    fn autoinc(&self) -> Option<&FieldGen<'a>> {
        self.fields.iter().find(|f| f.is_autoinc())
    }

    fn keys(&self) -> Vec<&FieldGen<'a>> {
        self.fields.iter().filter(|f| f.is_key()).collect()
    }
}

/// A builder type (`<Name>Replace`, `<Name>Query`).
struct Builder {
    /// The struct definition, outside the `const _` so users can name it.
    def: TokenStream,
    /// The method of the record that starts the builder.
    start: TokenStream,
    /// The builder's own impl.
    methods: TokenStream,
}

fn impl_struct(input: &Input) -> TokenStream {
    let gen = StructGen::new(input);
    let self_ty = gen.self_ty();
    let header = gen.impl_header(Needs::RecordAndClone);
    let (impl_generics, where_clause) = (&header.generics, &header.where_clause);
    let record_impl = record_impl::expand(&gen);
    let new = new::expand(&gen);
    let filename = display::filename(&gen);
    let display = display::expand(&gen);
    let replace = replace::expand(&gen);
    let query = query::expand(&gen);
    let (replace_def, replace_start, replace_methods) =
        (&replace.def, &replace.start, &replace.methods);
    let (query_def, query_start, query_methods) = (&query.def, &query.start, &query.methods);

    quote! {
        #replace_def

        #query_def

        #[doc(hidden)]
        #[allow(
            non_upper_case_globals,
            unused_attributes,
            unused_qualifications,
            dead_code,
            clippy::absolute_paths,
            clippy::too_many_arguments,
            clippy::new_without_default,
        )]
        const _: () = {
            #record_impl

            #[automatically_derived]
            impl #impl_generics #self_ty #where_clause {
                #new

                #filename

                #replace_start

                #query_start
            }

            #display

            #replace_methods

            #query_methods
        };
    }
}

/// The same tokens, all at `span`: a call whose path starts at the user's
/// field type has its unsatisfied bounds reported there.
fn respan(tokens: &TokenStream, span: Span) -> TokenStream {
    tokens
        .clone()
        .into_iter()
        .map(|mut tt| {
            if let TokenTree::Group(group) = &tt {
                let mut new = Group::new(group.delimiter(), respan(&group.stream(), span));
                new.set_span(span);
                tt = TokenTree::Group(new);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}

fn lit(value: &str) -> LitStr {
    LitStr::new(value, Span::call_site())
}
