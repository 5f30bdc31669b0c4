//! Attribute parsing: syntax only. What the values mean, and which
//! combinations are allowed, is checked in `valid.rs`.

use crate::ctxt::Ctxt;
use crate::symbol::*;
use proc_macro2::TokenTree;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitInt, LitStr, Meta, Token};

/// `#[persist(name = "…", crate = "…", version = N, migrate, validate)]` on the struct.
#[derive(Default)]
pub struct Container {
    pub name: Option<LitStr>,
    /// The literal as written, and the path parsed from it (if it parsed).
    pub krate: Option<(LitStr, Option<syn::Path>)>,
    pub version: Option<LitInt>,
    pub migrate: Option<syn::Path>,
    pub validate: Option<syn::Path>,
}

/// A field marker such as `#[key]`, `#[filename(prefix = "s")]`.
pub struct Marker<'a> {
    /// The whole attribute, so errors can point at it.
    pub attr: &'a Attribute,
    /// Position among the field's attributes (to tell which of two came second).
    pub pos: usize,
    /// `prefix = "…"` of `#[filename]`/`#[autoinc]`, `file = "…"` of `#[record]`.
    pub value: Option<LitStr>,
    /// `compress = "…"` of `#[record]`.
    pub compress: Option<LitStr>,
}

/// The persist attributes of one field.
#[derive(Default)]
pub struct Field<'a> {
    pub key: Option<Marker<'a>>,
    pub filename: Option<Marker<'a>>,
    pub autoinc: Option<Marker<'a>>,
    pub record: Option<Marker<'a>>,
}

impl Container {
    pub fn from_attrs(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut this = Container::default();
        for attr in attrs {
            let path = attr.path();
            if path == PERSIST {
                this.parse_persist(cx, attr);
            } else if let Some(sym) = FIELD_ATTRS.iter().find(|sym| path == **sym) {
                cx.error_spanned_by(
                    attr,
                    format!(
                        "`#[{sym}]` belongs on a field of the struct, not on the struct itself"
                    ),
                );
            }
        }
        this
    }

    fn parse_persist(&mut self, cx: &Ctxt, attr: &Attribute) {
        let list = match &attr.meta {
            Meta::List(list) => list,
            _ => {
                cx.error_spanned_by(
                    attr,
                    "expected `#[persist(name = \"…\", crate = \"…\", version = N, migrate, validate)]`",
                );
                return;
            }
        };
        if list.tokens.is_empty() {
            cx.error_spanned_by(
                attr,
                "empty `#[persist()]`; expected any of `name = \"…\"`, `crate = \"…\"`, `version = N`, `migrate`, `validate`",
            );
            return;
        }
        let result = attr.parse_nested_meta(|meta| {
            if meta.path == NAME {
                let lit: LitStr = meta.value()?.parse()?;
                set_once(cx, &mut self.name, NAME, &meta, lit);
            } else if meta.path == CRATE {
                let lit: LitStr = meta.value()?.parse()?;
                let parsed = match lit.parse::<syn::Path>() {
                    Ok(path) => Some(path),
                    Err(_) => {
                        cx.error_spanned_by(
                            &lit,
                            "`crate` must be a path to persist_core, like `crate = \"::persist_core\"`",
                        );
                        None
                    }
                };
                set_once(cx, &mut self.krate, CRATE, &meta, (lit, parsed));
            } else if meta.path == VERSION {
                let lit: LitInt = meta.value()?.parse()?;
                set_once(cx, &mut self.version, VERSION, &meta, lit);
            } else if meta.path == MIGRATE {
                if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
                    return Err(meta.error("`migrate` takes no value: write `#[persist(migrate)]`"));
                }
                let path = meta.path.clone();
                set_once(cx, &mut self.migrate, MIGRATE, &meta, path);
            } else if meta.path == VALIDATE {
                if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
                    return Err(
                        meta.error("`validate` takes no value: write `#[persist(validate)]`")
                    );
                }
                let path = meta.path.clone();
                set_once(cx, &mut self.validate, VALIDATE, &meta, path);
            } else {
                unknown_key(
                    cx,
                    &meta,
                    PERSIST,
                    &[NAME, CRATE, VERSION, MIGRATE, VALIDATE],
                )?;
            }
            Ok(())
        });
        if let Err(err) = result {
            cx.syn_error(err);
        }
    }
}

