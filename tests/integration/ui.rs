//! The macro's accepted and rejected inputs, compiled by trybuild. Rejected
//! ones are checked against their `.stderr`: each error must point at the
//! user's own tokens and say what is allowed.

#[test]
fn pipeline_macro_accepts_and_rejects() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
