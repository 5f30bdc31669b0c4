//! Recognising field types by how they are written: the derive sees tokens,
//! not resolved types, so each predicate accepts the spellings a user
//! writes (`String`, `std::string::String`, …) and nothing that merely ends
//! the same way.

use syn::punctuated::Punctuated;
use syn::{GenericArgument, Ident, Path, PathArguments, ReturnType, Type, TypeParamBound};

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
    lazy_inner(ty).is_some()
}

/// The `T` of a field type written `Lazy<T>`.
pub fn lazy_inner(ty: &Type) -> Option<&Type> {
    let seg = plain_path(ty)?.segments.last()?;
    match &seg.arguments {
        PathArguments::AngleBracketed(args) if seg.ident == "Lazy" && args.args.len() == 1 => {
            match &args.args[0] {
                GenericArgument::Type(inner) => Some(inner),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The type mentions one of `params` (a generic struct's type parameters),
/// so a bound on it is not trivially true or false. Macros and tokens syn
/// keeps verbatim count as mentioning them: they may expand to anything.
pub fn mentions(ty: &Type, params: &[&Ident]) -> bool {
    match ty {
        Type::Array(t) => mentions(&t.elem, params),
        Type::Group(t) => mentions(&t.elem, params),
        Type::Paren(t) => mentions(&t.elem, params),
        Type::Ptr(t) => mentions(&t.elem, params),
        Type::Reference(t) => mentions(&t.elem, params),
        Type::Slice(t) => mentions(&t.elem, params),
        Type::Tuple(t) => t.elems.iter().any(|elem| mentions(elem, params)),
        Type::FnPtr(t) => {
            t.inputs.iter().any(|arg| mentions(&arg.ty, params))
                || return_mentions(&t.output, params)
        }
        Type::Path(t) => {
            t.qself.as_ref().is_some_and(|q| mentions(&q.ty, params))
                || path_mentions(&t.path, params)
        }
        Type::ImplTrait(t) => bounds_mention(&t.bounds, params),
        Type::TraitObject(t) => bounds_mention(&t.bounds, params),
        Type::Infer(_) | Type::Never(_) => false,
        _ => true,
    }
}

fn path_mentions(path: &Path, params: &[&Ident]) -> bool {
    // `T` or `T::Assoc`.
    let starts_with_param = path.leading_colon.is_none()
        && path
            .segments
            .first()
            .is_some_and(|seg| params.iter().any(|p| seg.ident == **p));
    starts_with_param
        || path.segments.iter().any(|seg| match &seg.arguments {
            PathArguments::None => false,
            PathArguments::AngleBracketed(args) => args.args.iter().any(|arg| match arg {
                GenericArgument::Type(ty) => mentions(ty, params),
                GenericArgument::AssocType(assoc) => mentions(&assoc.ty, params),
                GenericArgument::Constraint(c) => bounds_mention(&c.bounds, params),
                _ => false,
            }),
            PathArguments::Parenthesized(args) => {
                args.inputs.iter().any(|arg| mentions(&arg.ty, params))
                    || return_mentions(&args.output, params)
            }
        })
}

fn return_mentions(output: &ReturnType, params: &[&Ident]) -> bool {
    match output {
        ReturnType::Default => false,
        ReturnType::Type(_, ty) => mentions(ty, params),
    }
}

fn bounds_mention<P>(bounds: &Punctuated<TypeParamBound, P>, params: &[&Ident]) -> bool {
    bounds.iter().any(|bound| match bound {
        TypeParamBound::Trait(t) => path_mentions(&t.path, params),
        TypeParamBound::Lifetime(_) => false,
        _ => true,
    })
}
