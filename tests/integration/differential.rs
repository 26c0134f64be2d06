//! Differential tests: random pipelines from the stage table, over random
//! input and layouts, each run on the real server and in the reference
//! model (`stream_runtime::driver`), whose outputs must be equal.
//!
//! The input's disorder stays within the allowed delay, so no record is
//! ever behind the watermark, whichever way the tokens batch it: the result
//! is then defined by the input alone, and the server must give the
//! model's. A failing seed prints itself; add it to [`FIXED`].
//!
//! `DIFF_SEEDS=200 cargo test --all-features --test integration
//! differential` runs 200 random seeds (the default runs the fixed ones
//! and 3 random).

use std::time::Duration;

use stream_runtime::driver::TestDriver;
use stream_runtime::keyed::between;
use stream_runtime::source::mix64;
use stream_runtime::time::Watermarks;
use stream_runtime::window::{session, sliding, tumbling};
use stream_runtime::{
    CollectSink, CompletePipeline, Endpoint, InMemorySource, Pipeline, ServiceNames,
};

use crate::harness::{harness, Served};
use crate::pipelines::{count_in_its_second, counted_second};

/// Seeds that are always run: each shape at least once, and the corners
/// (more splits than records, one token over four splits, batches of one).
const FIXED: [u64; 10] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

/// A record: key, event time, value.
type Rec = (u32, i64, u64);

/// The shapes, one keyed pipeline each (see [`build`]).
const SHAPES: u64 = 9;

/// One random pipeline, input and layout.
#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    shape: u64,
    splits: u32,
    tokens: u64,
    batch: u32,
    key_groups: u32,
    delay_ms: u64,
    /// Window size, slide, session gap or join bound, in ms.
    size: i64,
    slide: i64,
    /// Drop records whose value is a multiple of this before event time.
    filter: u64,
    input: Vec<Rec>,
    /// The second input, for union and join.
    other: Vec<Rec>,
}

/// A small random stream: `mix64` of a counter.
struct Draw(u64);

impl Draw {
    fn below(&mut self, n: u64) -> u64 {
        self.0 += 1;
        mix64(self.0) % n.max(1)
    }
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }
}

impl Case {
    fn new(seed: u64) -> Self {
        let mut draw = Draw(seed.wrapping_mul(0x9E37_79B9));
        let shape = seed % SHAPES;
        let delay_ms = [0, 50, 500][draw.below(3) as usize];
        let keys = draw.between(1, 20);
        let input = |draw: &mut Draw, n: u64| -> Vec<Rec> {
            // Each record at most `delay_ms` behind the largest time so far,
            // some exactly on a second's bound, keys skewed to the low ones.
            let mut max = 0i64;
            (0..n)
                .map(|i| {
                    let ahead = draw.below(120) as i64;
                    let behind = draw.below(delay_ms + 1) as i64;
                    let mut time = (max + ahead - behind).max(max - delay_ms as i64).max(0);
                    if draw.below(10) == 0 {
                        time = (max / 1_000 + 1) * 1_000;
                    }
                    max = max.max(time);
                    let key = draw.below(keys).min(draw.below(keys)) as u32;
                    (key, time, i * 7 + draw.below(5))
                })
                .collect()
        };
        let records = draw.between(0, 400);
        let first = input(&mut draw, records);
        let others = draw.between(0, 200);
        let other = input(&mut draw, others);
        Self {
            seed,
            shape,
            splits: draw.between(1, 4) as u32,
            tokens: draw.between(1, 6),
            batch: [1, 7, 50, 500][draw.below(4) as usize],
            key_groups: draw.between(1, 16) as u32,
            delay_ms,
            size: [100, 250, 1_000][draw.below(3) as usize],
            slide: [50, 100][draw.below(2) as usize],
            filter: [0, 3, 7][draw.below(3) as usize],
            input: first,
            other,
        }
    }

    /// A case whose input also has records beyond the allowed delay (about
    /// one in twelve, up to 3 s behind), for a shape whose results count
    /// each record once: a tumbling count, sessions, or a union's count.
    fn with_late(seed: u64) -> Self {
        let mut case = Self::new(seed);
        case.shape = [0, 2, 6][(seed % 3) as usize];
        let mut draw = Draw(seed ^ 0x5EED);
        let delay = case.delay_ms as i64;
        for input in [&mut case.input, &mut case.other] {
            let mut max = 0;
            for record in input.iter_mut() {
                if draw.below(12) == 0 {
                    let behind = delay + 1 + draw.below(3_000) as i64;
                    record.1 = (max - behind).max(0);
                }
                max = max.max(record.1);
            }
        }
        case
    }

