//! Every pipeline the tests run, bound to the harness's one endpoint. Each
//! test has its own pipeline (and so its own services and state).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use stream_runtime::sink::{SideOutput, To};
use stream_runtime::window::Windowed;
use stream_runtime::{
    pipeline, CollectSink, Endpoint, FileSink, InMemorySource, IntoPipeline, Pipeline, Sequence,
};
use stream_support::random_pipelines::{count_in_its_second, counted_second};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordCount {
    pub word: String,
    pub count: u64,
}

/// A running count per key (`n % keys`) over `0..records`, each record
/// slowed by `pause` so that a test can act while it runs, into `out`;
/// `named` carries the pipeline's name and settings.
pub fn slow_counts(
    named: Pipeline,
    records: u64,
    keys: u64,
    pause: std::time::Duration,
    out: CollectSink<(u64, u64)>,
) -> impl IntoPipeline {
    named
        .source(Sequence::new().take(records))
        .map(move |n| {
            std::thread::sleep(pause);
            (n % keys, 1u64)
        })
        .key_by(|(key, _)| *key)
        .reduce(|(key, a), (_, b)| (key, a + b))
        .sink(out)
}

/// `n` words over a skewed vocabulary of `vocabulary` words, the same every
/// time: word `w{k}` appears roughly in proportion to 1/(k+1).
pub fn skewed_words(prefix: &str, n: usize, vocabulary: u64) -> Vec<String> {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
            let rank = ((vocabulary as f64 + 1.0).powf(unit) - 1.0) as u64;
            format!("{prefix}{}", rank.min(vocabulary - 1))
        })
        .collect()
}

pub fn counts(words: &[String]) -> std::collections::BTreeMap<String, u64> {
    let mut counts = std::collections::BTreeMap::new();
    for word in words {
        *counts.entry(word.clone()).or_insert(0) += 1;
    }
    counts
}

// --- word_count.rs: the seed's word count, bounded, to a file.

pub const BOUNDED_WORDS: usize = 3_000;
pub static BOUNDED_INPUT: LazyLock<Vec<String>> =
    LazyLock::new(|| skewed_words("w", BOUNDED_WORDS, 25));
pub static BOUNDED_OUTPUT: LazyLock<std::path::PathBuf> = LazyLock::new(|| {
    std::env::temp_dir().join(format!(
        "stream-runtime-tests-{}-words.jsonl",
        std::process::id()
    ))
});

pipeline! {
    pub BoundedWords(batch_size = 64, key_groups = 8):
    source(InMemorySource::new(BOUNDED_INPUT.iter().cloned()).with_splits(3))
    |> map(|word| WordCount { word, count: 1 })
    |> key_by(|wc| wc.word.clone())
    |> reduce(|a, b| WordCount { count: a.count + b.count, ..a })
    |> sink(FileSink::new(&*BOUNDED_OUTPUT))
}

// --- tokens.rs: operators that drop or multiply records.

pub static FILTERED: LazyLock<CollectSink<(u64, u64)>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub FilterMost(batch_size = 20):
    source(Sequence::new().take(12_000).with_splits(2))
    |> filter(|n| n % 100 == 0)
    |> map(|n| (n % 5, n))
    |> key_by(|(key, _)| *key)
    |> reduce(|(key, a), (_, b)| (key, a + b))
    |> sink(FILTERED.clone())
}

pub static NOTHING: LazyLock<CollectSink<u64>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub FilterAll(batch_size = 10):
    source(Sequence::new().take(500))
    |> filter(|_| false)
    |> sink(NOTHING.clone())
}

pub const FAN_OUT: u64 = 4;
pub static FANNED: LazyLock<CollectSink<(u64, u64)>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub FlatMapMany(batch_size = 20):
    source(Sequence::new().take(6_000))
    |> flat_map(|n| (0..FAN_OUT).map(move |copy| (n, copy)))
    |> sink(FANNED.clone())
}

