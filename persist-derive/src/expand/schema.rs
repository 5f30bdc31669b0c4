//! `Record::__SCHEMA`: the type's name on disk, its version, the names and
//! file-name parts of its fields in declaration order per role, and the crate
//! that defines it (for the provenance in `meta.json`).

use super::{lit, StructGen};
use crate::codec::{self, Codec};
use crate::role::Role;
use proc_macro2::{Literal, TokenStream};
use quote::quote;
use syn::LitStr;

pub(super) fn expand(gen: &StructGen) -> TokenStream {
    let p = &gen.p;
    let keys = gen.keys().into_iter().map(|f| {
        let Role::Key { filename, prefix } = f.role else {
            unreachable!()
        };
        let name = lit(&f.name);
        let prefix = prefix_lit(prefix);
        quote!(#p::KeyField { name: #name, filename: #filename, prefix: #prefix })
    });
    let autoinc = match gen.autoinc() {
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
    let data = gen
        .fields
        .iter()
        .filter(|f| f.is_data())
        .map(|f| lit(&f.name));
    let records = gen.fields.iter().filter_map(|f| {
        let Role::Record { stem, compress } = f.role else {
            return None;
        };
        let name = lit(&f.name);
        let stem = stem.cloned().unwrap_or_else(|| lit(&f.name));
        // valid.rs reported a value that does not parse; nothing is generated then.
        let compress = match compress.and_then(|c| codec::parse(&c.value()).ok()) {
            Some(Codec::Zstd(level)) => {
                let level = Literal::i32_unsuffixed(level);
                quote!(#p::Some(#p::Codec::Zstd(#level)))
            }
            Some(Codec::Gzip(level)) => {
                let level = Literal::u32_unsuffixed(level);
                quote!(#p::Some(#p::Codec::Gzip(#level)))
            }
            None => quote!(#p::None),
        };
        Some(quote!(#p::RecordField { name: #name, stem: #stem, compress: #compress }))
    });
    let type_name = lit(&gen.input.type_name());
    let version = gen.input.version();
    quote! {
        const __SCHEMA: &'static #p::Schema = &#p::Schema {
            name: #type_name,
            version: #version,
            keys: &[#(#keys),*],
            autoinc: #autoinc,
            data: &[#(#data),*],
            records: &[#(#records),*],
            // Expanded in the user's crate: its own name and version.
            crate_name: #p::or_empty(::core::option_env!("CARGO_PKG_NAME")),
            crate_version: #p::or_empty(::core::option_env!("CARGO_PKG_VERSION")),
        };
    }
}

fn prefix_lit(prefix: Option<&LitStr>) -> LitStr {
    prefix.cloned().unwrap_or_else(|| lit(""))
}
