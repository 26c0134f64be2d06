//! Event-time windows over out-of-order input, against a real server:
//! every window's result is computed here independently, and each must
//! arrive exactly once.

use std::collections::BTreeMap;
use std::time::Duration;

use stream_runtime::window::Windowed;

use crate::harness::harness;
use crate::pipelines::{
    IdleSplit, LateToSide, Lateness, Reading, Sessions, Slid, Tumbled, WallClock, LATE_MAIN,
    LATE_OUT, LATE_SIDE, ONE_SIDED, SESSIONS, SLID, TUMBLED, WALL_CLOCK, WINDOW_INPUT,
};

/// Runs a bounded pipeline to its end with `tokens` tokens.
pub async fn run_to_end(names: &stream_runtime::ServiceNames, tokens: u64) {
    let h = harness();
    h.add_tokens(names, tokens).await;
    let status = h
        .wait_for(names, Duration::from_secs(180), |_| {}, |s| s.finished)
        .await;
    assert_eq!(status.late_records, 0, "{status:?}");
    assert_eq!(status.dead_letters, 0, "{status:?}");
    // The end of the input is the end of time: every window has fired.
    assert_eq!(status.watermark, Some(i64::MAX), "{status:?}");
}

/// Each window's value by (key, start, end); a window seen twice fails.
pub fn once<K: Ord + Clone + std::fmt::Debug, V: Clone + std::fmt::Debug>(
    results: &[Windowed<K, V>],
) -> BTreeMap<(K, i64, i64), V> {
    let mut map = BTreeMap::new();
    for w in results {
        let previous = map.insert((w.key.clone(), w.start, w.end), w.value.clone());
        assert!(previous.is_none(), "{w:?} was emitted twice");
    }
    map
}

/// Counts per key and window of `size` starting every `slide`.
pub fn expected_counts(input: &[Reading], size: i64, slide: i64) -> BTreeMap<(u32, i64, i64), u64> {
    let mut counts = BTreeMap::new();
    for r in input {
        let mut start = r.ts - r.ts.rem_euclid(slide);
        while start > r.ts - size {
            *counts.entry((r.key, start, start + size)).or_insert(0) += 1;
            start -= slide;
        }
    }
    counts
}

