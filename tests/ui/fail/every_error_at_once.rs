use stream_runtime::{pipeline, CollectSink, Sequence};

pipeline! {
    Everything(batch_szie = 10):
    map(|n: u64| n)
    |> reduce(|a, b| a + b)
    |> filter()
}

fn main() {
    // The struct is still declared, so its uses add no errors of their own.
    let _ = stream_runtime::Endpoint::new().pipeline(Everything);
}
