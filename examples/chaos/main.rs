//! The fault-injection soak: the chaos word count, the chaos windows, and
//! the word count from Kafka to Kafka and from Kafka to PostgreSQL, each
//! over a large input while the endpoint and restate-server are SIGKILLed
//! and restarted at random; one table row per pipeline. The connector
//! pipelines get a broker and a PostgreSQL of their own, started for the run.
//!
//! ```sh
//! just chaos                       # 100,000 records, 30 endpoint kills, 5 server kills, each pipeline
//! just cluster                     # one node, then 3 nodes and 2 endpoints behind nginx
//! cargo build --release --features connectors --bin chaos_endpoint
//! cargo run --release --features connectors --example chaos -- --records 20000 --endpoint-kills 5 --server-kills 2 --seed 7 --pipeline window
//! ```

use clap::Parser;
use stream_support::chaos::{self, ChaosArgs, ChaosConfig, ChaosReport};

/// SIGKILLs the endpoint and restate-server during each pipeline (a word
/// count, windowed counts, Kafka to Kafka, Kafka to PostgreSQL), then checks
/// every output exactly once. Defaults: the soak (100,000 records, 30
/// endpoint kills, 5 server kills, each pipeline).
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    chaos: ChaosArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = ChaosConfig::soak().with(&Cli::parse().chaos);
    let endpoint = match chaos::sibling_binary("chaos_endpoint") {
        Ok(path) => path,
        Err(e) => {
            eprintln!("chaos: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match chaos::run(&config, &endpoint).await {
        Ok(reports) => {
            println!("{}", ChaosReport::table(&reports));
            let violations: Vec<&String> = reports.iter().flat_map(|r| &r.violations).collect();
            for violation in &violations {
                eprintln!("VIOLATION: {violation}");
            }
            if violations.is_empty() {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("chaos: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