// --- two_pipelines.rs: two pipelines, one endpoint, overlapping keys.

pub static LEFT_INPUT: LazyLock<Vec<String>> = LazyLock::new(|| skewed_words("shared", 800, 6));
pub static RIGHT_INPUT: LazyLock<Vec<String>> = LazyLock::new(|| skewed_words("shared", 1_300, 9));
pub static LEFT_OUT: LazyLock<CollectSink<WordCount>> = LazyLock::new(CollectSink::new);
pub static RIGHT_OUT: LazyLock<CollectSink<WordCount>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub LeftWords(batch_size = 50):
    source(InMemorySource::new(LEFT_INPUT.iter().cloned()))
    |> map(|word| WordCount { word, count: 1 })
    |> key_by(|wc| wc.word.clone())
    |> reduce(|a, b| WordCount { count: a.count + b.count, ..a })
    |> sink(LEFT_OUT.clone())
}

pipeline! {
    pub RightWords(batch_size = 50):
    source(InMemorySource::new(RIGHT_INPUT.iter().cloned()))
    |> map(|word| WordCount { word, count: 1 })
    |> key_by(|wc| wc.word.clone())
    |> reduce(|a, b| WordCount { count: a.count + b.count, ..a })
    |> sink(RIGHT_OUT.clone())
}

// --- process.rs: a keyed process function with value and reducing state.

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub key: u64,
    pub seen: u64,
    pub sum: u64,
}

pub const PROCESS_RECORDS: u64 = 2_000;
pub static TALLIES: LazyLock<CollectSink<Tally>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub KeyedTally(batch_size = 40, key_groups = 4):
    source(Sequence::new().take(PROCESS_RECORDS))
    |> key_by(|n| n % 7)
    |> process(|n, ctx| {
        let mut seen = ctx.value::<u64>("seen");
        let seen_now = seen.get().unwrap_or(0) + 1;
        seen.set(seen_now);
        let mut sum = ctx.reducing("sum", |a: u64, b: u64| a + b);
        sum.add(n);
        let sum_now = sum.get().unwrap_or(0);
        let key = *ctx.key();
        // Every 10th record of a key goes out, as a timer-less window would.
        if seen_now % 10 == 0 {
            ctx.collect(Tally { key, seen: seen_now, sum: sum_now });
        }
    })
    |> filter(|tally| tally.key != 6)
    |> sink(TALLIES.clone())
}

// --- failures.rs: user functions that panic.

pub const FAILING_RECORDS: u64 = 1_000;
/// Records whose user functions always panic: one before `key_by`, one in `process`.
pub const POISON_BEFORE_KEY: u64 = 13;
pub const POISON_KEYED: u64 = 500;
/// Records whose user functions panic on the first attempt only.
pub const FLAKY_BEFORE_KEY: u64 = 77;
pub const FLAKY_KEYED: u64 = 250;
pub static FLAKY_BEFORE_KEY_FAILED: AtomicBool = AtomicBool::new(false);
pub static FLAKY_KEYED_FAILED: AtomicBool = AtomicBool::new(false);
pub static SURVIVORS: LazyLock<CollectSink<(u64, u64)>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub Failing(batch_size = 50, max_attempts = 3):
    source(Sequence::new().take(FAILING_RECORDS))
    |> map(|n| {
        assert_ne!(n, POISON_BEFORE_KEY, "poisoned record {n}");
        if n == FLAKY_BEFORE_KEY && !FLAKY_BEFORE_KEY_FAILED.swap(true, Ordering::SeqCst) {
            panic!("flaky record {n}");
        }
        n
    })
    |> key_by(|n| n % 4)
    |> process(|n, ctx| {
        assert_ne!(n, POISON_KEYED, "poisoned record {n}");
        if n == FLAKY_KEYED && !FLAKY_KEYED_FAILED.swap(true, Ordering::SeqCst) {
            panic!("flaky record {n}");
        }
        let mut count = ctx.value::<u64>("count");
        let now = count.get().unwrap_or(0) + 1;
        count.set(now);
        ctx.collect((n, now));
    })
    |> sink(SURVIVORS.clone())
}

