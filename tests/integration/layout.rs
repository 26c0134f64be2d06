//! The layout (key groups, splits, sink partitions) is durable: an endpoint
//! that serves a running pipeline with other key groups stops its tokens
//! before they touch state, refuses `addTokens` and `replay` with a 409 and
//! the reason, and the pipeline finishes exactly once when served as it
//! started.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use serde::Deserialize;
use stream_runtime::{CollectSink, Endpoint, IntoPipeline, Pipeline, ServiceNames};

use crate::harness::{harness, Harness};
use crate::pipelines::slow_counts;

const PIPELINE: &str = "Relayout";
const RECORDS: u64 = 20_000;
const KEYS: u64 = 40;
const GROUPS: u32 = 4;

static OUT: LazyLock<CollectSink<(u64, u64)>> = LazyLock::new(CollectSink::new);

/// Counts per key (`n % KEYS`), slowed down so that it is still running
/// when the test changes its layout.
pub fn relayout(key_groups: u32) -> impl IntoPipeline {
    let named = Pipeline::named(PIPELINE)
        .batch_size(20)
        .key_groups(key_groups);
    slow_counts(
        named,
        RECORDS,
        KEYS,
        Duration::from_micros(200),
        OUT.clone(),
    )
}

/// The key groups that hold state, from the server's state table.
async fn groups_with_state(h: &Harness, names: &ServiceNames) -> Vec<u32> {
    #[derive(Deserialize)]
    struct Row {
        service_key: String,
    }
    let rows: Vec<Row> = h
        .sql(&format!(
            "SELECT DISTINCT service_key FROM state WHERE service_name = '{}'",
            names.keyed
        ))
        .await;
    rows.iter()
        .map(|row| row.service_key.parse().expect("a group number"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_layout_stops_the_tokens_and_loses_nothing() {
    let h = harness();
    let names = ServiceNames::for_pipeline(PIPELINE);
    h.add_tokens(&names, 2).await;
    h.wait_for(
        &names,
        Duration::from_secs(120),
        |_| {},
        |s| s.records_out >= 500,
    )
    .await;

    // The same pipeline with twice the key groups takes over.
    h.serve_here(Endpoint::new().pipeline(relayout(GROUPS * 2)))
        .await;
    let halted = h
        .wait_for(
            &names,
            Duration::from_secs(120),
            |_| {},
            |s| s.tokens_in_flight == 0,
        )
        .await;
    assert_eq!(halted.halted, 2, "{halted:?}");
    assert!(
        !halted.finished && halted.records_out < RECORDS,
        "{halted:?}"
    );
    let reason = halted.conflict.clone().expect("the reason is reported");
    assert!(
        reason.contains("8 key groups where its state has 4"),
        "{reason}"
    );
    // Every range leased was finished under the old layout, and nothing was
    // written under the new one.
    assert_eq!(halted.records_in, halted.records_out);
    assert!(groups_with_state(h, &names)
        .await
        .iter()
        .all(|g| *g < GROUPS));

    let refused = h
        .ingress()
        .add_tokens(&names, 2)
        .await
        .expect_err("addTokens with another layout");
    assert_eq!(refused.status(), Some(409), "{refused}");
    assert!(refused.to_string().contains("8 key groups"), "{refused}");
    // Replay would send records to groups laid out otherwise: refused too.
    let replay = h.ingress().replay(&names, None).await;
    let replay = replay.expect_err("replay with another layout");
    assert_eq!(replay.status(), Some(409), "{replay}");
    assert!(replay.to_string().contains("8 key groups"), "{replay}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let unchanged = h.status(&names).await;
    assert_eq!(unchanged.tokens_injected, 2);
    assert_eq!(unchanged.records_out, halted.records_out);

    // Served as it started, it takes new tokens and finishes exactly once.
    // (Alone it finishes in about 35 s; the limit leaves room for a CI
    // machine running the kill tests beside it.)
    h.serve_here(Endpoint::new().pipeline(relayout(GROUPS)))
        .await;
    h.add_tokens(&names, 2).await;
    let done = h
        .wait_for(&names, Duration::from_secs(300), |_| {}, |s| s.finished)
        .await;
    assert_eq!(done.conflict, None);
    assert_eq!(done.records_out, RECORDS);

    let mut expected: BTreeMap<u64, u64> = BTreeMap::new();
    for n in 0..RECORDS {
        *expected.entry(n % KEYS).or_default() += 1;
    }
    let mut seen: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for (key, count) in OUT.records() {
        seen.entry(key).or_default().push(count);
    }
    for (key, n) in &expected {
        let mut counts = seen.remove(key).unwrap_or_default();
        counts.sort_unstable();
        assert_eq!(counts, (1..=*n).collect::<Vec<_>>(), "key {key}");
    }
    assert!(seen.is_empty(), "unexpected keys {:?}", seen.keys());
    assert!(groups_with_state(h, &names)
        .await
        .iter()
        .all(|g| *g < GROUPS));
    h.assert_nothing_stuck(&names).await;
}
