// Every rule of the time stages, reported in one compile.
use stream_runtime::{pipeline, ConsoleSink, Sequence};

pipeline! {
    Unfolded:
    source(Sequence::new())
    |> event_time(|n| *n as i64, max_delay = 5, wait = 1s)
    |> key_by(|n| **n % 3)
    |> window(tumbling(10s), time = wall)
    |> map(|w| w)
    |> sink(ConsoleSink::new())
}

pipeline! {
    Misplaced:
    source(Sequence::new())
    |> key_by(|n| n % 3)
    |> event_time(|n| *n as i64)
    |> aggregate(0u64)
    |> sink(ConsoleSink::new())
}

fn main() {}
