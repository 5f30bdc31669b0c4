//! The path generated code reaches the runtime through: `::persist_core`, or
//! the `#[persist(crate = "…")]` override when it is usable.

use crate::ast::Input;
use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::Path;

/// `path` resolves the same wherever the generated code is: it starts with
/// `::` or `crate::`.
pub fn is_absolute(path: &Path) -> bool {
    path.leading_colon.is_some()
        || path
            .segments
            .first()
            .is_some_and(|seg| seg.ident == "crate")
}

/// The runtime crate's path: the valid `crate = "…"` override, else
/// `::persist_core` (also for an input that did not parse, so the fallback
/// stub names the runtime the same way).
pub fn runtime_path(input: Option<&Input>) -> TokenStream {
    match input.and_then(|input| input.attrs.krate.as_ref()) {
        Some((_, Some(path))) if is_absolute(path) => path.to_token_stream(),
        _ => quote!(::persist_core),
    }
}
