//! The syntax tree of the input, borrowing the syn nodes so that every error
//! can point at the user's tokens (thiserror-impl's `ast.rs`).

use crate::attr;
use crate::ctxt::Ctxt;
use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, GenericArgument, Generics, Ident, PathArguments, Type};

pub struct Input<'a> {
    pub original: &'a DeriveInput,
    pub attrs: attr::Container,
    pub ident: &'a Ident,
    pub generics: &'a Generics,
    pub fields: Vec<Field<'a>>,
}

pub struct Field<'a> {
    pub attrs: attr::Field<'a>,
    pub ident: &'a Ident,
    pub ty: &'a Type,
}

/// What a field is, once validated.
pub enum Role<'a> {
    Key {
        filename: bool,
        prefix: Option<&'a syn::LitStr>,
    },
    AutoInc {
        prefix: Option<&'a syn::LitStr>,
        /// The integer inside `Option<…>`.
        int: &'a Type,
    },
    Record {
        stem: Option<&'a syn::LitStr>,
    },
    Data,
}

impl<'a> Input<'a> {
    /// Parses the input; `None` (with the error in `cx`) when it is not a
    /// struct with named fields.
    pub fn from_syn(cx: &Ctxt, node: &'a DeriveInput) -> Option<Self> {
        let attrs = attr::Container::from_attrs(cx, &node.attrs);
        let shape_error = "#[derive(Persistence)] only supports structs with named fields";
        let fields = match &node.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => &named.named,
                Fields::Unnamed(_) => {
                    cx.error_spanned_by(
                        data.struct_token,
                        format!("{shape_error}; a tuple struct has no field names to store its values under"),
                    );
                    return None;
                }
                Fields::Unit => {
                    cx.error_spanned_by(
                        data.struct_token,
                        format!("{shape_error}; a unit struct has no key"),
                    );
                    return None;
                }
            },
            Data::Enum(data) => {
                cx.error_spanned_by(data.enum_token, format!("{shape_error}, not enums"));
                return None;
            }
            Data::Union(data) => {
                cx.error_spanned_by(data.union_token, format!("{shape_error}, not unions"));
                return None;
            }
        };
        let fields = fields
            .iter()
            .map(|field| Field {
                attrs: attr::Field::from_attrs(cx, &field.attrs),
                ident: field.ident.as_ref().expect("named field"),
                ty: &field.ty,
            })
            .collect();
        Some(Input {
            original: node,
            attrs,
            ident: &node.ident,
            generics: &node.generics,
            fields,
        })
    }

    /// The type name used on disk: `#[persist(name)]` or the struct name in snake_case.
    pub fn type_name(&self) -> String {
        match &self.attrs.name {
            Some(lit) => lit.value(),
            None => snake_case(&self.ident.unraw().to_string()),
        }
    }

    pub fn version(&self) -> u32 {
        self.attrs
            .version
            .as_ref()
            .and_then(|lit| lit.base10_parse().ok())
            .unwrap_or(1)
    }

    /// Span of the whole derive input's name, for errors about the struct as a whole.
    pub fn ident_span(&self) -> Span {
        self.ident.span()
    }
}

impl<'a> Field<'a> {
    /// The role, assuming validation passed (autoinc wins, then record, then key).
    pub fn role(&self) -> Role<'_> {
        let a = &self.attrs;
        if let Some(marker) = &a.autoinc {
            Role::AutoInc {
                prefix: marker.value.as_ref(),
                int: autoinc_int(self.ty).unwrap_or(self.ty),
            }
        } else if let Some(marker) = &a.record {
            Role::Record {
                stem: marker.value.as_ref(),
            }
        } else if a.key.is_some() || a.filename.is_some() {
            Role::Key {
                filename: a.filename.is_some(),
                prefix: a.filename.as_ref().and_then(|m| m.value.as_ref()),
            }
        } else {
            Role::Data
        }
    }

    /// The field's name as stored (`r#type` is stored as `type`).
    pub fn name(&self) -> String {
        self.ident.unraw().to_string()
    }
}

/// `MyResult` -> `my_result`, `HTTPServer2` -> `http_server2`.
pub fn snake_case(ident: &str) -> String {
    let chars: Vec<char> = ident.chars().collect();
    let mut out = String::with_capacity(ident.len() + 4);
    for (i, &ch) in chars.iter().enumerate() {
        if ch.is_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None | Some('_') => false,
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) => p.is_uppercase() && next.is_some_and(char::is_lowercase),
            };
            if boundary {
                out.push('_');
            }
            out.extend(ch.to_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

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
