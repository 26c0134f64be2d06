use stream_runtime::{pipeline, CollectSink, Sequence};

pipeline! {
    Everything(batch_szie = 10):
    map(|n: u64| n)
    |> reduce(|a, b| a + b)
    |> filter()
}

fn main() {}
