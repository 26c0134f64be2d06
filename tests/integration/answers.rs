//! Small pipelines written from the guide, each with the answer Flink (and
//! the guide) gives, on a clean server and without a kill: the cases of
//! issue 28. Each failed before its fix, with no error: an inner side
//! output lost its records, event timers never fired without a window, a
//! failure while firing wedged its group, splits beyond the tokens were
//! never read, a split whose records were all filtered held the watermark
//! for good, a large chained output stalled, a second stage judged
//! lateness by its own last wake-up, and a finished bounded input held the
//! watermark back.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use stream_runtime::sink::{SideOutput, To};
use stream_runtime::window::Windowed;
use stream_runtime::{pipeline, CollectSink, FailedStage, InMemorySource, Sequence, ServiceNames};

use stream_support::random_pipelines::{count_in_its_second, counted_second};

use crate::harness::harness;
use crate::windows::{once, until_results};

/// Runs an endless pipeline with `tokens` until `done` holds of `sink`'s
/// records (2 minutes at most), then stops it; answers the records.
async fn run_until<T: Clone + Send + 'static>(
    names: &ServiceNames,
    tokens: u64,
    sink: &CollectSink<T>,
    done: impl Fn(&[T]) -> bool,
) -> Vec<T> {
    let h = harness();
    h.add_tokens(names, tokens).await;
    let limit = Duration::from_secs(120);
    h.wait_for(names, limit, |_| {}, |_| done(&sink.records()))
        .await;
    let stopped = h.ingress().stop(names).await;
    stopped.unwrap_or_else(|e| panic!("stop {}: {e}", names.pipeline));
    sink.records()
}

/// `(key, time)` records.
fn keyed(records: &[(&str, i64)]) -> Vec<(String, i64)> {
    records
        .iter()
        .map(|(key, time)| (key.to_string(), *time))
        .collect()
}

// --- Case 1: three outputs by nesting `To`, each record in its own sink.

type Three = To<u64, To<u64, u64>>;

pub static FIRST: LazyLock<CollectSink<u64>> = LazyLock::new(CollectSink::new);
pub static SECOND: LazyLock<CollectSink<u64>> = LazyLock::new(CollectSink::new);
pub static THIRD: LazyLock<CollectSink<u64>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub ThreeOutputs(batch_size = 7):
    source(Sequence::new().take(30))
    |> map(|n| -> Three {
        match n % 3 {
            0 => To::Main(n),
            1 => To::Side(To::Main(n)),
            _ => To::Side(To::Side(n)),
        }
    })
    |> sink(SideOutput::split(FIRST.clone(), SideOutput::split(SECOND.clone(), THIRD.clone())))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_side_outputs_write_each_record_to_its_own_sink() {
    let names = ThreeOutputs::service_names();
    let status = harness().finish(&names, 2).await;
    assert_eq!(status.records_out, 30, "{status:?}");
    for (sink, rest) in [(&*FIRST, 0), (&*SECOND, 1), (&*THIRD, 2)] {
        let mut got = sink.records();
        got.sort_unstable();
        let expected: Vec<u64> = (0..30).filter(|n| n % 3 == rest).collect();
        assert_eq!(got, expected, "the sink of n % 3 == {rest}");
    }
}

// --- Case 2: event timers of a `process`, with no window anywhere.

