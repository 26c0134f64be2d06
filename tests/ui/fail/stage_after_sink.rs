use stream_runtime::{pipeline, CollectSink, Sequence};

pipeline! {
    AfterSink:
    source(Sequence::new())
    |> sink(CollectSink::<u64>::new())
    |> map(|n: u64| n + 1)
}

fn main() {}
