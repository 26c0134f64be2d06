//! The `pipeline!` macro of `stream-runtime`. Use it through
//! `stream_runtime::pipeline!`; this crate is an implementation detail.
//!
//! The macro is split as serde_derive and thiserror split theirs: `ast`
//! parses the DSL as written, `valid` checks it, one function per rule,
//! collecting every error, `expand` generates the code, which calls the
//! typed API in `stream_runtime::__private`, and `fallback` is what is
//! emitted with an error, so that only the real error shows.

mod ast;
mod expand;
mod fallback;
#[cfg(test)]
mod snapshot;
mod stages;
mod valid;

use proc_macro::TokenStream;

/// Declares a stream-processing pipeline compiled to Restate services.
///
/// ```text
/// pipeline! {
///     Name:    // or `pub Name(threshold: f64, out: PathBuf, batch_size = 500):`
///     source(expr)
///     |> union(expr)                                          // optional: more sources
///     |> map(|x| ..) |> filter(|x| ..) |> flat_map(|x| ..)   // any number, any order
///     |> key_by(|x| ..) |> reduce(|a, b| ..)                 // or `process(|x, ctx| ..)`
///     |> map(|x| ..) ...                                      // more stateless stages
///     |> sink(expr)
/// }
/// ```
///
/// It declares a struct `Name` that implements `IntoPipeline`; bind it to an
/// `Endpoint` or a `Runner`. Parameters (`name: Type`) are its fields,
/// public when the pipeline is `pub`, and every stage sees them by name: a
/// parameter one stage uses is moved into it (a connector can be one), one
/// that several use is cloned for each and must be `Clone`. Without
/// parameters it is a unit struct. Options (`batch_size`,
/// `key_groups`, `max_attempts`) may share the parentheses.
#[proc_macro]
pub fn pipeline(input: TokenStream) -> TokenStream {
    let tokens = proc_macro2::TokenStream::from(input.clone());
    let parsed = syn::parse_macro_input!(input as ast::PipelineInput);
    match valid::Pipeline::from_ast(parsed) {
        Ok(pipeline) => expand::expand(&pipeline).into(),
        Err(failed) => {
            let (error, header) = *failed;
            fallback::expand(&header, &error, tokens).into()
        }
    }
}