/// `(key, second, records of the key in that second)`, once per second.
pub static SECONDS: LazyLock<CollectSink<(u64, i64, u64)>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub TimersWithoutWindow(batch_size = 500, key_groups = 4):
    source(Sequence::new())
    |> event_time(|n| *n as i64 * 10, max_delay = 1s)
    |> key_by(|n| **n % 4)
    |> process(
        |n, ctx| count_in_its_second(*n as i64 * 10, ctx),
        on_timer = |timer, ctx| {
            let counted = counted_second(timer, ctx);
            ctx.collect(counted)
        }
    )
    |> sink(SECONDS.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_timers_of_a_process_fire_as_event_time_passes() {
    let names = TimersWithoutWindow::service_names();
    let fired = run_until(&names, 2, &SECONDS, |fired| fired.len() >= 40).await;
    let status = harness().status(&names).await;
    assert!(status.watermark.is_some(), "{status:?}");
    // 100 numbers a second, 25 of each key: every second fired once, whole.
    let mut seen = BTreeMap::new();
    for (key, second, count) in fired {
        assert_eq!(count, 25, "key {key}, second {second}");
        assert!(
            seen.insert((key, second), ()).is_none(),
            "({key}, {second}) twice"
        );
    }
}

// --- Case 3: a function after a window that fails on one result.

pub static FIRED: LazyLock<CollectSink<Windowed<String, u64>>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub FailsWhileFiring(batch_size = 1, key_groups = 1):
    source(InMemorySource::new(keyed(&[
        ("a", 100), ("a", 1_100), ("b", 1_200), ("a", 2_500), ("b", 3_500), ("a", 5_500),
    ])))
    |> event_time(|r| r.1)
    |> key_by(|r| r.0.clone())
    |> window(tumbling(1s))
    |> aggregate(0u64, |count, _r| *count += 1)
    |> map(|w: Windowed<String, u64>| {
        assert!(!(w.key == "a" && w.start == 1_000), "no a in [1000, 2000)");
        w
    })
    |> sink(FIRED.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_while_firing_dead_letters_that_result_once_and_the_rest_are_written() {
    let h = harness();
    let names = FailsWhileFiring::service_names();
    let status = h.finish(&names, 1).await;
    let got = until_results(&FIRED, 5).await;
    let expected: BTreeMap<(String, i64, i64), u64> = [
        ("a", 0),
        ("b", 1_000),
        ("a", 2_000),
        ("b", 3_000),
        ("a", 5_000),
    ]
    .into_iter()
    .map(|(key, start)| ((key.to_string(), start, start + 1_000), 1))
    .collect();
    assert_eq!(once(&got), expected);
    assert_eq!(status.dead_letters, 1, "{status:?}");
    let letters = h.dead_letters(&names).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert!(
        matches!(letters[0].stage, FailedStage::Timers { stage: 1, group: 0 }),
        "{letters:?}"
    );
    assert!(
        letters[0].error.contains("no a in [1000, 2000)"),
        "{letters:?}"
    );
    assert!(letters[0].error.contains("w:1000:2000"), "{letters:?}");
    h.assert_nothing_stuck(&names).await;
}

// --- Case 4: fewer tokens than splits.

pub const BOUNDED_EXTRA: u64 = 1_000_000_000_000;
pub static BESIDE_ENDLESS: LazyLock<CollectSink<u64>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub BesideEndless(batch_size = 50):
    source(Sequence::new())
    |> union(InMemorySource::new((0..100).map(|n| BOUNDED_EXTRA + n).collect::<Vec<u64>>()))
    |> filter(|n| *n >= BOUNDED_EXTRA || n % 1_000 == 0)
    |> sink(BESIDE_ENDLESS.clone())
}

pub static THREE_SPLITS: LazyLock<CollectSink<u64>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub ThreeSplitsOneToken(batch_size = 10):
    source(Sequence::new().with_splits(3))
    |> sink(THREE_SPLITS.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_reads_every_split_while_another_has_data() {
    let names = BesideEndless::service_names();
    let extra = |records: &[u64]| records.iter().filter(|n| **n >= BOUNDED_EXTRA).count();
    let got = run_until(&names, 1, &BESIDE_ENDLESS, |r| extra(r) >= 100).await;
    assert_eq!(extra(&got), 100, "each of the bounded input's records once");

    let names = ThreeSplitsOneToken::service_names();
    let got = run_until(&names, 1, &THREE_SPLITS, |r| r.len() >= 300).await;
    let mut per_split = [0u64; 3];
    for n in got {
        per_split[(n % 3) as usize] += 1;
    }
    assert!(
        per_split.iter().all(|n| *n >= 90),
        "by split: {per_split:?}"
    );
}

// --- Case 5: a split whose every record is filtered out before `event_time`.

pub static EVENS: LazyLock<CollectSink<Windowed<u64, u64>>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub EvensOnly(batch_size = 100, key_groups = 2):
    source(Sequence::new().with_splits(2))
    |> filter(|n| n % 2 == 0)
    |> event_time(|n| *n as i64, max_delay = 10ms, idle = 1s)
    |> key_by(|n| **n % 4)
    |> window(tumbling(100ms))
    |> aggregate(0u64, |count, _n| *count += 1)
    |> sink(EVENS.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_with_no_event_goes_idle_and_windows_fire() {
    let names = EvensOnly::service_names();
    let got = run_until(&names, 2, &EVENS, |w| w.len() >= 20).await;
    // The evens of each 100 ms: 25 for key 0 and 25 for key 2.
    for (key, start, end) in once(&got).keys() {
        assert_eq!(end - start, 100);
        assert!(*key == 0 || *key == 2, "key {key}");
    }
    assert!(once(&got).values().all(|count| *count == 25), "{got:?}");
}

// --- Case 6: a chained output much larger than a call.

pub const LARGE_RECORDS: u64 = 2_500;
pub const LARGE_BYTES: usize = 40_000;
pub static LARGE_COUNTS: LazyLock<CollectSink<u64>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub LargeChained(key_groups = 1):
    source(Sequence::new().take(LARGE_RECORDS))
    |> key_by(|n| *n % 7)
    |> process(|n, ctx| ctx.collect(format!("{n}:{}", "x".repeat(LARGE_BYTES))))
    |> key_by(|_s: &String| 0u8)
    |> process(|_s, ctx| {
        let mut seen = ctx.value::<u64>("seen");
        let n = seen.get().unwrap_or(0) + 1;
        seen.set(n);
        ctx.collect(n);
    })
    |> sink(LARGE_COUNTS.clone())
}

/// 2,500 records of 40 KB, 100 MB, leave one group's call for the next
/// stage's: restate-server refuses a message over 32 MiB, so they must go
/// in calls under `max_call_bytes`, each record once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chained_output_larger_than_a_message_reaches_the_next_stage_once() {
    let names = LargeChained::service_names();
    let status = harness().finish(&names, 1).await;
    assert_eq!(status.dead_letters, 0, "{status:?}");
    let mut counts = LARGE_COUNTS.records();
    counts.sort_unstable();
    assert_eq!(counts, (1..=LARGE_RECORDS).collect::<Vec<_>>());
}

// --- Case 7: a late firing of a first stage reaching the second behind
// its watermark.

pub static SUMMED: LazyLock<CollectSink<Windowed<String, u64>>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub LateIntoSecondStage(batch_size = 1, key_groups = 2):
    source(InMemorySource::new(keyed(&[("a", 1_000), ("a", 25_000), ("b", 5_000), ("a", 40_000)])))
    |> event_time(|r| r.1)
    |> key_by(|r| r.0.clone())
    |> window(tumbling(10s), lateness = 20s)
    |> aggregate(0u64, |count, _r| *count += 1)
    |> key_by(|w: &Windowed<String, u64>| w.key.clone())
    |> window(tumbling(10s))
    |> aggregate(0u64, |sum, w| *sum += w.value)
    |> sink(SUMMED.clone())
}

