//! Throughput and latency of the word count (per-key reduce, exactly-once
//! file sink), by batch size, tokens and key count, all on one freshly
//! started server.
//!
//! Each configuration is its own pipeline over a bounded source, so it
//! finishes and parks its tokens before the next starts and no run loads
//! another. Throughput is records over the time from `addTokens` to
//! `finished`. Latency is per record, from the source read (the lease) to the
//! end of the sink write that made it durable.
//!
//! ```sh
//! cargo run --release --example bench                 # or: just bench
//! cargo run --release --example bench -- --quick
//! cargo run --release --example bench -- --only 1000:10:200000,1000:10:100000:100000 --partitions 1
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use stream_examples::keys::{mix, zipf_rank};
use stream_runtime::restate::{LocalServer, LocalServerOptions, RESTATE_VERSION};
use stream_runtime::source::DEFAULT_VOCABULARY;
use stream_runtime::{
    Endpoint, FileSink, Pipeline, PipelineConfig, Sequence, ServiceNames, Sink, Source,
};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct WordCount {
    word: String,
    count: u64,
    /// The sequence number of the record that produced this count.
    seq: u64,
}

#[derive(Clone, Copy)]
struct Config {
    batch: u32,
    tokens: u64,
    records: u64,
    /// `None`: the seed's 15-word vocabulary; `Some(k)`: k keys, Zipf-skewed.
    keys: Option<u64>,
    table: &'static str,
}

impl Config {
    fn name(&self) -> String {
        format!(
            "BenchB{}T{}K{}",
            self.batch,
            self.tokens,
            self.keys.unwrap_or(15)
        )
    }
}

/// The key of sequence number `n`: a word of the seed's vocabulary, or one
/// of `keys` users, Zipf-skewed (weight 1/rank).
fn key(n: u64, keys: Option<u64>) -> String {
    match keys {
        None => DEFAULT_VOCABULARY[(mix(n) % DEFAULT_VOCABULARY.len() as u64) as usize].to_owned(),
        Some(keys) => format!("user{}", zipf_rank(n, keys)),
    }
}

/// When each sequence number was first read (leased).
type ReadTimes = Arc<Mutex<HashMap<u64, Instant>>>;

/// A sequence that notes when each number is first read.
struct TimedSequence {
    inner: Sequence,
    reads: ReadTimes,
}

impl Source for TimedSequence {
    type Item = u64;

    fn read(&self, split: u32, position: u64, max: usize) -> Vec<u64> {
        let records = self.inner.read(split, position, max);
        let now = Instant::now();
        if let Ok(mut reads) = self.reads.lock() {
            for n in &records {
                reads.entry(*n).or_insert(now);
            }
        }
        records
    }

    fn is_bounded(&self) -> bool {
        self.inner.is_bounded()
    }
}

/// The file sink, noting each record's latency once its write is durable.
struct TimedFileSink {
    inner: FileSink,
    reads: ReadTimes,
    latencies: Arc<Mutex<Vec<Duration>>>,
}

impl Sink<WordCount> for TimedFileSink {
    fn write(&self, partition: u32, committed: u64, records: &[WordCount]) -> std::io::Result<u64> {
        let end = self.inner.write(partition, committed, records)?;
        let now = Instant::now();
        if let (Ok(reads), Ok(mut latencies)) = (self.reads.lock(), self.latencies.lock()) {
            latencies.extend(
                records
                    .iter()
                    .filter_map(|r| reads.get(&r.seq))
                    .map(|read| now - *read),
            );
        }
        Ok(end)
    }
}

/// `--only BATCH:TOKENS:RECORDS[:KEYS][,…]` runs just those configurations.
fn only(args: &[String]) -> Option<Vec<Config>> {
    let spec = args.iter().skip_while(|a| *a != "--only").nth(1)?;
    spec.split(',')
        .map(|one| {
            let parts: Vec<u64> = one.split(':').filter_map(|p| p.parse().ok()).collect();
            let (batch, tokens, records, keys) = match parts[..] {
                [batch, tokens, records] => (batch, tokens, records, None),
                [batch, tokens, records, keys] => (batch, tokens, records, Some(keys)),
                _ => return None,
            };
            let batch = u32::try_from(batch).ok()?;
            Some(Config {
                batch,
                tokens,
                records,
                keys,
                table: "selected",
            })
        })
        .collect()
}

