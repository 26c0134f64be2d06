//! A join after stages against plain computations, in the reference
//! model, and one key group's state as the handler leaves it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::builder::Pipeline;
use crate::driver::TestDriver;
use crate::keyed::between;
use crate::sink::CollectSink;
use crate::source::Either;
use crate::source::{InMemorySource, Sequence};
use crate::testing::{block_on, stages, GroupSim};
use crate::time::{Millis, Timed, Watermarks};
use crate::window::{tumbling, Windowed};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Click {
    user: u32,
    ts: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Profile {
    user: u32,
    tier: u32,
    ts: Millis,
}

fn second() -> Duration {
    Duration::from_secs(1)
}

/// Clicks of 5 users over 20 s, a few out of order within 300 ms.
fn clicks() -> Vec<Click> {
    (0..400u32)
        .map(|i| Click {
            user: i % 5,
            ts: Millis::from(i) * 50 - Millis::from(i % 7 == 3) * 300,
        })
        .filter(|c| c.ts >= 0)
        .collect()
}

/// Profile updates of the same users, one every 700 ms.
fn profiles() -> Vec<Profile> {
    (0..30u32)
        .map(|i| Profile {
            user: i % 5,
            tier: i,
            ts: Millis::from(i) * 700,
        })
        .collect()
}

/// Every record of the pipeline's output, once the driver ran it to the end.
fn run<T: Clone + Send + Sync + 'static>(
    pipeline: crate::complete::CompletePipeline,
    out: &CollectSink<T>,
) -> TestDriver {
    let mut driver = TestDriver::new(pipeline);
    block_on(driver.run_to_end()).expect("the model runs");
    assert!(
        driver.dead_letters().is_empty(),
        "{:?}",
        driver.dead_letters()
    );
    assert!(!out.records().is_empty(), "the join gave nothing");
    driver
}

/// Flink's window join of a windowed count and a reduced stream: per user
/// and second, the clicks counted in their own window, joined with the
/// user's profile updates of that second, each window's pair once.
#[test]
fn a_window_join_of_a_windowed_count_and_a_reduced_stream_matches_a_plain_computation() {
    let out = CollectSink::new();
    let counts = Pipeline::named("WindowJoin")
        .source(InMemorySource::new(clicks()))
        .event_time(|c| c.ts, Watermarks::max_delay(Duration::from_millis(400)))
        .key_by(|c| c.user)
        .window(tumbling(second()))
        .aggregate(0u64, |n, _| *n += 1);
    let latest = Pipeline::named("Profiles")
        .source(InMemorySource::new(profiles()))
        .event_time(|p| p.ts, Watermarks::max_delay(Duration::ZERO))
        .key_by(|p| p.user)
        .reduce(|a: Timed<Profile>, b| if b.ts >= a.ts { b } else { a });
    let pipeline = counts
        .join(latest)
        .key_by(|e| e.either(|w| w.key, |p| p.user))
        .window(tumbling(second()))
        .aggregate(
            (None, None),
            |acc: &mut (Option<u64>, Option<u32>), e| match e {
                Either::Left(w) => acc.0 = Some(w.value),
                Either::Right(p) => acc.1 = acc.1.max(Some(p.tier)),
            },
        )
        .sink(out.clone());
    let driver = run(pipeline, &out);
    assert!(
        driver.late_records().is_empty(),
        "{:?}",
        driver.late_records()
    );
    // The plain computation: counts per (user, second), the highest tier
    // (the latest, as tiers grow) per (user, second).
    let mut expected: BTreeMap<(u32, Millis), (Option<u64>, Option<u32>)> = BTreeMap::new();
    for c in clicks() {
        let slot = expected
            .entry((c.user, c.ts.div_euclid(1_000) * 1_000))
            .or_default();
        slot.0 = Some(slot.0.unwrap_or(0) + 1);
    }
    for p in profiles() {
        let slot = expected
            .entry((p.user, p.ts.div_euclid(1_000) * 1_000))
            .or_default();
        slot.1 = slot.1.max(Some(p.tier));
    }
    let got: BTreeMap<(u32, Millis), (Option<u64>, Option<u32>)> = out
        .records()
        .into_iter()
        .map(|w: Windowed<u32, (Option<u64>, Option<u32>)>| ((w.key, w.start), w.value))
        .collect();
    assert_eq!(got.len(), out.records().len(), "each window once");
    assert_eq!(got, expected);
}

/// An interval join after stages: each user's latest profile (kept
/// `Timed` through `reduce`) and its counts per second, paired when the
/// count's window ends within 0..=1 s after the profile's time.
#[test]
fn an_interval_join_after_a_reduce_and_a_window_pairs_each_once() {
    let out = CollectSink::new();
    let latest = Pipeline::named("IntervalAfterStages")
        .source(InMemorySource::new(profiles()))
        .event_time(|p| p.ts, Watermarks::max_delay(Duration::ZERO))
        .key_by(|p| p.user)
        .reduce(|a: Timed<Profile>, b| if b.ts >= a.ts { b } else { a });
    let counts = Pipeline::named("Counts")
        .source(InMemorySource::new(clicks()))
        .event_time(|c| c.ts, Watermarks::max_delay(Duration::from_millis(400)))
        .key_by(|c| c.user)
        .window(tumbling(second()))
        .aggregate(0u64, |n, _| *n += 1);
    let pipeline = latest
        .join(counts)
        .key_by(|e| e.either(|p| p.user, |w| w.key))
        .interval_join(between(0, 1_000), |p, w| (p.user, p.tier, w.start, w.value))
        .sink(out.clone());
    run(pipeline, &out);
    let mut windows: BTreeMap<(u32, Millis), u64> = BTreeMap::new();
    for c in clicks() {
        *windows
            .entry((c.user, c.ts.div_euclid(1_000) * 1_000))
            .or_default() += 1;
    }
    let mut expected = Vec::new();
    for p in profiles() {
        for ((user, start), count) in &windows {
            let at = start + 999;
            if *user == p.user && (p.ts..=p.ts + 1_000).contains(&at) {
                expected.push((p.user, p.tier, *start, *count));
            }
        }
    }
    expected.sort();
    let mut got = out.records();
    got.sort();
    assert_eq!(got, expected);
}

