//! A Kafka broker that is down when the endpoint starts, and goes down
//! again mid-run: the source and sink wait for it, the rounds that failed
//! are retried by Restate, and every running count is written once.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stream_runtime::kafka::{KafkaSink, KafkaSource};
use stream_runtime::{Endpoint, Pipeline, ServiceNames};
use stream_support::kafka::{create_topic, produce, read_all, KafkaBroker};

use crate::harness::{harness, kafka, scratch};
use crate::pipelines::{counts, skewed_words};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct WordCount {
    word: String,
    count: u64,
}

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
    let fill = |words: &[String], bootstrap: &str| {
        let (a, b) = words.split_at(words.len() / 2);
        let values = |w: &[String]| w.iter().map(|w| w.clone().into_bytes()).collect();
        let bootstrap = bootstrap.to_owned();
        let (a, b): (Vec<Vec<u8>>, Vec<Vec<u8>>) = (values(a), values(b));
        async move {
            produce(&bootstrap, "outage-in", 0, a).await?;
            produce(&bootstrap, "outage-in", 1, b).await
        }
    };
    fill(first, &bootstrap)
        .await
        .unwrap_or_else(|e| panic!("produce: {e}"));

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
    let pipeline = Pipeline::named("KafkaOutage")
        .batch_size(50)
        .source(source)
        .map(|r| WordCount {
            word: r.value_str().unwrap_or_default().to_owned(),
            count: 1,
        })
        .key_by(|wc| wc.word.clone())
        .reduce(|a, b| WordCount {
            count: a.count + b.count,
            ..a
        })
        .sink(sink);
    serving.serve(Endpoint::new().pipeline(pipeline)).await;

    let h = harness();
    let names = ServiceNames::for_pipeline("KafkaOutage");
    h.add_tokens(&names, 2).await;
    h.wait_for(&names, Duration::from_secs(120), |_| {}, |s| s.records_out >= 300)
        .await;

    // Down again mid-run, while more arrives once it is back.
    broker.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    broker
        .restart()
        .await
        .unwrap_or_else(|e| panic!("restart: {e}"));
    fill(second, &bootstrap)
        .await
        .unwrap_or_else(|e| panic!("produce: {e}"));
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
    let mut seen: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for value in read_all(&bootstrap, "outage-out")
        .await
        .unwrap_or_else(|e| panic!("read: {e}"))
    {
        let wc: WordCount = serde_json::from_slice(&value).unwrap_or_else(|e| panic!("{e}"));
        seen.entry(wc.word).or_default().push(wc.count);
    }
    for counts in seen.values_mut() {
        counts.sort_unstable();
    }
    let expected: BTreeMap<String, Vec<u64>> = counts(&words)
        .into_iter()
        .map(|(word, n)| (word, (1..=n).collect()))
        .collect();
    assert_eq!(seen, expected);
    h.wait_for(&names, Duration::from_secs(60), |_| {}, |s| s.finished)
        .await;
    h.assert_nothing_stuck(&names).await;
}
