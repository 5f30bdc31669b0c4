//! UI tests: one misuse per file in `tests/ui/`, with the compiler's output
//! kept in the `.stderr` next to it. Regenerate with `TRYBUILD=overwrite`
//! and review every changed snapshot. The snapshots follow the stable
//! compiler's wording.

#[cfg_attr(miri, ignore)]
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
