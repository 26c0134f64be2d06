//! A small producer for a pipeline whose source is `Pushed`: sends the
//! lines of its standard input to `PushWordCountIngest/append` (see the
//! `push_word_count` example) in batches, each with a key of its own. A
//! batch that got no answer is sent again with the same key, so it is
//! appended once; a 429 (the pipeline is behind) is waited out.
//!
//! ```sh
//! cargo run --example push_lines < some.txt
//! cargo run --example push_lines -- --ingress http://localhost:8080 --batch 500 --run r2 < more.txt
//! ```

use std::io::BufRead;
use std::time::Duration;

use clap::Parser;
use stream_runtime::restate::IngressClient;
use stream_runtime::{PushBatch, ServiceNames};

/// Pushes stdin's lines to a pushed word count.
#[derive(Parser)]
struct Cli {
    /// The Restate ingress.
    #[arg(long, default_value = "http://localhost:8080")]
    ingress: String,
    /// The pipeline.
    #[arg(long, default_value = "PushWordCount")]
    pipeline: String,
    /// Lines per batch.
    #[arg(long, default_value_t = 200)]
    batch: usize,
    /// What the batches' keys start with: a run with the same keys as an
    /// earlier one appends nothing the earlier one appended. By default, a
    /// hash of the input: the same file sent again (say, after the
    /// producer crashed) appends only what did not go in.
    #[arg(long)]
    run: Option<String>,
}

/// A stable hash of the lines (FNV-1a).
fn fnv1a(lines: &[String]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in lines.iter().flat_map(|line| line.bytes().chain([b'\n'])) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let ingress = IngressClient::new(cli.ingress.as_str());
    let names = ServiceNames::for_pipeline(&cli.pipeline);
    let lines: Vec<String> = match std::io::stdin().lock().lines().collect() {
        Ok(lines) => lines,
        Err(error) => {
            eprintln!("push_lines: reading stdin: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let run = cli.run.unwrap_or_else(|| format!("{:016x}", fnv1a(&lines)));
    let (mut appended, mut again) = (0u64, 0u64);
    for (n, chunk) in lines.chunks(cli.batch.max(1)).enumerate() {
        let batch = PushBatch {
            key: format!("{run}-{n}"),
            records: chunk.iter().map(|line| line.as_str().into()).collect(),
            split: None,
        };
        loop {
            match ingress.append(&names, &batch).await {
                Ok(answer) if answer.again => {
                    again += u64::from(answer.count);
                    break;
                }
                Ok(answer) => {
                    appended += u64::from(answer.count);
                    break;
                }
                Err(error) if error.status() == Some(429) => {
                    let wait = error.retry_after().unwrap_or(Duration::from_secs(1));
                    tokio::time::sleep(wait).await;
                }
                Err(error) if error.status().is_some_and(|s| (400..500).contains(&s)) => {
                    eprintln!("push_lines: batch {} refused: {error}", batch.key);
                    return std::process::ExitCode::FAILURE;
                }
                Err(error) => {
                    eprintln!("push_lines: batch {}: {error}; sending it again", batch.key);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
    println!("{appended} lines appended, {again} already there from an earlier run");
    if appended + again == 0 {
        eprintln!("push_lines: no lines on stdin, nothing pushed");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
