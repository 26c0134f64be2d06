//! Joins of named streams: a name no `let` gives (with another `let`
//! beside it), a stream named and not joined, an input that ends in a
//! sink, an input with two keyed stages, `enrich` before the join,
//! `event_time` and `union` after it, a stream joined with itself, a join
//! not at the start of its chain, a second join, a named join, and a
//! branch beside a join. Each is one error, on the user's own tokens.

use stream_runtime::{pipeline, CollectSink, Sequence};

pipeline! {
    UnknownInput:
    let a = source(Sequence::new().take(10)) |> key_by(|n| n % 2) |> reduce(|x, y| x + y);
    let b = source(Sequence::new().take(10));
    join(a, bb) |> sink(CollectSink::new())
}

pipeline! {
    EnrichBefore:
    let a = source(Sequence::new().take(10))
        |> key_by(|n| n % 2)
        |> enrich(|n| stream_runtime::lookup::Lookup::<u64>::service("S", "h", n));
    let b = source(Sequence::new().take(10));
    join(a, b) |> sink(CollectSink::new())
}

pipeline! {
    UnionAfter:
    let a = source(Sequence::new().take(10));
    let b = source(Sequence::new().take(10));
    join(a, b) |> union(Sequence::new()) |> sink(CollectSink::new())
}

pipeline! {
    TwoJoins:
    let a = source(Sequence::new().take(10));
    let b = source(Sequence::new().take(10));
    let c = source(Sequence::new().take(10));
    let d = source(Sequence::new().take(10));
    join(a, b) |> sink(CollectSink::new());
    join(c, d) |> sink(CollectSink::new())
}

pipeline! {
    NamedJoin:
    let a = source(Sequence::new().take(10));
    let b = source(Sequence::new().take(10));
    let j = join(a, b) |> map(|e| 0u8);
}

pipeline! {
    BranchBeside:
    let a = source(Sequence::new().take(10));
    let b = source(Sequence::new().take(10));
    join(a, b) |> sink(CollectSink::new());
    a |> sink(CollectSink::new())
}

pipeline! {
    NotJoined:
    let a = source(Sequence::new().take(10));
    let b = source(Sequence::new().take(10));
    let c = source(Sequence::new().take(10));
    join(a, b) |> sink(CollectSink::new())
}

pipeline! {
    SunkInput:
    let a = source(Sequence::new().take(10)) |> sink(CollectSink::new());
    let b = source(Sequence::new().take(10));
    join(a, b) |> sink(CollectSink::new())
}

pipeline! {
    KeyedTwice:
    let a = source(Sequence::new().take(10))
        |> key_by(|n| n % 2) |> reduce(|x, y| x + y)
        |> key_by(|n| n % 3) |> reduce(|x, y| x + y);
    let b = source(Sequence::new().take(10));
    join(a, b) |> sink(CollectSink::new())
}

pipeline! {
    TimeAfterJoin:
    let a = source(Sequence::new().take(10));
    let b = source(Sequence::new().take(10));
    join(a, b) |> event_time(|e| 0, max_delay = 1s) |> sink(CollectSink::new())
}

pipeline! {
    Itself:
    let a = source(Sequence::new().take(10));
    join(a, a) |> sink(CollectSink::new())
}

pipeline! {
    JoinLater:
    source(Sequence::new().take(10)) |> join(a, b) |> sink(CollectSink::new())
}

fn main() {}
