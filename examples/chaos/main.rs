//! The fault-injection soak: the chaos word count over a large input while
//! the endpoint and restate-server are SIGKILLed and restarted at random.
//!
//! ```sh
//! just chaos                       # 100,000 records, 30 endpoint kills, 5 server kills
//! cargo build --release --bin chaos_endpoint
//! cargo run --release --example chaos -- --records 20000 --endpoint-kills 5 --server-kills 2 --seed 7
//! ```

use clap::Parser;
use stream_support::chaos::{self, ChaosArgs, ChaosConfig};

/// SIGKILLs the endpoint and restate-server during a word count, then
/// checks every output exactly once. Defaults: the soak (100,000 records,
/// 30 endpoint kills, 5 server kills).
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
        Ok(report) => {
            println!("{}", report.table());
            if report.violations.is_empty() {
                std::process::ExitCode::SUCCESS
            } else {
                for violation in &report.violations {
                    eprintln!("VIOLATION: {violation}");
                }
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("chaos: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
