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
use stream_runtime::keyed::Emit;
use stream_runtime::{CompletePipeline, Endpoint, IntoPipeline, Pipeline, ServiceNames};
use stream_support::exactness;
use stream_support::kafka::{create_topic, read_stamped, KafkaBroker, Producer};
use stream_support::running_counts::{expected_counts, CountChecker};

use crate::instrument::Histogram;
use crate::probe::CpuMeter;
use crate::{key, Args, Bench, Error, Levers};

const BATCH: u32 = 1_000;
const TOKENS: u64 = 10;
/// Records per produced batch when filling the topic.
const FILL_BATCH: u64 = 5_000;

/// A running count with the produce time of the record that made it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StampedCount {
    word: String,
    count: u64,
    /// The input record's Kafka timestamp, in milliseconds.
    pub produced: i64,
}

/// The word count over the JSON words of topic `input`, into `sink`,
/// reducing as `reduce` says.
pub async fn word_count(
    name: &str,
    batch: u32,
    reduce: Levers,
    bootstrap: &str,
    input: &str,
    sink: KafkaSink<StampedCount>,
) -> Result<CompletePipeline, Error> {
    let source = KafkaSource::connect(bootstrap, input).await?;
    Ok(Pipeline::named(name)
        .batch_size(batch)
        .combine_before_shuffle(reduce.combine)
        .state_read_cache(reduce.state_cache)
        .state_deltas(reduce.state_deltas)
        .binary_records(reduce.binary_records)
        .source(source)
        .map(|record| StampedCount {
            word: record
                .json::<String>()
                .unwrap_or_else(|e| panic!("not a JSON word: {e}")),
            count: 1,
            produced: record.timestamp,
        })
        .key_by(|c| c.word.clone())
        .reduce_emitting(
            |a, b| StampedCount {
                count: a.count + b.count,
                produced: b.produced,
                ..a
            },
            reduce.emit,
        )
        .sink(sink)
        .into_pipeline())
}

/// Produces the words of sequence numbers `range` (`key(n, keys)`, as JSON
/// strings) to `topic`'s 2 partitions, in batches; at `rate` per second if
/// given (a batch every 20 ms), else at once.
pub async fn produce_words(
    bootstrap: &str,
    topic: &str,
    range: std::ops::Range<u64>,
    keys: Option<u64>,
    rate: Option<u64>,
) -> Result<(), Error> {
    let producer = Producer::connect(bootstrap, topic).await?;
    let (per_batch, mut tick) = match rate {
        Some(rate) => {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ((rate / 50).max(1), Some(tick))
        }
        None => (FILL_BATCH, None),
    };
    let mut from = range.start;
    let mut partition = 0;
    while from < range.end {
        if let Some(tick) = tick.as_mut() {
            tick.tick().await;
        }
        let to = (from + per_batch).min(range.end);
        let values = (from..to)
            .map(|n| serde_json::to_vec(&key(n, keys)).unwrap_or_default())
            .collect();
        producer.send(partition, values).await?;
        partition = 1 - partition;
        from = to;
    }
    Ok(())
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
    produce_words(&bootstrap, "bench-in", 0..records, None, None).await?;
    let sink = |topic| KafkaSink::<StampedCount>::json(bootstrap.clone(), topic);
    let endpoint = Endpoint::new()
        .pipeline(
            word_count(
                "KafkaBench",
                BATCH,
                args.levers(),
                &bootstrap,
                "bench-in",
                sink("bench-out").await?,
            )
            .await?,
        )
        .pipeline(
            word_count(
                "KafkaLive",
                BATCH,
                args.levers(),
                &bootstrap,
                "live-in",
                sink("live-out").await?,
            )
            .await?,
        );
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
    let (saturated, _) = check(&bootstrap, "bench-out", records, args.emit).await?;

    // Delay, at half that rate.
    let live_rate = (rate / 2.0).max(100.0) as u64;
    let live_records = live_rate * live_seconds;
    let live = ServiceNames::for_pipeline("KafkaLive");
    bench.ready(&live).await;
    let producing = {
        let bootstrap = bootstrap.clone();
        tokio::spawn(async move {
            let rate = Some(live_rate);
            let produced = produce_words(&bootstrap, "live-in", 0..live_records, None, rate).await;
            produced.map_err(|e| e.to_string())
        })
    };
    bench.ingress.add_tokens(&live, TOKENS).await?;
    producing.await??;
    until_written(&bench, &live, live_records).await?;
    bench.ingress.stop(&live).await?;
    let (live_exact, delays) = check(&bootstrap, "live-out", live_records, args.emit).await?;

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

/// Reads `topic` back: whether every running count of the inputs
/// `0..records` is there once (each word's latest counts, with `emit`
/// latest), and the delays from each input's produce time to its count's.
async fn check(
    bootstrap: &str,
    topic: &str,
    records: u64,
    emit: Emit,
) -> Result<(String, Histogram), Error> {
    let expected = expected_counts(records, |n| key(n, None));
    let mut checker = match emit {
        Emit::EveryUpdate => CountChecker::new(&expected),
        Emit::LatestPerBatch => CountChecker::latest(&expected),
    };
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
