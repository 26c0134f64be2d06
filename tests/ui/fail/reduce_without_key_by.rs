use stream_runtime::{pipeline, CollectSink, Sequence};

pipeline! {
    NoKey:
    source(Sequence::new())
    |> reduce(|a, b| a + b)
    |> sink(CollectSink::<u64>::new())
}

fn main() {}