fn configs(quick: bool) -> Vec<Config> {
    let default = PipelineConfig::DEFAULT_BATCH_SIZE;
    let scale = |records: u64| if quick { records / 5 } else { records };
    let mut configs = Vec::new();
    let seed_tokens: &[u64] = if quick {
        &[1, 10]
    } else {
        &[1, 2, 3, 5, 10, 13, 20, 50]
    };
    for &tokens in seed_tokens {
        let records = scale((150 * tokens).clamp(300, 3_000));
        configs.push(Config {
            batch: 1,
            tokens,
            records,
            keys: None,
            table: "batch size 1 (the seed's design), 15 words",
        });
    }
    let tokens: &[u64] = if quick {
        &[2, 10]
    } else {
        &[1, 2, 5, 10, 20, 40]
    };
    for &tokens in tokens {
        let records = scale((u64::from(default) * tokens * 20).clamp(50_000, 300_000));
        configs.push(Config {
            batch: default,
            tokens,
            records,
            keys: None,
            table: "default batch size, 15 words",
        });
    }
    let tokens: &[u64] = if quick { &[10] } else { &[5, 10, 20] };
    for &tokens in tokens {
        configs.push(Config {
            batch: default,
            tokens,
            records: scale(200_000),
            keys: Some(100_000),
            table: "100,000 keys (Zipf)",
        });
    }
    // Bigger batches repeat keys more often, and a key repeated within a
    // batch costs one state read and write, however often it occurs.
    configs.push(Config {
        batch: 5_000,
        tokens: 6,
        records: scale(400_000),
        keys: Some(100_000),
        table: "100,000 keys (Zipf)",
    });
    let batches: &[u32] = if quick {
        &[100]
    } else {
        &[10, 100, 500, 2_000, 5_000]
    };
    for &batch in batches {
        let records = scale((u64::from(batch) * 10 * 20).clamp(20_000, 300_000));
        configs.push(Config {
            batch,
            tokens: 10,
            records,
            keys: None,
            table: "batch sizes at 10 tokens, 15 words",
        });
    }
    configs
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// User plus system CPU time of a process, from /proc (Linux).
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10) // 100 ticks per second
}

/// Resident memory of this process, in MiB.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&entry.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

