use stream_runtime::{pipeline, CollectSink, Sequence};

pipeline! {
    KeyOnly:
    source(Sequence::new())
    |> key_by(|n| n % 2)
    |> map(|n| n + 1)
    |> sink(CollectSink::<u64>::new())
}

fn main() {}
