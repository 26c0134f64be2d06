use stream_runtime::{pipeline, CollectSink, Sequence};

pipeline! {
    Typo:
    source(Sequence::new())
    |> mapp(|n| n + 1)
    |> sink(CollectSink::<u64>::new())
}

fn main() {}
