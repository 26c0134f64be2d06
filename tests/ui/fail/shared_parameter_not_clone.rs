// A parameter that is not `Clone` and that two stages use: each stage needs
// its own copy, and the error says so on the stage that needs the copy.
use stream_runtime::{pipeline, ConsoleSink, Sequence};

/// Not `Clone`, as a connector is not.
struct Limits {
    max: u64,
}

pipeline! {
    Limited(limits: Limits):
    source(Sequence::new())
    |> filter(|n| *n < limits.max)
    |> map(|n| n.min(limits.max))
    |> sink(ConsoleSink::new())
}

fn main() {
    let _ = stream_runtime::Endpoint::new().pipeline(Limited { limits: Limits { max: 10 } });
}
