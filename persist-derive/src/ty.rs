//! Recognising field types by how they are written: the derive sees tokens,
//! not resolved types, so each predicate accepts the spellings a user
//! writes (`String`, `std::string::String`, …) and nothing that merely ends
//! the same way.

use syn::{GenericArgument, PathArguments, Type};

fn strip_group(mut ty: &Type) -> &Type {
    while let Type::Group(group) = ty {
        ty = &group.elem;
    }
    ty
}

/// The segments of a plain path type (no `<T as Trait>::`), and whether it
/// starts with `::`.
fn plain_path(ty: &Type) -> Option<&syn::Path> {
    match strip_group(ty) {
        Type::Path(tp) if tp.qself.is_none() => Some(&tp.path),
        _ => None,
    }
}

/// The path is one of `candidates` (each a list of segments), optionally
/// with a leading `::` when it has more than one segment. Only the last
/// segment may carry generic arguments.
fn path_is(path: &syn::Path, candidates: &[&[&str]]) -> bool {
    let segs: Vec<&syn::PathSegment> = path.segments.iter().collect();
    if segs[..segs.len() - 1]
        .iter()
        .any(|seg| !seg.arguments.is_none())
    {
        return false;
    }
    candidates.iter().any(|cand| {
        cand.len() == segs.len()
            && (path.leading_colon.is_none() || cand.len() > 1)
            && cand.iter().zip(&segs).all(|(c, seg)| seg.ident == c)
    })
}

/// The field type is written `String` (or `std::string::String`, `alloc::string::String`).
pub fn is_string(ty: &Type) -> bool {
    plain_path(ty).is_some_and(|path| {
        path.segments
            .last()
            .is_some_and(|seg| seg.arguments.is_none())
            && path_is(
                path,
                &[
                    &["String"],
                    &["std", "string", "String"],
                    &["alloc", "string", "String"],
                ],
            )
    })
}

/// The integer type inside an autoinc's `Option<u32 | u64 | usize>`.
pub fn autoinc_int(ty: &Type) -> Option<&Type> {
    let path = plain_path(ty)?;
    if !path_is(
        path,
        &[
            &["Option"],
            &["std", "option", "Option"],
            &["core", "option", "Option"],
        ],
    ) {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &path.segments.last()?.arguments else {
        return None;
    };
    if args.args.len() != 1 {
        return None;
    }
    let GenericArgument::Type(inner) = &args.args[0] else {
        return None;
    };
    let inner_path = plain_path(inner)?;
    let ident = inner_path.get_ident()?;
    (ident == "u32" || ident == "u64" || ident == "usize").then_some(inner)
}

/// The field type is written `Lazy<…>` (last path segment `Lazy`, one type argument).
pub fn is_lazy(ty: &Type) -> bool {
    plain_path(ty)
        .and_then(|path| path.segments.last())
        .is_some_and(|seg| {
            seg.ident == "Lazy"
                && matches!(&seg.arguments, PathArguments::AngleBracketed(args)
                    if args.args.len() == 1 && matches!(args.args[0], GenericArgument::Type(_)))
        })
}
