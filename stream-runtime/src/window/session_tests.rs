//! A property test of session windows: random out-of-order input, with
//! random watermarks, against a plain model of the documented rules.
//!
//! The rules: a record at `t` opens `[t, t + gap)` and merges every live
//! session of its key that overlaps or touches it. If the merged window's
//! cleanup time (`end - 1 + lateness`) is at or before the watermark, the
//! record is late and changes nothing. A session is live until the
//! watermark reaches its cleanup time; then it is final.
//!
//! What is checked: the late records are the model's, and each final
//! session of the model was emitted with its count as its last result, so
//! every record is counted once, in a final session or in the late output;
//! every other result was of a window that a final session took in and
//! emitted later; nothing is left in state or timers.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{session, Windowed};
use crate::builder::Pipeline;
use crate::sink::CollectSink;
use crate::source::InMemorySource;
use crate::testing::{stages, GroupSim};
use crate::time::{Millis, Timed, Watermarks};

type Key = char;
/// A final session: key, start, end, and its record count.
type Final = (Key, Millis, Millis, u64);

/// The model: each key's live sessions as `(start, end, count)`.
struct Model {
    gap: Millis,
    lateness: Millis,
    live: BTreeMap<Key, Vec<(Millis, Millis, u64)>>,
    finals: Vec<Final>,
    late: usize,
}

impl Model {
    /// The watermark reaches `watermark`: sessions past their cleanup are final.
    fn advance(&mut self, watermark: Millis) {
        let lateness = self.lateness;
        for (key, sessions) in &mut self.live {
            sessions.retain(|&(start, end, count)| {
                let done = end - 1 + lateness <= watermark;
                if done {
                    self.finals.push((*key, start, end, count));
                }
                !done
            });
        }
    }

    fn record(&mut self, key: Key, time: Millis, watermark: Millis) {
        let (start, end) = (time, time + self.gap);
        let cleanup = end - 1 + self.lateness;
        let sessions = self.live.entry(key).or_default();
        let touching = |&(s, e, _): &(Millis, Millis, u64)| s <= end && start <= e;
        let merged = sessions
            .iter()
            .filter(|s| touching(s))
            .fold((start, end, 1), |(s, e, n), &(s2, e2, n2)| {
                (s.min(s2), e.max(e2), n + n2)
            });
        if merged.1 - end + cleanup <= watermark {
            self.late += 1;
            return;
        }
        sessions.retain(|s| !touching(s));
        sessions.push(merged);
    }
}

/// A small deterministic generator (xorshift64*), so a failure reruns.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// Checks the emitted results against the model's final sessions: each
/// final session's last result is its count, and every other result is of
/// a window that a final session of its key took in and emitted later.
fn check_results(out: &[Windowed<Key, u64>], finals: &[Final], context: &str) {
    // Each window's last result, and when it came.
    let mut last: BTreeMap<(Key, Millis, Millis), (usize, u64)> = BTreeMap::new();
    for (order, w) in out.iter().enumerate() {
        last.insert((w.key, w.start, w.end), (order, w.value));
    }
    for &(key, start, end, count) in finals {
        let emitted = last.get(&(key, start, end)).map(|&(_, value)| value);
        assert_eq!(emitted, Some(count), "{context}: {key} [{start}, {end})");
    }
    for (&(key, start, end), &(order, _)) in &last {
        let superseded = finals.iter().any(|&(k, s, e, _)| {
            let later = last.get(&(k, s, e)).is_some_and(|&(o, _)| o > order);
            k == key && s <= start && end <= e && later
        });
        let is_final = finals
            .iter()
            .any(|&(k, s, e, _)| (k, s, e) == (key, start, end));
        assert!(
            is_final || superseded,
            "{context}: {key} [{start}, {end}) was left behind"
        );
    }
}

fn one_case(seed: u64) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let gap = [1_000, 3_000][rng.below(2) as usize];
    let lateness = [0, 2_000, 10_000][rng.below(3) as usize];
    let mut group = GroupSim::new(stages(
        Pipeline::named("T")
            .source(InMemorySource::new(Vec::<(Key, Millis)>::new()))
            .event_time(|r| r.1, Watermarks::max_delay(Duration::ZERO))
            .key_by(|r| r.0)
            .window(
                session(Duration::from_millis(gap as u64))
                    .allowed_lateness(Duration::from_millis(lateness as u64)),
            )
            .aggregate(0u64, |n, _r| *n += 1),
        CollectSink::<Windowed<Key, u64>>::new(),
    ));
    let mut model = Model {
        gap,
        lateness,
        live: BTreeMap::new(),
        finals: Vec::new(),
        late: 0,
    };
    let (mut out, mut late, mut total) = (Vec::new(), 0, 0);
    let (mut max_seen, mut watermark) = (Millis::MIN, Millis::MIN);
    for _ in 0..rng.below(12) + 1 {
        let batch: Vec<Timed<(Key, Millis)>> = (0..rng.below(3) + 1)
            .map(|_| {
                let key = ['a', 'b', 'c'][rng.below(3) as usize];
                let time = rng.below(30) as Millis * 500;
                Timed {
                    time,
                    value: (key, time),
                }
            })
            .collect();
        total += batch.len();
        // The group fires what the watermark reached, then applies the batch.
        model.advance(watermark);
        for record in &batch {
            model.record(record.value.0, record.time, watermark);
        }
        let (emitted, rejected) = group.call(batch.clone(), Some(watermark), 0);
        out.extend(emitted);
        late += rejected.len();
        // The next call's watermark: the largest time so far, some way behind.
        max_seen = max_seen.max(batch.iter().map(|r| r.time).max().unwrap_or(Millis::MIN));
        let behind = rng.below(4) as Millis * 1_000;
        watermark = watermark.max(max_seen - behind - 1);
    }
    let (emitted, rejected) = group.call(vec![], Some(Millis::MAX), 0);
    out.extend(emitted);
    late += rejected.len();
    model.advance(Millis::MAX);

    let context = format!("seed {seed}, gap {gap}, lateness {lateness}");
    let counted: u64 = model.finals.iter().map(|f| f.3).sum();
    assert_eq!(counted as usize + model.late, total, "{context}: the model");
    assert_eq!(late, model.late, "{context}: the late records");
    check_results(&out, &model.finals, &context);
    assert!(
        group.store.is_empty(),
        "{context}: state left: {:?}",
        group.store
    );
    assert!(group.timers.is_empty(), "{context}: timers left");
}

#[test]
fn random_out_of_order_sessions_count_every_record_once() {
    for seed in 0..2_000 {
        one_case(seed);
    }
}
