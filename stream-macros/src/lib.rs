//! The `pipeline!` macro of `stream-runtime`. Use it through
//! `stream_runtime::pipeline!`; this crate is an implementation detail.
//!
//! The macro is split as serde_derive and thiserror split theirs:
//! [`ast`] parses the DSL as written, [`model`] checks it and builds the
//! validated pipeline (collecting every error), and [`expand`] generates the
//! code, which calls the typed API in `stream_runtime::__private`.

mod ast;
mod expand;
mod model;
#[cfg(test)]
mod snapshot;

use proc_macro::TokenStream;

/// Declares a stream-processing pipeline compiled to Restate services.
///
/// ```text
/// pipeline! {
///     Name:    // or `pub Name(batch_size = 500, key_groups = 16, max_attempts = 3):`
///     source(expr)
///     |> map(|x| ..) |> filter(|x| ..) |> flat_map(|x| ..)   // any number, any order
///     |> key_by(|x| ..) |> reduce(|a, b| ..)                 // or `process(|x, ctx| ..)`
///     |> map(|x| ..) ...                                      // more stateless stages
///     |> sink(expr)
/// }
/// ```
///
/// It declares a unit struct `Name` that implements `IntoPipeline`; bind it
/// to an `Endpoint` or a `Runner`.
#[proc_macro]
pub fn pipeline(input: TokenStream) -> TokenStream {
    let parsed = syn::parse_macro_input!(input as ast::PipelineInput);
    match model::Pipeline::from_ast(parsed) {
        Ok(pipeline) => expand::expand(&pipeline).into(),
        Err(errors) => errors.to_compile_error().into(),
    }
}
