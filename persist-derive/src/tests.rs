//! Unit tests of the parse and validate stages, and of a few expansion
//! details, run on `syn::parse_quote!` inputs.

use crate::ast::{snake_case, Input};
use crate::ctxt::Ctxt;
use crate::role::Role;
use crate::ty::{autoinc_int, is_lazy, is_string, mentions};
use crate::{expand, valid};
use syn::{parse_quote, DeriveInput};

/// Parses and validates; returns the error messages.
fn errors(node: &DeriveInput) -> Vec<String> {
    let cx = Ctxt::new();
    if let Some(input) = Input::from_syn(&cx, node) {
        valid::check(&cx, &input);
    }
    match cx.check() {
        Ok(()) => Vec::new(),
        Err(err) => err.into_iter().map(|e| e.to_string()).collect(),
    }
}

fn parse<R>(node: &DeriveInput, f: impl FnOnce(&Input) -> R) -> R {
    let cx = Ctxt::new();
    let input = Input::from_syn(&cx, node).expect("a struct");
    valid::check(&cx, &input);
    cx.check().expect("valid input");
    f(&input)
}

#[test]
fn snake_case_names() {
    assert_eq!(snake_case("MyResult"), "my_result");
    assert_eq!(snake_case("Example"), "example");
    assert_eq!(snake_case("HTTPServer2"), "http_server2");
    assert_eq!(snake_case("Run2Result"), "run2_result");
    assert_eq!(snake_case("already_snake"), "already_snake");
}