struct Row {
    config: Config,
    records: u64,
    rate: f64,
    p50: Duration,
    p99: Duration,
    server_cpu: f64,
    endpoint_cpu: f64,
    rss: f64,
    bytes_per_record: f64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let configs = only(&args).unwrap_or_else(|| configs(quick));
    let partitions: Option<u32> = args
        .iter()
        .skip_while(|a| *a != "--partitions")
        .nth(1)
        .and_then(|p| p.parse().ok());
    let scratch = std::env::temp_dir().join(format!("stream-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    let data_dir: PathBuf = scratch.join("restate");

    let mut options =
        LocalServerOptions::new(&data_dir).ports(free_port(), free_port(), free_port());
    if partitions.is_some() {
        options.partitions = partitions;
    }
    let environment = options.environment();
    let server = LocalServer::start(options).await?;
    let server_pid = server.pid().unwrap_or(0);

    let reads: ReadTimes = Arc::default();
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let mut endpoint = Endpoint::new();
    for config in &configs {
        let keys = config.keys;
        endpoint = endpoint.pipeline(
            Pipeline::named(config.name())
                .batch_size(config.batch)
                .source(TimedSequence {
                    inner: Sequence::new().take(config.records),
                    reads: Arc::clone(&reads),
                })
                .map(move |n| WordCount {
                    word: key(n, keys),
                    count: 1,
                    seq: n,
                })
                .key_by(|wc| wc.word.clone())
                .reduce(|a, b| WordCount {
                    count: a.count + b.count,
                    seq: b.seq,
                    ..a
                })
                .sink(TimedFileSink {
                    inner: FileSink::new(scratch.join(format!("{}.jsonl", config.name()))),
                    reads: Arc::clone(&reads),
                    latencies: Arc::clone(&latencies),
                }),
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint_uri = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    tokio::spawn(endpoint.serve_on(listener, std::future::pending::<()>()));
    server.admin().register(&endpoint_uri).await?;
    let ingress = server.ingress();

    let mut rows = Vec::new();
    let mut total_records = 0u64;
    for config in &configs {
        let names = ServiceNames::for_pipeline(&config.name());
        let mut tries = 0;
        while ingress.status(&names).await.is_err() && tries < 50 {
            tries += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        reads.lock().map(|mut r| r.clear()).ok();
        latencies.lock().map(|mut l| l.clear()).ok();
        let (server_before, endpoint_before) = (cpu_time(server_pid), cpu_time(std::process::id()));
        let started = Instant::now();
        ingress.add_tokens(&names, config.tokens).await?;
        let status = loop {
            let status = ingress.status(&names).await?;
            if status.finished {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let wall = started.elapsed();
        let seconds = wall.as_secs_f64();
        let mut sorted = latencies.lock().map(|l| l.clone()).unwrap_or_default();
        sorted.sort_unstable();
        total_records += status.records_out;
        let row = Row {
            config: *config,
            records: status.records_out,
            rate: status.records_out as f64 / seconds,
            p50: percentile(&sorted, 0.50),
            p99: percentile(&sorted, 0.99),
            server_cpu: (cpu_time(server_pid) - server_before).as_secs_f64() / seconds * 100.0,
            endpoint_cpu: (cpu_time(std::process::id()) - endpoint_before).as_secs_f64() / seconds
                * 100.0,
            rss: rss_mib(),
            bytes_per_record: dir_bytes(&data_dir) as f64 / total_records.max(1) as f64,
        };
        eprintln!("{} done: {:.0} records/s", config.name(), row.rate);
        rows.push(row);
    }

    println!(
        "restate-server {RESTATE_VERSION} on {} cores; server settings:",
        std::thread::available_parallelism()?.get()
    );
    for (key, value) in environment.iter().filter(|(k, _)| !k.contains("ADDRESS")) {
        println!("  {key}={value}");
    }
    println!("word count: per-key reduce, exactly-once file sink, release build.");
    println!("latency: source read to durable sink write. CPU: % of one core. disk: data dir / records so far.");
    let mut table = "";
    for row in &rows {
        if row.config.table != table {
            table = row.config.table;
            println!("\n{table}\n");
            println!("| keys | batch | tokens | records | records/s | p50 ms | p99 ms | server CPU | endpoint CPU | endpoint RSS MiB | disk B/record |");
            println!("|-----:|------:|-------:|--------:|----------:|-------:|-------:|-----------:|-------------:|-----------------:|--------------:|");
        }
        println!(
            "| {} | {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.0}% | {:.0}% | {:.1} | {:.0} |",
            row.config.keys.unwrap_or(15),
            row.config.batch,
            row.config.tokens,
            row.records,
            row.rate,
            row.p50.as_secs_f64() * 1e3,
            row.p99.as_secs_f64() * 1e3,
            row.server_cpu,
            row.endpoint_cpu,
            row.rss,
            row.bytes_per_record,
        );
    }
    let best = |single: bool| {
        rows.iter()
            .filter(|r| (r.config.batch == 1) == single)
            .map(|r| r.rate)
            .fold(0.0f64, f64::max)
    };
    let (best_single, best_batched) = (best(true), best(false));
    if best_single > 0.0 {
        println!(
            "\nbest batched / best batch-1, same run: {:.0}x ({best_batched:.0} / {best_single:.0} records/s)",
            best_batched / best_single
        );
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}
