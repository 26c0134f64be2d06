//! Named streams: one that is never read, a name no `let` gives, a
//! stream named after a keyed stage, a stream that ends in a sink, two
//! chains with keyed stages, a misspelt stage in a branch, an input stage
//! in a chain that reads the named stream, and a name without `let`.

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

pipeline! {
    TypoInBranch:
    let numbers = source(Sequence::new().take(10));
    numbers |> mapp(|n| n + 1) |> sink(CollectSink::new());
    numbers |> key_by(|n| n % 3) |> reduce(|a, b| a + b) |> sink(CollectSink::new())
}

pipeline! {
    UnionInAChain:
    let numbers = source(Sequence::new().take(10));
    numbers |> union(Sequence::new().take(5)) |> sink(CollectSink::new());
    numbers |> sink(CollectSink::new())
}

pipeline! {
    NoLet:
    numbers = source(Sequence::new().take(10));
    numbers |> sink(CollectSink::new())
}

fn main() {}
