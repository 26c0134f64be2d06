//! Joins whose inputs have stages of their own, against a real server: a
//! windowed count of clicks joined per window with each user's latest
//! profile (a `reduce`), against the reference model, each window once;
//! and a stream-table join whose table side has no `event_time`, which
//! must not hold the clicks' windows back while it goes on.

use std::collections::BTreeMap;
use std::time::Duration;

use stream_runtime::driver::TestDriver;
use stream_runtime::source::Either;
use stream_runtime::time::{Timed, Watermarks};
use stream_runtime::window::tumbling;
use stream_runtime::{CollectSink, CompletePipeline, Endpoint, Pipeline, Sequence, ServiceNames};

use crate::harness::harness;
use crate::windows::until_results;

const CLICKS: u64 = 4_000;
const PROFILES: u64 = 600;
const USERS: u64 = 9;

/// A window of the join: user, start, clicks counted, highest tier seen.
type Joined = (u64, i64, Option<u64>, Option<u64>);

/// Click `n`: its user, at about `n * 4` ms, a little out of order.
fn click_time(n: u64) -> i64 {
    (n * 4) as i64 + [0, 30, -30, 10][(n % 4) as usize]
}

/// The clicks counted per user and 1 s window, as the join's left input.
/// Their idle timeout is long: no window may fire for want of an idle
/// split (a macro: the stream's type names its closures).
macro_rules! click_counts {
    ($name:expr) => {
        Pipeline::named($name)
            .batch_size(100)
            .key_groups(4)
            .source(Sequence::new().take(CLICKS).with_splits(2))
            .event_time(
                |n| click_time(*n),
                Watermarks::max_delay(Duration::from_millis(50)).idle(Duration::from_secs(600)),
            )
            .key_by(|n| **n % USERS)
            .window(tumbling(Duration::from_secs(1)))
            .aggregate(0u64, |count, _| *count += 1)
    };
}

/// The clicks counted per user and 1 s window, joined per 1 s window with
/// the users' latest profiles (the latest tier per user, kept `Timed`).
fn counts_with_profiles(name: &str, out: CollectSink<Joined>) -> CompletePipeline {
    let counts = click_counts!(name);
    // One split, in time order: each update's latest is itself, whatever
    // the batches (with two splits, which of two updates is the latest
    // when the older arrives depends on the order they are read in).
    let profiles = Pipeline::named(name)
        .source(Sequence::new().take(PROFILES))
        .event_time(|n| (*n * 27) as i64, Watermarks::max_delay(Duration::ZERO))
        .key_by(|n| **n % USERS)
        .reduce(|a: Timed<u64>, b| if b.time >= a.time { b } else { a });
    counts
        .join(profiles)
        .key_by(|e| e.either(|w| w.key, |p| p.value % USERS))
        .window(tumbling(Duration::from_secs(1)))
        .aggregate(
            (None, None),
            |acc: &mut (Option<u64>, Option<u64>), e| match e {
                Either::Left(w) => acc.0 = Some(w.value),
                Either::Right(tier) => acc.1 = acc.1.max(Some(tier)),
            },
        )
        .map(|w| (w.key, w.start, w.value.0, w.value.1))
        .sink(out)
}

/// Each window's row by (user, start); a window written twice fails.
fn by_window(rows: Vec<Joined>) -> BTreeMap<(u64, i64), (Option<u64>, Option<u64>)> {
    let mut once = BTreeMap::new();
    for (user, start, count, tier) in rows {
        let twice = once.insert((user, start), (count, tier));
        assert!(twice.is_none(), "window ({user}, {start}) twice");
    }
    once
}

async fn finished(names: &ServiceNames) -> stream_runtime::Status {
    let h = harness();
    h.add_tokens(names, 3).await;
    let status = h
        .wait_for(names, Duration::from_secs(180), |_| {}, |s| s.finished)
        .await;
    assert_eq!(status.dead_letters, 0, "{status:?}");
    assert_eq!(status.late_records, 0, "{status:?}");
    assert_eq!(status.watermark, Some(i64::MAX), "{status:?}");
    assert_eq!(status.records_in, CLICKS + PROFILES, "{status:?}");
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_windowed_count_joined_with_a_reduced_stream_matches_the_model_each_window_once() {
    let name = "CountsWithProfiles";
    let out = CollectSink::new();
    let _served = harness()
        .serve_here(Endpoint::new().pipeline(counts_with_profiles(name, out.clone())))
        .await;
    let names = ServiceNames::for_pipeline(name);
    let status = finished(&names).await;

    let model = CollectSink::new();
    let mut driver = TestDriver::new(counts_with_profiles("Model", model.clone()));
    driver.run_to_end().await.expect("the model runs");
    let expected = by_window(model.records());
    let counted: u64 = expected.values().filter_map(|v| v.0).sum();
    assert_eq!(counted, CLICKS, "the model counts every click");
    assert!(
        expected.values().any(|v| v.0.is_some() && v.1.is_some()),
        "windows meet"
    );

    let got = by_window(until_results(&out, expected.len()).await);
    assert_eq!(got, expected);
    assert_eq!(status.records_out, expected.len() as u64, "{status:?}");
    harness().assert_nothing_stuck(&names).await;
}

/// Clicks counted per user and second, and an endless table of user names
/// read without `event_time`: the join keeps each user's name and gives
/// each window's count with it. Only the table's splits holding no
/// watermark back lets the windows fire (the clicks' idle timeout is
/// long).
fn counts_with_names(
    name: &str,
    out: CollectSink<(u64, i64, u64, Option<String>)>,
) -> CompletePipeline {
    let counts = click_counts!(name);
    let names = Pipeline::named(name)
        .source(Sequence::new())
        .map(|n| (n % USERS, format!("user{}", n % USERS)));
    counts
        .join(names)
        .key_by(|e| e.either(|w| w.key, |(user, _)| *user))
        .process(|e, ctx| match e {
            Either::Right((_, name)) => ctx.value("name").set(name),
            Either::Left(w) => {
                let name: Option<String> = ctx.value("name").get();
                ctx.collect((w.key, w.start, w.value, name));
            }
        })
        .sink(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_side_without_event_time_holds_no_window_back() {
    let name = "CountsWithNames";
    let out = CollectSink::new();
    let _served = harness()
        .serve_here(Endpoint::new().pipeline(counts_with_names(name, out.clone())))
        .await;
    let names = ServiceNames::for_pipeline(name);
    let h = harness();
    h.add_tokens(&names, 3).await;
    let mut expected = BTreeMap::<(u64, i64), u64>::new();
    for n in 0..CLICKS {
        let start = click_time(n).div_euclid(1_000) * 1_000;
        *expected.entry((n % USERS, start)).or_default() += 1;
    }
    // Every window fires while the table is still being read.
    let rows = until_results(&out, expected.len()).await;
    let answer = h.ingress().stop(&names).await.expect("stop");
    assert!(answer.stopped, "{answer:?}");
    let status = h
        .wait_for(&names, Duration::from_secs(60), |_| {}, |s| s.finished)
        .await;
    assert!(status.records_in > CLICKS, "the table was read: {status:?}");
    assert_eq!(status.dead_letters, 0, "{status:?}");
    assert_eq!(status.late_records, 0, "{status:?}");
    let mut got = BTreeMap::new();
    for (user, start, count, name) in rows {
        assert!(
            got.insert((user, start), count).is_none(),
            "({user}, {start}) twice"
        );
        if let Some(name) = name {
            assert_eq!(name, format!("user{user}"), "another user's name");
        }
    }
    assert_eq!(got, expected);
    harness().assert_nothing_stuck(&names).await;
}
