//! A pipeline with parameters, configured from its own command line: the
//! hottest reading per device among those above `--threshold`, written to
//! `--out`. One `--help` lists these flags and the runner's.
//!
//! ```sh
//! cargo run --example sensor_alerts -- --threshold 30 --out /tmp/alerts.jsonl --fresh
//! cargo run --example sensor_alerts -- --help
//! ```

use std::path::PathBuf;

use clap::Parser;
use serde::{Deserialize, Serialize};
use stream_runner::{Runner, RunnerArgs};
use stream_runtime::{pipeline, FileSink, Sequence};

/// A reading: which device, and the temperature it measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Reading {
    device: u64,
    temp: f64,
}

/// Readings made up from a sequence number, the same every time.
fn reading(n: u64) -> Reading {
    let mixed = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    Reading {
        device: n % 8,
        temp: (mixed % 500) as f64 / 10.0,
    }
}

pipeline! {
    pub SensorAlerts(threshold: f64, out: PathBuf):
    source(Sequence::new().take(20_000))
    |> map(reading)
    |> filter(|r| r.temp > threshold)
    |> key_by(|r| r.device)
    |> reduce(|a, b| if a.temp >= b.temp { a } else { b })
    |> sink(FileSink::new(out))
}

/// Alerts for readings above a threshold.
#[derive(Parser)]
struct Cli {
    /// Only readings above this temperature count
    #[arg(long, default_value_t = 30.0)]
    threshold: f64,
    /// Where each device's hottest reading so far is appended
    #[arg(long, default_value = "/tmp/sensor-alerts.jsonl")]
    out: PathBuf,
    #[command(flatten)]
    runner: RunnerArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    println!("alerts above {} go to {}", cli.threshold, cli.out.display());
    let alerts = SensorAlerts {
        threshold: cli.threshold,
        out: cli.out,
    };
    match Runner::new(cli.runner).pipeline(alerts).run().await {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
