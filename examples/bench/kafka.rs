//! The Kafka-to-Kafka row: the word count read from a 2-partition topic
//! and each running count written to another, exactly once, on a broker
//! started for the bench.
//!
//! - **Throughput**: a topic filled beforehand, read by 10 tokens; records
//!   over the time from `addTokens` until every running count is written.
//! - **Delay**: a second pipeline on a topic that a producer fills at half
//!   that rate while it runs. Each input record carries its produce time
//!   (its Kafka timestamp), each output record the input's and its own
//!   (stamped by the sink as it produces it, so readable a moment later,
//!   with no transaction to wait for): the delay is the difference.
//!
//! Both outputs are read back and checked: every running count once.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use stream_runtime::kafka::{KafkaSink, KafkaSource};
use stream_runtime::{CompletePipeline, Endpoint, IntoPipeline, Pipeline, ServiceNames};
use stream_support::exactness;
use stream_support::kafka::{create_topic, read_stamped, KafkaBroker, Producer};
use stream_support::running_counts::{expected_counts, CountChecker};

use crate::instrument::Histogram;
use crate::probe::CpuMeter;
use crate::{key, Args, Bench, Error};

const BATCH: u32 = 1_000;
const TOKENS: u64 = 10;
/// Records per produced batch when filling the topic.
const FILL_BATCH: u64 = 5_000;

/// A running count with the produce time of the record that made it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct StampedCount {
    word: String,
    count: u64,
    /// The input record's Kafka timestamp, in milliseconds.
    produced: i64,
}

/// The word count from topic `input` to topic `output`.
async fn word_count(
    name: &str,
    bootstrap: &str,
    input: &str,
    output: &str,
) -> Result<CompletePipeline, Error> {
    let source = KafkaSource::connect(bootstrap, input).await?;
    let sink = KafkaSink::<StampedCount>::json(bootstrap, output).await?;
    Ok(Pipeline::named(name)
        .batch_size(BATCH)
        .source(source)
        .map(|record| StampedCount {
            word: key(record.json::<u64>().unwrap_or_else(|e| panic!("{e}")), None),
            count: 1,
            produced: record.timestamp,
        })
        .key_by(|c| c.word.clone())
        .reduce(|a, b| StampedCount {
            count: a.count + b.count,
            produced: b.produced,
            ..a
        })
        .sink(sink)
        .into_pipeline())
}

/// The JSON sequence numbers `from..to`.
fn values(from: u64, to: u64) -> Vec<Vec<u8>> {
    (from..to).map(|n| n.to_string().into_bytes()).collect()
}

