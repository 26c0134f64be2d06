//! Throughput of the word count (random words, per-word reduce, exactly-once
//! file sink) by batch size and tokens, all on one freshly started server.
//!
//! Each configuration is its own pipeline over a bounded source, so it
//! finishes and parks its tokens before the next one starts: no run loads
//! another. Throughput is records over the time from `addTokens` to
//! `finished`.
//!
//! ```sh
//! cargo run --release --example bench            # or: just bench
//! cargo run --release --example bench -- --quick
//! ```

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use stream_runtime::restate::{LocalServer, LocalServerOptions, RESTATE_VERSION};
use stream_runtime::{Endpoint, FileSink, Pipeline, RandomWords, ServiceNames};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct WordCount {
    word: String,
    count: u64,
}

struct Config {
    batch: u32,
    tokens: u64,
    records: u64,
}

impl Config {
    fn name(&self) -> String {
        format!("BenchB{}T{}", self.batch, self.tokens)
    }
}

fn configs(quick: bool) -> Vec<Config> {
    let seed_tokens: &[u64] = if quick {
        &[1, 10]
    } else {
        &[1, 2, 3, 5, 10, 13, 20, 50]
    };
    let batched_tokens: &[u64] = if quick { &[5] } else { &[1, 2, 5, 10, 20] };
    let batches: &[u32] = if quick { &[100] } else { &[10, 100, 1_000] };
    let mut configs = Vec::new();
    for &tokens in seed_tokens {
        configs.push(Config {
            batch: 1,
            tokens,
            records: if quick { 300 } else { 1_500 },
        });
    }
    for &batch in batches {
        for &tokens in batched_tokens {
            let records = (u64::from(batch) * tokens * 40).clamp(20_000, 200_000);
            configs.push(Config {
                batch,
                tokens,
                records: if quick { records / 4 } else { records },
            });
        }
    }
    configs
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::args().any(|a| a == "--quick");
    let configs = configs(quick);
    let scratch = std::env::temp_dir().join(format!("stream-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;

    let options = LocalServerOptions::new(scratch.join("restate")).ports(
        free_port(),
        free_port(),
        free_port(),
    );
    let partitions = options.partitions;
    let server = LocalServer::start(options).await?;

    let mut endpoint = Endpoint::new();
    for config in &configs {
        endpoint = endpoint.pipeline(
            Pipeline::named(config.name())
                .batch_size(config.batch)
                .source(RandomWords::new().take(config.records))
                .map(|word| WordCount { word, count: 1 })
                .key_by(|wc| wc.word.clone())
                .reduce(|a, b| WordCount {
                    count: a.count + b.count,
                    ..a
                })
                .sink(FileSink::new(
                    scratch.join(format!("{}.jsonl", config.name())),
                )),
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint_uri = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    tokio::spawn(endpoint.serve_on(listener, std::future::pending::<()>()));
    server.admin().register(&endpoint_uri).await?;
    let ingress = server.ingress();

    println!(
        "restate-server {RESTATE_VERSION}, partitions {partitions:?}, {} cores",
        std::thread::available_parallelism()?.get()
    );
    println!("word count, 15-word vocabulary, exactly-once file sink, release build\n");
    println!("| batch | tokens | records | seconds | records/s |");
    println!("|------:|-------:|--------:|--------:|----------:|");
    let mut best_single = 0.0f64;
    let mut best_batched = 0.0f64;
    for config in &configs {
        let names = ServiceNames::for_pipeline(&config.name());
        // The first ingress call after registering can need retries.
        let mut tries = 0;
        while ingress.status(&names).await.is_err() && tries < 50 {
            tries += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let started = Instant::now();
        ingress.add_tokens(&names, config.tokens).await?;
        let status = loop {
            let status = ingress.status(&names).await?;
            if status.finished {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let seconds = started.elapsed().as_secs_f64();
        let rate = status.records_out as f64 / seconds;
        if config.batch == 1 {
            best_single = best_single.max(rate);
        } else {
            best_batched = best_batched.max(rate);
        }
        println!(
            "| {:>5} | {:>6} | {:>7} | {:>7.2} | {:>9.0} |",
            config.batch, config.tokens, status.records_out, seconds, rate
        );
    }
    if best_single > 0.0 {
        println!("\nbest batched / best batch-1: {:.1}x ({best_batched:.0} / {best_single:.0} records/s)", best_batched / best_single);
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}
