//! Dead letters and their replay, on the runner's page: a running sum per
//! key over an endless sequence, whose `reduce` fails on one record while
//! a file exists (a stand-in for a bug). The record goes to the dead-letter
//! output; remove the file (the fix) and press Replay on the page, and the
//! record enters the keyed stage again, once.
//!
//! ```sh
//! touch /tmp/replay-bug
//! cargo run --example replay        # the page: http://127.0.0.1:9400/
//! rm /tmp/replay-bug                # the fix; then Replay on the page
//! grep '"last":50,' /tmp/replay-sums.jsonl
//! ```

use std::path::PathBuf;

use clap::Parser;
use serde::{Deserialize, Serialize};
use stream_runner::{Runner, RunnerArgs};
use stream_runtime::{pipeline, FileSink, Sequence};

/// A key's running sum, and the last number that went into it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Sum {
    key: u64,
    last: u64,
    sum: u64,
}

/// Adds `b` to the running sum `a`; fails on `fail_at` while `bug` exists.
fn add(a: Sum, b: Sum, fail_at: u64, bug: &std::path::Path) -> Sum {
    if b.last == fail_at && bug.exists() {
        panic!("{} exists: cannot add {fail_at}", bug.display());
    }
    Sum {
        last: b.last,
        sum: a.sum + b.sum,
        ..a
    }
}

pipeline! {
    RunningSums(fail_at: u64, bug: PathBuf, out: PathBuf):
    source(Sequence::new())
    |> event_time(|n| *n as i64 * 10, max_delay = 1s)
    |> map(|n| Sum { key: n.value % 5, last: n.value, sum: n.value })
    |> key_by(|s| s.key)
    |> reduce(|a, b| add(a, b, fail_at, &bug))
    |> sink(FileSink::new(out))
}

#[derive(Parser)]
struct Cli {
    /// The number whose addition fails while `--bug` exists
    #[arg(long, default_value_t = 50)]
    fail_at: u64,
    /// The file whose presence is the bug
    #[arg(long, default_value = "/tmp/replay-bug")]
    bug: PathBuf,
    /// Where the running sums go, one JSON line each
    #[arg(long, default_value = "/tmp/replay-sums.jsonl")]
    out: PathBuf,
    #[command(flatten)]
    runner: RunnerArgs,
}

#[tokio::main]
async fn main() -> Result<(), stream_runner::RunError> {
    let cli = Cli::parse();
    let sums = RunningSums {
        fail_at: cli.fail_at,
        bug: cli.bug,
        out: cli.out.clone(),
    };
    println!("writing to {}", cli.out.display());
    Runner::new(cli.runner).pipeline(sums).run().await?;
    Ok(())
}
