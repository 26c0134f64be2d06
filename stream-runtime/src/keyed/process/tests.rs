//! Timers, list and map state, and time-to-live, on one key group without
//! a server (see `testing::GroupSim`).

use std::time::Duration;

use crate::builder::Pipeline;
use crate::keyed::{TimeDomain, Timer};
use crate::sink::CollectSink;
use crate::source::InMemorySource;
use crate::testing::{stages, GroupSim};
use crate::time::Millis;

/// Keys `(key, value)` records; each record appends to a list, bumps a
/// per-value count in a map, and sets an event timer 1 s after its value
/// and a processing timer 500 ms from now. `on_timer` emits what it sees.
fn timers() -> GroupSim<impl crate::stages::Dataflow<Mid = (u32, Millis), Out = String>> {
    GroupSim::new(stages(
        Pipeline::named("T")
            .source(InMemorySource::new(Vec::<(u32, Millis)>::new()))
            .key_by(|(key, _)| *key)
            .process_with_timers(
                |(_, value), ctx| {
                    ctx.list::<Millis>("seen").add(value);
                    let mut counts = ctx.map::<Millis, u32>("counts");
                    let n = counts.get(&value).unwrap_or(0);
                    counts.put(value, n + 1);
                    ctx.register_event_timer(value + 1_000);
                    let now = ctx.now();
                    ctx.register_processing_timer(now + 500);
                },
                |timer: Timer, ctx| {
                    let seen = ctx.list::<Millis>("seen").get();
                    let counts = ctx.map::<Millis, u32>("counts").entries();
                    let key = *ctx.key();
                    ctx.collect(format!("{key} {timer:?} {seen:?} {counts:?}"));
                },
            ),
        CollectSink::<String>::new(),
    ))
}

#[test]
fn event_and_processing_timers_fire_once_and_see_list_and_map_state() {
    let mut group = timers();
    let (out, _) = group.call(vec![(7, 100), (7, 100), (7, 300)], None, 10_000);
    assert!(out.is_empty());
    assert_eq!(group.timers.next_event(), Some(1_100));
    assert_eq!(group.timers.next_processing(), Some(10_500));

    let (out, _) = group.call(vec![], Some(1_100), 10_000);
    let event = Timer {
        at: 1_100,
        domain: TimeDomain::Event,
    };
    assert_eq!(
        out,
        [format!("7 {event:?} [100, 100, 300] [(100, 2), (300, 1)]")]
    );
    let (out, _) = group.call(vec![], Some(1_100), 10_000);
    assert!(out.is_empty(), "fired once: {out:?}");

    let (out, _) = group.call(vec![], None, 10_500);
    assert!(
        out.is_empty(),
        "at 10_500 the millisecond is not over: {out:?}"
    );
    let (out, _) = group.call(vec![], None, 10_501);
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].contains("Processing"), "{out:?}");
    let (out, _) = group.call(vec![], Some(Millis::MAX), Millis::MAX);
    assert_eq!(out.len(), 1, "the timer at 1_300: {out:?}");
}

#[test]
fn state_with_a_time_to_live_is_removed_once_it_expires() {
    let mut group = GroupSim::new(stages(
        Pipeline::named("T")
            .source(InMemorySource::new(Vec::<u32>::new()))
            .key_by(|key| *key)
            .process(|key, ctx| {
                let mut seen = ctx.value::<u64>("seen").ttl(Duration::from_secs(1));
                let n = seen.get().unwrap_or(0) + 1;
                seen.set(n);
                ctx.collect((key, n));
            }),
        CollectSink::<(u32, u64)>::new(),
    ));
    let (out, _) = group.call(vec![1, 2, 1], None, 5_000);
    assert_eq!(out, [(1, 1), (2, 1), (1, 2)]);
    // Key 2 is written again at 5_500, so it lives until 6_500.
    group.call(vec![2], None, 5_500);
    assert_eq!(group.store.len(), 2);
    // Key 1 expires at 6_000; it is removed once that millisecond is over.
    let (out, _) = group.call(vec![], None, 6_001);
    assert!(out.is_empty());
    assert_eq!(
        group.store.keys().collect::<Vec<_>>(),
        ["k:2"],
        "key 1 expired"
    );
    // A read after expiry finds nothing, even before the visit.
    let (out, _) = group.call(vec![2], None, 6_600);
    assert_eq!(out, [(2, 1)]);
    group.call(vec![], None, 8_000);
    assert!(group.store.is_empty(), "{:?}", group.store.keys());
    assert!(group.timers.is_empty());
}

/// An `on_timer` that panics for one timer fails that timer alone, once:
/// the key's state is as it was before the firing, less the failed timer;
/// another key's timer due at the same watermark fires, and so does the
/// same key's later timer.
#[test]
fn an_on_timer_that_fails_fails_that_timer_alone_and_once() {
    let mut group = GroupSim::new(stages(
        Pipeline::named("T")
            .source(InMemorySource::new(Vec::<(u32, Millis)>::new()))
            .key_by(|(key, _)| *key)
            .process_with_timers(
                |(_, at), ctx| {
                    ctx.value::<u32>("records").set(1);
                    ctx.register_event_timer(at);
                },
                |timer: Timer, ctx| {
                    let key = *ctx.key();
                    ctx.value::<u32>("records").clear();
                    assert!(!(key == 2 && timer.at == 500), "no timer at 500 for key 2");
                    ctx.collect((key, timer.at));
                },
            ),
        CollectSink::<(u32, Millis)>::new(),
    ));
    let (out, _) = group.call(vec![(1, 500), (2, 500), (2, 5_000), (3, 700)], None, 0);
    assert!(out.is_empty());
    let (out, _) = group.call(vec![], Some(1_000), 0);
    assert_eq!(out, [(1, 500), (3, 700)]);
    assert_eq!(group.failed.len(), 1, "{:?}", group.failed);
    let failed = &group.failed[0];
    assert_eq!((failed.timer.as_str(), failed.at), ("k:2", 500));
    assert!(failed
        .error
        .to_string()
        .contains("no timer at 500 for key 2"));
    assert!(failed.record()["entry"].is_object(), "{}", failed.record());
    // Key 2 keeps its state and its later timer; the others were cleared.
    let left: Vec<&String> = group.store.keys().collect();
    assert_eq!(left, ["k:2"], "{left:?}");
    let (out, _) = group.call(vec![], Some(6_000), 0);
    assert_eq!(
        out,
        [(2, 5_000)],
        "the later timer fires, the failed one not again"
    );
    assert_eq!(group.failed.len(), 1, "failed once");
    assert!(group.store.is_empty(), "{:?}", group.store.keys());
}