/// Waits until the sink has `n` results: the last windows are written by
/// their key groups, possibly just after the tokens park.
pub async fn until_results<T: Clone + Send + 'static>(
    sink: &stream_runtime::CollectSink<T>,
    n: usize,
) -> Vec<T> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let records = sink.records();
        if records.len() >= n || std::time::Instant::now() > deadline {
            return records;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tumbling_windows_over_out_of_order_input_fire_each_window_once() {
    let names = Tumbled::service_names();
    run_to_end(&names, 3).await;
    let expected = expected_counts(&WINDOW_INPUT, 2_000, 2_000);
    let got = until_results(&TUMBLED, expected.len()).await;
    assert_eq!(once(&got), expected);
    harness().assert_nothing_stuck(&names).await;
    // Every window was cleaned up: no pane is left in the key groups, and
    // no group holds a timer.
    assert_windows_cleaned_up(&names.keyed).await;
}

/// Every window of the key groups of service `keyed` has been cleaned up:
/// each group keeps only its watermark, with no timer.
pub async fn assert_windows_cleaned_up(keyed: &str) {
    let entries = stream_support::state::group_state(&harness().admin(), keyed)
        .await
        .unwrap_or_else(|e| panic!("state: {e}"));
    assert!(!entries.is_empty(), "the groups keep their watermark");
    for (group, name, value) in entries {
        assert_eq!(name, "time", "{keyed} group {group} kept {name}: {value}");
        let timers: serde_json::Value = serde_json::from_str(&value).unwrap_or_default();
        assert_eq!(
            timers["event"],
            serde_json::json!({}),
            "{keyed} {group}: {value}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sliding_windows_count_each_record_in_every_window() {
    let names = Slid::service_names();
    run_to_end(&names, 3).await;
    let expected = expected_counts(&WINDOW_INPUT, 3_000, 1_000);
    let got = until_results(&SLID, expected.len()).await;
    assert_eq!(once(&got), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_windows_merge_each_keys_close_records() {
    let names = Sessions::service_names();
    run_to_end(&names, 3).await;
    // Sessions per key: sorted timestamps, cut where the next is a gap
    // or more after the last.
    let gap = 700;
    let mut by_key: BTreeMap<u32, Vec<i64>> = BTreeMap::new();
    for r in WINDOW_INPUT.iter() {
        by_key.entry(r.key).or_default().push(r.ts);
    }
    let mut expected = BTreeMap::new();
    for (key, mut times) in by_key {
        times.sort_unstable();
        let mut start = times[0];
        let mut last = times[0];
        let mut count = 0;
        for t in times {
            if t >= last + gap {
                expected.insert((key, start, last + gap), (count, last));
                start = t;
                count = 0;
            }
            last = t;
            count += 1;
        }
        expected.insert((key, start, last + gap), (count, last));
    }
    assert!(
        expected.len() > 20,
        "the input makes many sessions: {}",
        expected.len()
    );
    let got = until_results(&SESSIONS, expected.len()).await;
    assert_eq!(once(&got), expected);
}

/// The results of `LATE_INPUT`, as (key, start, count), sorted: [0, 10s)
/// fired with 1, then again with 2 for the record inside the lateness; the
/// record at 2 s came after the window was gone.
const LATE_RESULTS: [(u32, i64, u64); 5] = [
    (1, 0, 1),
    (1, 0, 2),
    (1, 20_000, 1),
    (1, 40_000, 1),
    (2, 30_000, 1),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_inside_the_lateness_updates_its_window_and_a_later_one_is_late() {
    let h = harness();
    let names = Lateness::service_names();
    h.add_tokens(&names, 1).await;
    let status = h
        .wait_for(&names, Duration::from_secs(120), |_| {}, |s| s.finished)
        .await;
    assert_eq!(status.late_records, 1, "{status:?}");
    let got = until_results(&LATE_OUT, 5).await;
    let mut got: Vec<(u32, i64, u64)> = got.iter().map(|w| (w.key, w.start, w.value)).collect();
    got.sort_unstable();
    assert_eq!(got, LATE_RESULTS);
    // The late record is kept in the late-data output, as it was.
    let late = h.control_entries(&names, "late:").await;
    assert_eq!(late.len(), 1);
    assert_eq!(late[0]["time"], 2_000, "{late:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_late_to_side_the_late_record_reaches_its_own_sink_once() {
    let h = harness();
    let names = LateToSide::service_names();
    h.add_tokens(&names, 1).await;
    let status = h
        .wait_for(&names, Duration::from_secs(120), |_| {}, |s| s.finished)
        .await;
    // The late record is output now, not kept as late data.
    assert_eq!(status.late_records, 0, "{status:?}");
    assert!(h.control_entries(&names, "late:").await.is_empty());
    let got = until_results(&LATE_MAIN, 5).await;
    let mut got: Vec<(u32, i64, u64)> = got.iter().map(|w| (w.key, w.start, w.value)).collect();
    got.sort_unstable();
    assert_eq!(
        got, LATE_RESULTS,
        "the results are those of the window alone"
    );
    let late: Vec<(i64, u32, i64)> = (LATE_SIDE.records().iter())
        .map(|r| (r.time, r.value.key, r.value.ts))
        .collect();
    assert_eq!(late, [(2_000, 1, 2_000)], "the late record, once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processing_time_windows_count_every_record_once() {
    let names = WallClock::service_names();
    harness().add_tokens(&names, 2).await;
    harness()
        .wait_for(&names, Duration::from_secs(120), |_| {}, |s| s.finished)
        .await;
    // Which window a record falls in depends on the wall clock; that each
    // is counted once does not.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let results = loop {
        let results = WALL_CLOCK.records();
        let total: u64 = results.iter().map(|w| w.value).sum();
        if total >= 2_000 || std::time::Instant::now() > deadline {
            break results;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut per_key: BTreeMap<u64, u64> = BTreeMap::new();
    for w in &results {
        assert_eq!(w.end - w.start, 500);
        *per_key.entry(w.key).or_insert(0) += w.value;
    }
    let expected: BTreeMap<u64, u64> = (0..7)
        .map(|k| (k, (0..2_000).filter(|n| n % 7 == k).count() as u64))
        .collect();
    assert_eq!(per_key, expected);
    once(&results);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_split_stops_holding_the_watermark_back() {
    let h = harness();
    let names = IdleSplit::service_names();
    h.add_tokens(&names, 2).await;
    // Split 1 never has data. Until it has been idle for 1 s the watermark
    // cannot move; then split 0 alone drives it, and windows fire.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while ONE_SIDED.records().len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "no window fired: {:?}",
            h.status(&names).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    h.ingress()
        .stop(&names)
        .await
        .unwrap_or_else(|e| panic!("stop: {e}"));
    let status = h.status(&names).await;
    assert!(status.watermark.is_some_and(|w| w >= 2_999), "{status:?}");
    // Split 0 has a reading every 100 ms of event time: 10 per second.
    let results = once(&ONE_SIDED.records());
    for second in 0..3 {
        assert_eq!(
            results.get(&(0, second * 1_000, (second + 1) * 1_000)),
            Some(&10)
        );
    }
}
