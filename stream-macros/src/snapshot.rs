//! Expansion snapshots: what `pipeline!` generates for known inputs, kept in
//! `tests/snapshots/` so that a change to the generated code shows up in review.
//! Run with `UPDATE_SNAPSHOTS=1` to rewrite them.

use std::path::PathBuf;

use quote::quote;

use crate::{ast, expand, valid};

fn check(name: &str, input: proc_macro2::TokenStream) {
    let parsed: ast::PipelineInput = syn::parse2(input).expect("the input parses");
    let Ok(pipeline) = valid::Pipeline::from_ast(parsed) else {
        panic!("{name}: the input is not valid");
    };
    let file: syn::File =
        syn::parse2(expand::expand(&pipeline)).expect("the expansion parses as a file");
    let expanded = prettyplease::unparse(&file);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.expanded.rs"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &expanded).expect("write the snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_SNAPSHOTS=1", path.display()));
    assert_eq!(
        expanded, expected,
        "{name}: the expansion changed; run with UPDATE_SNAPSHOTS=1 and review the diff"
    );
}

#[test]
fn seed_word_count() {
    check(
        "seed_word_count",
        quote! {
            ContinuousWordCount:
            source(RandomWords::new())
            |> map(|word| WordCount { word, count: 1 })
            |> key_by(|wc| wc.word.clone())
            |> reduce(|a, b| WordCount { count: a.count + b.count, ..a })
            |> sink(FileSink::new("/tmp/wordcount-output.txt"))
        },
    );
}

#[test]
fn parameters() {
    check(
        "parameters",
        quote! {
            pub SensorAlerts(threshold: f64, out: PathBuf, batch_size = 100):
            source(Sensors::new())
            |> filter(|r| r.temp > threshold)
            |> key_by(|r| r.device)
            |> reduce(|a, b| if a.temp >= b.temp { a } else { b })
            |> sink(FileSink::new(out))
        },
    );
}

#[test]
fn options_and_every_kind_of_stage() {
    check(
        "every_stage",
        quote! {
            /// Documented.
            pub Letters(batch_size = 500, key_groups = 32, max_attempts = 5):
            source(InMemorySource::new(["a b"]))
            |> flat_map(|line| line.split(' ').map(str::to_owned).collect::<Vec<_>>())
            |> filter(|word| !word.is_empty())
            |> key_by(|word| word.clone())
            |> process(|word, ctx| ctx.collect(word))
            |> map(|word| word.len())
            |> sink(ConsoleSink::new())
        },
    );
}

#[test]
fn time_stages() {
    check(
        "time_stages",
        quote! {
            pub SensorAverages(size: Duration):
            source(Sensors::new())
            |> event_time(|r| r.ts_millis, max_delay = 5s, idle = 1m)
            |> key_by(|r| r.device)
            |> window(sliding(size, 10s), lateness = 500ms)
            |> aggregate(Average::default(), |acc, r| acc.add(r.temp))
            |> map(|w| w.value)
            |> sink(ConsoleSink::new())
        },
    );
}

#[test]
fn processing_time_and_timers() {
    check(
        "processing_time_and_timers",
        quote! {
            Quiet:
            source(Sequence::new())
            |> key_by(|n| n % 3)
            |> process(|n, ctx| ctx.register_processing_timer(ctx.now() + 1_000), on_timer = |t, ctx| ctx.collect(t.at))
            |> sink(ConsoleSink::new())
        },
    );
}
