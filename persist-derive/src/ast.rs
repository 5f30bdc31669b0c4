//! The syntax tree of the input, borrowing the syn nodes so that every error
//! can point at the user's tokens (thiserror-impl's `ast.rs`).

use crate::attr;
use crate::ctxt::Ctxt;
use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, Generics, Ident, Type};

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

impl Field<'_> {
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
