use stream_runtime::{pipeline, CollectSink, Sequence};

pipeline! {
    TwoKeys:
    source(Sequence::new())
    |> key_by(|n| n % 2)
    |> reduce(|a, b| a + b)
    |> key_by(|n| n % 3)
    |> reduce(|a, b| a + b)
    |> sink(CollectSink::<u64>::new())
}

fn main() {}
