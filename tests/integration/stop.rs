//! `stop` drains an endless pipeline: every token finishes the range it
//! holds and parks, nothing more is read, and `addTokens` resumes from where
//! it stopped, with every running count exactly once across both runs.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use stream_runtime::{CollectSink, IntoPipeline, Pipeline, Sequence, ServiceNames, Status};

use crate::harness::{harness, Harness};

const PIPELINE: &str = "Stoppable";
const KEYS: u64 = 7;

static OUT: LazyLock<CollectSink<(u64, u64)>> = LazyLock::new(CollectSink::new);

/// An endless count per key over two splits.
pub fn stoppable() -> impl IntoPipeline {
    Pipeline::named(PIPELINE)
        .batch_size(50)
        .source(Sequence::new().with_splits(2))
        .map(|n| (n % KEYS, 1u64))
        .key_by(|(key, _)| *key)
        .reduce(|(key, a), (_, b)| (key, a + b))
        .sink(OUT.clone())
}

/// Stops the pipeline and waits until it has drained.
async fn stop_and_drain(h: &Harness, names: &ServiceNames) -> Status {
    let answer = h.ingress().stop(names).await.expect("stop");
    assert!(
        answer.stopped,
        "stop answers the status it left: {answer:?}"
    );
    let drained = h
        .wait_for(names, Duration::from_secs(60), |_| {}, |s| s.finished)
        .await;
    assert!(drained.stopped && !drained.bounded, "{drained:?}");
    assert_eq!(drained.tokens_in_flight, 0, "{drained:?}");
    // Every range leased was processed and written.
    assert_eq!(drained.records_in, drained.records_out, "{drained:?}");
    assert_eq!(h.live_ingests(names).await, 0);
    // Nothing more is read.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later = h.status(names).await;
    assert_eq!(later.records_in, drained.records_in);
    drained
}

/// Each key's running counts are 1..n exactly once, the n add up to
/// `records`, and the keyed state holds each n.
async fn assert_exact(h: &Harness, names: &ServiceNames, records: u64) {
    let mut seen: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for (key, count) in OUT.records() {
        seen.entry(key).or_default().push(count);
    }
    let mut total = 0;
    for (key, counts) in &mut seen {
        counts.sort_unstable();
        let n = counts.len() as u64;
        assert_eq!(*counts, (1..=n).collect::<Vec<_>>(), "key {key}");
        total += n;
    }
    assert_eq!(total, records);
    let stored: BTreeMap<u64, u64> = h
        .keyed_state(names)
        .await
        .into_iter()
        .map(|(key, value)| {
            let key: u64 = serde_json::from_str(&key).expect("a numeric key");
            let (_, count): (u64, u64) = serde_json::from_value(value).expect("a pair");
            (key, count)
        })
        .collect();
    let expected: BTreeMap<u64, u64> = seen
        .iter()
        .map(|(key, counts)| (*key, counts.len() as u64))
        .collect();
    assert_eq!(stored, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_drains_an_endless_pipeline_and_add_tokens_resumes_it() {
    let h = harness();
    let names = ServiceNames::for_pipeline(PIPELINE);
    h.add_tokens(&names, 3).await;
    h.wait_for(
        &names,
        Duration::from_secs(60),
        |_| {},
        |s| s.records_out >= 2_000,
    )
    .await;

    let first = stop_and_drain(h, &names).await;
    assert_eq!(first.tokens_injected, 3);
    assert_exact(h, &names, first.records_out).await;

    // New tokens resume from where the splits stopped.
    h.add_tokens(&names, 2).await;
    let resumed = h
        .wait_for(
            &names,
            Duration::from_secs(60),
            |_| {},
            |s| s.records_out >= first.records_out + 2_000,
        )
        .await;
    assert!(!resumed.stopped && !resumed.finished, "{resumed:?}");

    let second = stop_and_drain(h, &names).await;
    assert_eq!(second.tokens_injected, 5);
    assert_exact(h, &names, second.records_out).await;
    h.assert_nothing_stuck(&names).await;
}
