//! Duration literals: `500ms`, `5s`, `10m`, `1h`, read as milliseconds.

use syn::Expr;

/// The units a duration literal may have, with their length in milliseconds.
pub const DURATION_UNITS: [(&str, u64); 4] =
    [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)];

/// A duration literal such as `5s` or `250ms`: its length in milliseconds,
/// or an error on the literal. `None` for anything else, which is left to
/// the compiler as a `Duration`.
pub fn duration_literal(expr: &Expr) -> Option<syn::Result<u64>> {
    let Expr::Lit(syn::ExprLit {
        lit: syn::Lit::Int(int),
        ..
    }) = expr
    else {
        return None;
    };
    let unit = DURATION_UNITS
        .iter()
        .find(|(unit, _)| *unit == int.suffix());
    let Some((_, factor)) = unit else {
        let n = int.base10_digits();
        let message = format!("`{int}` needs a unit: write `{n}ms`, `{n}s`, `{n}m` or `{n}h`");
        return Some(Err(syn::Error::new_spanned(int, message)));
    };
    let value: Result<u64, _> = int.base10_parse();
    Some(
        value
            .ok()
            .and_then(|n| n.checked_mul(*factor))
            .ok_or_else(|| syn::Error::new_spanned(int, format!("`{int}` is too long a duration"))),
    )
}
