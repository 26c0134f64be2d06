use stream_runtime::{pipeline, CollectSink, Sequence};

pipeline! {
    BadClosure:
    source(Sequence::new())
    |> filter(|n| *n + 1)
    |> sink(CollectSink::<u64>::new())
}

fn main() {}
