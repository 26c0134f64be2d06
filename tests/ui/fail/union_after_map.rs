// `union` adds a source, so it comes right after `source`.
use stream_runtime::{pipeline, CollectSink, Sequence};

pipeline! {
    Late:
    source(Sequence::new())
    |> map(|n| n * 2)
    |> union(Sequence::new())
    |> sink(CollectSink::<u64>::new())
}

fn main() {}