impl<'a> Field<'a> {
    pub fn from_attrs(cx: &Ctxt, attrs: &'a [Attribute]) -> Self {
        let mut this = Field::default();
        for (pos, attr) in attrs.iter().enumerate() {
            let path = attr.path();
            if path == PERSIST {
                cx.error_spanned_by(
                    attr,
                    "`#[persist(…)]` belongs on the struct; on a field use `#[key]`, `#[filename]`, `#[autoinc]` or `#[record]`",
                );
            } else if path == KEY {
                let marker = parse_marker(cx, attr, pos, KEY, &[]);
                set_marker(cx, &mut this.key, KEY, attr, marker);
            } else if path == FILENAME {
                let marker = parse_marker(cx, attr, pos, FILENAME, &[PREFIX]);
                set_marker(cx, &mut this.filename, FILENAME, attr, marker);
            } else if path == AUTOINC {
                let marker = parse_marker(cx, attr, pos, AUTOINC, &[PREFIX]);
                set_marker(cx, &mut this.autoinc, AUTOINC, attr, marker);
            } else if path == RECORD {
                let marker = parse_marker(cx, attr, pos, RECORD, &[FILE, COMPRESS]);
                set_marker(cx, &mut this.record, RECORD, attr, marker);
            }
        }
        this
    }
}

/// Parses `#[sym]`, or `#[sym(key = "…", …)]` with the `keys` given: the
/// first is the marker's `value`, `compress` its `compress`.
fn parse_marker<'a>(
    cx: &Ctxt,
    attr: &'a Attribute,
    pos: usize,
    sym: Symbol,
    keys: &[Symbol],
) -> Marker<'a> {
    let mut marker = Marker {
        attr,
        pos,
        value: None,
        compress: None,
    };
    let usage = match keys {
        [] => format!("`#[{sym}]`"),
        keys => {
            let args = keys
                .iter()
                .map(|key| format!("{key} = \"…\""))
                .collect::<Vec<_>>()
                .join(", ");
            format!("`#[{sym}]` or `#[{sym}({args})]`")
        }
    };
    match &attr.meta {
        Meta::Path(_) => {}
        Meta::NameValue(nv) => {
            cx.error_spanned_by(nv, format!("unexpected value, expected {usage}"));
        }
        Meta::List(list) => {
            let Some(&value_key) = keys.first() else {
                cx.error_spanned_by(
                    &list.tokens,
                    format!("`#[{sym}]` takes no arguments, expected {usage}"),
                );
                return marker;
            };
            let result = attr.parse_nested_meta(|meta| {
                if meta.path == value_key {
                    let lit: LitStr = meta.value()?.parse()?;
                    set_once(cx, &mut marker.value, value_key, &meta, lit);
                } else if meta.path == COMPRESS && keys.contains(&COMPRESS) {
                    let lit: LitStr = meta.value()?.parse()?;
                    set_once(cx, &mut marker.compress, COMPRESS, &meta, lit);
                } else {
                    unknown_key(cx, &meta, sym, keys)?;
                }
                Ok(())
            });
            if let Err(err) = result {
                cx.syn_error(err);
            }
        }
    }
    marker
}

fn set_marker<'a>(
    cx: &Ctxt,
    slot: &mut Option<Marker<'a>>,
    sym: Symbol,
    attr: &'a Attribute,
    marker: Marker<'a>,
) {
    if slot.is_some() {
        cx.error_spanned_by(
            attr,
            format!("duplicate `#[{sym}]` attribute on this field"),
        );
    } else {
        *slot = Some(marker);
    }
}

/// Stores a key's value; a second occurrence is an error at the second key.
fn set_once<T>(cx: &Ctxt, slot: &mut Option<T>, sym: Symbol, meta: &ParseNestedMeta, value: T) {
    if slot.is_some() {
        cx.error_spanned_by(&meta.path, format!("duplicate `{sym}` key"));
    } else {
        *slot = Some(value);
    }
}

/// Reports an unknown key by name, then skips its value so the next keys are
/// still checked.
fn unknown_key(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    attr: Symbol,
    expected: &[Symbol],
) -> syn::Result<()> {
    let key = meta
        .path
        .segments
        .iter()
        .map(|seg| seg.ident.to_string())
        .collect::<Vec<_>>()
        .join("::");
    let expected = expected
        .iter()
        .map(|sym| format!("`{sym}`"))
        .collect::<Vec<_>>()
        .join(", ");
    cx.error_spanned_by(
        &meta.path,
        format!("unknown key `{key}` in `#[{attr}(…)]`, expected {expected}"),
    );
    meta.input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            if let TokenTree::Punct(punct) = &tt {
                if punct.as_char() == ',' {
                    break;
                }
            }
            rest = next;
        }
        Ok(((), rest))
    })
}
