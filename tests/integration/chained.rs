//! Keyed stages in a row, against a real server: a window over a window's
//! results (the top 3 keys of each window), and a running count keyed
//! again. Each result is computed here independently and must arrive
//! exactly once, and neither stage may keep state or timers at the end.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use stream_runtime::time::Watermarks;
use stream_runtime::window::{tumbling, Windowed};
use stream_runtime::{
    pipeline, CollectSink, InMemorySource, IntoPipeline, Pipeline, Sequence, ServiceNames,
};

use crate::harness::harness;
use crate::pipelines::{Reading, WINDOW_INPUT};
use crate::windows::{assert_windows_cleaned_up, expected_counts, once, run_to_end, until_results};

/// Each window's top keys: `(count, key)`, most first.
type Ranked = Windowed<i64, Vec<(u64, u32)>>;

pub static TOP: LazyLock<CollectSink<Ranked>> = LazyLock::new(CollectSink::new);

/// The 3 keys with the most readings in each 2 s window, most first.
fn top3(top: &mut Vec<(u64, u32)>, counted: Windowed<u32, u64>) {
    top.push((counted.value, counted.key));
    top.sort_by(|a, b| b.cmp(a));
    top.truncate(3);
}

pipeline! {
    pub TopKeys(batch_size = 100, key_groups = 4):
    source(stream_runtime::InMemorySource::new(WINDOW_INPUT.iter().cloned()).with_splits(3))
    |> event_time(|r: &Reading| r.ts, max_delay = 1s)
    |> key_by(|r| r.key)
    |> window(tumbling(2s))
    |> aggregate(0u64, |count, _r| *count += 1)
    |> key_by(|w: &Windowed<u32, u64>| w.start)
    |> window(tumbling(2s))
    |> aggregate(Vec::new(), top3)
    |> sink(TOP.clone())
}

pub static TOP_OF_LISTS: LazyLock<CollectSink<Ranked>> = LazyLock::new(CollectSink::new);

/// `TopKeys` with each key's readings kept as a list of times at the
/// first stage, in calls of 1 KiB over 8 key groups: what the clock
/// carries of one wake-up is a call's bytes at most, 128 per group, so
/// the groups of the dense keys 0 to 4 (a few hundred bytes of times a
/// window each) pass their lists on themselves, while those of the sparse
/// keys 5 and 6 (a time or two) answer theirs for the clock to carry, in
/// the same wake-ups.
pub fn top_of_lists() -> impl IntoPipeline {
    Pipeline::named("TopOfLists")
        .batch_size(100)
        .key_groups(8)
        .max_call_bytes(1 << 10)
        .source(InMemorySource::new(WINDOW_INPUT.iter().cloned()).with_splits(3))
        .event_time(
            |r: &Reading| r.ts,
            Watermarks::max_delay(Duration::from_secs(1)),
        )
        .key_by(|r| r.key)
        .window(tumbling(Duration::from_secs(2)))
        .aggregate(Vec::new(), |times: &mut Vec<i64>, r| times.push(r.ts))
        .key_by(|w: &Windowed<u32, Vec<i64>>| w.start)
        .window(tumbling(Duration::from_secs(2)))
        .aggregate(Vec::new(), |top, w: Windowed<u32, Vec<i64>>| {
            let count = w.value.len() as u64;
            top3(
                top,
                Windowed {
                    key: w.key,
                    start: w.start,
                    end: w.end,
                    value: count,
                },
            )
        })
        .sink(TOP_OF_LISTS.clone())
}

pub const COUNTED_RECORDS: u64 = 3_000;
pub static TOTALS: LazyLock<CollectSink<(u64, u64)>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub CountedTwice(batch_size = 64, key_groups = 4):
    source(Sequence::new().take(COUNTED_RECORDS).with_splits(3))
    |> map(|n| (n % 50, 1u64))
    |> key_by(|(key, _)| *key)
    |> reduce(|(key, a), (_, b)| (key, a + b))
    |> map(|(key, count)| (key % 7, count))
    |> key_by(|(key, _)| *key)
    |> reduce(|(key, a), (_, b)| (key, a + b))
    |> sink(TOTALS.clone())
}

