//! The word count over lines pushed over HTTP, with no broker: producers
//! call `PushWordCountIngest/append` with a batch of lines and a key, and
//! every running count is appended to a file exactly once.
//!
//! ```sh
//! cargo run --example push_word_count            # starts a local Restate server
//! curl localhost:8080/PushWordCountIngest/append \
//!   --json '{"key": "first", "records": ["to be or not to be", "that is the question"]}'
//! cargo run --example push_lines < some.txt      # the Rust producer: a file's lines
//! tail -f /tmp/push-wordcount-output.txt
//! ```

use serde::{Deserialize, Serialize};
use stream_runner::Runner;
use stream_runtime::source::Pushed;
use stream_runtime::{pipeline, FileSink};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct WordCount {
    word: String,
    count: u64,
}

pipeline! {
    PushWordCount:
    source(Pushed::<String>::new().with_splits(2))
    |> flat_map(|line| line
        .split_whitespace()
        .map(|word| WordCount { word: word.to_lowercase(), count: 1 })
        .collect::<Vec<_>>())
    |> key_by(|wc| wc.word.clone())
    |> reduce(|a, b| WordCount { count: a.count + b.count, ..a })
    |> sink(FileSink::new("/tmp/push-wordcount-output.txt"))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let runner = Runner::from_args().pipeline(PushWordCount);
    println!("push lines to http://localhost:8080/PushWordCountIngest/append (or `cargo run --example push_lines < FILE`)");
    println!("writing to /tmp/push-wordcount-output.txt");
    match runner.run().await {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