// --- bad_input.rs: a pipeline that is only ever sent bad requests.

pub const UNTOUCHED_RECORDS: u64 = 300;
pub static UNTOUCHED_OUT: LazyLock<CollectSink<u64>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub Untouched(batch_size = 16):
    source(Sequence::new().take(UNTOUCHED_RECORDS))
    |> map(|n| n * 2)
    |> sink(UNTOUCHED_OUT.clone())
}

// --- parameters.rs: values given at run time, seen by a closure and the sink.

pub const SCALED_RECORDS: u64 = 400;
/// The sink the harness gave the pipeline, for the test to read.
pub static SCALED_OUT: std::sync::OnceLock<CollectSink<u64>> = std::sync::OnceLock::new();

pipeline! {
    pub Scaled(factor: u64, offset: u64, out: CollectSink<u64>, batch_size = 50):
    source(Sequence::new().take(SCALED_RECORDS))
    |> filter(|n| n % factor != 0)
    |> map(|n| n * factor + offset)
    |> sink(out)
}

// --- windows.rs: event-time windows over out-of-order input.

/// A reading of `key` at `ts` (milliseconds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reading {
    pub key: u32,
    pub ts: i64,
}

pub const WINDOW_RECORDS: u64 = 4_000;
/// The most a reading is out of order (each is up to this early or late).
pub const JITTER_MS: i64 = 400;

/// Reading `i`: one of 7 keys, at about `i * 10` ms, jittered by up to
/// `JITTER_MS` either way, the same every time. Keys 5 and 6 are sparse
/// (every 97th and 101st reading), so sessions form and close.
pub fn reading(i: u64) -> Reading {
    let mix = stream_runtime::source::mix64(i);
    let key = match i {
        i if i % 97 == 0 => 5,
        i if i % 101 == 0 => 6,
        _ => (mix % 5) as u32,
    };
    let jitter = (mix >> 8) as i64 % (JITTER_MS + 1) * if mix & 1 == 0 { 1 } else { -1 };
    Reading {
        key,
        ts: i as i64 * 10 + jitter,
    }
}

pub static WINDOW_INPUT: LazyLock<Vec<Reading>> =
    LazyLock::new(|| (0..WINDOW_RECORDS).map(reading).collect());

pub static TUMBLED: LazyLock<CollectSink<Windowed<u32, u64>>> = LazyLock::new(CollectSink::new);
pub static SLID: LazyLock<CollectSink<Windowed<u32, u64>>> = LazyLock::new(CollectSink::new);
pub static SESSIONS: LazyLock<CollectSink<Windowed<u32, (u64, i64)>>> =
    LazyLock::new(CollectSink::new);

pipeline! {
    pub Tumbled(batch_size = 100, key_groups = 4):
    source(InMemorySource::new(WINDOW_INPUT.iter().cloned()).with_splits(3))
    |> event_time(|r| r.ts, max_delay = 1s)
    |> key_by(|r| r.key)
    |> window(tumbling(2s))
    |> aggregate(0u64, |count, _r| *count += 1)
    |> sink(TUMBLED.clone())
}

pipeline! {
    pub Slid(batch_size = 100, key_groups = 4):
    source(InMemorySource::new(WINDOW_INPUT.iter().cloned()).with_splits(3))
    |> event_time(|r| r.ts, max_delay = 1s)
    |> key_by(|r| r.key)
    |> window(sliding(3s, 1s))
    |> aggregate(0u64, |count, _r| *count += 1)
    |> sink(SLID.clone())
}

