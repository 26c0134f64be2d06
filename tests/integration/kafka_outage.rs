//! A Kafka broker that is down when the endpoint starts, and goes down
//! again mid-run: the source and sink wait for it, the rounds that failed
//! are retried by Restate, and every running count is written once.

use std::time::Duration;

use stream_runtime::kafka::{KafkaRecord, KafkaSink, KafkaSource};
use stream_runtime::{Endpoint, ServiceNames};
use stream_support::kafka::{create_topic, KafkaBroker};

use crate::harness::{harness, kafka, scratch};
use crate::kafka::{assert_each_count_once, produce_halves, word_count, written_counts, WordCount};
use crate::pipelines::skewed_words;

const WORDS: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_down_at_start_and_mid_run_loses_and_repeats_nothing() {
    let serving = kafka();
    let mut broker = KafkaBroker::start(scratch("kafka-outage"), 0)
        .await
        .unwrap_or_else(|e| panic!("broker: {e}"));
    let bootstrap = broker.bootstrap();
    for topic in ["outage-in", "outage-out"] {
        create_topic(&bootstrap, topic, 2)
            .await
            .unwrap_or_else(|e| panic!("topic: {e}"));
    }
    let words = skewed_words("o", WORDS, 20);
    let (first, second) = words.split_at(WORDS / 2);
    produce_halves(&bootstrap, "outage-in", first).await;

    // Down when the endpoint starts: connecting waits for the broker.
    broker.kill();
    let connecting = {
        let bootstrap = bootstrap.clone();
        tokio::spawn(async move {
            let source = KafkaSource::connect(&bootstrap, "outage-in").await;
            let sink = KafkaSink::<WordCount>::json(&bootstrap, "outage-out").await;
            (source, sink)
        })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    broker
        .restart()
        .await
        .unwrap_or_else(|e| panic!("restart: {e}"));
    let (source, sink) = connecting
        .await
        .unwrap_or_else(|e| panic!("connecting: {e}"));
    let source = source.unwrap_or_else(|e| panic!("the source gave up: {e}"));
    let sink = sink.unwrap_or_else(|e| panic!("the sink gave up: {e}"));
    let text = |r: &KafkaRecord| r.value_str().unwrap_or_default().to_owned();
    let pipeline = word_count("KafkaOutage", 50, source, text, sink);
    serving.serve(Endpoint::new().pipeline(pipeline)).await;

    let h = harness();
    let names = ServiceNames::for_pipeline("KafkaOutage");
    h.add_tokens(&names, 2).await;
    h.wait_for(
        &names,
        Duration::from_secs(120),
        |_| {},
        |s| s.records_out >= 300,
    )
    .await;

    // Down again mid-run, while more arrives once it is back.
    broker.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    broker
        .restart()
        .await
        .unwrap_or_else(|e| panic!("restart: {e}"));
    produce_halves(&bootstrap, "outage-in", second).await;
    let written = |s: &stream_runtime::Status| s.records_out >= WORDS as u64;
    h.wait_for(&names, Duration::from_secs(180), |_| {}, written)
        .await;
    let status = h
        .ingress()
        .stop(&names)
        .await
        .unwrap_or_else(|e| panic!("stop: {e}"));
    assert_eq!(
        (status.records_in, status.dead_letters),
        (WORDS as u64, 0),
        "{status:?}"
    );

    // Checked independently: each word's running counts 1..n, each once.
    assert_each_count_once(written_counts(&bootstrap, "outage-out").await, &words);
    h.wait_for(&names, Duration::from_secs(60), |_| {}, |s| s.finished)
        .await;
    h.assert_nothing_stuck(&names).await;
}
