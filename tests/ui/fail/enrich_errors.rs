//! `enrich` gives a lookup (not an async call), follows `key_by`, and its
//! options are an order and whole numbers of calls.

use stream_runtime::lookup::Lookup;
use stream_runtime::{pipeline, CollectSink, Sequence};

pipeline! {
    AsyncEnrich:
    source(Sequence::new().take(100))
    |> key_by(|n| n % 10)
    |> enrich(|n| async move { *n * 2 })
    |> sink(CollectSink::new())
}

pipeline! {
    UnkeyedEnrich:
    source(Sequence::new().take(100))
    |> enrich(|n| Lookup::<u64>::service("Math", "square", n))
    |> sink(CollectSink::new())
}

pipeline! {
    BadOptions:
    source(Sequence::new().take(100))
    |> key_by(|n| n % 10)
    |> enrich(|n| Lookup::<u64>::service("Math", "square", n), order = sideways, in_flight = 0)
    |> sink(CollectSink::new())
}

fn main() {}
