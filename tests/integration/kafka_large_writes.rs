//! A Kafka sink write larger than the broker takes in one request, against
//! a real broker: it lands whole, in order, in several requests; written
//! again (a retried write), nothing repeats; a record the broker refuses
//! alone is named, after the records before it landed; and a request the
//! broker refuses is cut in halves until each is taken. A write that landed
//! in part is finished by a fresh sink (a restarted process) from the last
//! request's sequence header; after a write that failed for good,
//! `after_failed_write` answers where the partition's records end.

use stream_runtime::kafka::KafkaSink;
use stream_runtime::sink::Rejected;
use stream_runtime::Sink;
use stream_support::kafka::{create_topic, read_all};

use crate::harness::kafka;

/// `count` values of about 1 KiB each, numbered from `from`.
fn values(from: usize, count: usize) -> Vec<String> {
    (from..from + count)
        .map(|n| format!("{n:06}{}", "x".repeat(1_000)))
        .collect()
}

/// The numbers of the values in `topic`, in order.
async fn numbers_in(bootstrap: &str, topic: &str) -> Vec<usize> {
    read_all(bootstrap, topic)
        .await
        .unwrap_or_else(|e| panic!("read {topic}: {e}"))
        .iter()
        .map(|v| {
            let v: String = serde_json::from_slice(v).unwrap_or_else(|e| panic!("{e}"));
            v[..6].parse().unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_over_the_brokers_request_limit_lands_once_in_order() {
    let bootstrap = kafka().bootstrap.as_str();
    let topic = "large-writes";
    create_topic(bootstrap, topic, 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sink = KafkaSink::<String>::json(bootstrap, topic)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // About 3 MiB: three times the broker's default `message.max.bytes`.
    let first = values(0, 3_000);
    let written = sink.write(0, 0, &first).await;
    assert_eq!(written.ok(), Some(3_000));
    // The same write again, as after a crash: nothing is produced twice.
    assert_eq!(sink.write(0, 0, &first).await.ok(), Some(3_000));
    let expected: Vec<usize> = (0..3_000).collect();
    assert_eq!(numbers_in(bootstrap, topic).await, expected);

    // A record of 2 MiB in the middle of the next write: the broker refuses
    // it alone, and the records before it are in.
    let mut next = values(3_000, 10);
    next[4] = format!("{:06}{}", 3_004, "x".repeat(2 << 20));
    let error = sink
        .write(0, 3_000, &next)
        .await
        .err()
        .unwrap_or_else(|| panic!("a record over the broker's limit was written"));
    let rejected = Rejected::find(&error).unwrap_or_else(|| panic!("not rejected: {error}"));
    assert_eq!(rejected.index, 4, "{rejected}");
    assert!(rejected.to_string().contains("too large"), "{rejected}");
    // The runtime writes the records before it, which landed (nothing is
    // produced), then those after it (as the sink partition and the round
    // do).
    assert_eq!(sink.write(0, 3_000, &next[..4]).await.ok(), Some(3_004));
    assert_eq!(sink.write(0, 3_004, &next[5..]).await.ok(), Some(3_009));
    let numbers = numbers_in(bootstrap, topic).await;
    let expected: Vec<usize> = (0..3_010).filter(|n| *n != 3_004).collect();
    assert_eq!(numbers, expected);

    // A sink told that the broker takes 64 MiB: its 3 MiB request is
    // refused, cut in halves until each fits, and lands in order.
    let trusting = KafkaSink::<String>::json(bootstrap, topic)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .max_request_bytes(64 << 20);
    let more = values(3_010, 3_000);
    assert_eq!(trusting.write(0, 3_009, &more).await.ok(), Some(6_009));
    let numbers = numbers_in(bootstrap, topic).await;
    let expected: Vec<usize> = (0..6_010).filter(|n| *n != 3_004).collect();
    assert_eq!(numbers, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_landed_in_part_is_finished_or_passed_over() {
    let bootstrap = kafka().bootstrap.as_str();
    let topic = "partly-landed-writes";
    create_topic(bootstrap, topic, 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // A sink as a process starts it, sending each record in its own
    // request (so that a write can land in part) and knowing nothing of
    // what the partition holds.
    let fresh = move || async move {
        KafkaSink::<String>::json(bootstrap, topic)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .max_request_bytes(1)
    };

    // A write of 10 whose first 4 requests landed before its process died.
    let batch = values(0, 10);
    assert_eq!(fresh().await.write(0, 0, &batch[..4]).await.ok(), Some(4));
    // Run again in a new process, it reads the last request's sequence
    // number and produces the 6 that are missing.
    assert_eq!(fresh().await.write(0, 0, &batch).await.ok(), Some(10));
    let expected: Vec<usize> = (0..10).collect();
    assert_eq!(numbers_in(bootstrap, topic).await, expected);

    // The next write, of 5, lands 3 and then fails for good: its batch
    // goes to the dead-letter output and the committed offset stays 10.
    let failed = values(10, 5);
    assert_eq!(
        fresh().await.write(0, 10, &failed[..3]).await.ok(),
        Some(13)
    );
    // The sink answers where they end, and the next batch goes after
    // them, whole.
    let sink = fresh().await;
    assert_eq!(sink.after_failed_write(0, 10).await.ok(), Some(13));
    let next = values(15, 5);
    assert_eq!(sink.write(0, 13, &next).await.ok(), Some(18));
    let expected: Vec<usize> = (0..13).chain(15..20).collect();
    assert_eq!(numbers_in(bootstrap, topic).await, expected);
    // With nothing past the committed offset, it answers that offset.
    assert_eq!(fresh().await.after_failed_write(0, 18).await.ok(), Some(18));
}
