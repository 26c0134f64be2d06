//! Window semantics on one key group, without a server (see
//! `testing::GroupSim`): what fires when, once, and what is late.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{session, sliding, tumbling, Windowed};
use crate::builder::Pipeline;
use crate::sink::CollectSink;
use crate::source::InMemorySource;
use crate::testing::{stages, GroupSim};
use crate::time::{Millis, Timed, Watermarks};

type Reading = Timed<(char, Millis)>;

fn at(key: char, time: Millis) -> Reading {
    Timed {
        time,
        value: (key, time),
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Counts per key and window, as a map for comparing.
fn counts(out: &[Windowed<char, u64>]) -> BTreeMap<(char, Millis, Millis), u64> {
    let mut map = BTreeMap::new();
    for w in out {
        let previous = map.insert((w.key, w.start, w.end), w.value);
        assert!(previous.is_none(), "({}, {}) emitted twice", w.key, w.start);
    }
    map
}

macro_rules! counting {
    ($spec:expr) => {
        GroupSim::new(stages(
            Pipeline::named("T")
                .source(InMemorySource::new(Vec::<(char, Millis)>::new()))
                .event_time(|r| r.1, Watermarks::max_delay(Duration::ZERO))
                .key_by(|r| r.0)
                .window($spec)
                .aggregate(0u64, |n, _r| *n += 1),
            CollectSink::<Windowed<char, u64>>::new(),
        ))
    };
}

#[test]
fn tumbling_windows_fire_once_when_the_watermark_passes_their_end() {
    let mut group = counting!(tumbling(secs(10)));
    let (out, late) = group.call(
        vec![at('a', 3_000), at('b', 12_000), at('a', 1_000)],
        None,
        0,
    );
    assert!(out.is_empty() && late.is_empty());
    // 9_998 is not yet the window's last millisecond.
    let (out, _) = group.call(vec![at('a', 9_000)], Some(9_998), 0);
    assert!(out.is_empty());
    let (out, _) = group.call(vec![], Some(9_999), 0);
    assert_eq!(counts(&out), BTreeMap::from([(('a', 0, 10_000), 3)]));
    // The same watermark again fires nothing.
    let (out, _) = group.call(vec![], Some(9_999), 0);
    assert!(out.is_empty());
    // Without lateness the window is gone: a record for it is late.
    let (out, late) = group.call(vec![at('a', 5_000)], Some(9_999), 0);
    assert!(out.is_empty());
    assert_eq!(late.len(), 1);
    let (out, _) = group.call(vec![], Some(Millis::MAX), 0);
    assert_eq!(counts(&out), BTreeMap::from([(('b', 10_000, 20_000), 1)]));
    assert!(group.store.is_empty(), "{:?}", group.store.keys());
    assert!(group.timers.is_empty());
}

#[test]
fn sliding_windows_count_each_record_in_every_window_it_falls_in() {
    let mut group = counting!(sliding(secs(10), secs(5)));
    let (_, _) = group.call(
        vec![at('a', 7_000), at('a', 2_000), at('a', 12_000)],
        None,
        0,
    );
    let (out, _) = group.call(vec![], Some(Millis::MAX), 0);
    let expected = BTreeMap::from([
        (('a', -5_000, 5_000), 1),
        (('a', 0, 10_000), 2),
        (('a', 5_000, 15_000), 2),
        (('a', 10_000, 20_000), 1),
    ]);
    assert_eq!(counts(&out), expected);
}

#[test]
fn sessions_merge_records_closer_than_the_gap_in_any_order() {
    let mut group = counting!(session(secs(5)));
    // 0 and 8_000 are apart; 4_000 bridges them (before the watermark
    // closes the first); 20_000 is its own.
    group.call(vec![at('a', 8_000), at('a', 0), at('b', 1_000)], None, 0);
    group.call(vec![at('a', 20_000), at('a', 4_000)], Some(3_000), 0);
    let (out, _) = group.call(vec![], Some(Millis::MAX), 0);
    let expected = BTreeMap::from([
        (('a', 0, 13_000), 3),
        (('a', 20_000, 25_000), 1),
        (('b', 1_000, 6_000), 1),
    ]);
    assert_eq!(counts(&out), expected);
    assert!(group.store.is_empty());
}

#[test]
fn a_late_record_inside_the_lateness_updates_the_result_and_later_ones_are_late() {
    let mut group = counting!(tumbling(secs(10)).allowed_lateness(secs(5)));
    group.call(vec![at('a', 1_000)], None, 0);
    let (out, _) = group.call(vec![], Some(10_000), 0);
    assert_eq!(counts(&out), BTreeMap::from([(('a', 0, 10_000), 1)]));
    // Inside the lateness: the key's result again, updated.
    let (out, late) = group.call(vec![at('a', 2_000)], Some(12_000), 0);
    assert_eq!(counts(&out), BTreeMap::from([(('a', 0, 10_000), 2)]));
    assert!(late.is_empty());
    // Past 9_999 + 5_000 the window is gone and the record is late.
    let (out, late) = group.call(vec![at('a', 3_000)], Some(14_999), 0);
    assert!(out.is_empty());
    assert_eq!(late.len(), 1);
    assert!(group.store.is_empty());
}

#[test]
fn processing_time_windows_follow_the_wall_clock() {
    let mut group = GroupSim::new(stages(
        Pipeline::named("T")
            .source(InMemorySource::new(Vec::<char>::new()))
            .key_by(|c| *c)
            .window(tumbling(secs(1)).processing_time())
            .reduce(|a, _b| a),
        CollectSink::<Windowed<char, char>>::new(),
    ));
    group.call(vec!['a', 'b'], None, 1_500);
    // During its last millisecond the window still takes records.
    let (out, _) = group.call(vec!['a'], None, 1_999);
    assert!(out.is_empty());
    assert_eq!(group.timers.next_processing(), Some(1_999));
    let (out, _) = group.call(vec![], None, 2_000);
    let keys: Vec<char> = out.iter().map(|w| w.key).collect();
    assert_eq!(keys, ['a', 'b']);
    assert_eq!(group.call(vec![], None, 2_001).0, [], "once");
    assert!(out.iter().all(|w| (w.start, w.end) == (1_000, 2_000)));
}

/// The input: one record a call, the watermark 1 s behind the
/// largest time (Flink's `max - delay - 1`), sessions of 3 s kept 10 s.
#[test]
fn a_late_record_that_bridges_two_sessions_fires_the_merged_one() {
    let mut group = counting!(session(secs(3)).allowed_lateness(secs(10)));
    let mut out = Vec::new();
    for (key, time, watermark) in [
        ('a', 0, -1_001),
        ('a', 3_500, 2_499),
        ('b', 4_500, 3_499),
        ('a', 2_000, 3_499),
    ] {
        let (emitted, late) = group.call(vec![at(key, time)], Some(watermark), 0);
        assert!(late.is_empty(), "{key}@{time} is inside the lateness");
        out.extend(emitted);
    }
    // a [0, 3000) fired when the watermark passed 2_999; the record at
    // 2_000 made it [0, 6500), which has not, so nothing more yet.
    assert_eq!(counts(&out), BTreeMap::from([(('a', 0, 3_000), 1)]));
    let (emitted, _) = group.call(vec![], Some(6_499), 0);
    out.extend(emitted);
    let (emitted, _) = group.call(vec![], Some(Millis::MAX), 0);
    out.extend(emitted);
    let expected = BTreeMap::from([
        (('a', 0, 3_000), 1),
        (('a', 0, 6_500), 3),
        (('b', 4_500, 7_500), 1),
    ]);
    assert_eq!(counts(&out), expected);
    assert!(group.store.is_empty() && group.timers.is_empty());
}

/// Flink's rule: `[0, 3000)` and `[3000, 6000)` touch, so they merge.
#[test]
fn records_exactly_one_gap_apart_are_one_session() {
    let mut group = counting!(session(secs(3)));
    group.call(
        vec![at('a', 0), at('a', 3_000), at('b', 0), at('b', 3_001)],
        None,
        0,
    );
    let (out, _) = group.call(vec![], Some(Millis::MAX), 0);
    let expected = BTreeMap::from([
        (('a', 0, 6_000), 2),
        (('b', 0, 3_000), 1),
        (('b', 3_001, 6_001), 1),
    ]);
    assert_eq!(counts(&out), expected);
}

/// A function after the window that fails on one result (key `a`'s
/// window `[1000, 2000)`) fails that result alone, once: the other results
/// of the same firing, and every later firing, are written.
#[test]
fn a_result_that_fails_after_the_window_fails_alone_and_the_group_fires_on() {
    let mut group = GroupSim::new(stages(
        Pipeline::named("T")
            .source(InMemorySource::new(Vec::<(char, Millis)>::new()))
            .event_time(|r| r.1, Watermarks::max_delay(Duration::ZERO))
            .key_by(|r| r.0)
            .window(tumbling(secs(1)))
            .aggregate(0u64, |n, _r| *n += 1)
            .map(|w| {
                assert!(!(w.key == 'a' && w.start == 1_000), "no a in [1000, 2000)");
                w
            }),
        CollectSink::<Windowed<char, u64>>::new(),
    ));
    let records = [
        ('a', 500),
        ('a', 1_200),
        ('b', 1_500),
        ('a', 1_700),
        ('b', 2_500),
        ('a', 3_100),
    ];
    let records = records.into_iter().map(|(k, t)| at(k, t)).collect();
    let (out, _) = group.call(records, None, 0);
    assert!(out.is_empty());
    let (out, _) = group.call(vec![], Some(1_999), 0);
    assert_eq!(
        counts(&out),
        BTreeMap::from([(('a', 0, 1_000), 1), (('b', 1_000, 2_000), 1)]),
        "the pane of [1000, 2000) fired b's result"
    );
    assert_eq!(group.failed.len(), 1, "{:?}", group.failed);
    assert_eq!(group.failed[0].timer, "w:1000:2000");
    assert!(group.failed[0]
        .error
        .to_string()
        .contains("no a in [1000, 2000)"));
    let (out, _) = group.call(vec![], Some(Millis::MAX), 0);
    assert_eq!(
        counts(&out),
        BTreeMap::from([(('b', 2_000, 3_000), 1), (('a', 3_000, 4_000), 1)])
    );
    assert_eq!(group.failed.len(), 1, "failed once");
    assert!(group.store.is_empty(), "{:?}", group.store.keys());
    assert!(group.timers.is_empty());
}

/// A session whose fold fails (sessions fold their records when they
/// fire) fails alone, once: the key's later session still fires.
#[test]
fn a_session_that_fails_to_fire_fails_alone_and_the_keys_later_one_fires() {
    let mut group = GroupSim::new(stages(
        Pipeline::named("T")
            .source(InMemorySource::new(Vec::<(char, Millis)>::new()))
            .event_time(|r| r.1, Watermarks::max_delay(Duration::ZERO))
            .key_by(|r| r.0)
            .window(session(secs(1)))
            .aggregate(0u64, |n, r: (char, Millis)| {
                assert!(r.1 != 1_500, "no record at 1500");
                *n += 1
            }),
        CollectSink::<Windowed<char, u64>>::new(),
    ));
    let (out, _) = group.call(
        vec![at('a', 1_000), at('a', 1_500), at('a', 5_000)],
        None,
        0,
    );
    assert!(out.is_empty());
    let (out, _) = group.call(vec![], Some(3_000), 0);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(group.failed.len(), 1, "{:?}", group.failed);
    assert!(group.failed[0]
        .error
        .to_string()
        .contains("no record at 1500"));
    let (out, _) = group.call(vec![], Some(Millis::MAX), 0);
    assert_eq!(counts(&out), BTreeMap::from([(('a', 5_000, 6_000), 1)]));
    assert_eq!(group.failed.len(), 1, "failed once");
    assert!(group.store.is_empty(), "{:?}", group.store.keys());
}
