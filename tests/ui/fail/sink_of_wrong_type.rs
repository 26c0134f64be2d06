use stream_runtime::{pipeline, CollectSink, Sequence};

pipeline! {
    Lengths:
    source(Sequence::new())
    |> map(|n| n.to_string())
    |> sink(CollectSink::<u64>::new())
}

fn main() {
    let _ = stream_runtime::Endpoint::new().pipeline(Lengths);
}
