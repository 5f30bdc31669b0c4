//! Code generation only: every decision about validity was made in `valid.rs`.

use crate::ast::{is_string, Field, Input, Role};
use crate::ctxt::Ctxt;
use crate::{fallback, valid};
use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{DeriveInput, Ident, LitStr, Type};

pub fn derive(node: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let input = Input::from_syn(&cx, node);
    if let Some(input) = &input {
        valid::check(&cx, input);
    }
    match cx.check() {
        Ok(()) => impl_struct(&input.expect("checked")),
        Err(err) => {
            let krate = input
                .as_ref()
                .map(runtime_path)
                .unwrap_or_else(default_runtime);
            let errors = err.into_compile_error();
            let stub = fallback::expand(node, input.as_ref(), &krate);
            quote! {
                #errors
                #stub
            }
        }
    }
}

fn default_runtime() -> TokenStream {
    quote!(::persist_core)
}

/// `#[persist(crate = "…")]` if given (and valid), else `::persist_core`.
pub fn runtime_path(input: &Input) -> TokenStream {
    match &input.attrs.krate {
        Some((_, Some(path)))
            if path.leading_colon.is_some()
                || path
                    .segments
                    .first()
                    .is_some_and(|seg| seg.ident == "crate") =>
        {
            path.to_token_stream()
        }
        _ => default_runtime(),
    }
}

/// One field with everything the generator needs about it.
struct Gen<'a> {
    field: &'a Field<'a>,
    role: Role<'a>,
    /// The name as stored, e.g. `"use_animal"`.
    name: String,
    /// Index among the fields of the same role (keys, data, records).
    index: usize,
}