#[test]
fn default_name_is_snake_case_and_version_one() {
    let node: DeriveInput = parse_quote! {
        struct SpikeSorting { #[key] animal: String }
    };
    parse(&node, |input| {
        assert_eq!(input.type_name(), "spike_sorting");
        assert_eq!(input.version(), 1);
    });
    let node: DeriveInput = parse_quote! {
        #[persist(name = "spikes.v2", version = 3)]
        struct SpikeSorting { #[key] animal: String }
    };
    parse(&node, |input| {
        assert_eq!(input.type_name(), "spikes.v2");
        assert_eq!(input.version(), 3);
    });
}

#[test]
fn roles_and_prefixes() {
    let node: DeriveInput = parse_quote! {
        struct Example {
            #[key] #[filename] use_animal: String,
            #[key] use_session: String,
            #[filename(prefix = "d")] use_date: String,
            #[autoinc(prefix = "r")] run_id: Option<u64>,
            channels: Vec<i32>,
            #[record(file = "trace")] data: Lazy<Array1<f64>>,
        }
    };
    parse(&node, |input| {
        let roles: Vec<String> = input
            .fields
            .iter()
            .map(|field| match field.role() {
                Role::Key { filename, prefix } => format!(
                    "key filename={filename} prefix={:?}",
                    prefix.map(|p| p.value())
                ),
                Role::AutoInc { prefix, int } => format!(
                    "autoinc {} prefix={:?}",
                    quote::quote!(#int),
                    prefix.map(|p| p.value())
                ),
                Role::Record { stem, compress } => format!(
                    "record {:?} compress={:?}",
                    stem.map(|s| s.value()),
                    compress.map(|c| c.value())
                ),
                Role::Data => "data".to_owned(),
            })
            .collect();
        assert_eq!(
            roles,
            [
                "key filename=true prefix=None",
                "key filename=false prefix=None",
                "key filename=true prefix=Some(\"d\")",
                "autoinc u64 prefix=Some(\"r\")",
                "data",
                "record Some(\"trace\") compress=None",
            ]
        );
    });
}

#[test]
fn type_recognition() {
    assert!(is_string(&parse_quote!(String)));
    assert!(is_string(&parse_quote!(::std::string::String)));
    assert!(is_string(&parse_quote!(alloc::string::String)));
    assert!(!is_string(&parse_quote!(my::String)));
    assert!(!is_string(&parse_quote!(::String)));
    assert!(autoinc_int(&parse_quote!(Option<u32>)).is_some());
    assert!(autoinc_int(&parse_quote!(::core::option::Option<usize>)).is_some());
    assert!(autoinc_int(&parse_quote!(Option<i32>)).is_none());
    assert!(autoinc_int(&parse_quote!(u32)).is_none());
    assert!(is_lazy(&parse_quote!(Lazy<Vec<u8>>)));
    assert!(is_lazy(&parse_quote!(persist_core::Lazy<String>)));
    assert!(!is_lazy(&parse_quote!(Vec<u8>)));
}

#[test]
fn all_errors_are_reported_together() {
    let node: DeriveInput = parse_quote! {
        #[persist(name = "Bad Name", version = 0, crate = "persist_core", colour = "red")]
        struct Broken {
            #[autoinc] a: Option<u32>,
            #[autoinc] b: Option<i64>,
            #[key] #[record] c: Lazy<String>,
            #[record] d: Vec<u8>,
            #[key] #[key] build: String,
            #[filename(prefx = "x")] e: String,
        }
    };
    let errors = errors(&node);
    let expect = [
        "unknown key `colour`",
        "invalid `name`",
        "`version` starts at 1",
        "absolute path",
        "only one field can be `#[autoinc]`",
        "`Option<u32>`, `Option<u64>` or `Option<usize>`",
        "`#[record]` cannot be combined with `#[key]`",
        "must have type `Lazy<T>`",
        "duplicate `#[key]`",
        "clash with `.build()`",
        "unknown key `prefx` in `#[filename(…)]`, expected `prefix`",
    ];
    for needle in expect {
        assert!(
            errors.iter().any(|e| e.contains(needle)),
            "no error containing {needle:?} in {errors:#?}"
        );
    }
    assert_eq!(errors.len(), expect.len(), "{errors:#?}");
}

#[test]
fn autoinc_alone_is_an_identity_but_nothing_is_not() {
    let node: DeriveInput = parse_quote! {
        struct Runs { #[autoinc] n: Option<u32>, data: Vec<f64> }
    };
    assert!(errors(&node).is_empty());
    let node: DeriveInput = parse_quote! {
        struct Nothing { data: Vec<f64> }
    };
    let errors = errors(&node);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("a struct with no key"), "{errors:?}");
}

#[test]
fn expansion_uses_the_runtime_path_and_indices() {
    let node: DeriveInput = parse_quote! {
        #[persist(crate = "::my::rt")]
        pub struct Example {
            #[key] #[filename] use_animal: String,
            #[key] use_session: u32,
            channels: Vec<i32>,
            #[record] data: Lazy<Vec<u8>>,
        }
    };
    let out = expand::derive(&node).to_string();
    assert!(!out.contains("compile_error"), "{out}");
    assert!(!out.contains("persist_core"), "{out}");
    for needle in [
        "impl :: my :: rt :: __private :: Record for Example",
        "pub struct ExampleReplace",
        "pub struct ExampleQuery",
        "name : \"example\"",
        "__persist_parts . key (0usize) ?",
        "__persist_parts . key (1usize) ?",
        "__persist_parts . data (0usize) ?",
        "__persist_parts . record (0usize) ?",
        "use_animal : impl :: my :: rt :: __private :: Into < String >",
        "use_session : u32",
        "RecordField { name : \"data\" , stem : \"data\" , compress : :: my :: rt :: __private :: None }",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in {out}");
    }
    // No autoinc: no reset flag in the replace builder.
    assert!(!out.contains("__persist_key_changed"), "{out}");
}

#[test]
#[ignore = "prints an expansion for review: cargo test -p persist-derive --lib print_expansion -- --ignored --nocapture | rustfmt"]
fn print_expansion() {
    let node: DeriveInput = parse_quote! {
        #[persist(name = "example", version = 2, migrate)]
        pub struct Example {
            #[key] #[filename] use_animal: String,
            #[key] use_session: String,
            #[filename(prefix = "d")] use_date: String,
            #[autoinc] run_id: Option<u32>,
            channels: Vec<i32>,
            #[record] data: Lazy<Array1<f64>>,
        }
    };
    std::fs::write(
        "/tmp/persist_expansion.rs",
        expand::derive(&node).to_string(),
    )
    .unwrap();
}

#[test]
fn generic_bounds_only_where_a_field_mentions_a_parameter() {
    let node: DeriveInput = parse_quote! {
        #[persist(name = "spectrum")]
        struct Spectrum<E, M> {
            #[filename] animal: String,
            #[key] tag: M,
            peak_hz: f64,
            marker: PhantomData<M>,
            #[record] power: Lazy<Array1<E>>,
            #[record] notes: Lazy<String>,
        }
    };
    let out = expand::derive(&node).to_string();
    assert!(!out.contains("compile_error"), "{out}");
    for needle in [
        "impl < E , M > :: persist_core :: __private :: Record for Spectrum < E , M >",
        "M : :: persist_core :: __private :: KeyType",
        "PhantomData < M > : :: persist_core :: __private :: DataType",
        "Array1 < E > : :: persist_core :: Storable",
        "pub fn query () -> SpectrumQuery < E , M >",
        "__persist_marker : :: persist_core :: __private :: PhantomData < fn () -> Spectrum < E , M > >",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in {out}");
    }
    // Fields that mention no parameter get no bound.
    for absent in ["String : ::", "f64 : ::", "E : :: persist_core"] {
        assert!(!out.contains(absent), "unexpected {absent:?} in {out}");
    }
}

#[test]
fn a_generic_struct_needs_a_name() {
    let node: DeriveInput = parse_quote! {
        struct Spectrum<E> { #[key] animal: String, #[record] power: Lazy<Vec<E>> }
    };
    let errors = errors(&node);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("a generic struct needs `#[persist(name = \"…\")]`"),
        "{errors:?}"
    );
}

#[test]
fn a_type_mentions_a_parameter() {
    let t: syn::Ident = parse_quote!(T);
    let params = [&t];
    let yes: [syn::Type; 9] = [
        parse_quote!(T),
        parse_quote!(Vec<T>),
        parse_quote!(&'static [T]),
        parse_quote!((u8, T)),
        parse_quote!(T::Item),
        parse_quote!(<T as Iterator>::Item),
        parse_quote!(fn(T) -> u8),
        parse_quote!(Box<dyn Fn() -> T>),
        parse_quote!(Option<Vec<[T; 3]>>),
    ];
    for ty in &yes {
        assert!(mentions(ty, &params), "{}", quote::quote!(#ty));
    }
    let no: [syn::Type; 5] = [
        parse_quote!(u8),
        parse_quote!(Vec<U>),
        parse_quote!(::T),
        parse_quote!(my::T),
        parse_quote!(Lazy<Array1<f64>>),
    ];
    for ty in &no {
        assert!(!mentions(ty, &params), "{}", quote::quote!(#ty));
    }
}

#[test]
fn validate_overrides_the_hook_only_when_asked() {
    let with: DeriveInput = parse_quote! {
        #[persist(validate, crate = "::my::rt")]
        struct Fit { #[key] dataset: String, rmse: f64 }
    };
    let out = expand::derive(&with).to_string();
    assert!(!out.contains("compile_error"), "{out}");
    for needle in [
        "fn __validate (& self) -> :: my :: rt :: __private :: Result < () , :: my :: rt :: __private :: BoxError >",
        "< Self as :: my :: rt :: __private :: Validate > :: validate (self)",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in {out}");
    }
    let without: DeriveInput = parse_quote! {
        struct Fit { #[key] dataset: String, rmse: f64 }
    };
    let out = expand::derive(&without).to_string();
    assert!(!out.contains("__validate"), "{out}");
    assert!(!out.contains("Validate"), "{out}");
}

#[test]
fn compress_values_parse_with_their_levels() {
    use crate::codec::{parse, Codec};
    assert_eq!(parse("zstd"), Ok(Codec::Zstd(3)));
    assert_eq!(parse("zstd:1"), Ok(Codec::Zstd(1)));
    assert_eq!(parse("zstd:22"), Ok(Codec::Zstd(22)));
    assert_eq!(parse("gzip"), Ok(Codec::Gzip(6)));
    assert_eq!(parse("gzip:0"), Ok(Codec::Gzip(0)));
    assert_eq!(parse("gzip:9"), Ok(Codec::Gzip(9)));
    for (bad, says) in [
        ("lz4", "unknown compression `lz4`"),
        ("", "unknown compression ``"),
        ("Zstd", "unknown compression `Zstd`"),
        ("zstd:0", "from 1 to 22, found `0`"),
        ("zstd:23", "from 1 to 22, found `23`"),
        ("zstd:-5", "from 1 to 22, found `-5`"),
        ("zstd:", "from 1 to 22, found ``"),
        ("zstd:fast", "from 1 to 22, found `fast`"),
        ("gzip:10", "from 0 to 9, found `10`"),
        ("gzip:-1", "from 0 to 9, found `-1`"),
    ] {
        let e = parse(bad).expect_err(bad);
        assert!(e.contains(says), "{bad:?}: {e}");
    }
}

#[test]
fn compress_is_parsed_checked_and_generated() {
    let node: DeriveInput = parse_quote! {
        struct Movie {
            #[key] name: String,
            #[record(compress = "zstd:9")] a: Lazy<Vec<u8>>,
            #[record(file = "b", compress = "gzip")] b: Lazy<Vec<u8>>,
            #[record] c: Lazy<Vec<u8>>,
        }
    };
    let compress: Vec<Option<String>> = parse(&node, |input| {
        input
            .fields
            .iter()
            .filter_map(|f| match f.role() {
                Role::Record { compress, .. } => Some(compress.map(|c| c.value())),
                _ => None,
            })
            .collect()
    });
    assert_eq!(
        compress,
        [Some("zstd:9".to_owned()), Some("gzip".to_owned()), None]
    );
    let out = expand::derive(&node).to_string();
    for needle in [
        "name : \"a\" , stem : \"a\" , compress : :: persist_core :: __private :: Some (:: persist_core :: __private :: Codec :: Zstd (9))",
        "name : \"b\" , stem : \"b\" , compress : :: persist_core :: __private :: Some (:: persist_core :: __private :: Codec :: Gzip (6))",
        "name : \"c\" , stem : \"c\" , compress : :: persist_core :: __private :: None",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in {out}");
    }

    let node: DeriveInput = parse_quote! {
        struct Bad {
            #[key] name: String,
            #[record(compress = "lz4")] a: Lazy<Vec<u8>>,
            #[record(compress = "zstd:30")] b: Lazy<Vec<u8>>,
            #[record(compress = "gzip:10", compress = "gzip")] c: Lazy<Vec<u8>>,
            #[filename(compress = "zstd")] d: String,
        }
    };
    let errors = errors(&node);
    let expect = [
        "invalid `compress`: unknown compression `lz4`",
        "invalid `compress`: the zstd level must be an integer from 1 to 22, found `30`",
        "invalid `compress`: the gzip level must be an integer from 0 to 9, found `10`",
        "duplicate `compress` key",
        "unknown key `compress` in `#[filename(…)]`, expected `prefix`",
    ];
    for needle in expect {
        assert!(
            errors.iter().any(|e| e.contains(needle)),
            "no error containing {needle:?} in {errors:#?}"
        );
    }
    assert_eq!(errors.len(), expect.len(), "{errors:#?}");
}
