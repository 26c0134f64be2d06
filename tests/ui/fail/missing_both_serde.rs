// A record type with neither serde derive: one error, that says to derive both.
use stream_runtime::{pipeline, FileSink, RandomWords};

#[derive(Clone)]
struct WordCount {
    word: String,
    count: u64,
}

pipeline! {
    WordCounts:
    source(RandomWords::new())
    |> map(|word| WordCount { word, count: 1 })
    |> key_by(|wc| wc.word.clone())
    |> reduce(|a, b| WordCount { count: a.count + b.count, ..a })
    |> sink(FileSink::new("/tmp/out.txt"))
}

fn main() {
    let _ = stream_runtime::Endpoint::new().pipeline(WordCounts);
}
