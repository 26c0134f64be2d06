use stream_runtime::{pipeline, CollectSink, Sequence};

pipeline! {
    Arity:
    source(Sequence::new(), Sequence::new())
    |> map()
    |> sink(CollectSink::<u64>::new())
}

fn main() {}
