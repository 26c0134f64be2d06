use stream_runtime::{pipeline, CollectSink, Sequence};

#[derive(Clone, PartialEq)]
struct Device(u64);

pipeline! {
    PerDevice:
    source(Sequence::new())
    |> key_by(|n| Device(n % 4))
    |> reduce(|a, b| a + b)
    |> sink(CollectSink::<u64>::new())
}

fn main() {
    let _ = stream_runtime::Endpoint::new().pipeline(PerDevice);
}
