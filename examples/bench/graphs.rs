//! The graph rows: two keyed stages in a row (a count per key per 10 s
//! tumbling window of event time, then each window's top 3) over 1,000
//! keys, an interval join of two in-process sources, a branch (every
//! record archived raw beside the counts per key per window), and an enrichment
//! stage calling a Restate object per record (`EnrichCalls`, served by
//! the same endpoint, on the same server) at several calls in flight. Each
//! is its own bounded pipeline on one fresh server; throughput is input
//! records over the time from `addTokens` to `finished` (every window
//! fired, every pair or record written), and every result is checked once
//! (for the enrichment, each record's call too, by the object's own count).

use std::path::{Path, PathBuf};
use std::time::Duration;

use stream_runtime::keyed::between;
use stream_runtime::lookup::{Enrich, Lookup};
use stream_runtime::restate::AdminClient;
use stream_runtime::time::Watermarks;
use stream_runtime::window::{tumbling, Windowed};
use stream_runtime::{
    Endpoint, FileSink, IntoPipeline, Pipeline, ProcessContext, Sequence, ServiceNames,
};
use stream_support::archive::check_archive;
use stream_support::join_pairs::{check_pairs_file, expected_pairs};
use stream_support::keys::mix;
use stream_support::lookups;
use stream_support::running_counts::{check_running_counts, expected_counts};
use stream_support::window_counts::{
    check_window_counts, expected_windows, top3, top_of, WindowCount,
};

use crate::{key, Args, Bench, Error};
use stream_support::exactness;

/// The windows' length.
const WINDOW_MS: i64 = 10_000;
/// How far an event time strays from its place in the input.
const DISORDER_MS: i64 = 500;
/// The join's key: a block of this many consecutive numbers.
const JOIN_BLOCK: u64 = 10;
/// How far apart, either way, two numbers' event times may be to join.
const JOIN_WITHIN_MS: i64 = 50;

/// Record `n` happens at about `n` ms of event time (1,000 per second),
/// up to `DISORDER_MS` early or late.
fn time_of(n: u64) -> i64 {
    n as i64 + (mix(n ^ 0x71e) % (2 * DISORDER_MS as u64 + 1)) as i64 - DISORDER_MS
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Counts per key per window, then each window's top 3.
    TopN,
    /// Two sources of `records` numbers each, joined.
    Join,
    /// A Restate call per record, this many in flight per key group.
    Enrich(usize),
    /// Every record archived raw by a branch, and the counts per key per
    /// window of the main chain.
    Branch,
    /// A running count per word over [`REKEY_WORDS`] words, re-keyed by the
    /// count modulo [`REKEY_INTO`] into a `process` that passes it on: a
    /// chained stage into a handful of hot keys.
    Rekey,
}

/// The re-keyed row's words.
const REKEY_WORDS: u64 = 200;
/// The re-keyed row's second-stage keys.
const REKEY_INTO: u64 = 7;

impl Shape {
    /// The name `--graphs-only` knows the shape by.
    fn short(&self) -> &'static str {
        match self {
            Shape::TopN => "topn",
            Shape::Join => "join",
            Shape::Enrich(_) => "enrich",
            Shape::Branch => "branch",
            Shape::Rekey => "rekey",
        }
    }
}

#[derive(Clone, Copy)]
struct Config {
    shape: Shape,
    batch: u32,
    tokens: u64,
    /// Per source.
    records: u64,
}

const KEYS: u64 = 1_000;

impl Config {
    fn name(&self) -> String {
        let shape = match self.shape {
            Shape::TopN => "TopN".to_owned(),
            Shape::Join => "Join".to_owned(),
            Shape::Enrich(in_flight) => format!("Enrich{in_flight}F"),
            Shape::Branch => "Branch".to_owned(),
            Shape::Rekey => "Rekey".to_owned(),
        };
        format!("{shape}B{}T{}", self.batch, self.tokens)
    }

    fn inputs(&self) -> u64 {
        match self.shape {
            Shape::TopN | Shape::Enrich(_) | Shape::Branch | Shape::Rekey => self.records,
            Shape::Join => 2 * self.records,
        }
    }
}

fn configs(quick: bool) -> Vec<Config> {
    let scale = |records: u64| if quick { records / 4 } else { records };
    let mut configs = Vec::new();
    for (batch, records) in [(1_000, 600_000), (5_000, 1_200_000), (20_000, 2_400_000)] {
        configs.push(Config {
            shape: Shape::TopN,
            batch,
            tokens: 10,
            records: scale(records),
        });
        configs.push(Config {
            shape: Shape::Join,
            batch,
            tokens: 10,
            records: scale(records / 2),
        });
        configs.push(Config {
            shape: Shape::Branch,
            batch,
            tokens: 10,
            records: scale(records),
        });
        configs.push(Config {
            shape: Shape::Rekey,
            batch,
            tokens: 10,
            records: scale(records / 2),
        });
    }
    for in_flight in [4, 16, 64] {
        configs.push(Config {
            shape: Shape::Enrich(in_flight),
            batch: 500,
            tokens: 10,
            records: scale(40_000),
        });
    }
    configs
}

