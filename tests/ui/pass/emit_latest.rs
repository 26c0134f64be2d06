//! A running count that emits each key's latest value once per batch.

use stream_runtime::{pipeline, CollectSink, Sequence};

pipeline! {
    LatestCounts:
    source(Sequence::new().take(100))
    |> map(|n| (n % 10, 1u64))
    |> key_by(|(key, _)| *key)
    |> reduce(|(key, a), (_, b)| (key, a + b), emit = latest)
    |> sink(CollectSink::new())
}

pipeline! {
    EveryCount:
    source(Sequence::new().take(100))
    |> map(|n| (n % 10, 1u64))
    |> key_by(|(key, _)| *key)
    |> reduce(|(key, a), (_, b)| (key, a + b), emit = every)
    |> sink(CollectSink::new())
}

fn main() {}
