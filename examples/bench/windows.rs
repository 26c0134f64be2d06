//! The windowed rows: a 10-second tumbling count per key over event time,
//! over 1,000 and over 100,000 keys, each its own bounded pipeline on one
//! fresh server. Throughput is records over the time from `addTokens` to
//! `finished` (every window fired and written). The delay is from the
//! moment the watermark passed a window's end to the end of the durable
//! sink write of its result.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stream_runtime::time::Watermarks;
use stream_runtime::window::{tumbling, Windowed};
use stream_runtime::{
    Endpoint, FileSink, IntoPipeline, Pipeline, PipelineConfig, Sequence, ServiceNames, Sink,
};
use stream_support::keys::mix;
use stream_support::window_counts::{check_window_counts, expected_windows, WindowCount};

use crate::instrument::Histogram;
use crate::watermarks::WatermarkLog;
use crate::{key, Args, Bench, Error};
use stream_support::exactness;

/// The windows' length.
const WINDOW_MS: i64 = 10_000;
/// How far an event time strays from its place in the input.
const DISORDER_MS: i64 = 500;

/// Record `n` happens at about `n` ms of event time (1,000 per second),
/// up to `DISORDER_MS` early or late.
fn time_of(n: u64) -> i64 {
    n as i64 + (mix(n ^ 0x71e) % (2 * DISORDER_MS as u64 + 1)) as i64 - DISORDER_MS
}

#[derive(Clone, Copy)]
struct Config {
    keys: u64,
    batch: u32,
    tokens: u64,
    records: u64,
}

impl Config {
    fn name(&self) -> String {
        format!("WindowB{}T{}K{}", self.batch, self.tokens, self.keys)
    }
}

fn configs(quick: bool) -> Vec<Config> {
    let scale = |records: u64| if quick { records / 4 } else { records };
    let mut configs = Vec::new();
    for keys in [1_000, 100_000] {
        let default = PipelineConfig::DEFAULT_BATCH_SIZE;
        for (batch, records) in [(1_000, 600_000), (5_000, 1_200_000), (default, 2_000_000)] {
            configs.push(Config {
                keys,
                batch,
                tokens: 10,
                records: scale(records),
            });
        }
    }
    configs
}

/// The file sink, noting how long after the watermark passed each
/// window's end its result became durable.
struct DelaySink {
    inner: FileSink,
    log: Arc<WatermarkLog>,
    delays: Arc<Mutex<Histogram>>,
}

impl Sink<WindowCount> for DelaySink {
    async fn write(
        &self,
        partition: u32,
        committed: u64,
        records: &[WindowCount],
    ) -> std::io::Result<u64> {
        let end = self.inner.write(partition, committed, records).await?;
        let now = Instant::now();
        if let Ok(mut delays) = self.delays.lock() {
            for record in records {
                if let Some(passed) = self.log.reached(record.start + WINDOW_MS - 1) {
                    delays.record(now.saturating_duration_since(passed));
                }
            }
        }
        Ok(end)
    }
}

fn pipeline(config: &Config, sink: DelaySink) -> impl IntoPipeline {
    let keys = config.keys;
    Pipeline::named(config.name())
        .batch_size(config.batch)
        .source(Sequence::new().take(config.records).with_splits(2))
        .event_time(
            |n| time_of(*n),
            Watermarks::max_delay(Duration::from_millis(DISORDER_MS as u64 * 2)),
        )
        .key_by(move |n| key(**n, Some(keys)))
        .window(tumbling(Duration::from_millis(WINDOW_MS as u64)))
        .aggregate(0u64, |count, _n| *count += 1)
        .map(|w: Windowed<String, u64>| WindowCount {
            word: w.key,
            start: w.start,
            count: w.value,
        })
        .sink(sink)
}

fn output_path(scratch: &Path, config: &Config) -> PathBuf {
    scratch.join(format!("{}.jsonl", config.name()))
}

struct Row {
    keys: u64,
    batch: u32,
    tokens: u64,
    records: u64,
    results: u64,
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    server_cpu: f64,
    endpoint_cpu: f64,
    exact: String,
}

/// Runs the windowed rows and prints their table.
pub async fn run(args: &Args, log: &Arc<WatermarkLog>) -> Result<(), Error> {
    let configs = configs(args.quick);
    let scratch = Bench::scratch("windows")?;
    let delays = Arc::new(Mutex::new(Histogram::new()));
    let mut endpoint = Endpoint::new();
    for config in &configs {
        let output = output_path(&scratch, config);
        let sink = DelaySink {
            inner: FileSink::new(&output),
            log: Arc::clone(log),
            delays: Arc::clone(&delays),
        };
        endpoint = endpoint.pipeline(pipeline(config, sink));
    }
    let bench = Bench::start(args, scratch, endpoint).await?;
    let mut rows = Vec::new();
    for config in &configs {
        let names = ServiceNames::for_pipeline(&config.name());
        bench.ready(&names).await;
        log.clear();
        if let Ok(mut delays) = delays.lock() {
            delays.clear();
        }
        let (status, seconds, (server_cpu, endpoint_cpu)) = bench
            .run_to_finish(&names, config.tokens, &output_path(&bench.scratch, config))
            .await?;
        let keys = config.keys;
        let expected = expected_windows(config.records, WINDOW_MS, |n| key(n, Some(keys)), time_of);
        let check = check_window_counts(&output_path(&bench.scratch, config), &expected)?;
        let delays = delays
            .lock()
            .map(|d| d.clone())
            .unwrap_or_else(|_| Histogram::new());
        let row = Row {
            keys: config.keys,
            batch: config.batch,
            tokens: config.tokens,
            records: status.records_in,
            results: status.records_out,
            rate: status.records_in as f64 / seconds,
            p50_ms: delays.percentile(0.50).as_secs_f64() * 1e3,
            p99_ms: delays.percentile(0.99).as_secs_f64() * 1e3,
            server_cpu,
            endpoint_cpu,
            exact: exactness(check.lost, check.duplicated, check.malformed),
        };
        eprintln!("{} done: {:.0} records/s", config.name(), row.rate);
        rows.push(row);
    }
    print(&rows);
    Ok(())
}

fn print(rows: &[Row]) {
    println!("\nwindows: a count per key per 10 s tumbling window of event time (1,000 records per second of event time, up to 500 ms out of order, max_delay 1 s), exactly-once file sink.");
    println!("delay: from the watermark passing a window's end to its result's durable sink write. exactly once: every (key, window) in the file once, with its count.\n");
    println!("| keys | batch | tokens | records | results | records/s | delay p50 ms | delay p99 ms | server CPU | endpoint CPU | exactly once |");
    println!("|-----:|------:|-------:|--------:|--------:|----------:|-------------:|-------------:|-----------:|-------------:|:-------------|");
    for row in rows {
        println!(
            "| {} | {} | {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0}% | {:.0}% | {} |",
            row.keys,
            row.batch,
            row.tokens,
            row.records,
            row.results,
            row.rate,
            row.p50_ms,
            row.p99_ms,
            row.server_cpu,
            row.endpoint_cpu,
            row.exact,
        );
    }
}