    /// The records the pipeline counts: those kept by the filter, of both
    /// inputs for a union.
    fn counted(&self) -> Vec<Rec> {
        let other = if self.shape == 6 {
            &self.other[..]
        } else {
            &[]
        };
        (self.input.iter().chain(other))
            .filter(|r| self.kept(r))
            .copied()
            .collect()
    }

    fn watermarks(&self) -> Watermarks {
        Watermarks::max_delay(Duration::from_millis(self.delay_ms))
    }

    fn kept(&self, r: &Rec) -> bool {
        self.filter == 0 || !r.2.is_multiple_of(self.filter)
    }
}

fn json<T: serde::Serialize>(record: &T) -> String {
    serde_json::to_string(record).unwrap_or_else(|e| panic!("{e}"))
}

/// The case's pipeline, named `name`, writing each result as JSON to `out`.
fn build(case: &Case, name: &str, out: CollectSink<String>) -> CompletePipeline {
    let named = Pipeline::named(name)
        .batch_size(case.batch)
        .key_groups(case.key_groups);
    let source = InMemorySource::new(case.input.clone()).with_splits(case.splits);
    let other = InMemorySource::new(case.other.clone()).with_splits(case.splits.min(2));
    let (c, size, slide) = (case.clone(), case.size, case.slide);
    let keep = move |r: &Rec| c.kept(r);
    let stamped = |s| {
        named
            .clone()
            .source(s)
            .filter(keep.clone())
            .event_time(|r: &Rec| r.1, case.watermarks())
    };
    let ms = |n: i64| Duration::from_millis(n as u64);
    match case.shape {
        // A tumbling count per key.
        0 => stamped(source)
            .key_by(|r| r.0)
            .window(tumbling(ms(size)))
            .aggregate(0u64, |n, _| *n += 1)
            .map(|w| json(&w))
            .sink(out),
        // A sliding sum per key.
        1 => stamped(source)
            .key_by(|r| r.0)
            .window(sliding(ms(size.max(slide)), ms(slide)))
            .aggregate(0u64, |sum, r: Rec| *sum += r.2)
            .map(|w| json(&w))
            .sink(out),
        // Sessions per key, counted.
        2 => stamped(source)
            .key_by(|r| r.0)
            .window(session(ms(size)))
            .aggregate(0u64, |n, _| *n += 1)
            .map(|w| json(&w))
            .sink(out),
        // A running count per key, every update: the same updates whatever
        // the order of a key's records.
        3 => stamped(source)
            .map(|r| (r.0, 1u64))
            .key_by(|r| r.0)
            .reduce(|a, b| (a.0, a.1 + b.1))
            .map(|r| json(&r))
            .sink(out),
        // Event timers at each second's end, counting a key's records.
        4 => stamped(source)
            .key_by(|r| r.0)
            .process_with_timers(
                |r, ctx| count_in_its_second(r.1, ctx),
                |timer, ctx| {
                    let counted = counted_second(timer, ctx);
                    ctx.collect(counted)
                },
            )
            .map(|r| json(&r))
            .sink(out),
        // Two keyed stages: counts per key and window, then each window's
        // total over its keys.
        5 => stamped(source)
            .key_by(|r| r.0)
            .window(tumbling(ms(size)))
            .aggregate(0u64, |n, _| *n += 1)
            .key_by(|w| w.start)
            .window(tumbling(ms(size)))
            .aggregate(0u64, |total, w| *total += w.value)
            .map(|w| json(&w))
            .sink(out),
        // A union of two inputs, counted per key and window.
        6 => named
            .clone()
            .source(source)
            .union(other)
            .filter(keep.clone())
            .event_time(|r: &Rec| r.1, case.watermarks())
            .key_by(|r| r.0)
            .window(tumbling(ms(size)))
            .aggregate(0u64, |n, _| *n += 1)
            .map(|w| json(&w))
            .sink(out),
        // An interval join of two inputs on the key.
        7 => named
            .clone()
            .source(source)
            .connect(other)
            .event_time(|e| e.either(|l| l.1, |r| r.1), case.watermarks())
            .key_by(|e| e.either(|l| l.0, |r| r.0))
            .interval_join(between(-size, size / 2), |l, r| (l.0, l.1, l.2, r.1, r.2))
            .map(|r| json(&r))
            .sink(out),
        // Late data to a side output (none comes: nothing is late).
        _ => stamped(source)
            .key_by(|r| r.0 % 3)
            .window(tumbling(ms(size)))
            .aggregate(0u64, |n, _| *n += 1)
            .side_output_late_data()
            .map(|to| json(&to))
            .sink(out),
    }
}

