//! The fault-injection soak: the chaos word count over a large input while
//! the endpoint and restate-server are SIGKILLed and restarted at random.
//!
//! ```sh
//! just chaos                       # 100,000 records, 30 endpoint kills, 5 server kills
//! cargo run --release --bin chaos -- --records 20000 --endpoint-kills 5 --server-kills 2 --seed 7
//! ```

use stream_examples::chaos::{self, ChaosConfig};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = match ChaosConfig::parse(std::env::args().skip(1), ChaosConfig::soak()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("chaos: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
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
