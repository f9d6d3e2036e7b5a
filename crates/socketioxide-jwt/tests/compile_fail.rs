//! Configuration shapes that used to be refused at `build()` now do not compile: what goes
//! together is given together (`tests/compile_fail/*.rs`, with the compiler's words in the
//! `.stderr` beside each; `TRYBUILD=overwrite` rewrites them after a compiler upgrade).

#[test]
fn shapes_that_do_not_compile() {
    trybuild::TestCases::new().compile_fail("tests/compile_fail/*.rs");
}
