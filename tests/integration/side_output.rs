//! A side output: one stream to two sinks, each record to the one its
//! function picks, each sink written exactly once, from a token's round
//! (running counts) and from a timer's firing (windows).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::harness::harness;
use crate::pipelines::{
    RoutedCounts, RoutedWindows, MAIN_COUNTS, MAIN_WINDOWS, SIDE_COUNTS, SIDE_WINDOWS, UNION_FIRST,
    WINDOW_INPUT,
};
use crate::windows::{expected_counts, once, run_to_end};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_counts_go_to_their_sink_each_once() {
    let (h, names) = (harness(), RoutedCounts::service_names());
    h.add_tokens(&names, 3).await;
    let status = h
        .wait_for(&names, Duration::from_secs(120), |_| {}, |s| s.finished)
        .await;
    assert_eq!(status.dead_letters, 0, "{status:?}");
    // Every running count 1..n of every word, in one sink or the other.
    let mut main: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for wc in MAIN_COUNTS.records() {
        assert_ne!(wc.count % 5, 0, "{wc:?} belongs to the side output");
        main.entry(wc.word).or_default().push(wc.count);
    }
    let mut side: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for line in SIDE_COUNTS.records() {
        let (word, count) = line.split_once('=').unwrap_or_else(|| panic!("{line}"));
        let count: u64 = count.parse().unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(count % 5, 0, "{line} belongs to the main output");
        side.entry(word.to_owned()).or_default().push(count);
    }
    for (word, n) in crate::pipelines::counts(&UNION_FIRST) {
        let mut got: Vec<u64> = main.remove(&word).unwrap_or_default();
        got.extend(side.remove(&word).unwrap_or_default());
        got.sort_unstable();
        assert_eq!(got, (1..=n).collect::<Vec<_>>(), "{word}");
    }
    assert!(main.is_empty() && side.is_empty(), "words not in the input");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fired_windows_go_to_their_sink_each_once() {
    run_to_end(&RoutedWindows::service_names(), 3).await;
    let main = once(&MAIN_WINDOWS.records());
    let side = once(&SIDE_WINDOWS.records());
    assert!(main.keys().all(|(key, _, _)| *key < 5), "{main:?}");
    assert!(side.keys().all(|(key, _, _)| *key >= 5), "{side:?}");
    assert!(!side.is_empty());
    let mut both = main;
    both.extend(side);
    assert_eq!(both, expected_counts(&WINDOW_INPUT, 2_000, 2_000));
}
