use stream_runtime::{pipeline, CollectSink, Sequence};

pipeline! {
    Wörter:
    source(Sequence::new())
    |> sink(CollectSink::<u64>::new())
}

fn main() {
    let _ = stream_runtime::Endpoint::new().pipeline(Wörter);
    let _ = Wörter::NAME;
}
