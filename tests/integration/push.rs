//! Records pushed over HTTP (`{name}Ingest/append`, a `Pushed` source):
//! bad batches are refused whole, a batch sent again with its key is
//! appended once, a split past its bound answers 429 with a wait, and the
//! word count over everything pushed, through a producer that sends every
//! batch twice, is the plain count; the log keeps nothing once it is read.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use serde::Deserialize;
use stream_runtime::restate::{CallError, IngressClient};
use stream_runtime::source::Pushed;
use stream_runtime::{Appended, CollectSink, IntoPipeline, Pipeline, PushBatch, ServiceNames};

use crate::harness::harness;

const PIPELINE: &str = "PushedWords";
/// The records a split's log holds unread before it refuses more.
const BOUND: u64 = 40;

static OUT: LazyLock<CollectSink<(String, u64)>> = LazyLock::new(CollectSink::new);

/// A running count per word of the lines pushed, over two splits.
pub fn pushed_words() -> impl IntoPipeline {
    Pipeline::named(PIPELINE)
        .batch_size(7)
        .source(Pushed::<String>::new().with_splits(2).bound(BOUND))
        .flat_map(|line: String| {
            line.split_whitespace()
                .map(|word| (word.to_owned(), 1u64))
                .collect::<Vec<_>>()
        })
        .key_by(|(word, _)| word.clone())
        .reduce(|(word, a), (_, b)| (word, a + b))
        .sink(OUT.clone())
}

fn batch(key: &str, lines: &[String], split: Option<u32>) -> PushBatch {
    PushBatch {
        key: key.to_owned(),
        records: lines.iter().map(|line| line.as_str().into()).collect(),
        split,
    }
}

/// Line `n`: words from a small vocabulary, some more often than others.
fn line(n: u64) -> String {
    let words = ["to", "be", "or", "not", "that", "is", "the", "question"];
    (0..1 + n % 4)
        .map(|i| words[((n * 7 + i * 3) % (1 + n % 8)) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Appends `batch`, waiting as long as a 429 says, until it is taken.
async fn append_until_taken(
    ingress: &IngressClient,
    names: &ServiceNames,
    batch: &PushBatch,
) -> Appended {
    for _ in 0..600 {
        match ingress.append(names, batch).await {
            Ok(appended) => return appended,
            Err(full) if full.status() == Some(429) => {
                let wait = full
                    .retry_after()
                    .unwrap_or_else(|| panic!("no wait in {full}"));
                tokio::time::sleep(wait).await;
            }
            Err(error) => panic!("append {}: {error}", batch.key),
        }
    }
    panic!("{} was never taken", batch.key)
}

fn refused(answer: Result<Appended, CallError>) -> (u16, String) {
    let error = answer.expect_err("refused");
    (error.status().unwrap_or(0), error.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn pushed_batches_are_counted_once_and_the_log_keeps_nothing_read() {
    let h = harness();
    let names = ServiceNames::for_pipeline(PIPELINE);
    h.status(&names).await;
    let ingress = h.ingress();

    // Bad batches are refused whole, saying what is wrong.
    let lines: Vec<String> = (0..10).map(line).collect();
    let (code, why) = refused(ingress.append(&names, &batch("", &lines, None)).await);
    assert_eq!(code, 400, "{why}");
    assert!(why.contains("no `key`"), "{why}");
    let mut mixed = batch("mixed", &lines, Some(0));
    mixed.records[3] = serde_json::json!(5);
    let (code, why) = refused(ingress.append(&names, &mixed).await);
    assert_eq!(code, 400, "{why}");
    assert!(why.contains("record 3 (`5`)"), "{why}");
    let (code, why) = refused(ingress.append(&names, &batch("far", &lines, Some(2))).await);
    assert_eq!(code, 400, "{why}");
    assert!(why.contains("no split 2"), "{why}");

    // With no tokens nothing is read: split 0 fills to its bound.
    let mut pushed: Vec<String> = Vec::new();
    for k in 0..4 {
        let lines: Vec<String> = (k * 10..k * 10 + 10).map(line).collect();
        let appended = ingress
            .append(&names, &batch(&format!("full-{k}"), &lines, Some(0)))
            .await
            .unwrap_or_else(|e| panic!("full-{k}: {e}"));
        assert_eq!(
            (
                appended.split,
                appended.first,
                appended.count,
                appended.again
            ),
            (0, k * 10, 10, false)
        );
        pushed.extend(lines);
    }
    // Sent again, a batch is not appended again, even with the split full.
    let again = ingress
        .append(&names, &batch("full-1", &[line(999)], Some(0)))
        .await
        .unwrap_or_else(|e| panic!("full-1 again: {e}"));
    assert_eq!((again.first, again.count, again.again), (10, 10, true));
    // One more record is past the bound.
    let over = batch("over", &[line(40)], Some(0));
    let full = ingress
        .append(&names, &over)
        .await
        .expect_err("past the bound");
    assert_eq!(full.status(), Some(429), "{full}");
    let wait = full
        .retry_after()
        .unwrap_or_else(|| panic!("no wait in {full}"));
    assert!(
        wait >= Duration::from_millis(100) && wait <= Duration::from_secs(5),
        "{full}"
    );

    // One token for two splits reads both; the producer sends each batch
    // twice (as one that saw no answer would), and waits out 429s.
    h.add_tokens(&names, 1).await;
    assert_eq!(append_until_taken(&ingress, &names, &over).await.count, 1);
    pushed.push(line(40));
    for k in 0..60u64 {
        let lines: Vec<String> = (100 + k * 5..105 + k * 5).map(line).collect();
        let key = format!("lines-{k}");
        let first = append_until_taken(&ingress, &names, &batch(&key, &lines, None)).await;
        let second = append_until_taken(&ingress, &names, &batch(&key, &lines, None)).await;
        assert_eq!(
            second,
            Appended {
                again: true,
                ..first
            }
        );
        pushed.extend(lines);
    }

    // The plain count of every word pushed.
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for word in pushed.iter().flat_map(|line| line.split_whitespace()) {
        *expected.entry(word.to_owned()).or_default() += 1;
    }
    let words: u64 = expected.values().sum();
    h.wait_for(
        &names,
        Duration::from_secs(120),
        |_| {},
        |s| s.records_out >= words,
    )
    .await;
    let mut seen: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (word, count) in OUT.records() {
        seen.entry(word).or_default().push(count);
    }
    let mut counted = BTreeMap::new();
    for (word, counts) in &mut seen {
        counts.sort_unstable();
        let n = counts.len() as u64;
        assert_eq!(
            *counts,
            (1..=n).collect::<Vec<_>>(),
            "each running count of {word} once"
        );
        counted.insert(word.clone(), n);
    }
    assert_eq!(counted, expected);
    let status = h.status(&names).await;
    assert_eq!(status.records_out, words, "{status:?}");
    assert_eq!(status.dead_letters, 0, "{status:?}");

    // Everything was read: the logs hold no batch.
    #[derive(Deserialize)]
    struct Row {
        n: u64,
    }
    let rows: Vec<Row> = h
        .sql(&format!(
            "SELECT count(*) AS n FROM state WHERE service_name = '{}' AND key LIKE 'log:%'",
            names.log
        ))
        .await;
    assert_eq!(
        rows.first().map(|r| r.n),
        Some(0),
        "the logs still hold batches"
    );
    h.ingress()
        .stop(&names)
        .await
        .unwrap_or_else(|e| panic!("stop: {e}"));
}
