//! `#[persist(crate = "…")]`: the runtime reached through a re-export.
//! The unit tests check that the expansion then never names `::persist_core`.

// Makes `::facade` name this test crate, like a facade crate re-exporting
// persist_core would be named by its users.
extern crate self as facade;

pub mod reexport {
    pub mod rt {
        pub use ::persist_core::*;
    }
}

mod absolute {
    use crate::reexport::rt::{Lazy, Persistence};

    #[derive(Persistence)]
    #[persist(crate = "::facade::reexport::rt")]
    pub struct Absolute {
        #[filename]
        pub a: String,
        #[record]
        pub b: Lazy<String>,
    }
}

mod crate_relative {
    use crate::reexport::rt::Persistence;

    #[derive(Persistence)]
    #[persist(crate = "crate::reexport::rt", name = "rel")]
    pub struct CrateRelative {
        #[filename(prefix = "k")]
        pub k: u32,
    }
}

#[test]
fn generated_api_through_the_reexport() {
    use crate::reexport::rt::Persistence;
    let store = reexport::rt::Store::memory();
    let mut x = absolute::Absolute::new("A00");
    assert_eq!(x.filename(), "absolute-A00");
    x.save(&store).unwrap();
    assert!(x.exists(&store).unwrap());
    let y = crate_relative::CrateRelative::new(7);
    assert_eq!(y.to_string(), "rel-k7");
}
