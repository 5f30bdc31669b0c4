//! The rules of SPEC.md. Every violation is reported into the context, each
//! spanned at the offending token; nothing stops at the first error.

use crate::ast::{Field, Input};
use crate::attr::Marker;
use crate::crate_path::is_absolute;
use crate::ctxt::Ctxt;
use crate::symbol::*;
use crate::ty::{autoinc_int, is_lazy};
use syn::GenericParam;

pub fn check(cx: &Ctxt, input: &Input) {
    check_container(cx, input);
    check_generics(cx, input);
    for field in &input.fields {
        check_field(cx, field);
    }
    check_across_fields(cx, input);
}

/// A record type name: non-empty, `[a-z0-9_.-]`, not starting with `.`.
pub fn name_error(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the type name must not be empty".to_owned());
    }
    if name.starts_with('.') {
        return Some(format!("the type name `{name}` must not start with `.`"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '_' | '-' | '.'))
    {
        return Some(format!(
            "the type name `{name}` contains {bad:?}; use only lowercase letters, digits, `_`, `-` and `.`"
        ));
    }
    None
}

fn check_container(cx: &Ctxt, input: &Input) {
    let attrs = &input.attrs;
    match &attrs.name {
        Some(lit) => {
            if let Some(msg) = name_error(&lit.value()) {
                cx.error_spanned_by(lit, format!("invalid `name`: {msg}"));
            }
        }
        None => {
            let name = input.type_name();
            if let Some(msg) = name_error(&name) {
                cx.error_at(
                    input.ident_span(),
                    format!(
                        "the default type name (the struct name in snake_case) is not usable: {msg}; \
                         set one with `#[persist(name = \"…\")]`"
                    ),
                );
            }
        }
    }
    if let Some(lit) = &attrs.version {
        match lit.base10_parse::<u32>() {
            Ok(0) => cx.error_spanned_by(lit, "`version` starts at 1"),
            Ok(_) if !lit.suffix().is_empty() && lit.suffix() != "u32" => cx.error_spanned_by(
                lit,
                "`version` is a `u32`: write it without a type suffix, like `version = 2`",
            ),
            Ok(_) => {}
            Err(_) => cx.error_spanned_by(
                lit,
                format!("`version` must be an integer from 1 to {}", u32::MAX),
            ),
        }
    }
    if let Some((lit, Some(path))) = &attrs.krate {
        if !is_absolute(path) {
            cx.error_spanned_by(
                lit,
                format!(
                    "`crate` must be an absolute path, starting with `::` or `crate::`, like `crate = \"::{}\"`; \
                     a relative path would resolve differently in the generated code",
                    quote::quote!(#path).to_string().replace(' ', "")
                ),
            );
        }
    }
}

fn check_generics(cx: &Ctxt, input: &Input) {
    for param in &input.generics.params {
        match param {
            GenericParam::Lifetime(lt) => cx.error_spanned_by(
                &lt.lifetime,
                "#[derive(Persistence)] does not support lifetime parameters: a loaded record owns \
                 its data, so store owned values (e.g. `String` instead of `&str`)",
            ),
            GenericParam::Const(c) => cx.error_spanned_by(
                &c.ident,
                "#[derive(Persistence)] does not support const generic parameters; \
                 use a concrete type or a separate struct per value",
            ),
            GenericParam::Type(_) => {}
        }
    }
    if input.generics.type_params().next().is_some() && input.attrs.name.is_none() {
        cx.error_spanned_by(
            input.generics,
            format!(
                "a generic struct needs `#[persist(name = \"…\")]`: its records are stored under \
                 the type name, which must not depend on the type parameters, so \
                 `{}<…>` has no default name",
                input.ident
            ),
        );
    }
}

fn check_field(cx: &Ctxt, field: &Field) {
    let name = field.name();
    if name == "build" || name == "run" {
        let (builder, method) = if name == "build" {
            ("replace", "build()")
        } else {
            ("query", "run(&store)")
        };
        cx.error_spanned_by(
            field.ident,
            format!(
                "a field named `{name}` would clash with `.{method}` of the `{builder}()` builder; rename the field"
            ),
        );
    }
    if name.starts_with("__persist_") {
        cx.error_spanned_by(
            field.ident,
            "field names starting with `__persist_` are reserved for generated code",
        );
    }

    let a = &field.attrs;
    let key = [&a.key, &a.filename]
        .into_iter()
        .flatten()
        .min_by_key(|m| m.pos);
    if let Some(autoinc) = &a.autoinc {
        for (other, sym) in [(&a.key, KEY), (&a.filename, FILENAME), (&a.record, RECORD)] {
            if let Some(other) = other {
                let why = if sym == RECORD {
                    "an autoinc is a number in the record's identity, not a file"
                } else {
                    "the autoinc is already part of the identity and of the file name (last)"
                };
                conflict(cx, autoinc, AUTOINC, other, sym, why);
            }
        }
        if autoinc_int(field.ty).is_none() {
            cx.error_spanned_by(
                field.ty,
                "an `#[autoinc]` field must have type `Option<u32>`, `Option<u64>` or `Option<usize>` \
                 (`None` until the number is assigned by `save`)",
            );
        }
    } else if let Some(record) = &a.record {
        if let Some(key) = key {
            let sym = if a.key.as_ref().is_some_and(|k| k.pos == key.pos) {
                KEY
            } else {
                FILENAME
            };
            conflict(
                cx,
                record,
                RECORD,
                key,
                sym,
                "a record field is stored in its own file and cannot be part of the identity",
            );
        }
        if !is_lazy(field.ty) {
            cx.error_spanned_by(
                field.ty,
                "a `#[record]` field must have type `Lazy<T>` (persist_core::Lazy) with `T: Storable`",
            );
        }
    }
    if let Some(Marker {
        compress: Some(lit),
        ..
    }) = &a.record
    {
        if let Err(msg) = crate::codec::parse(&lit.value()) {
            cx.error_spanned_by(lit, format!("invalid `compress`: {msg}"));
        }
    }
    if let Some(Marker {
        value: Some(stem), ..
    }) = &a.record
    {
        let value = stem.value();
        if value.is_empty() || value == "." || value == ".." || value.contains(['/', '\\', '\0']) {
            cx.error_spanned_by(
                stem,
                "`file` is a file name stem: non-empty, without `/`, `\\` or NUL, not `.` or `..`",
            );
        }
    }
}

/// Two markers that cannot go together on one field: the error points at the
/// one written second.
fn conflict(cx: &Ctxt, a: &Marker, a_sym: Symbol, b: &Marker, b_sym: Symbol, why: &str) {
    let (second, first_sym, second_sym) = if a.pos > b.pos {
        (a, b_sym, a_sym)
    } else {
        (b, a_sym, b_sym)
    };
    cx.error_spanned_by(
        second.attr,
        format!("`#[{second_sym}]` cannot be combined with `#[{first_sym}]` on one field: {why}"),
    );
}

fn check_across_fields(cx: &Ctxt, input: &Input) {
    let mut autoincs = input
        .fields
        .iter()
        .filter_map(|field| field.attrs.autoinc.as_ref());
    if autoincs.next().is_some() {
        for extra in autoincs {
            cx.error_spanned_by(
                extra.attr,
                "only one field can be `#[autoinc]`: a record has a single run number",
            );
        }
    }
    let has_identity = input.fields.iter().any(|field| {
        let a = &field.attrs;
        a.key.is_some() || a.filename.is_some() || a.autoinc.is_some()
    });
    if !has_identity {
        cx.error_at(
            input.ident_span(),
            format!(
                "a struct with no key cannot be stored: mark the fields that identify a `{}` with \
                 `#[key]` (or `#[filename]` to also show them in the file name), or add an \
                 `#[autoinc] run_id: Option<u32>` field",
                input.ident
            ),
        );
    }
}
