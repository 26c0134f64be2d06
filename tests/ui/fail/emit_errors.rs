//! `emit` is `every` or `latest`, and only on a running `reduce`.

use std::time::Duration;

use stream_runtime::{pipeline, CollectSink, Sequence};

pipeline! {
    WrongEmit:
    source(Sequence::new().take(100))
    |> key_by(|n| n % 10)
    |> reduce(|a, b| a + b, emit = sometimes)
    |> sink(CollectSink::new())
}

pipeline! {
    WindowEmit:
    source(Sequence::new().take(100))
    |> event_time(|n| *n as i64, max_delay = 1s)
    |> key_by(|n| **n % 10)
    |> window(tumbling(1s))
    |> reduce(|a, _b| a, emit = latest)
    |> sink(CollectSink::new())
}

fn main() {
    let _ = Duration::ZERO;
}
