// The seed's pipeline, as the guide shows it, with no type annotations.
use serde::{Deserialize, Serialize};
use stream_runtime::{pipeline, FileSink, RandomWords};

#[derive(Clone, Serialize, Deserialize)]
struct WordCount {
    word: String,
    count: u64,
}

pipeline! {
    ContinuousWordCount:
    source(RandomWords::new())
    |> map(|word| WordCount { word, count: 1 })
    |> key_by(|wc| wc.word.clone())
    |> reduce(|a, b| WordCount { count: a.count + b.count, ..a })
    |> sink(FileSink::new("/tmp/wordcount-output.txt"))
}

fn main() {
    let endpoint = stream_runtime::Endpoint::new().pipeline(ContinuousWordCount);
    assert_eq!(ContinuousWordCount::NAME, "ContinuousWordCount");
    assert_eq!(ContinuousWordCount::service_names().keyed, "ContinuousWordCountKeyed");
    drop(endpoint);
}
