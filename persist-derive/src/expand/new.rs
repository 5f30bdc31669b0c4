//! `fn new(<key fields>) -> Self`: keys from the arguments, data fields
//! `Default`, records empty, the autoinc `None`.

use super::{respan, FieldGen, StructGen};
use crate::role::Role;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

pub(super) fn expand(gen: &StructGen) -> TokenStream {
    let p = &gen.p;
    let keys = gen.keys();
    let args = keys.iter().map(|f| {
        let (member, ty) = (f.ident(), f.arg_ty(p));
        quote!(#member: #ty)
    });
    let fields = gen.fields.iter().map(|f| {
        let member = f.ident();
        let value = match f.role {
            Role::Key { .. } => f.arg_into(p),
            Role::AutoInc { .. } => quote!(#p::None),
            Role::Data | Role::Record { .. } => {
                let pf = respan(p, f.span());
                quote_spanned!(f.span()=> #pf::Default::default())
            }
        };
        quote!(#member: #value)
    });
    let doc = doc(gen, &keys);
    quote! {
        #[doc = #doc]
        pub fn new(#(#args),*) -> Self {
            Self {
                #(#fields,)*
            }
        }
    }
}

fn doc(gen: &StructGen, keys: &[&FieldGen]) -> String {
    let ident = gen.ident();
    let mut doc = format!("Creates a new [`{ident}`] from its key");
    if keys.is_empty() {
        doc.push_str(" (it has only an autoinc)");
    } else {
        let names: Vec<String> = keys.iter().map(|f| format!("`{}`", f.name)).collect();
        doc.push_str(&format!(": {}", names.join(", ")));
    }
    doc.push_str(".\n\nData fields start as `Default::default()`, records empty");
    if let Some(f) = gen.autoinc() {
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