/// Stage 1 fires `b [0, 10s)` late, inside its lateness, at watermark
/// 24,999: stage 2 has that watermark too, so the result is late there
/// (Flink forwards the watermark to every subtask of the next stage),
/// whichever group its key is in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_stage_judges_lateness_by_the_pipelines_watermark() {
    let names = LateIntoSecondStage::service_names();
    let status = harness().finish(&names, 1).await;
    let got = until_results(&SUMMED, 3).await;
    let expected: BTreeMap<(String, i64, i64), u64> = [0, 20_000, 40_000]
        .into_iter()
        .map(|start| (("a".to_string(), start, start + 10_000), 1))
        .collect();
    assert_eq!(once(&got), expected);
    assert_eq!(
        status.late_records, 1,
        "b's late result, at stage 2: {status:?}"
    );
}

// --- Case 8: a bounded input beside an endless one.

pub static BESIDE_BOUNDED: LazyLock<CollectSink<Windowed<u64, u64>>> =
    LazyLock::new(CollectSink::new);

pipeline! {
    pub EndlessAndBounded(batch_size = 100, key_groups = 2):
    source(Sequence::new())
    |> union(InMemorySource::new(vec![1u64, 2, 3]))
    |> event_time(|n| *n as i64 * 10, max_delay = 1s)
    |> key_by(|n| **n % 2)
    |> window(tumbling(1s))
    |> aggregate(0u64, |count, _n| *count += 1)
    |> sink(BESIDE_BOUNDED.clone())
}