/// A stream-table join whose table side has no `event_time`: its splits
/// hold the watermark back not at all, so the windows of the timed side
/// fire while the table side is still being read.
#[test]
fn an_input_without_event_time_does_not_hold_the_watermark_back() {
    let out = CollectSink::<(u32, Millis, u64, Option<u64>)>::new();
    let counts = Pipeline::named("StreamTable")
        .source(InMemorySource::new(clicks()))
        .event_time(|c| c.ts, Watermarks::max_delay(Duration::ZERO))
        .key_by(|c| c.user)
        .window(tumbling(second()))
        .aggregate(0u64, |n, _| *n += 1);
    let names = Pipeline::named("Table")
        .source(Sequence::new().take(10_000))
        .map(|n| (n % 5) as u32);
    let pipeline = counts
        .join(names)
        .key_by(|e| e.either(|w| w.key, |user| *user))
        .process(|e, ctx| match e {
            Either::Right(_) => {
                let mut seen = ctx.value::<u64>("seen");
                let n = seen.get().unwrap_or(0);
                seen.set(n + 1);
            }
            Either::Left(w) => {
                let seen: Option<u64> = ctx.value("seen").get();
                ctx.collect((w.key, w.start, w.value, seen));
            }
        })
        .sink(out.clone());
    let mut driver = TestDriver::new(pipeline);
    // The model reads the splits in turn: 800 records are 400 of each,
    // every click and a few of the table's 10,000.
    block_on(driver.read(800)).expect("the model runs");
    let fired = out.records().len();
    assert!(
        fired >= 5 * 18,
        "{fired} windows fired with the table side unread"
    );
    assert!(
        driver.watermark().is_some_and(|w| w > 15_000),
        "{:?}",
        driver.watermark()
    );
}

/// One key group of a pair: both sides' stages keep the same key apart,
/// each under its own prefix, and neither reads the other's.
#[test]
fn both_sides_keep_one_key_apart_in_one_group() {
    let sum = Pipeline::named("Pair")
        .source(InMemorySource::new(Vec::<(u32, u64)>::new()))
        .key_by(|r| r.0)
        .reduce(|(k, a), (_, b)| (k, a + b));
    let names = Pipeline::named("Names")
        .source(InMemorySource::new(Vec::<(u32, String)>::new()))
        .key_by(|r| r.0)
        .reduce(|_, latest| latest);
    let mut group = GroupSim::new(stages(sum.join(names), CollectSink::new()));
    let (out, _) = group.call(
        vec![
            Either::Left((1, 2)),
            Either::Right((1, "ada".to_owned())),
            Either::Left((1, 3)),
            Either::Right((1, "grace".to_owned())),
        ],
        None,
        0,
    );
    assert_eq!(
        out,
        [
            Either::Left((1, 2)),
            Either::Right((1, "ada".to_owned())),
            Either::Left((1, 5)),
            Either::Right((1, "grace".to_owned())),
        ],
        "each side in the order its records came"
    );
    let names: Vec<&String> = group.store.keys().collect();
    assert_eq!(names, ["l/k:1", "r/k:1"]);
}

/// A side's stateless stage after its window that fails on one window's
/// result dead-letters that result alone: the other keys' results of the
/// same firing go on to the join.
#[test]
fn a_side_stage_failing_on_one_result_dead_letters_it_alone() {
    let out = CollectSink::new();
    let counts = Pipeline::named("FailingSide")
        .source(InMemorySource::new(clicks()))
        .event_time(|c| c.ts, Watermarks::max_delay(Duration::from_millis(400)))
        .key_by(|c| c.user)
        .window(tumbling(second()))
        .aggregate(0u64, |n, _| *n += 1)
        .map(|w| {
            assert!(!(w.key == 3 && w.start == 2_000), "the result it fails on");
            w
        });
    let none = Pipeline::named("None").source(InMemorySource::new(Vec::<u32>::new()));
    let pipeline = counts
        .join(none)
        .key_by(|e| e.either(|w| w.key, |user| *user))
        .process(|e, ctx| {
            if let Either::Left(w) = e {
                ctx.collect((w.key, w.start));
            }
        })
        .sink(out.clone());
    let mut driver = TestDriver::new(pipeline);
    block_on(driver.run_to_end()).expect("the model runs");
    assert_eq!(
        driver.dead_letters().len(),
        1,
        "{:?}",
        driver.dead_letters()
    );
    let mut expected: Vec<(u32, Millis)> = clicks()
        .into_iter()
        .map(|c| (c.user, c.ts.div_euclid(1_000) * 1_000))
        .filter(|w| *w != (3, 2_000))
        .collect();
    expected.sort();
    expected.dedup();
    let mut got = out.records();
    got.sort();
    assert_eq!(got, expected);
}
