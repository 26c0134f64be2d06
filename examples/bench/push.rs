//! The pushed rows: the word count over sequence numbers that producers
//! send to `{name}Ingest/append` (a `Pushed` source of 4 splits), as fast
//! as the pipeline takes them (each producer waits out its 429s), with
//! the delay from a number's send to its running count's durable write.
//! The output is checked: every running count once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use stream_runtime::restate::IngressClient;
use stream_runtime::source::Pushed;
use stream_runtime::{Endpoint, FileSink, PushBatch, ServiceNames};
use stream_support::exactness;
use stream_support::running_counts::{check_running_counts, expected_counts};

use crate::instrument::{Clock, TimedFileSink};
use crate::probe::CpuMeter;
use crate::{key, word_count, Args, Bench, Error};

const SPLITS: u32 = 4;
const TOKENS: u64 = 4;
/// Records per request.
const REQUEST: u64 = 1_000;

/// One row: `producers` sending `records` in all.
#[derive(Debug, Clone, Copy)]
struct Config {
    producers: u64,
    records: u64,
}

impl Config {
    fn name(&self) -> String {
        format!("Pushed{}x{}", self.producers, self.records)
    }
}

/// Runs the pushed rows and prints their table.
pub async fn run(args: &Args, quick: bool) -> Result<(), Error> {
    let records = if quick { 40_000 } else { 200_000 };
    let configs = [1, 4].map(|producers| Config { producers, records });
    let clock = Clock::new();
    let scratch = Bench::scratch("push")?;
    let mut endpoint = Endpoint::new();
    for config in &configs {
        let output = FileSink::new(scratch.join(format!("{}.jsonl", config.name())));
        endpoint = endpoint.pipeline(word_count(
            &config.name(),
            20_000,
            args.key_groups,
            None,
            args.levers(),
            Pushed::<u64>::new().with_splits(SPLITS),
            TimedFileSink::new(output, &clock),
        ));
    }
    let bench = Bench::start(args, scratch, endpoint).await?;
    println!("the word count over records pushed over HTTP ({SPLITS} splits, {TOKENS} tokens, {REQUEST} records per request, release build):");
    println!("| producers | records | records/s | delay p50 | delay p99 | 429s | server CPU | endpoint CPU | exactly once |");
    println!("|----------:|--------:|----------:|----------:|----------:|-----:|-----------:|-------------:|:-----|");
    for config in &configs {
        let names = ServiceNames::for_pipeline(&config.name());
        bench.ready(&names).await;
        bench.ingress.add_tokens(&names, TOKENS).await?;
        clock.take_latencies();
        let mut cpu = CpuMeter::start(bench.server_pid);
        let started = Instant::now();
        let share = config.records.div_ceil(config.producers);
        let producers: Vec<_> = (0..config.producers)
            .map(|p| {
                let numbers = p * share..((p + 1) * share).min(config.records);
                tokio::spawn(produce(
                    bench.ingress.clone(),
                    names.clone(),
                    numbers,
                    Arc::clone(&clock),
                ))
            })
            .collect();
        let mut full = 0;
        for producer in producers {
            full += producer.await??;
        }
        loop {
            let status = bench.ingress.status(&names).await?;
            if status.records_out >= config.records {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let seconds = started.elapsed().as_secs_f64();
        let (server_cpu, endpoint_cpu) = cpu.lap();
        bench.ingress.stop(&names).await?;
        let latencies = clock.take_latencies();
        let expected = expected_counts(config.records, |n| key(n, None));
        let output = bench.scratch.join(format!("{}.jsonl", config.name()));
        let check = check_running_counts(&output, &expected)?;
        println!(
            "| {} | {} | {:.0} | {:.0} ms | {:.0} ms | {full} | {server_cpu:.0}% | {endpoint_cpu:.0}% | {} |",
            config.producers,
            config.records,
            config.records as f64 / seconds,
            latencies.percentile(0.50).as_secs_f64() * 1e3,
            latencies.percentile(0.99).as_secs_f64() * 1e3,
            exactness(check.lost, check.duplicated, check.malformed),
        );
    }
    println!("records/s: from the first send to the last running count written; delay: from a record's send to its count's durable write.");
    Ok(())
}

/// Sends `numbers` in requests of [`REQUEST`], noting each one's send;
/// answers how many 429s it waited out.
async fn produce(
    ingress: IngressClient,
    names: ServiceNames,
    numbers: std::ops::Range<u64>,
    clock: Arc<Clock>,
) -> Result<u64, String> {
    let mut full = 0;
    let mut first = numbers.start;
    while first < numbers.end {
        let end = (first + REQUEST).min(numbers.end);
        let batch = PushBatch {
            key: format!("n{first}"),
            records: (first..end).map(serde_json::Value::from).collect(),
            split: None,
        };
        clock.start(first..end);
        loop {
            match ingress.append(&names, &batch).await {
                Ok(_) => break,
                Err(error) => match error.retry_after() {
                    Some(wait) => {
                        full += 1;
                        tokio::time::sleep(wait).await;
                    }
                    None => return Err(format!("{}: {error}", batch.key)),
                },
            }
        }
        first = end;
    }
    Ok(full)
}