/// Row `config`'s pipeline, writing to `output`, with the bench's
/// `--no-state-deltas`, `--no-binary-records` and `--key-groups`.
fn pipeline(config: &Config, args: &Args, output: &Path) -> stream_runtime::CompletePipeline {
    let watermarks = Watermarks::max_delay(Duration::from_millis(DISORDER_MS as u64 * 2));
    let mut named = Pipeline::named(config.name())
        .batch_size(config.batch)
        .state_deltas(args.levers().state_deltas)
        .binary_records(args.levers().binary_records);
    if let Some(groups) = args.key_groups {
        named = named.key_groups(groups);
    }
    let numbers = || Sequence::new().take(config.records).with_splits(2);
    match config.shape {
        Shape::TopN => named
            .source(numbers())
            .event_time(|n| time_of(*n), watermarks)
            .key_by(|n| key(**n, Some(KEYS)))
            .window(tumbling(Duration::from_millis(WINDOW_MS as u64)))
            .aggregate(0u64, |count, _n| *count += 1)
            .key_by(|w: &Windowed<String, u64>| w.start)
            .window(tumbling(Duration::from_millis(WINDOW_MS as u64)))
            .aggregate(Vec::new(), top3)
            .flat_map(|w| {
                let start = w.key;
                (w.value.into_iter()).map(move |(count, word)| WindowCount { word, start, count })
            })
            .sink(FileSink::new(output))
            .into_pipeline(),
        Shape::Join => named
            .source(numbers())
            .connect(numbers())
            .event_time(|e| e.either(|n| time_of(*n), |n| time_of(*n)), watermarks)
            .key_by(|e| e.either(|n| n / JOIN_BLOCK, |n| n / JOIN_BLOCK))
            .interval_join(
                between(-JOIN_WITHIN_MS, JOIN_WITHIN_MS),
                |left: &u64, right: &u64| (*left, *right),
            )
            .sink(FileSink::new(output))
            .into_pipeline(),
        Shape::Branch => named
            .source(numbers())
            .event_time(|n| time_of(*n), watermarks)
            .branch(|all| all.map(|n| *n).sink(FileSink::new(archive_of(output))))
            .key_by(|n| key(**n, Some(KEYS)))
            .window(tumbling(Duration::from_millis(WINDOW_MS as u64)))
            .aggregate(0u64, |count, _n| *count += 1)
            .map(WindowCount::from)
            .sink(FileSink::new(output))
            .into_pipeline(),
        Shape::Rekey => named
            .source(numbers())
            .map(rekey_word)
            .key_by(|wc| wc.word.clone())
            .reduce(|a, b| RunningCount {
                count: a.count + b.count,
                ..a
            })
            .key_by(|wc| wc.count % REKEY_INTO)
            .process(
                |wc: RunningCount, ctx: &mut ProcessContext<u64, RunningCount>| {
                    let mut passed = ctx.value::<u64>("passed");
                    let n = passed.get().unwrap_or(0);
                    passed.set(n + 1);
                    ctx.collect(wc);
                },
            )
            .sink(FileSink::new(output))
            .into_pipeline(),
        Shape::Enrich(in_flight) => {
            let name = config.name();
            named
                .source(numbers())
                .key_by(|n| *n % 64)
                .enrich_with(Enrich::new().in_flight(in_flight), move |n| {
                    let key = lookups::object_key(&name, *n);
                    Lookup::<u64>::object("EnrichCalls", key, "lookup", n)
                })
                .sink(FileSink::new(output))
                .into_pipeline()
        }
    }
}

/// Whether the file holds every expected result once (and, for the
/// enrichment, whether each record was called once).
async fn check(config: &Config, output: &Path, admin: &AdminClient) -> Result<String, Error> {
    Ok(match config.shape {
        Shape::Branch => {
            let windows =
                expected_windows(config.records, WINDOW_MS, |n| key(n, Some(KEYS)), time_of);
            let counts = check_window_counts(output, &windows)?;
            let (lost, duplicated) = check_archive(&archive_of(output), config.records)?;
            exactness(
                counts.lost + lost,
                counts.duplicated + duplicated,
                counts.malformed,
            )
        }
        Shape::Enrich(_) => {
            let (lost, duplicated, violations) =
                lookups::check_enriched(output, admin, &config.name(), config.records).await?;
            match violations.is_empty() {
                true => exactness(lost, duplicated, 0),
                false => format!("NO: {}", violations.join("; ")),
            }
        }
        Shape::TopN => {
            let windows =
                expected_windows(config.records, WINDOW_MS, |n| key(n, Some(KEYS)), time_of);
            let check = check_window_counts(output, &top_of(&windows, WINDOW_MS))?;
            exactness(check.lost, check.duplicated, check.malformed)
        }
        Shape::Rekey => {
            let counts = expected_counts(config.records, |n| rekey_word(n).word);
            let check = check_running_counts(output, &counts)?;
            exactness(check.lost, check.duplicated, check.malformed)
        }
        Shape::Join => {
            let pairs = expected_pairs(config.records, JOIN_BLOCK, JOIN_WITHIN_MS, time_of);
            let check = check_pairs_file(output, &pairs)?;
            exactness(check.lost, check.duplicated, check.malformed)
        }
    })
}

