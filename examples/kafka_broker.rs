//! A Kafka broker for manual use (`just kafka`): single-node KRaft from
//! the jars `pom.xml` pins, fetched with Maven on first use, on
//! 127.0.0.1:9092 (`--port`), its data in `target/kafka/manual` (`--fresh`
//! starts over), until Ctrl-C.
//!
//! With it running, the broker's own tools are on the same class path:
//!
//! ```sh
//! java -cp 'target/kafka/lib-4.1.1/*' org.apache.kafka.tools.TopicCommand \
//!     --bootstrap-server 127.0.0.1:9092 --create --topic events --partitions 2
//! ```

use clap::Parser;
use stream_support::kafka::{jars, KafkaBroker};

/// Runs a Kafka broker until Ctrl-C.
#[derive(Parser)]
struct Cli {
    /// The broker's port on 127.0.0.1
    #[arg(long, default_value_t = 9092)]
    port: u16,
    /// Removes the broker's data first
    #[arg(long)]
    fresh: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let dir = std::path::PathBuf::from("target/kafka/manual");
    if cli.fresh {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let started = KafkaBroker::start(&dir, cli.port).await;
    let mut broker = match started {
        Ok(broker) => broker,
        Err(e) => {
            eprintln!("kafka_broker: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    broker.keep();
    let lib = jars().map(|l| l.display().to_string()).unwrap_or_default();
    println!(
        "Kafka broker on {} (data in {}); its tools: java -cp '{lib}/*' …",
        broker.bootstrap(),
        dir.display()
    );
    println!("Ctrl-C stops it");
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}
