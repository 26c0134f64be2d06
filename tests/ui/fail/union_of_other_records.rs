// A union's sources give records of one type.
use stream_runtime::{pipeline, CollectSink, InMemorySource, Sequence};

pipeline! {
    Mixed:
    source(Sequence::new())
    |> union(InMemorySource::new(vec!["a".to_owned()]))
    |> sink(CollectSink::<u64>::new())
}

fn main() {}
