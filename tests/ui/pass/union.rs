// `union` right after `source`, twice: three sources of one record type.
use stream_runtime::{pipeline, CollectSink, InMemorySource, Sequence};

pipeline! {
    Merged:
    source(Sequence::new().take(100))
    |> union(Sequence::new().take(10).with_splits(2))
    |> union(InMemorySource::new(vec![7u64, 8, 9]))
    |> map(|n| (n % 3, 1u64))
    |> key_by(|(key, _)| *key)
    |> reduce(|(key, a), (_, b)| (key, a + b))
    |> sink(CollectSink::new())
}

fn main() {
    stream_runtime::Endpoint::new().pipeline(Merged).build().expect("it builds");
}
