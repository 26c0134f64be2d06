//! A join after stages: the inputs' keys at the join must be of one type
//! (one `key_by` gives both), and an input cannot end in a window whose
//! late records go to a side output. Each is one error, on the user's
//! own tokens.

use stream_runtime::{pipeline, CollectSink, Sequence};

pipeline! {
    KeysDiffer:
    let counts = source(Sequence::new().take(10)) |> key_by(|n| n % 2) |> reduce(|a, b| a + b);
    let names = source(Sequence::new().take(10)) |> map(|n| n.to_string());
    join(counts, names)
        |> key_by(|e| e.either(|n| *n, |s| s.clone()))
        |> process(|e, ctx| ctx.collect(e))
        |> sink(CollectSink::new())
}

pipeline! {
    LateToSide:
    let counts = source(Sequence::new().take(10))
        |> event_time(|n| *n as i64, max_delay = 1s)
        |> key_by(|n| **n % 2)
        |> window(tumbling(1s), late = side)
        |> aggregate(0u64, |c, _| *c += 1);
    let other = source(Sequence::new().take(10));
    join(counts, other) |> sink(CollectSink::new())
}

fn main() {}