pipeline! {
    pub Sessions(batch_size = 100, key_groups = 4):
    source(InMemorySource::new(WINDOW_INPUT.iter().cloned()).with_splits(3))
    |> event_time(|r| r.ts, max_delay = 1s)
    |> key_by(|r| r.key)
    |> window(session(700ms))
    |> aggregate((0u64, i64::MIN), |(count, last), r| {
        *count += 1;
        *last = (*last).max(r.ts);
    })
    |> sink(SESSIONS.clone())
}

// A late record, one inside the allowed lateness, and the results they
// update: one split, one token, one record per round, so the watermark
// each record meets is known.
pub static LATE_INPUT: [Reading; 6] = [
    Reading { key: 1, ts: 1_000 },
    Reading { key: 1, ts: 25_000 }, // the watermark becomes 24_999
    Reading { key: 1, ts: 5_000 },  // [0, 10s) fired; inside the 20 s lateness
    Reading { key: 1, ts: 40_000 }, // the watermark becomes 39_999
    Reading { key: 1, ts: 2_000 },  // [0, 10s) is gone: late
    Reading { key: 2, ts: 39_000 },
];
pub static LATE_OUT: LazyLock<CollectSink<Windowed<u32, u64>>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub Lateness(batch_size = 1, key_groups = 2):
    source(InMemorySource::new(LATE_INPUT.iter().cloned()))
    |> event_time(|r| r.ts)
    |> key_by(|r| r.key)
    |> window(tumbling(10s), lateness = 20s)
    |> aggregate(0u64, |count, _r| *count += 1)
    |> sink(LATE_OUT.clone())
}

/// The same, with the late record in the pipeline's output: a side sink.
pub static LATE_MAIN: LazyLock<CollectSink<Windowed<u32, u64>>> = LazyLock::new(CollectSink::new);
pub static LATE_SIDE: LazyLock<CollectSink<stream_runtime::time::Timed<Reading>>> =
    LazyLock::new(CollectSink::new);

pipeline! {
    pub LateToSide(batch_size = 1, key_groups = 2):
    source(InMemorySource::new(LATE_INPUT.iter().cloned()))
    |> event_time(|r| r.ts)
    |> key_by(|r| r.key)
    |> window(tumbling(10s), lateness = 20s, late = side)
    |> aggregate(0u64, |count, _r| *count += 1)
    |> sink(SideOutput::split(LATE_MAIN.clone(), LATE_SIDE.clone()))
}

// --- timers.rs: timers, list and map state, and time-to-live in `process`.

/// Per key, how many readings fell in each second, counted by a process
/// function with map state and one event-time timer per second.
pub static PER_SECOND: LazyLock<CollectSink<(u32, i64, u64)>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub PerSecondTimers(batch_size = 100, key_groups = 4):
    source(InMemorySource::new(WINDOW_INPUT.iter().cloned()).with_splits(3))
    |> event_time(|r| r.ts, max_delay = 1s)
    |> key_by(|r| r.key)
    |> process(
        |r, ctx| count_in_its_second(r.ts, ctx),
        on_timer = |timer, ctx| {
            let counted = counted_second(timer, ctx);
            ctx.collect(counted)
        }
    )
    |> sink(PER_SECOND.clone())
}

/// Each key's processing-time timer, set on its first record for 300 ms
/// later: the count it saw when it fired.
pub static WOKEN: LazyLock<CollectSink<(u64, u64)>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub Wakeful(batch_size = 50, key_groups = 3):
    source(Sequence::new().take(600).with_splits(2))
    |> key_by(|n| n % 20)
    |> process(
        |_n, ctx| {
            let mut count = ctx.value::<u64>("count");
            let n = count.get().unwrap_or(0) + 1;
            count.set(n);
            if n == 1 {
                let at = ctx.now() + 300;
                ctx.register_processing_timer(at);
            }
        },
        on_timer = |_timer, ctx| {
            let n = ctx.value::<u64>("count").get().unwrap_or(0);
            let key = *ctx.key();
            ctx.collect((key, n));
        }
    )
    |> sink(WOKEN.clone())
}

