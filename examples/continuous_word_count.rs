//! The continuous word count: random words, counted per word, every
//! running count appended to a file exactly once.
//!
//! ```sh
//! cargo run --example continuous_word_count            # starts a local Restate server
//! cargo run --example continuous_word_count -- --fresh # starts over
//! tail -f /tmp/wordcount-output.txt
//! ```

use serde::{Deserialize, Serialize};
use stream_runner::Runner;
use stream_runtime::{pipeline, FileSink, RandomWords};

#[derive(Clone, Debug, Serialize, Deserialize)]
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

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Parsed first: `--help` prints only the help.
    let runner = Runner::from_args().pipeline(ContinuousWordCount);
    println!("writing to /tmp/wordcount-output.txt");
    match runner.run().await {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
