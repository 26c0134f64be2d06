//! A running count that emits each key's latest value once per batch
//! (`reduce(.., emit = latest)`), against a real server: each key's total
//! arrives, no count twice, and fewer records than the input.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use stream_runtime::{pipeline, CollectSink, Sequence};

use crate::harness::harness;
use crate::windows::until_results;

pub const LATEST_RECORDS: u64 = 5_000;
pub static LATEST: LazyLock<CollectSink<(u64, u64)>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub LatestCounts(batch_size = 100, key_groups = 4):
    source(Sequence::new().take(LATEST_RECORDS).with_splits(2))
    |> map(|n| (n % 20, 1u64))
    |> key_by(|(key, _)| *key)
    |> reduce(|(key, a), (_, b)| (key, a + b), emit = latest)
    |> sink(LATEST.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_latest_count_per_batch_reaches_each_total_once() {
    let names = LatestCounts::service_names();
    let status = harness().finish(&names, 3).await;
    assert_eq!(status.dead_letters, 0, "{status:?}");
    // 20 keys of 250 records each; each batch of 100 touches all 20.
    let got = until_results(&LATEST, 20).await;
    let mut seen = BTreeMap::<u64, Vec<u64>>::new();
    for (key, count) in got.iter() {
        seen.entry(*key).or_default().push(*count);
    }
    for (key, counts) in &seen {
        let mut sorted = counts.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            counts.len(),
            "key {key} repeated a count: {counts:?}"
        );
        assert_eq!(sorted.last(), Some(&250), "key {key}'s total");
    }
    assert_eq!(seen.len(), 20);
    // One value per key per batch: at most 20 per batch of 100 records.
    let batches = LATEST_RECORDS.div_ceil(100);
    assert!(got.len() as u64 <= 20 * batches, "{} values", got.len());
    assert!(
        (got.len() as u64) < LATEST_RECORDS / 4,
        "{} values",
        got.len()
    );
    assert_eq!(status.records_out, got.len() as u64);
    harness().assert_nothing_stuck(&names).await;
}