/// A list per key that forgets a key 2 s after its last record.
pub static REMEMBERED: LazyLock<CollectSink<(u64, usize)>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub Forgetful(batch_size = 40):
    source(Sequence::new().take(400))
    |> key_by(|n| n % 50)
    |> process(|n, ctx| {
        let mut seen = ctx.list::<u64>("seen").ttl(std::time::Duration::from_secs(2));
        seen.add(n);
        let len = seen.get().len();
        ctx.collect((n % 50, len));
    })
    |> sink(REMEMBERED.clone())
}

// --- windows.rs: windows on the wall clock, and a split with no data.

pub static WALL_CLOCK: LazyLock<CollectSink<Windowed<u64, u64>>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub WallClock(batch_size = 50, key_groups = 3):
    source(Sequence::new().take(2_000).with_splits(2))
    |> key_by(|n| n % 7)
    |> window(tumbling(500ms), time = processing)
    |> aggregate(0u64, |count, _n| *count += 1)
    |> sink(WALL_CLOCK.clone())
}

/// An endless source whose split 0 has a reading every 100 ms of event
/// time, and whose split 1 never has any.
#[derive(Clone, Copy)]
pub struct OneSided;

impl stream_runtime::Source for OneSided {
    type Item = Reading;

    fn splits(&self) -> u32 {
        2
    }

    async fn read(&self, split: u32, position: u64, max: usize) -> std::io::Result<Vec<Reading>> {
        if split == 1 {
            return Ok(Vec::new());
        }
        Ok((position..position + max as u64)
            .map(|i| Reading {
                key: 0,
                ts: i as i64 * 100,
            })
            .collect())
    }

    async fn available(&self, split: u32, _position: u64, max: usize) -> std::io::Result<usize> {
        Ok(if split == 1 { 0 } else { max })
    }

    fn is_bounded(&self) -> bool {
        false
    }
}

pub static ONE_SIDED: LazyLock<CollectSink<Windowed<u32, u64>>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub IdleSplit(batch_size = 20, key_groups = 2):
    source(OneSided)
    |> event_time(|r| r.ts, idle = 1s)
    |> key_by(|r| r.key)
    |> window(tumbling(1s))
    |> aggregate(0u64, |count, _r| *count += 1)
    |> sink(ONE_SIDED.clone())
}

// --- union.rs: two sources of words, with their own splits, counted as one.

pub static UNION_FIRST: LazyLock<Vec<String>> = LazyLock::new(|| skewed_words("u", 1_500, 12));
pub static UNION_SECOND: LazyLock<Vec<String>> = LazyLock::new(|| skewed_words("u", 700, 20));
pub static UNIONED: LazyLock<CollectSink<WordCount>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub Unioned(batch_size = 50, key_groups = 4):
    source(InMemorySource::new(UNION_FIRST.iter().cloned()).with_splits(2))
    |> union(InMemorySource::new(UNION_SECOND.iter().cloned()))
    |> map(|word| WordCount { word, count: 1 })
    |> key_by(|wc| wc.word.clone())
    |> reduce(|a, b| WordCount { count: a.count + b.count, ..a })
    |> sink(UNIONED.clone())
}

// --- side_output.rs: one stream to two sinks, each exactly once.

pub static MAIN_COUNTS: LazyLock<CollectSink<WordCount>> = LazyLock::new(CollectSink::new);
pub static SIDE_COUNTS: LazyLock<CollectSink<String>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub RoutedCounts(batch_size = 50, key_groups = 4):
    source(InMemorySource::new(UNION_FIRST.iter().cloned()).with_splits(2))
    |> map(|word| WordCount { word, count: 1 })
    |> key_by(|wc| wc.word.clone())
    |> reduce(|a, b| WordCount { count: a.count + b.count, ..a })
    |> sink(SideOutput::new(
        |wc: &WordCount| if wc.count.is_multiple_of(5) { To::Side(format!("{}={}", wc.word, wc.count)) } else { To::Main(wc.clone()) },
        MAIN_COUNTS.clone(),
        SIDE_COUNTS.clone(),
    ))
}

