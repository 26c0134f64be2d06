//! Named streams: one that is never read, a name no `let` gives, a
//! stream named after a keyed stage, a stream that ends in a sink, and
//! two chains with keyed stages.

use stream_runtime::{pipeline, CollectSink, Sequence};

pipeline! {
    Unknown:
    let numbers = source(Sequence::new().take(10));
    numbrs |> sink(CollectSink::new())
}

pipeline! {
    AfterKeyed:
    let counts = source(Sequence::new().take(10)) |> key_by(|n| n % 2) |> reduce(|a, b| a + b);
    counts |> sink(CollectSink::new());
    counts |> sink(CollectSink::new())
}

pipeline! {
    Sunk:
    let numbers = source(Sequence::new().take(10)) |> sink(CollectSink::new());
    numbers |> map(|n| n + 1) |> sink(CollectSink::new())
}

pipeline! {
    TwoKeyed:
    let numbers = source(Sequence::new().take(10));
    numbers |> key_by(|n| n % 2) |> reduce(|a, b| a + b) |> sink(CollectSink::new());
    numbers |> key_by(|n| n % 3) |> reduce(|a, b| a + b) |> sink(CollectSink::new())
}

pipeline! {
    Unused:
    let numbers = source(Sequence::new().take(10));
}

fn main() {}
