//! One field with everything the generators need about it.

use super::respan;
use crate::ast::Field;
use crate::role::Role;
use crate::ty::is_string;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Type};

pub(super) struct FieldGen<'a> {
    pub field: &'a Field<'a>,
    pub role: Role<'a>,
    /// The name as stored, e.g. `"use_animal"`.
    pub name: String,
    /// Index among the fields of the same role (keys, data, records).
    pub index: usize,
}

impl FieldGen<'_> {
    pub fn ident(&self) -> &Ident {
        self.field.ident
    }

    pub fn ty(&self) -> &Type {
        self.field.ty
    }

    pub fn span(&self) -> Span {
        self.field.ty.span()
    }

    pub fn is_key(&self) -> bool {
        matches!(self.role, Role::Key { .. })
    }

    pub fn is_autoinc(&self) -> bool {
        matches!(self.role, Role::AutoInc { .. })
    }

    pub fn is_data(&self) -> bool {
        matches!(self.role, Role::Data)
    }

    pub fn is_record(&self) -> bool {
        matches!(self.role, Role::Record { .. })
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

    /// `with_ref` around `#p::<function>(<args>, field)`, the path spanned at
    /// the field's type too.
    pub fn call_with_ref(
        &self,
        p: &TokenStream,
        mutable: bool,
        call: impl FnOnce(&TokenStream, &Ident) -> TokenStream,
    ) -> TokenStream {
        let pf = respan(p, self.span());
        self.with_ref(mutable, |v| call(&pf, v))
    }

    /// The argument type that `new` and the setters take for this field:
    /// `impl Into<String>` for a field written `String`, else the field type.
    pub fn arg_ty(&self, p: &TokenStream) -> TokenStream {
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
    pub fn arg_into(&self, p: &TokenStream) -> TokenStream {
        let ident = self.ident();
        if is_string(self.ty()) {
            let p = respan(p, self.span());
            quote_spanned!(self.span()=> #p::Into::into(#ident))
        } else {
            quote!(#ident)
        }
    }
}