/// Runs the Kafka-to-Kafka row and prints its table.
pub async fn run(args: &Args, quick: bool) -> Result<(), Error> {
    let records: u64 = if quick { 100_000 } else { 400_000 };
    let live_seconds: u64 = if quick { 10 } else { 30 };
    let broker = KafkaBroker::start(Bench::scratch("kafka-broker")?, 0).await?;
    let bootstrap = broker.bootstrap();
    for topic in ["bench-in", "bench-out", "live-in", "live-out"] {
        create_topic(&bootstrap, topic, 2).await?;
    }
    let producer = Producer::connect(&bootstrap, "bench-in").await?;
    let mut from = 0;
    while from < records {
        let to = (from + FILL_BATCH).min(records);
        producer
            .send((from / FILL_BATCH % 2) as i32, values(from, to))
            .await?;
        from = to;
    }
    let endpoint = Endpoint::new()
        .pipeline(word_count("KafkaBench", &bootstrap, "bench-in", "bench-out").await?)
        .pipeline(word_count("KafkaLive", &bootstrap, "live-in", "live-out").await?);
    let bench = Bench::start(args, Bench::scratch("kafka")?, endpoint).await?;

    // Throughput, on the filled topic.
    let names = ServiceNames::for_pipeline("KafkaBench");
    bench.ready(&names).await;
    let mut cpu = CpuMeter::start(bench.server_pid);
    let started = Instant::now();
    bench.ingress.add_tokens(&names, TOKENS).await?;
    until_written(&bench, &names, records).await?;
    let seconds = started.elapsed().as_secs_f64();
    let (server_cpu, endpoint_cpu) = cpu.lap();
    bench.ingress.stop(&names).await?;
    let rate = records as f64 / seconds;
    let (saturated, _) = check(&bootstrap, "bench-out", records).await?;

    // Delay, at half that rate.
    let live_rate = (rate / 2.0).max(100.0) as u64;
    let live_records = live_rate * live_seconds;
    let live = ServiceNames::for_pipeline("KafkaLive");
    bench.ready(&live).await;
    let producing = tokio::spawn(produce_at(bootstrap.clone(), live_rate, live_records));
    bench.ingress.add_tokens(&live, TOKENS).await?;
    producing.await??;
    until_written(&bench, &live, live_records).await?;
    bench.ingress.stop(&live).await?;
    let (live_exact, delays) = check(&bootstrap, "live-out", live_records).await?;

    println!(
        "\nKafka to Kafka: the word count from a 2-partition topic to another, \
         exactly once (Apache Kafka {}, single-node KRaft, on this machine; \
         batch {BATCH}, {TOKENS} tokens).\n",
        stream_support::kafka::KAFKA_VERSION
    );
    println!("| records | records/s | server CPU | endpoint CPU | exactly once | delay at | records | delay p50 ms | delay p99 ms | exactly once |");
    println!("|--------:|----------:|-----------:|-------------:|--------------|---------:|--------:|-------------:|-------------:|--------------|");
    println!(
        "| {records} | {rate:.0} | {server_cpu:.0}% | {endpoint_cpu:.0}% | {saturated} | {live_rate}/s | {live_records} | {:.0} | {:.0} | {live_exact} |",
        delays.percentile(0.50).as_secs_f64() * 1e3,
        delays.percentile(0.99).as_secs_f64() * 1e3,
    );
    println!(
        "\nThe delay is from an input record's produce time to the time the sink \
         produced its running count to the output topic (both Kafka timestamps), \
         at half the saturated rate; readers need no read_committed."
    );
    drop(bench);
    drop(broker);
    Ok(())
}

/// Waits until `names` has written `records` results.
async fn until_written(bench: &Bench, names: &ServiceNames, records: u64) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(1_800);
    loop {
        let status = bench.ingress.status(names).await?;
        if status.records_out >= records {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{}: not written after 30 minutes: {status:?}",
                names.pipeline
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Produces the sequence numbers `0..records` to `live-in` at `rate` per
/// second, in batches every 20 ms over both partitions.
async fn produce_at(bootstrap: String, rate: u64, records: u64) -> Result<(), String> {
    let producer = Producer::connect(&bootstrap, "live-in").await?;
    let per_tick = (rate / 50).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut from = 0;
    let mut partition = 0;
    while from < records {
        tick.tick().await;
        let to = (from + per_tick).min(records);
        producer.send(partition, values(from, to)).await?;
        partition = 1 - partition;
        from = to;
    }
    Ok(())
}

/// Reads `topic` back: whether every running count of the inputs
/// `0..records` is there once, and the delays from each input's produce
/// time to its count's.
async fn check(bootstrap: &str, topic: &str, records: u64) -> Result<(String, Histogram), Error> {
    let expected = expected_counts(records, |n| key(n, None));
    let mut checker = CountChecker::new(&expected);
    let mut delays = Histogram::new();
    for (written, value) in read_stamped(bootstrap, topic).await? {
        let text = String::from_utf8_lossy(&value);
        checker.line(&text);
        if let Ok(count) = serde_json::from_str::<StampedCount>(&text) {
            let millis = u64::try_from(written - count.produced).unwrap_or(0);
            delays.record(Duration::from_millis(millis));
        }
    }
    let check = checker.finish();
    Ok((
        exactness(check.lost, check.duplicated, check.malformed),
        delays,
    ))
}
