use stream_runtime::{pipeline, CollectSink, Sequence};

pipeline! {
    NoSink:
    source(Sequence::new())
    |> map(|n| n + 1)
}

fn main() {}