/// Runs the pipeline `names` to its end, checks that every window's top
/// 3 reached `sink` once and that neither stage kept a pane or a timer,
/// and answers how many windows there were.
async fn ranks_each_window_once(names: &ServiceNames, sink: &CollectSink<Ranked>) -> u64 {
    run_to_end(names, 3).await;
    let expected = expected_top3();
    let got = until_results(sink, expected.len()).await;
    // Each window's list is one aggregate; the order keys arrived in
    // cannot change it, since ties sort by key.
    assert_eq!(once(&got), expected);
    harness().assert_nothing_stuck(names).await;
    assert_windows_cleaned_up(&names.keyed).await;
    assert_windows_cleaned_up(&names.at_level(1).keyed).await;
    expected.len() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_over_a_windows_results_ranks_each_window_once() {
    let windows = ranks_each_window_once(&TopKeys::service_names(), &TOP).await;
    // The first stage fires each window once on event time, so the clock
    // carries what its groups fire to the second stage: each group there
    // is called once per wake-up with every first-stage group's counts,
    // not once by each of the (up to 4) first-stage groups holding keys
    // of the window (4 times as many calls here). A retried call, or a
    // wake-up the clock takes late, adds one, hence the margin.
    let counts = stream_runtime::counts::of("TopKeys");
    let second = counts.keyed.get(1).copied().unwrap_or_default();
    assert!(second.records_in > 0, "no counts for TopKeys: {counts:?}");
    assert!(
        second.calls <= 2 * windows,
        "the second stage took {} calls for {windows} windows: {counts:?}",
        second.calls
    );
}

/// Each window's top 3 by (count, key), computed here.
fn expected_top3() -> BTreeMap<(i64, i64, i64), Vec<(u64, u32)>> {
    let mut expected = BTreeMap::<(i64, i64, i64), Vec<(u64, u32)>>::new();
    for ((key, start, end), count) in expected_counts(&WINDOW_INPUT, 2_000, 2_000) {
        let top = expected.entry((start, start, end)).or_default();
        top.push((count, key));
        top.sort_by(|a, b| b.cmp(a));
        top.truncate(3);
    }
    expected
}

/// Some groups' firings too large for the clock to carry, beside others
/// it carries, in the same wake-ups: every window's top 3 still arrives
/// once, and nothing is left in either stage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firings_too_large_to_carry_reach_the_next_stage_beside_those_carried() {
    let names = ServiceNames::for_pipeline("TopOfLists");
    ranks_each_window_once(&names, &TOP_OF_LISTS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_count_keyed_again_counts_every_record_once() {
    let names: ServiceNames = CountedTwice::service_names();
    let status = harness().finish(&names, 3).await;
    assert_eq!(status.dead_letters, 0, "{status:?}");
    // A token's round ends once both stages are done with its records, so
    // the last total is written when the tokens park.
    assert_eq!(status.records_out, COUNTED_RECORDS, "{status:?}");
    // Each record gives one running count at the first stage, and each of
    // those one running total at the second: as many totals as records.
    let got = until_results(&TOTALS, COUNTED_RECORDS as usize).await;
    assert_eq!(got.len() as u64, COUNTED_RECORDS, "one total per record");
    // A key seen n times passes on 1 + 2 + … + n, in whatever order its
    // records came; the second stage's last total per key is their sum.
    let mut seen = BTreeMap::<u64, u64>::new();
    for n in 0..COUNTED_RECORDS {
        *seen.entry(n % 50).or_default() += 1;
    }
    let mut expected = BTreeMap::<u64, u64>::new();
    for (key, n) in seen {
        *expected.entry(key % 7).or_default() += n * (n + 1) / 2;
    }
    // The second stage writes its own results, in its exclusive call, so
    // each key's totals reach the sink in the order they were made: each
    // larger than the one before (an upsert of them keeps the last).
    let mut last = BTreeMap::<u64, u64>::new();
    for (key, total) in got {
        let before = last.insert(key, total).unwrap_or(0);
        assert!(
            total > before,
            "key {key}: total {total} written after {before}"
        );
    }
    assert_eq!(last, expected);
    harness().assert_nothing_stuck(&names).await;
}
