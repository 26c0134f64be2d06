//! The `pipeline!` macro of `stream-runtime`. Use it through
//! `stream_runtime::pipeline!`; this crate is an implementation detail.
//!
//! The macro is split as serde_derive and thiserror split theirs: `ast`
//! parses the DSL as written, `valid` checks it, one function per rule,
//! collecting every error, `expand` generates the code, which calls the
//! typed API in `stream_runtime::__private`, and `fallback` is what is
//! emitted with an error, so that only the real error shows.

mod ast;
mod duration;
mod expand;
mod fallback;
mod joined;
mod lines;
mod named;
#[cfg(test)]
mod snapshot;
mod stages;
mod valid;

use proc_macro::TokenStream;

/// Declares a stream-processing pipeline compiled to Restate services.
///
/// ```text
/// pipeline! {
///     [pub] Name [(param: Type, .., batch_size = N, key_groups = M, max_attempts = A)]:
///     source(expr)
///     |> union(expr)                                         // optional: more sources, one record type
///     |> connect(expr)                                       // optional: a second input, as `Either<L, R>`
///     |> map(|x| ..) |> filter(|x| ..) |> flat_map(|x| ..)  // any number, any order
///     |> event_time(|x| x.ts_millis, max_delay = 5s, idle = 1m)  // optional: event time, watermarks
///     |> key_by(|x| ..)                                      // then one keyed stage:
///     |> reduce(|a, b| .., emit = latest)                    //   a running aggregate (`emit` optional)
///     |> process(|x, ctx| .., on_timer = |timer, ctx| ..)    //   or a keyed process function
///     |> window(tumbling(10s), lateness = 5s, late = side)   //   or windows: tumbling(size),
///     |> aggregate(init, |acc, x| ..)                        //   sliding(size, slide), session(gap)
///                                                            //   (`time = processing`: wall-clock),
///                                                            //   then aggregate(..) or reduce(..)
///     |> interval_join(between(-5s, 5s), |l, r| ..)          //   or an interval join (after `connect` or `join`)
///     |> enrich(|x| Lookup::service(..), in_flight = 16,      //   or a call per record to a Restate
///               order = unordered, timeout = 10s,            //   handler or an HTTP endpoint,
///               attempts = 3, cache = 60s)                   //   giving `(x, answer)`
///     |> map(..) |> key_by(..) |> window(..) |> ..           // more stateless and keyed stages
///     |> sink(expr)
/// }
///
/// pipeline! {                                                // a branch:
///     Name:
///     let placed = source(expr) |> map(..);                  // a stream named before key_by,
///     placed |> map(..) |> sink(expr);                       // read by a stateless chain to a sink
///     placed |> key_by(..) |> .. |> sink(expr)               // and by the main chain
/// }
///
/// pipeline! {                                                // a join after stages:
///     Name:
///     let a = source(expr) |> key_by(..) |> window(..) |> aggregate(..);  // each input from its
///     let b = source(expr) |> key_by(..) |> reduce(..);      // own source, one keyed stage at most
///     join(a, b) |> key_by(|e| e.either(..)) |> process(..) |> sink(expr)  // `Either<A, B>`
/// }
/// ```
///
/// - **Durations** are written `500ms`, `5s`, `10m` or `1h`, with no
///   space; `between` takes negative ones (`-5s`).
/// - **The struct.** It declares a struct `Name` that implements
///   `IntoPipeline`; bind it to an `Endpoint` or a `Runner`. Parameters
///   (`name: Type`) are its fields, public when the pipeline is `pub`, and
///   every stage sees them by name: a parameter one stage uses is moved into
///   it (a connector can be one), one that several use is cloned for each
///   and must be `Clone`. Without parameters it is a unit struct. Options
///   (`batch_size`, `key_groups`, `max_attempts`) may share the parentheses.
/// - **Types.** Closures need no annotations: each stage's input type comes
///   from the one before. Records that cross a keyed stage or reach the sink
///   need `Serialize + Deserialize`, a `reduce` type needs `Clone`, and a
///   key needs `Serialize`; a missing bound is reported on the stage that
///   needs it.
/// - **Errors.** Misuse (an unknown stage, `reduce` without `key_by` before
///   it, a missing `source` or `sink`, an unknown option, `5 s` with a
///   space) is a compile error on your own tokens, every one in one compile.
///
/// The guide's chapter "The DSL and the typed API" (`docs/src/dsl.md` in
/// the repository) describes every stage; the typed API it expands to is
/// `stream_runtime::Pipeline`.
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
