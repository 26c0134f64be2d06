//! The seed's bounded word count: a fixed text, counted per word. Starts with
//! one call, finishes by itself, and prints the final counts.
//!
//! ```sh
//! cargo run --example word_count
//! ```

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use stream_runner::Runner;
use stream_runtime::{pipeline, CollectSink, InMemorySource};

const TEXT: &str = "to be or not to be that is the question \
    whether tis nobler in the mind to suffer the slings and arrows of outrageous fortune \
    or to take arms against a sea of troubles and by opposing end them";

#[derive(Clone, Debug, Serialize, Deserialize)]
struct WordCount {
    word: String,
    count: u64,
}

static COUNTS: LazyLock<CollectSink<WordCount>> = LazyLock::new(CollectSink::new);

pipeline! {
    BoundedWordCount:
    source(InMemorySource::new(TEXT.split_whitespace()))
    |> map(|word| WordCount { word: word.to_owned(), count: 1 })
    |> key_by(|wc| wc.word.clone())
    |> reduce(|a, b| WordCount { count: a.count + b.count, ..a })
    |> sink(COUNTS.clone())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // A fresh server each run: a bounded job that already finished would
    // otherwise just report finished again. The data dir is this
    // example's own (target/restate-dev/word_count): no other is touched.
    let args = std::iter::once("--fresh".to_owned()).chain(std::env::args().skip(1));
    if let Err(e) = Runner::with_args(args)
        .default_tokens(2)
        .pipeline(BoundedWordCount)
        .run()
        .await
    {
        eprintln!("error: {e}");
        return std::process::ExitCode::FAILURE;
    }
    let mut finals = BTreeMap::new();
    for wc in COUNTS.records() {
        let count = finals.entry(wc.word).or_insert(0);
        *count = wc.count.max(*count);
    }
    if finals.is_empty() {
        eprintln!("error: no count reached this process's sink");
        return std::process::ExitCode::FAILURE;
    }
    println!("final counts:");
    for (word, count) in &finals {
        println!("  {word:<12} {count}");
    }
    std::process::ExitCode::SUCCESS
}