pub static MAIN_WINDOWS: LazyLock<CollectSink<Windowed<u32, u64>>> =
    LazyLock::new(CollectSink::new);
pub static SIDE_WINDOWS: LazyLock<CollectSink<Windowed<u32, u64>>> =
    LazyLock::new(CollectSink::new);

pipeline! {
    pub RoutedWindows(batch_size = 100, key_groups = 4):
    source(InMemorySource::new(WINDOW_INPUT.iter().cloned()).with_splits(3))
    |> event_time(|r| r.ts, max_delay = 1s)
    |> key_by(|r| r.key)
    |> window(tumbling(2s))
    |> aggregate(0u64, |count, _r| *count += 1)
    |> sink(SideOutput::new(
        |w: &Windowed<u32, u64>| if w.key >= 5 { To::Side(w.clone()) } else { To::Main(w.clone()) },
        MAIN_WINDOWS.clone(),
        SIDE_WINDOWS.clone(),
    ))
}

/// Binds every test pipeline.
pub fn all(endpoint: Endpoint) -> Endpoint {
    endpoint
        .pipeline(Unioned)
        .pipeline(RoutedCounts)
        .pipeline(RoutedWindows)
        .pipeline(BoundedWords)
        .pipeline(FilterMost)
        .pipeline(FilterAll)
        .pipeline(FlatMapMany)
        .pipeline(LeftWords)
        .pipeline(RightWords)
        .pipeline(KeyedTally)
        .pipeline(Untouched)
        .pipeline(Failing)
        .pipeline(crate::failures::DownOnce)
        .pipeline(crate::layout::relayout(4))
        .pipeline(crate::stop::stoppable())
        .pipeline(crate::push::pushed_words())
        .pipeline(crate::large_records::large_records())
        .pipeline(crate::metrics::metered())
        .pipeline(Tumbled)
        .pipeline(crate::fired_deltas::ManyIds)
        .pipeline(crate::chained::TopKeys)
        .pipeline(crate::chained::top_of_lists())
        .pipeline(crate::chained::CountedTwice)
        .pipeline(crate::joins::PaidOrders)
        .pipeline(crate::emit::LatestCounts)
        .pipeline(crate::joins::WindowJoined)
        .pipeline(crate::joins::EnrichedClicks)
        .pipeline(Slid)
        .pipeline(Sessions)
        .pipeline(Lateness)
        .pipeline(LateToSide)
        .pipeline(PerSecondTimers)
        .pipeline(Wakeful)
        .pipeline(Forgetful)
        .pipeline(WallClock)
        .pipeline(IdleSplit)
        .pipeline(crate::answers::ThreeOutputs)
        .pipeline(crate::answers::TimersWithoutWindow)
        .pipeline(crate::answers::FailsWhileFiring)
        .pipeline(crate::answers::BesideEndless)
        .pipeline(crate::answers::ThreeSplitsOneToken)
        .pipeline(crate::answers::EvensOnly)
        .pipeline(crate::answers::LargeChained)
        .pipeline(crate::enrich::ObjectEnriched {
            out: crate::enrich::OBJECT_OUT.clone(),
        })
        .pipeline(crate::enrich::HttpEnriched {
            out: crate::enrich::HTTP_OUT.clone(),
        })
        .service(stream_support::lookups::EnrichCalls)
        .pipeline(crate::answers::LateIntoSecondStage)
        .pipeline(crate::answers::EndlessAndBounded)
        .pipeline({
            let scaled = crate::parameters::scaled();
            let _ = SCALED_OUT.set(scaled.out.clone());
            scaled
        })
}