impl Gen<'_> {
    fn ident(&self) -> &Ident {
        self.field.ident
    }

    fn ty(&self) -> &Type {
        self.field.ty
    }

    fn span(&self) -> Span {
        self.field.ty.span()
    }

    /// `{ let __persist_field = &self.member; <call> }`: the call gets the
    /// reference through a local spanned at the field's type, so that an
    /// unsatisfied bound (`Serialize`, `Clone`, `Storable`, …) is reported
    /// on the user's field rather than on the derive. `self` keeps the
    /// call-site span, so it resolves to the method's receiver.
    fn with_ref(&self, mutable: bool, call: impl FnOnce(&Ident) -> TokenStream) -> TokenStream {
        let local = Ident::new("__persist_field", self.span());
        let member = self.ident();
        let mutability = mutable.then(|| quote!(mut));
        let call = call(&local);
        quote!({
            let #local = &#mutability self.#member;
            #call
        })
    }

    fn is_key(&self) -> bool {
        matches!(self.role, Role::Key { .. })
    }

    fn is_autoinc(&self) -> bool {
        matches!(self.role, Role::AutoInc { .. })
    }

    /// The argument type that `new` and the setters take for this field:
    /// `impl Into<String>` for a field written `String`, else the field type.
    fn arg_ty(&self, p: &TokenStream) -> TokenStream {
        let ty = self.ty();
        if is_string(ty) {
            // The written type itself (not `$p::String`), so a shadowed `String`
            // still gets its own type.
            quote!(impl #p::Into<#ty>)
        } else {
            quote!(#ty)
        }
    }

    /// Converts the argument `ident` (of type `arg_ty`) into the field type.
    fn arg_into(&self, p: &TokenStream) -> TokenStream {
        let ident = self.ident();
        if is_string(self.ty()) {
            {
                let p = respan(p, self.span());
                quote_spanned!(self.span()=> #p::Into::into(#ident))
            }
        } else {
            quote!(#ident)
        }
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

fn prefix_lit(prefix: Option<&LitStr>) -> LitStr {
    prefix.cloned().unwrap_or_else(|| lit(""))
}

fn impl_struct(input: &Input) -> TokenStream {
    let krate = runtime_path(input);
    let p = quote!(#krate::__private);
    let ident = input.ident;
    let vis = &input.original.vis;

    let (mut keys, mut data, mut records) = (0, 0, 0);
    let fields: Vec<Gen> = input
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
            Gen {
                field,
                name: field.name(),
                role,
                index,
            }
        })
        .collect();
    let autoinc = fields.iter().find(|f| f.is_autoinc());
    let key_fields: Vec<&Gen> = fields.iter().filter(|f| f.is_key()).collect();

    // ---- the schema -------------------------------------------------------
    let schema_keys = key_fields.iter().map(|f| {
        let Role::Key { filename, prefix } = f.role else {
            unreachable!()
        };
        let name = lit(&f.name);
        let prefix = prefix_lit(prefix);
        quote!(#p::KeyField { name: #name, filename: #filename, prefix: #prefix })
    });
    let schema_autoinc = match autoinc {
        Some(f) => {
            let Role::AutoInc { prefix, .. } = f.role else {
                unreachable!()
            };
            let name = lit(&f.name);
            let prefix = prefix_lit(prefix);
            quote!(#p::Some(#p::AutoIncField { name: #name, prefix: #prefix }))
        }
        None => quote!(#p::None),
    };
    let schema_data = fields
        .iter()
        .filter(|f| matches!(f.role, Role::Data))
        .map(|f| lit(&f.name));
    let schema_records = fields.iter().filter_map(|f| {
        let Role::Record { stem } = f.role else {
            return None;
        };
        let name = lit(&f.name);
        let stem = stem.cloned().unwrap_or_else(|| lit(&f.name));
        Some(quote!(#p::RecordField { name: #name, stem: #stem }))
    });
    let type_name = lit(&input.type_name());
    let version = input.version();

    // ---- trait methods ----------------------------------------------------
    let key_values = key_fields.iter().map(|f| {
        let name = lit(&f.name);
        let pf = respan(&p, f.span());
        f.with_ref(
            false,
            |v| quote_spanned!(f.span()=> #pf::key_value(#name, #v)?),
        )
    });
    let data_values = fields
        .iter()
        .filter(|f| matches!(f.role, Role::Data))
        .map(|f| {
            let name = lit(&f.name);
            let pf = respan(&p, f.span());
            f.with_ref(
                false,
                |v| quote_spanned!(f.span()=> #pf::data_value(#name, #v)?),
            )
        });
    let record_outs = fields
        .iter()
        .filter(|f| matches!(f.role, Role::Record { .. }))
        .map(|f| {
            let pf = respan(&p, f.span());
            f.with_ref(false, |v| quote_spanned!(f.span()=> #pf::record_out(#v)))
        });
    let (get_autoinc, set_autoinc) = match autoinc {
        Some(f) => {
            // Call-site span, like the parameter it names.
            let n = quote!(__persist_n);
            let pf = respan(&p, f.span());
            (
                f.with_ref(false, |v| quote_spanned!(f.span()=> #pf::autoinc_get(#v))),
                f.with_ref(
                    true,
                    |v| quote_spanned!(f.span()=> #pf::autoinc_set(#v, #n)),
                ),
            )
        }
        None => (quote!(#p::None), quote!(#p::Ok(()))),
    };
    let parts = quote!(__persist_parts);
    let from_parts = fields.iter().map(|f| {
        let (member, index) = (f.ident(), f.index);
        let value = match f.role {
            Role::Key { .. } => quote_spanned!(f.span()=> #parts.key(#index)?),
            Role::AutoInc { .. } => quote_spanned!(f.span()=> #parts.autoinc()?),
            Role::Data => quote_spanned!(f.span()=> #parts.data(#index)?),
            Role::Record { .. } => quote_spanned!(f.span()=> #parts.record(#index)?),
        };
        quote!(#member: #value)
    });
    let migrate = input.attrs.migrate.as_ref().map(|migrate| {
        // A missing `impl Migrate` is reported at the `migrate` key.
        let span = migrate.span();
        let krate_at = respan(&krate, span);
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
    });

    // ---- new --------------------------------------------------------------
    let new_args = key_fields.iter().map(|f| {
        let (member, ty) = (f.ident(), f.arg_ty(&p));
        quote!(#member: #ty)
    });
    let new_fields = fields.iter().map(|f| {
        let member = f.ident();
        let value = match f.role {
            Role::Key { .. } => f.arg_into(&p),
            Role::AutoInc { .. } => quote!(#p::None),
            Role::Data | Role::Record { .. } => {
                let pf = respan(&p, f.span());
                quote_spanned!(f.span()=> #pf::Default::default())
            }
        };
        quote!(#member: #value)
    });
    let new_doc = new_doc(ident, &key_fields, autoinc);

    // ---- replace builder --------------------------------------------------
    let replace_ident = format_ident!("{}Replace", ident);
    let has_autoinc = autoinc.is_some();
    let key_changed = quote!(__persist_key_changed);
    let replace_struct_fields = fields.iter().map(|f| {
        let (member, ty) = (f.ident(), f.ty());
        quote!(#member: #ty)
    });
    let replace_flag_field = has_autoinc.then(|| quote!(#key_changed: bool,));
    let replace_flag_init = has_autoinc.then(|| quote!(#key_changed: false,));
    let replace_clones = fields.iter().map(|f| {
        let member = f.ident();
        let pf = respan(&p, f.span());
        let value = f.with_ref(false, |v| quote_spanned!(f.span()=> #pf::Clone::clone(#v)));
        quote!(#member: #value)
    });
    let replace_setters = fields.iter().filter(|f| !f.is_autoinc()).map(|f| {
        let (member, arg_ty, into) = (f.ident(), f.arg_ty(&p), f.arg_into(&p));
        let doc = format!(
            "Sets `{}`{}.",
            f.name,
            if f.is_key() && has_autoinc {
                " (a key field: `build` then resets the autoinc to `None`)"
            } else {
                ""
            }
        );
        let flag = (f.is_key() && has_autoinc).then(|| quote!(self.#key_changed = true;));
        quote! {
            #[doc = #doc]
            pub fn #member(mut self, #member: #arg_ty) -> Self {
                self.#member = #into;
                #flag
                self
            }
        }
    });
    let build_fields = fields.iter().map(|f| {
        let member = f.ident();
        quote!(#member: self.#member)
    });
    let build_reset = autoinc.map(|f| {
        let member = f.ident();
        quote! {
            if __persist_reset {
                __persist_value.#member = #p::None;
            }
        }
    });
    let build_flag = has_autoinc.then(|| quote!(let __persist_reset = self.#key_changed;));
    let replace_doc = format!(
        "A changed copy of a [`{ident}`] in the making, returned by [`{ident}::replace`].\n\n\
         One setter per field, named as the field; [`build`]({replace_ident}::build) returns the new value.{}",
        if has_autoinc {
            " Changing a key field resets the autoinc to `None`: the new key has its own numbers."
        } else {
            ""
        }
    );
    let value_mut = has_autoinc.then(|| quote!(mut));
    let build_doc = format!("Returns the changed `{ident}`.");

    // ---- query builder ----------------------------------------------------
    let query_ident = format_ident!("{}Query", ident);
    let query_targets: Vec<&Gen> = fields
        .iter()
        .filter(|f| f.is_key() || f.is_autoinc())
        .collect();
    let query_struct_fields = query_targets.iter().map(|f| {
        let member = f.ident();
        let ty = match f.role {
            Role::AutoInc { int, .. } => int,
            _ => f.ty(),
        };
        quote!(#member: #p::Option<#ty>)
    });
    let query_init = query_targets.iter().map(|f| {
        let member = f.ident();
        quote!(#member: #p::None)
    });
    let query_setters = query_targets.iter().map(|f| {
        let member = f.ident();
        let (arg_ty, into) = match f.role {
            Role::AutoInc { int, .. } => (quote!(#int), quote!(#member)),
            _ => (f.arg_ty(&p), f.arg_into(&p)),
        };
        let doc = if f.is_autoinc() {
            format!(
                "Matches only the records whose autoinc `{}` is this number.",
                f.name
            )
        } else {
            format!("Matches only records whose `{}` equals this value.", f.name)
        };
        quote! {
            #[doc = #doc]
            pub fn #member(mut self, #member: #arg_ty) -> Self {
                self.#member = #p::Some(#into);
                self
            }
        }
    });
    let filters = key_fields.iter().map(|f| {
        let name = lit(&f.name);
        let pf = respan(&p, f.span());
        f.with_ref(
            false,
            |v| quote_spanned!(f.span()=> #pf::filter_value(#name, #v)?),
        )
    });
    let query_autoinc = match autoinc {
        Some(f) => {
            let member = f.ident();
            quote!(#p::autoinc_get(&self.#member))
        }
        None => quote!(#p::None),
    };
    let query_doc = format!(
        "A typed query over the stored [`{ident}`] records, returned by [`{ident}::query`].\n\n\
         One setter per key field; fields left unset match anything. \
         [`run`]({query_ident}::run) lists the matches."
    );
    let run_doc = format!(
        "Loads every stored `{ident}` that matches the fields set, sorted by file name.\n\n\
         Records ruled out by their file name are not read."
    );
    let filename_doc = format!(
        "The readable file name of this `{ident}`: `{}`, then each `#[filename]` field, \
         then the autoinc (`*` while unresolved), joined by `-`.\n\nThe `Display` impl prints the same.",
        input.type_name()
    );
    let replace_fn_doc = format!(
        "Starts a [`{replace_ident}`]: a copy of `self` to change some fields of, \
         finished with [`build`]({replace_ident}::build)."
    );
    let query_fn_doc = format!(
        "Starts a [`{query_ident}`] over the stored `{ident}` records; fields left unset match anything."
    );

    quote! {
        #[doc = #replace_doc]
        #[must_use = "call `.build()` to get the changed value"]
        #[allow(dead_code)]
        #vis struct #replace_ident {
            #(#replace_struct_fields,)*
            #replace_flag_field
        }

        #[doc = #query_doc]
        #[must_use = "call `.run(&store)` to run the query"]
        #[allow(dead_code, unused_qualifications)]
        #vis struct #query_ident {
            #(#query_struct_fields,)*
        }

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
            #[automatically_derived]
            impl #p::Record for #ident {
                const __SCHEMA: &'static #p::Schema = &#p::Schema {
                    name: #type_name,
                    version: #version,
                    keys: &[#(#schema_keys),*],
                    autoinc: #schema_autoinc,
                    data: &[#(#schema_data),*],
                    records: &[#(#schema_records),*],
                };

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
            }

            #[automatically_derived]
            impl #ident {
                #[doc = #new_doc]
                pub fn new(#(#new_args),*) -> Self {
                    Self {
                        #(#new_fields,)*
                    }
                }

                #[doc = #filename_doc]
                pub fn filename(&self) -> #p::String {
                    #p::filename(self)
                }

                #[doc = #replace_fn_doc]
                pub fn replace(&self) -> #replace_ident {
                    #replace_ident {
                        #(#replace_clones,)*
                        #replace_flag_init
                    }
                }

                #[doc = #query_fn_doc]
                pub fn query() -> #query_ident {
                    #query_ident {
                        #(#query_init,)*
                    }
                }
            }

            #[automatically_derived]
            impl #p::fmt::Display for #ident {
                fn fmt(&self, __persist_f: &mut #p::fmt::Formatter<'_>) -> #p::fmt::Result {
                    __persist_f.write_str(&#p::filename(self))
                }
            }

            #[automatically_derived]
            impl #replace_ident {
                #(#replace_setters)*

                #[doc = #build_doc]
                pub fn build(self) -> #ident {
                    #build_flag
                    let #value_mut __persist_value = #ident {
                        #(#build_fields,)*
                    };
                    #build_reset
                    __persist_value
                }
            }

            #[automatically_derived]
            impl #query_ident {
                #(#query_setters)*

                #[doc = #run_doc]
                pub fn run(&self, __persist_store: &#krate::Store) -> #krate::Result<#p::Vec<#ident>> {
                    #p::query::<#ident>(
                        __persist_store,
                        #p::vec![#(#filters),*],
                        #query_autoinc,
                    )
                }
            }
        };
    }
}

fn new_doc(ident: &Ident, key_fields: &[&Gen], autoinc: Option<&Gen>) -> String {
    let mut doc = format!("Creates a new [`{ident}`] from its key");
    if key_fields.is_empty() {
        doc.push_str(" (it has only an autoinc)");
    } else {
        let names: Vec<String> = key_fields.iter().map(|f| format!("`{}`", f.name)).collect();
        doc.push_str(&format!(": {}", names.join(", ")));
    }
    doc.push_str(".\n\nData fields start as `Default::default()`, records empty");
    if let Some(f) = autoinc {
        doc.push_str(&format!(
            ", and `{}` is `None` until `save` assigns the next number",
            f.name
        ));
    }
    doc.push_str(
        ". Use it to compute a new record, or to `load` the stored one with the same key.",
    );
    doc
}
