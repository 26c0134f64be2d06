// Two named streams, each from its own source with a keyed stage of its
// own, joined: clicks counted per user and minute, with each user's
// latest profile; and an interval join after a reduce and a window. A
// parameter (the sink) is used after the join.
use serde::{Deserialize, Serialize};
use stream_runtime::source::Either;
use stream_runtime::time::Timed;
use stream_runtime::window::Windowed;
use stream_runtime::{pipeline, CollectSink, InMemorySource, Sequence};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Profile {
    user: u64,
    tier: u8,
}

pipeline! {
    ClicksWithProfiles(out: CollectSink<(u64, i64, u64, Option<u8>)>, key_groups = 8):
    let counts = source(Sequence::new().take(1_000))
        |> event_time(|n| *n as i64 * 100, max_delay = 2s)
        |> key_by(|n| **n % 10)
        |> window(tumbling(1m))
        |> aggregate(0u64, |count, _| *count += 1);
    let latest = source(InMemorySource::new(vec![Profile { user: 1, tier: 2 }]))
        |> key_by(|p| p.user)
        |> reduce(|_, latest| latest);
    join(counts, latest)
        |> key_by(|e| e.either(|w| w.key, |p| p.user))
        |> process(|e, ctx| match e {
            Either::Right(profile) => ctx.value("tier").set(profile.tier),
            Either::Left(w) => {
                let tier: Option<u8> = ctx.value("tier").get();
                ctx.collect((w.key, w.start, w.value, tier));
            }
        })
        |> sink(out)
}

pipeline! {
    PaidWithinASecond:
    let orders = source(Sequence::new().take(100))
        |> event_time(|n| *n as i64 * 10, max_delay = 1s)
        |> key_by(|n| **n % 7)
        |> reduce(|_, latest: Timed<u64>| latest);
    let counts = source(Sequence::new().take(100))
        |> event_time(|n| *n as i64 * 10, max_delay = 1s)
        |> key_by(|n| **n % 7)
        |> window(tumbling(1s))
        |> aggregate(0u64, |count, _| *count += 1);
    join(orders, counts)
        |> key_by(|e| e.either(|o| o.value % 7, |w: &Windowed<u64, u64>| w.key))
        |> interval_join(between(0s, 1s), |o, w| (o.value, w.start, w.value))
        |> sink(CollectSink::new())
}

/// Not `Clone`: a parameter used by one stage only is moved there, even
/// when a join input has its name.
struct Table(Vec<u64>);

pipeline! {
    NamedAfterAParameter(table: Table):
    let counts = source(Sequence::new().take(10)) |> key_by(|n| n % 2) |> reduce(|a, b| a + b);
    let table = source(InMemorySource::new(table.0));
    join(counts, table) |> sink(CollectSink::new())
}

fn main() {
    let joined = ClicksWithProfiles { out: CollectSink::new() };
    let table = NamedAfterAParameter { table: Table(vec![1, 2]) };
    let endpoint = stream_runtime::Endpoint::new()
        .pipeline(joined)
        .pipeline(PaidWithinASecond)
        .pipeline(table);
    endpoint.build().expect("the pipelines build");
}