/// The bounded input ends at once: it holds the watermark back no more
/// (Flink's final watermark), so the endless input's windows fire long
/// before the 60 s idle timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_bounded_input_holds_nothing_back() {
    let names = EndlessAndBounded::service_names();
    let started = std::time::Instant::now();
    let got = run_until(&names, 2, &BESIDE_BOUNDED, |w| w.len() >= 10).await;
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "{:?}",
        started.elapsed()
    );
    let windows = once(&got);
    // [0, 1s) has the bounded input's 1, 2, 3 too; later seconds 50 a key.
    assert_eq!(windows.get(&(0, 0, 1_000)), Some(&51), "{windows:?}");
    assert_eq!(windows.get(&(1, 0, 1_000)), Some(&52), "{windows:?}");
    for ((_, start, _), count) in &windows {
        if *start > 0 {
            assert_eq!(*count, 50, "{windows:?}");
        }
    }
}

// --- Case 4 on Kafka: a topic of 6 partitions read by 2 tokens.

pub static PARTITIONS_READ: LazyLock<CollectSink<(u32, u64)>> = LazyLock::new(CollectSink::new);

/// Partitions 0 and 1 hold a backlog of 20,000 records each, partitions 2
/// to 5 hold 100 each. Two tokens, 50 records a lease: the small
/// partitions are read while the large ones still have most of their
/// backlog, rather than after them (every partition has a reader, as in a
/// Kafka consumer group), and every record once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tokens_read_all_six_partitions_of_a_topic_while_two_have_a_backlog() {
    use stream_runtime::kafka::KafkaSource;
    use stream_runtime::{Endpoint, Pipeline};
    use stream_support::kafka::{create_topic, produce};

    let kafka = crate::harness::kafka();
    let bootstrap = kafka.bootstrap.as_str();
    let topic = "six-partitions";
    create_topic(bootstrap, topic, 6)
        .await
        .unwrap_or_else(|e| panic!("topic: {e}"));
    let backlog = 20_000u64;
    let small = 100u64;
    for partition in 0..6 {
        let n = if partition < 2 { backlog } else { small };
        for chunk in (0..n).collect::<Vec<_>>().chunks(5_000) {
            let values = chunk.iter().map(|i| i.to_string().into_bytes()).collect();
            produce(bootstrap, topic, partition, values)
                .await
                .unwrap_or_else(|e| panic!("produce: {e}"));
        }
    }
    let source = KafkaSource::connect(bootstrap, topic)
        .await
        .unwrap_or_else(|e| panic!("source: {e}"));
    let pipeline = Pipeline::named("SixPartitions")
        .batch_size(50)
        .source(source)
        .map(|r| (r.partition, r.offset))
        .sink(PARTITIONS_READ.clone());
    kafka.serve(Endpoint::new().pipeline(pipeline)).await;

    let h = harness();
    let names = ServiceNames::for_pipeline("SixPartitions");
    h.add_tokens(&names, 2).await;
    let small_read = |read: &[(u32, u64)]| read.iter().filter(|(p, _)| *p >= 2).count() as u64;
    let read = h
        .wait_for(
            &names,
            Duration::from_secs(120),
            |_| {},
            |_| small_read(&PARTITIONS_READ.records()) == 4 * small,
        )
        .await;
    assert!(
        read.records_in < 2 * backlog,
        "the small partitions waited for the backlog: {read:?}"
    );
    let total = 2 * backlog + 4 * small;
    let limit = Duration::from_secs(180);
    h.wait_for(&names, limit, |_| {}, |s| s.records_out >= total)
        .await;
    let status = (h.ingress().stop(&names).await).unwrap_or_else(|e| panic!("stop: {e}"));
    assert_eq!(status.records_in, total, "{status:?}");
    let mut read = PARTITIONS_READ.records();
    assert_eq!(read.len() as u64, total);
    read.sort_unstable();
    read.dedup();
    assert_eq!(read.len() as u64, total, "each record once");
}
