//! Random pipelines from the stage table, over random input and layouts,
//! for the differential tests (`tests/integration/differential.rs`) and the
//! chaos run's random row: each is run on a server and in the reference
//! model ([`TestDriver`]), and their outputs must be equal.
//!
//! The input's disorder stays within the allowed delay (unless
//! [`Case::with_late`] puts some beyond it), so no record is ever behind the
//! watermark, whichever way the tokens batch it: the result is then
//! defined by the input alone.

use std::time::Duration;

use stream_runtime::driver::TestDriver;
use stream_runtime::keyed::between;
use stream_runtime::source::{mix64, Either};
use stream_runtime::time::{Millis, Watermarks};
use stream_runtime::window::{session, sliding, tumbling};
use stream_runtime::{
    CollectSink, CompletePipeline, InMemorySource, Pipeline, ProcessContext, Sink, Timer,
};

/// A record: key, event time, value.
pub type Rec = (u32, i64, u64);

/// The shapes, one keyed pipeline each (see [`build`]).
pub const SHAPES: u64 = 11;

/// One random pipeline, input and layout.
#[derive(Debug, Clone)]
pub struct Case {
    pub seed: u64,
    pub shape: u64,
    pub splits: u32,
    pub tokens: u64,
    pub batch: u32,
    pub key_groups: u32,
    pub delay_ms: u64,
    /// Window size, slide, session gap or join bound, in ms.
    pub size: i64,
    pub slide: i64,
    /// Drop records whose value is a multiple of this before event time.
    pub filter: u64,
    pub input: Vec<Rec>,
    /// The second input, for union and join.
    pub other: Vec<Rec>,
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
    /// Case `seed`, with up to 400 records in its first input.
    pub fn new(seed: u64) -> Self {
        Self::generate(seed, None)
    }

    /// Case `seed`, with `records` records in its first input and half as
    /// many in its second (for the chaos run). No sessions, whose state
    /// grows with a session's records, and a join within 100 ms, whose
    /// output grows with the bound: the run is about its kills.
    pub fn sized(seed: u64, records: u64) -> Self {
        let mut case = Self::generate(seed, Some(records));
        if case.shape == 2 {
            case.shape = 0;
        }
        if case.shape == 7 {
            case.size = 100;
        }
        case
    }

    /// The source records the pipeline reads, of both inputs when it has two.
    pub fn records_read(&self) -> u64 {
        let both = matches!(self.shape, 6 | 7 | 9 | 10);
        (self.input.len() + if both { self.other.len() } else { 0 }) as u64
    }

    fn generate(seed: u64, records: Option<u64>) -> Self {
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
        let first = records.unwrap_or_else(|| draw.between(0, 400));
        let first = input(&mut draw, first);
        let others = records.map_or_else(|| draw.between(0, 200), |n| n / 2);
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
    pub fn with_late(seed: u64) -> Self {
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

    /// Whether `record` (of either input) can have been behind the
    /// watermark: its time is more than the allowed delay behind a record
    /// read before it on its split (an input's records go round-robin over
    /// its splits), which is the most its split lets the watermark reach
    /// before the record's own range is done.
    pub fn can_be_late(&self, record: &Rec) -> bool {
        let inputs = [
            (&self.input, self.splits),
            (&self.other, self.splits.min(2)),
        ];
        inputs.into_iter().any(|(input, splits)| {
            let splits = splits.max(1) as usize;
            let mut max = vec![None::<Millis>; splits];
            input.iter().enumerate().any(|(i, r)| {
                let before = max[i % splits];
                max[i % splits] = before.max(Some(r.1));
                r == record && before.is_some_and(|m| r.1 < m - self.delay_ms as Millis)
            })
        })
    }

    /// The records the pipeline counts: those kept by the filter, of both
    /// inputs for a union.
    pub fn counted(&self) -> Vec<Rec> {
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

    pub fn watermarks(&self) -> Watermarks {
        Watermarks::max_delay(Duration::from_millis(self.delay_ms))
    }

    pub fn kept(&self, r: &Rec) -> bool {
        self.filter == 0 || !r.2.is_multiple_of(self.filter)
    }
}

fn json<T: serde::Serialize>(record: &T) -> String {
    serde_json::to_string(record).unwrap_or_else(|e| panic!("{e}"))
}

/// The case's pipeline, named `name`, writing each result as JSON to `out`.
pub fn build(case: &Case, name: &str, out: impl Sink<String>) -> CompletePipeline {
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
        // A join after stages: each input counted (or summed) per key and
        // window on its own, then both joined per key and window.
        9 => {
            let sums = stamped(other)
                .key_by(|r| r.0)
                .window(tumbling(ms(size)))
                .aggregate(0u64, |sum, r: Rec| *sum += r.2);
            stamped(source)
                .key_by(|r| r.0)
                .window(tumbling(ms(size)))
                .aggregate(0u64, |n, _| *n += 1)
                .join(sums)
                .key_by(|e| e.either(|w| w.key, |w| w.key))
                .window(tumbling(ms(size)))
                .aggregate((0u64, 0u64), |both: &mut (u64, u64), e| match e {
                    Either::Left(count) => both.0 += count.value,
                    Either::Right(sum) => both.1 += sum.value,
                })
                .map(|w| json(&w))
                .sink(out)
        }
        // An interval join after stages: each key's window counts with the
        // other input's records of the key in that window, that input
        // with no keyed stage of its own.
        10 => stamped(source)
            .key_by(|r| r.0)
            .window(tumbling(ms(size)))
            .aggregate(0u64, |n, _| *n += 1)
            .join(stamped(other))
            .key_by(|e| e.either(|w| w.key, |r| r.0))
            .interval_join(between(1 - size, 0), |w, r| {
                (w.key, w.start, w.value, r.1, r.2)
            })
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

/// The model's output for `case`, each result as JSON, sorted; an error
/// if the model read nothing it could, or found a late record or a dead
/// letter (the input has none).
pub async fn modelled(case: &Case) -> Result<Vec<String>, String> {
    let out = CollectSink::new();
    let mut driver = TestDriver::new(build(case, "Model", out.clone()));
    let seed = case.seed;
    (driver.run_to_end().await).map_err(|e| format!("seed {seed}: the model: {e}"))?;
    if !driver.late_records().is_empty() || !driver.dead_letters().is_empty() {
        return Err(format!(
            "seed {seed}: the model found late records or dead letters: {driver:?}"
        ));
    }
    let mut got = out.records();
    got.sort();
    Ok(got)
}

/// For a `process` function: counts a record at `time` in its key's
/// second, and sets an event timer at the second's last millisecond.
pub fn count_in_its_second<K, O>(time: Millis, ctx: &mut ProcessContext<'_, K, O>) {
    let second = time.div_euclid(1_000);
    let mut counts = ctx.map::<i64, u64>("counts");
    let n = counts.get(&second).unwrap_or(0);
    counts.put(second, n + 1);
    ctx.register_event_timer(second * 1_000 + 999);
}

/// For `on_timer` after [`count_in_its_second`]: the key, the second that
/// ended and its count, which it forgets.
pub fn counted_second<K: Copy, O>(
    timer: Timer,
    ctx: &mut ProcessContext<'_, K, O>,
) -> (K, Millis, u64) {
    let second = timer.at.div_euclid(1_000);
    let mut counts = ctx.map::<i64, u64>("counts");
    let n = counts.get(&second).unwrap_or(0);
    counts.remove(&second);
    (*ctx.key(), second, n)
}
