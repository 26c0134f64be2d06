//! A side output: one stream to two sinks, each record to the one its
//! function picks, each sink written exactly once, from a token's round
//! (running counts) and from a timer's firing (windows).

use std::time::Duration;

use crate::harness::harness;
use crate::kafka::assert_each_count_once;
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
    let main = MAIN_COUNTS.records().into_iter().map(|wc| {
        assert!(
            !wc.count.is_multiple_of(5),
            "{wc:?} belongs to the side output"
        );
        (wc.word, wc.count)
    });
    let side = SIDE_COUNTS.records().into_iter().map(|line| {
        let (word, count) = line.split_once('=').unwrap_or_else(|| panic!("{line}"));
        let count: u64 = count.parse().unwrap_or_else(|e| panic!("{line}: {e}"));
        assert!(count.is_multiple_of(5), "{line} belongs to the main output");
        (word.to_owned(), count)
    });
    let written: Vec<(String, u64)> = main.chain(side).collect();
    assert_each_count_once(written, &UNION_FIRST);
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
