//! Two inputs of one key: an interval join, and a stream-table join.

use serde::{Deserialize, Serialize};
use stream_runtime::source::Either;
use stream_runtime::{pipeline, CollectSink, InMemorySource};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Order {
    id: u32,
    ts: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Payment {
    order: u32,
    ts: i64,
}

pipeline! {
    PaidOrders:
    source(InMemorySource::new(vec![Order { id: 7, ts: 1_000 }]))
    |> connect(InMemorySource::new(vec![Payment { order: 7, ts: 3_000 }]))
    |> event_time(|e| e.either(|o| o.ts, |p| p.ts), max_delay = 1s)
    |> key_by(|e| e.either(|o| o.id, |p| p.order))
    |> interval_join(between(0s, 5s), |o, p| (o.id, p.ts - o.ts))
    |> sink(CollectSink::new())
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Click {
    user: u32,
    page: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Profile {
    user: u32,
    name: String,
}

pipeline! {
    EnrichedClicks:
    source(InMemorySource::new(vec![Click { user: 1, page: "/".into() }]))
    |> connect(InMemorySource::new(vec![Profile { user: 1, name: "ada".into() }]))
    |> key_by(|e| e.either(|c| c.user, |p| p.user))
    |> process(|e, ctx| match e {
        Either::Right(profile) => ctx.value("profile").set(profile),
        Either::Left(click) => {
            let profile: Option<Profile> = ctx.value("profile").get();
            ctx.collect((click, profile.map(|p| p.name)));
        }
    })
    |> sink(CollectSink::new())
}

fn main() {}
