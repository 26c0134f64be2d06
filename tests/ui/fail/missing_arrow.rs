use stream_runtime::{pipeline, CollectSink, Sequence};

pipeline! {
    MissingArrow:
    source(Sequence::new())
    map(|n| n + 1)
    |> sink(CollectSink::<u64>::new())
}

fn main() {}
