//! Two keyed stages in a row: the count of each word per second of event
//! time, then the 3 most frequent words of each second, written to a file.
//!
//! ```sh
//! cargo run --example top_words -- --fresh
//! tail /tmp/top-words.jsonl
//! ```
//!
//! The first stage's key groups pass each window's counts straight to the
//! second stage's (keyed by the window), and the second stage's watermark
//! only passes a second once the first has fired it, so each second's top
//! 3 is written once, complete.

use std::path::PathBuf;

use clap::Parser;
use serde::{Deserialize, Serialize};
use stream_runner::{Runner, RunnerArgs};
use stream_runtime::source::{mix64, DEFAULT_VOCABULARY};
use stream_runtime::window::Windowed;
use stream_runtime::{pipeline, FileSink, Sequence};

/// Word `n`, at about `n` milliseconds of event time, up to 200 ms out of
/// order.
fn word(n: u64) -> (String, i64) {
    let mix = mix64(n);
    let word = DEFAULT_VOCABULARY[(mix % DEFAULT_VOCABULARY.len() as u64) as usize];
    let shift = (mix >> 16) as i64 % 401 - 200;
    (word.to_owned(), n as i64 + shift)
}

/// One line of the output: a second's most frequent words.
#[derive(Debug, Serialize, Deserialize)]
struct TopWords {
    start_ms: i64,
    top: Vec<(u64, String)>,
}

/// Adds a word's count to its second's top 3 (ties by the larger word).
fn top3(top: &mut Vec<(u64, String)>, counted: Windowed<String, u64>) {
    top.push((counted.value, counted.key));
    top.sort_by(|a, b| b.cmp(a));
    top.truncate(3);
}

pipeline! {
    TopWordsPerSecond(words: u64, out: PathBuf):
    source(Sequence::new().take(words).with_splits(2))
    |> map(word)
    |> event_time(|(_, ts)| *ts, max_delay = 1s)
    |> key_by(|r| r.0.clone())
    |> window(tumbling(1s))
    |> aggregate(0u64, |count, _| *count += 1)
    |> key_by(|counted: &Windowed<String, u64>| counted.start)
    |> window(tumbling(1s))
    |> aggregate(Vec::new(), top3)
    |> map(|w| TopWords { start_ms: w.key, top: w.value })
    |> sink(FileSink::new(out))
}

/// The 3 most frequent words of each second of event time.
#[derive(Parser)]
struct Cli {
    /// Words to generate, one per millisecond of event time
    #[arg(long, default_value_t = 100_000)]
    words: u64,
    /// Where to write each second's top 3, one JSON line each
    #[arg(long, default_value = "/tmp/top-words.jsonl")]
    out: PathBuf,
    #[command(flatten)]
    runner: RunnerArgs,
}

#[tokio::main]
async fn main() -> Result<(), stream_runner::RunError> {
    let cli = Cli::parse();
    let top = TopWordsPerSecond {
        words: cli.words,
        out: cli.out.clone(),
    };
    Runner::new(cli.runner).pipeline(top).run().await?;
    println!("each second's top 3 words: {}", cli.out.display());
    Ok(())
}
