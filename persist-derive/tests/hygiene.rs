//! Compile-only: the generated code must not depend on anything the user's
//! crate can shadow (prelude names, `std`/`core` modules, common local names).

#![no_implicit_prelude]
#![deny(missing_docs, unused_qualifications, dead_code)]
#![allow(clippy::disallowed_names)]

//! (Crate docs, so that `missing_docs` checks the generated items only.)

// A user crate that shadows everything a sloppy derive might name.
#[allow(dead_code)]
mod std {}
#[allow(dead_code)]
mod core {}

#[allow(dead_code, non_camel_case_types)]
mod shadows {
    pub struct Result;
    pub struct Option;
    pub struct Some;
    pub struct None;
    pub struct Ok;
    pub struct Err;
    pub struct Error;
    pub struct Box;
    pub struct String;
    pub struct Vec;
    pub struct Default;
    pub struct Clone;
    pub struct Into;
    pub struct Self_;
    pub struct store;
}

/// A public result, so the generated public API is checked by `missing_docs`.
pub mod public {
    #![allow(unused_imports)]
    use super::shadows::*;
    use ::persist_core::{Lazy, Persistence};

    /// A record whose module shadows the prelude.
    #[derive(Persistence)]
    #[persist(version = 2)]
    pub struct Shadowed {
        #[filename]
        animal: ::std::string::String,
        #[key]
        session: u32,
        #[filename(prefix = "d")]
        date: ::std::string::String,
        #[autoinc]
        run_id: ::std::option::Option<u32>,
        channels: ::std::vec::Vec<i32>,
        #[record]
        trace: Lazy<::std::vec::Vec<u8>>,
        #[record(compress = "zstd:9")]
        squeezed: Lazy<::std::vec::Vec<u8>>,
        #[record(file = "g", compress = "gzip")]
        gzipped: Lazy<::std::string::String>,
    }

    /// A record whose only identity is its number.
    #[derive(Persistence)]
    pub struct OnlyAutoinc {
        #[autoinc]
        n: ::std::option::Option<usize>,
    }

    /// A generic record: the bounds and the builders' parameters resolve
    /// with the prelude shadowed too.
    #[derive(Persistence)]
    #[persist(name = "generic")]
    pub struct Generic<K, E = f64>
    where
        E: ::std::marker::Copy,
    {
        #[filename]
        key: K,
        #[autoinc]
        n: ::std::option::Option<u32>,
        values: ::std::vec::Vec<E>,
        #[record]
        trace: Lazy<::std::vec::Vec<u8>>,
    }

    /// A record with its own check (`#[persist(validate)]`) and a migration.
    #[derive(Persistence)]
    #[persist(version = 3, migrate, validate)]
    pub struct Checked {
        #[key]
        name: ::std::string::String,
        count: i64,
    }

    impl ::persist_core::Validate for Checked {
        fn validate(&self) -> ::std::result::Result<(), ::persist_core::BoxError> {
            if self.count < 0 {
                ::std::result::Result::Err(::std::convert::From::from("negative"))
            } else {
                ::std::result::Result::Ok(())
            }
        }
    }

    impl ::persist_core::Migrate for Checked {
        fn migrate(
            _from_version: u32,
            _meta: &mut ::persist_core::serde_json::Value,
        ) -> ::persist_core::Result<()> {
            ::std::result::Result::Ok(())
        }
    }

    /// No autoinc, no data, no records.
    #[derive(Persistence)]
    pub(crate) struct KeyOnly {
        #[key]
        r#type: ::std::string::String,
    }

    // Field tokens written inside a macro_rules! carry that macro's hygiene
    // context; the spanned parts of the expansion must still resolve.
    macro_rules! declare {
        ($(#[$m:meta])* $name:ident, $field:ident: $ty:ty) => {
            $(#[$m])*
            #[derive(Persistence)]
            pub struct $name {
                #[filename]
                $field: $ty,
                #[autoinc]
                n: ::std::option::Option<u64>,
                data: ::std::vec::Vec<u8>,
                #[record]
                trace: Lazy<::std::string::String>,
            }
        };
    }
    declare!(
        /// Declared through a macro.
        FromMacro, animal: ::std::string::String
    );

    #[allow(dead_code)]
    fn uses_everything() {
        let _ = FromMacro::new("A00").replace().animal("B").build();
        let _ = Shadowed::new("A00", 3, "2024").filename();
        let _ = OnlyAutoinc::new();
        let _ = Checked::new("c").filename();
        let _ = KeyOnly::new("t").replace().r#type("u").build();
        let _ = Shadowed::query().animal("A00").run_id(2);
        let _ = Generic::<u32>::new(3).replace().key(4).build().filename();
        let _ = Generic::<u32, f32>::query().key(3).n(1);
    }
}

#[test]
fn compiles() {}
