//! The macro's accepted and rejected inputs, compiled by trybuild. Rejected
//! ones are checked against their `.stderr`: each error must point at the
//! user's own tokens and say what is allowed.

#[test]
fn pipeline_macro_accepts_and_rejects() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}

/// A README block followed by "compiles as `tests/ui/pass/X.rs`" is that
/// file's text, so the README cannot drift from what compiles.
#[test]
fn readme_blocks_that_name_a_compiled_case_are_in_it() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md"))
        .unwrap_or_else(|e| panic!("README.md: {e}"));
    let squash = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut checked = 0;
    let mut rest = readme.as_str();
    while let Some(start) = rest.find("```rust\n") {
        let block_start = start + "```rust\n".len();
        let Some(len) = rest[block_start..].find("```") else {
            break;
        };
        let block = &rest[block_start..block_start + len];
        rest = &rest[block_start + len + 3..];
        // The sentence right after the block names the case, if any.
        let after = squash(&rest.chars().take(400).collect::<String>());
        let Some(at) = after.find("compiles as `tests/ui/pass/") else {
            continue;
        };
        let name = &after[at + "compiles as `".len()..];
        let name = &name[..name.find('`').unwrap_or(name.len())];
        let case = std::fs::read_to_string(format!("{root}/{name}"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            squash(&case).contains(&squash(block)),
            "the README's block before `{name}` is not in it:\n{block}"
        );
        checked += 1;
    }
    assert!(checked >= 2, "only {checked} README blocks name a case");
}
