//! Timers, list and map state, and time-to-live in `process`, against a
//! real server.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::harness::harness;
use crate::pipelines::{
    Forgetful, PerSecondTimers, Wakeful, PER_SECOND, REMEMBERED, WINDOW_INPUT, WOKEN,
};

async fn run_to_end(names: &stream_runtime::ServiceNames, tokens: u64) {
    harness().add_tokens(names, tokens).await;
    harness()
        .wait_for(names, Duration::from_secs(180), |_| {}, |s| s.finished)
        .await;
}

/// Polls `check` for up to `limit`, returning its last answer.
async fn eventually<T>(limit: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(done) = check().await {
            return Some(done);
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_time_timers_fire_once_and_read_map_state() {
    let names = PerSecondTimers::service_names();
    run_to_end(&names, 3).await;
    let mut expected: BTreeMap<(u32, i64), u64> = BTreeMap::new();
    for r in WINDOW_INPUT.iter() {
        *expected.entry((r.key, r.ts.div_euclid(1_000))).or_insert(0) += 1;
    }
    let got = eventually(Duration::from_secs(60), async || {
        let records = PER_SECOND.records();
        (records.len() >= expected.len()).then_some(records)
    })
    .await
    .unwrap_or_else(|| PER_SECOND.records());
    let mut fired = BTreeMap::new();
    for (key, second, count) in got {
        assert!(
            fired.insert((key, second), count).is_none(),
            "the timer of key {key}, second {second} fired twice"
        );
    }
    assert_eq!(fired, expected);
    // Every timer fired and every map entry was removed: each key's state
    // is gone, and with it the group's timers.
    let state = harness().keyed_state(&names).await;
    let keys: Vec<&String> = state.keys().filter(|k| k.starts_with("k:")).collect();
    assert!(keys.is_empty(), "{keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processing_time_timers_fire_once_per_key_and_read_state() {
    let names = Wakeful::service_names();
    run_to_end(&names, 2).await;
    let got = eventually(Duration::from_secs(30), async || {
        let records = WOKEN.records();
        (records.len() >= 20).then_some(records)
    })
    .await
    .unwrap_or_else(|| WOKEN.records());
    // Wait a little longer: a timer firing twice would show now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got_after = WOKEN.records();
    assert_eq!(got.len(), got_after.len());
    let mut keys: Vec<u64> = got.iter().map(|(key, _)| *key).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        (0..20).collect::<Vec<_>>(),
        "each key's timer fired once"
    );
    assert!(got.iter().all(|(_, n)| (1..=30).contains(n)), "{got:?}");
    harness().assert_nothing_stuck(&names).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_state_with_a_time_to_live_leaves_the_state_table() {
    let h = harness();
    let names = Forgetful::service_names();
    run_to_end(&names, 1).await;
    // One token reads the one split in order: each key's list grows by one.
    let mut got = REMEMBERED.records();
    got.sort_unstable();
    let expected: Vec<(u64, usize)> = (0..50)
        .flat_map(|key| (1..=8).map(move |len| (key, len)))
        .collect();
    assert_eq!(got, expected);
    // The keys went quiet: 2 s after their last write, the server's state
    // table no longer has them.
    let gone = eventually(Duration::from_secs(30), async || {
        let state = h.keyed_state(&names).await;
        let keys = state.keys().filter(|k| k.starts_with("k:")).count();
        (keys == 0).then_some(())
    })
    .await;
    assert!(gone.is_some(), "{:?}", h.keyed_state(&names).await.keys());
}