/// A record of the re-keyed row: a word's running count.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct RunningCount {
    word: String,
    count: u64,
}

/// Record `n`'s word in the re-keyed row, counted once.
fn rekey_word(n: u64) -> RunningCount {
    RunningCount {
        word: format!("w{}", mix(n) % REKEY_WORDS),
        count: 1,
    }
}

/// Where the branch row archives its records: beside its output.
fn archive_of(output: &Path) -> PathBuf {
    output.with_extension("archive.jsonl")
}

fn output_path(scratch: &Path, config: &Config) -> PathBuf {
    scratch.join(format!("{}.jsonl", config.name()))
}

struct Row {
    name: String,
    batch: u32,
    tokens: u64,
    records: u64,
    results: u64,
    rate: f64,
    server_cpu: f64,
    endpoint_cpu: f64,
    exact: String,
}

/// Runs the graph rows and prints their table.
pub async fn run(args: &Args) -> Result<(), Error> {
    let configs: Vec<Config> = configs(args.quick)
        .into_iter()
        .filter(|c| {
            args.graphs_only.is_empty() || args.graphs_only.iter().any(|s| s == c.shape.short())
        })
        .collect();
    let scratch = Bench::scratch("graphs")?;
    let mut endpoint = Endpoint::new().service(lookups::EnrichCalls);
    for config in &configs {
        endpoint = endpoint.pipeline(pipeline(config, args, &output_path(&scratch, config)));
    }
    let bench = Bench::start(args, scratch, endpoint).await?;
    let mut rows = Vec::new();
    for config in &configs {
        let names = ServiceNames::for_pipeline(&config.name());
        bench.ready(&names).await;
        let (status, seconds, (server_cpu, endpoint_cpu)) = bench
            .run_to_finish(&names, config.tokens, &output_path(&bench.scratch, config))
            .await?;
        let row = Row {
            name: match config.shape {
                Shape::TopN => "top 3 per window, 1,000 keys (two keyed stages)".to_owned(),
                Shape::Join => "interval join of two sources, ±50 ms per block of 10".to_owned(),
                Shape::Enrich(in_flight) => {
                    format!("enrich: a Restate object call per record, {in_flight} in flight")
                }
                Shape::Branch => {
                    "branch: every record archived, and counts per key per window".to_owned()
                }
                Shape::Rekey => format!(
                    "a running count over {REKEY_WORDS} words, re-keyed into {REKEY_INTO} keys"
                ),
            },
            batch: config.batch,
            tokens: config.tokens,
            records: status.records_in,
            results: status.records_out,
            rate: config.inputs() as f64 / seconds,
            server_cpu,
            endpoint_cpu,
            exact: check(
                config,
                &output_path(&bench.scratch, config),
                &bench.server.admin(),
            )
            .await?,
        };
        eprintln!("{} done: {:.0} records/s", config.name(), row.rate);
        rows.push(row);
    }
    print(&rows);
    Ok(())
}

fn print(rows: &[Row]) {
    println!("\ngraphs: two keyed stages (a count per key per 10 s tumbling window of event time, then each window's top 3), an interval join of two sources (1,000 records per second of event time each, up to 500 ms out of order, max_delay 1 s), a branch (every record archived raw to a file of its own, beside the counts per key per window), and an enrichment stage calling a Restate object per record on the same server (64 keys), exactly-once file sinks.");
    println!("records/s: input records (both sources for the join) over addTokens to finished. exactly once: every top-3 entry, pair or enriched record in the file once, and for the enrichment each record's call counted once by the called object.\n");
    println!("| pipeline | batch | tokens | records | results | records/s | server CPU | endpoint CPU | exactly once |");
    println!("|---|------:|-------:|--------:|--------:|----------:|-----------:|-------------:|:-------------|");
    for row in rows {
        println!(
            "| {} | {} | {} | {} | {} | {:.0} | {:.0}% | {:.0}% | {} |",
            row.name,
            row.batch,
            row.tokens,
            row.records,
            row.results,
            row.rate,
            row.server_cpu,
            row.endpoint_cpu,
            row.exact,
        );
    }
}
