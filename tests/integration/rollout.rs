//! A new version deployed while a pipeline runs: version 1 serves it, an
//! endpoint with version 2 (the same layout, another `map`) is registered,
//! and once nothing runs on version 1 its deployment is removed and its
//! endpoint stopped. Every record is processed exactly once, by one version
//! or the other, and nothing is left on the retired deployment.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use serde::Deserialize;
use stream_runtime::{CollectSink, Endpoint, IntoPipeline, Pipeline, Sequence, ServiceNames};

use crate::harness::{harness, Harness};

const PIPELINE: &str = "Rollout";
const RECORDS: u64 = 6_000;
const KEYS: u64 = 10;

/// Each output: a key, its running count, and the version whose `map` read
/// the record that made it.
type Counted = (u64, u64, String);

static OUT: LazyLock<CollectSink<Counted>> = LazyLock::new(CollectSink::new);

/// A count per key, slowed down so that it is still running when version 2
/// arrives; `version` is what its `map` stamps on each record.
fn rollout(version: &'static str) -> impl IntoPipeline {
    Pipeline::named(PIPELINE)
        .batch_size(20)
        .source(Sequence::new().take(RECORDS))
        .map(move |n| {
            std::thread::sleep(Duration::from_micros(300));
            (n % KEYS, 1u64, version.to_owned())
        })
        .key_by(|(key, _, _)| *key)
        .reduce(|(key, a, _), (_, b, version)| (key, a + b, version))
        .sink(OUT.clone())
}

/// Invocations of the pipeline that are not completed and are pinned to
/// `deployment`.
async fn live_on(h: &Harness, deployment: &str) -> u64 {
    #[derive(Deserialize)]
    struct Row {
        n: u64,
    }
    let rows: Vec<Row> = h
        .sql(&format!(
            "SELECT count(*) AS n FROM sys_invocation WHERE target_service_name LIKE '{PIPELINE}%' \
             AND pinned_deployment_id = '{deployment}' AND status != 'completed'"
        ))
        .await;
    rows.first().map_or(0, |r| r.n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_takes_over_a_running_pipeline_and_every_record_counts_once() {
    let h = harness();
    let names = ServiceNames::for_pipeline(PIPELINE);
    let v1 = h.serve_here(Endpoint::new().pipeline(rollout("v1"))).await;
    h.add_tokens(&names, 2).await;
    h.wait_for(
        &names,
        Duration::from_secs(60),
        |_| {},
        |s| s.records_out >= RECORDS / 5,
    )
    .await;

    // Version 2: new invocations go to it; those started stay on version 1.
    let v2 = h.serve_here(Endpoint::new().pipeline(rollout("v2"))).await;
    assert_ne!(v1.deployment, v2.deployment);
    let drained = Instant::now();
    let mut quiet = 0;
    while quiet < 2 {
        assert!(
            drained.elapsed() < Duration::from_secs(60),
            "invocations stayed on version 1 for a minute"
        );
        quiet = if live_on(h, &v1.deployment).await == 0 {
            quiet + 1
        } else {
            0
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mid_run = h.status(&names).await;
    assert!(
        mid_run.records_out < RECORDS,
        "version 1 finished before version 2 came: {mid_run:?}"
    );
    let retired = v1.deployment.clone();
    h.admin()
        .remove_deployment(&retired)
        .await
        .expect("remove version 1");
    v1.stop();

    let done = h
        .wait_for(&names, Duration::from_secs(120), |_| {}, |s| s.finished)
        .await;
    assert_eq!(
        (done.records_in, done.records_out, done.dead_letters),
        (RECORDS, RECORDS, 0),
        "{done:?}"
    );
    // Each key's running counts, each once.
    let mut by_version: BTreeMap<String, u64> = BTreeMap::new();
    let mut counts: Vec<(u64, u64)> = OUT
        .records()
        .into_iter()
        .map(|(key, count, version)| {
            *by_version.entry(version).or_default() += 1;
            (key, count)
        })
        .collect();
    counts.sort_unstable();
    let expected: Vec<(u64, u64)> = (0..KEYS)
        .flat_map(|key| (1..=RECORDS / KEYS).map(move |count| (key, count)))
        .collect();
    assert_eq!(counts, expected);
    // Both versions did part of it, and they add up to every record.
    assert_eq!(by_version.values().sum::<u64>(), RECORDS, "{by_version:?}");
    assert!(
        by_version.get("v1").is_some_and(|n| *n > 0)
            && by_version.get("v2").is_some_and(|n| *n > 0),
        "{by_version:?}"
    );
    assert_eq!(live_on(h, &retired).await, 0);
    h.assert_nothing_stuck(&names).await;
}
