// A duration written with a space: one error, saying how durations are
// written, and no unused-import warning after it.
use stream_runtime::time::Timed;
use stream_runtime::{pipeline, ConsoleSink, Sequence};

pipeline! {
    Spaced:
    source(Sequence::new())
    |> event_time(|n| *n as i64, max_delay = 1s)
    |> key_by(|n: &Timed<u64>| **n % 3)
    |> window(tumbling(5 s))
    |> aggregate(0u64, |count, _n| *count += 1)
    |> sink(ConsoleSink::new())
}

fn main() {}
