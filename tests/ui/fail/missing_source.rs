use stream_runtime::{pipeline, CollectSink, Sequence};

pipeline! {
    NoSource:
    map(|n: u64| n + 1)
    |> sink(CollectSink::<u64>::new())
}

fn main() {}
