// An event-time window over records that have no timestamps: one error,
// on the window, saying what to add.
use stream_runtime::{pipeline, ConsoleSink, Sequence};

pipeline! {
    NoTime:
    source(Sequence::new())
    |> key_by(|n| n % 3)
    |> window(tumbling(10s))
    |> aggregate(0u64, |count, _n| *count += 1)
    |> sink(ConsoleSink::new())
}

fn main() {}
