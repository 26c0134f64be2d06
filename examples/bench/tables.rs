//! The tables: one bounded pipeline per configuration, all on one server,
//! run one after another.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::instrument::{Clock, TimedFileSink, TimedSequence};
use crate::probe::rss_mib;
use crate::{key, word_count, Args, Bench, Error};
use stream_runtime::keyed::Emit;
use stream_runtime::{Endpoint, FileSink, PipelineConfig, Sequence, ServiceNames};
use stream_support::exactness;
use stream_support::running_counts::{check_latest_counts, check_running_counts, expected_counts};

#[derive(Clone, Copy)]
pub struct Config {
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

/// One `BATCH:TOKENS:RECORDS[:KEYS]` of `--only`.
pub fn parse_row(one: &str) -> Result<Config, String> {
    let bad = || format!("{one}: expected BATCH:TOKENS:RECORDS[:KEYS]");
    let parts = one
        .split(':')
        .map(|p| p.parse::<u64>().map_err(|_| bad()))
        .collect::<Result<Vec<u64>, String>>()?;
    let (batch, tokens, records, keys) = match parts[..] {
        [batch, tokens, records] => (batch, tokens, records, None),
        [batch, tokens, records, keys] => (batch, tokens, records, Some(keys)),
        _ => return Err(bad()),
    };
    Ok(Config {
        batch: u32::try_from(batch).map_err(|_| bad())?,
        tokens,
        records,
        keys,
        table: "selected",
    })
}

pub fn configs(quick: bool) -> Vec<Config> {
    let default = PipelineConfig::DEFAULT_BATCH_SIZE;
    let scale = |records: u64| if quick { records / 5 } else { records };
    let mut configs = Vec::new();
    let seed_tokens: &[u64] = if quick {
        &[1, 10]
    } else {
        &[1, 2, 3, 5, 10, 13, 20, 50]
    };
    for &tokens in seed_tokens {
        configs.push(Config {
            batch: 1,
            tokens,
            records: scale((150 * tokens).clamp(300, 3_000)),
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
        configs.push(Config {
            batch: default,
            tokens,
            records: scale((u64::from(default) * tokens * 20).clamp(50_000, 2_000_000)),
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
        configs.push(Config {
            batch,
            tokens: 10,
            records: scale((u64::from(batch) * 10 * 20).clamp(20_000, 300_000)),
            keys: None,
            table: "batch sizes at 10 tokens, 15 words",
        });
    }
    configs
}

struct Row {
    config: Config,
    records: u64,
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    server_cpu: f64,
    endpoint_cpu: f64,
    rss: f64,
    bytes_per_record: f64,
    exact: String,
}

fn output_path(scratch: &Path, config: &Config) -> PathBuf {
    scratch.join(format!("{}.jsonl", config.name()))
}

pub async fn run(args: &Args, configs: &[Config], clock: &Arc<Clock>) -> Result<(), Error> {
    let scratch = Bench::scratch("tables")?;
    let mut endpoint = Endpoint::new();
    for config in configs {
        let output = FileSink::new(output_path(&scratch, config));
        endpoint = endpoint.pipeline(word_count(
            &config.name(),
            config.batch,
            args.key_groups,
            config.keys,
            args.levers(),
            TimedSequence::new(Sequence::new().take(config.records), clock),
            TimedFileSink::new(output, clock),
        ));
    }
    let bench = Bench::start(args, scratch, endpoint).await?;

    let mut rows = Vec::new();
    let mut total_records = 0u64;
    for config in configs {
        let names = ServiceNames::for_pipeline(&config.name());
        bench.ready(&names).await;
        clock.take_latencies();
        let (status, seconds, (server_cpu, endpoint_cpu)) = bench
            .run_to_finish(&names, config.tokens, &output_path(&bench.scratch, config))
            .await?;
        let latencies = clock.take_latencies();
        total_records += status.records_in;
        let keys = config.keys;
        let expected = expected_counts(config.records, |n| key(n, keys));
        let output = output_path(&bench.scratch, config);
        let check = match args.emit {
            Emit::EveryUpdate => check_running_counts(&output, &expected)?,
            Emit::LatestPerBatch => check_latest_counts(&output, &expected)?,
        };
        let row = Row {
            config: *config,
            records: status.records_in,
            // Input records: with the latest counts per batch, fewer come out.
            rate: status.records_in as f64 / seconds,
            p50_ms: latencies.percentile(0.50).as_secs_f64() * 1e3,
            p99_ms: latencies.percentile(0.99).as_secs_f64() * 1e3,
            server_cpu,
            endpoint_cpu,
            rss: rss_mib(),
            bytes_per_record: bench.disk_growth() as f64 / total_records.max(1) as f64,
            exact: exactness(check.lost, check.duplicated, check.malformed),
        };
        eprintln!("{} done: {:.0} records/s", config.name(), row.rate);
        rows.push(row);
    }
    print(&rows, args.emit);
    Ok(())
}

fn print(rows: &[Row], emit: Emit) {
    println!("word count: per-key reduce, exactly-once file sink, release build.");
    if emit == Emit::LatestPerBatch {
        println!("emit: each word's latest count once per batch (Emit::LatestPerBatch); records/s counts input records.");
    }
    println!("latency: source read to durable sink write. CPU: % of one core. disk: data dir growth since the server started / records so far.");
    println!("exactly once: every running count in the output file once, checked line by line.");
    let mut table = "";
    for row in rows {
        if row.config.table != table {
            table = row.config.table;
            println!("\n{table}\n");
            println!("| keys | batch | tokens | records | records/s | p50 ms | p99 ms | server CPU | endpoint CPU | endpoint RSS MiB | disk B/record | exactly once |");
            println!("|-----:|------:|-------:|--------:|----------:|-------:|-------:|-----------:|-------------:|-----------------:|--------------:|:-------------|");
        }
        println!(
            "| {} | {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.0}% | {:.0}% | {:.1} | {:.0} | {} |",
            row.config.keys.unwrap_or(15),
            row.config.batch,
            row.config.tokens,
            row.records,
            row.rate,
            row.p50_ms,
            row.p99_ms,
            row.server_cpu,
            row.endpoint_cpu,
            row.rss,
            row.bytes_per_record,
            row.exact,
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
}