/// The seeds to run: the fixed ones, then `DIFF_SEEDS` random ones (3 by
/// default), drawn from the clock.
fn seeds() -> Vec<u64> {
    let random: u64 = std::env::var("DIFF_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(11, |d| d.as_secs() * 1_000 % 1_000_000_007);
    FIXED
        .into_iter()
        .chain((0..random).map(|i| 1_000 + start + i))
        .collect()
}

/// The model's output for `case`, sorted.
async fn modelled(case: &Case) -> Vec<String> {
    let out = CollectSink::new();
    let mut driver = TestDriver::new(build(case, "Model", out.clone()));
    driver
        .run_to_end()
        .await
        .unwrap_or_else(|e| panic!("seed {}: the model: {e}", case.seed));
    assert!(
        driver.late_records().is_empty() && driver.dead_letters().is_empty(),
        "seed {}: the model found late records or dead letters: {driver:?}",
        case.seed
    );
    let mut got = out.records();
    got.sort();
    got
}

/// Each case's pipeline, named `{prefix}{process}S{seed}`, served on an
/// endpoint of the calling test's own: the services' names, each case's
/// sink, and the endpoint, served until dropped.
async fn serve(cases: &[Case], prefix: &str) -> (Vec<(ServiceNames, CollectSink<String>)>, Served) {
    let run = std::process::id();
    let mut endpoint = Endpoint::new();
    let mut served = Vec::new();
    for case in cases {
        let name = format!("{prefix}{run}S{}", case.seed);
        let sink = CollectSink::new();
        endpoint = endpoint.pipeline(build(case, &name, sink.clone()));
        served.push((ServiceNames::for_pipeline(&name), sink));
    }
    (served, harness().serve_here(endpoint).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_pipelines_give_the_models_results_on_a_server() {
    let h = harness();
    let cases: Vec<Case> = seeds().into_iter().map(Case::new).collect();
    let (served, _endpoint) = serve(&cases, "Diff").await;
    let mut shapes = [0u32; SHAPES as usize];
    for (case, (names, sink)) in cases.iter().zip(&served) {
        let expected = modelled(case).await;
        let status = h.finish(names, case.tokens).await;
        let mut got = crate::windows::until_results(sink, expected.len()).await;
        got.sort();
        let context = format!(
            "seed {} (shape {}, {} + {} records, {} splits, {} tokens, batch {}, {} key groups, \
             delay {} ms): {status:?}",
            case.seed,
            case.shape,
            case.input.len(),
            case.other.len(),
            case.splits,
            case.tokens,
            case.batch,
            case.key_groups,
            case.delay_ms
        );
        assert_eq!(status.late_records, 0, "{context}");
        assert_eq!(status.dead_letters, 0, "{context}");
        assert_eq!(got, expected, "{context}");
        shapes[case.shape as usize] += 1;
        eprintln!(
            "differential: seed {} equal ({} results)",
            case.seed,
            got.len()
        );
    }
    eprintln!(
        "differential: {} pipelines by shape {shapes:?}",
        cases.len()
    );
}

/// With records beyond the allowed delay, which are late depends on how the
/// tokens batched them; but every record is counted once, in a window's
/// count or in the late-data output, and a late record was behind the
/// watermark: at least the allowed delay behind a record before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_late_input_every_record_is_counted_once_in_a_result_or_as_late() {
    let h = harness();
    let cases: Vec<Case> = seeds().into_iter().map(Case::with_late).collect();
    let (served, _endpoint) = serve(&cases, "Late").await;
    for (case, (names, sink)) in cases.iter().zip(&served) {
        let status = h.finish(names, case.tokens).await;
        let counted: u64 = (sink.records().iter())
            .map(|w| {
                let w: serde_json::Value = serde_json::from_str(w).unwrap_or_default();
                w["value"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("a count: {w}"))
            })
            .sum();
        let late = h.control_entries(names, "late:").await;
        let records = case.counted();
        let context = format!("seed {} (shape {}): {status:?}", case.seed, case.shape);
        assert_eq!(late.len() as u64, status.late_records, "{context}");
        assert_eq!(
            counted + status.late_records,
            records.len() as u64,
            "{context}"
        );
        // Behind the watermark: more than the delay behind the largest time
        // of the records before it, on some split.
        let max = records.iter().map(|r| r.1).max().unwrap_or(0);
        for record in late {
            let time = record["time"].as_i64().unwrap_or(i64::MAX);
            assert!(time < max - case.delay_ms as i64, "{record} ({context})");
        }
        eprintln!(
            "differential: seed {} with late input: {counted} counted, {} late",
            case.seed, status.late_records
        );
    }
}
