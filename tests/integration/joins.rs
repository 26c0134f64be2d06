//! Two inputs of one key, against a real server: an interval join of
//! orders and payments over out-of-order input, checked against a plain
//! nested loop, each pair once and no buffer left in state; a window
//! join (a window over both inputs); and a stream-table join (`process`
//! over `connect`), each click once.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use stream_runtime::keyed::between;
use stream_runtime::source::{mix64, Either};
use stream_runtime::{pipeline, CollectSink, InMemorySource};

use crate::harness::harness;
use crate::windows::{run_to_end, until_results};

/// An order or a payment: its order id and when it happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: u32,
    pub ts: i64,
}

pub const ORDERS: u64 = 1_500;

/// Order `i`: one of 40 ids, at about `i * 10` ms, up to 300 ms either way.
fn order(i: u64) -> Event {
    let mix = mix64(i);
    let jitter = (mix >> 8) as i64 % 301 * if mix & 1 == 0 { 1 } else { -1 };
    Event {
        id: (mix % 40) as u32,
        ts: i as i64 * 10 + jitter,
    }
}

/// Payment `i`: the order `i`'s id, 0 to 4 s after it, so some fall
/// outside the 3 s the join allows.
fn payment(i: u64) -> Event {
    let placed = order(i);
    Event {
        id: placed.id,
        ts: placed.ts + (mix64(i ^ 0xfeed) % 4_000) as i64,
    }
}

pub static ORDER_INPUT: LazyLock<Vec<Event>> = LazyLock::new(|| (0..ORDERS).map(order).collect());
pub static PAYMENT_INPUT: LazyLock<Vec<Event>> =
    LazyLock::new(|| (0..ORDERS).map(payment).collect());

/// (id, order time, payment time) of each joined pair.
pub static PAID: LazyLock<CollectSink<(u32, i64, i64)>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub PaidOrders(batch_size = 100, key_groups = 4):
    source(InMemorySource::new(ORDER_INPUT.iter().cloned()).with_splits(2))
    |> connect(InMemorySource::new(PAYMENT_INPUT.iter().cloned()).with_splits(2))
    |> event_time(|e| e.either(|o| o.ts, |p| p.ts), max_delay = 5s)
    |> key_by(|e| e.either(|o| o.id, |p| p.id))
    |> interval_join(between(0s, 3s), |o, p| (o.id, o.ts, p.ts))
    |> sink(PAID.clone())
}

/// Each order and payment of one id in one 2 s window, by (id, window
/// start): a window join, as a window over both inputs.
pub static WINDOW_PAIRS: LazyLock<CollectSink<(u32, i64, i64, i64)>> =
    LazyLock::new(CollectSink::new);

pipeline! {
    pub WindowJoined(batch_size = 100, key_groups = 4):
    source(InMemorySource::new(ORDER_INPUT.iter().cloned()).with_splits(2))
    |> connect(InMemorySource::new(PAYMENT_INPUT.iter().cloned()).with_splits(2))
    |> event_time(|e| e.either(|o| o.ts, |p| p.ts), max_delay = 5s)
    |> key_by(|e| e.either(|o| o.id, |p| p.id))
    |> window(tumbling(2s))
    |> aggregate((Vec::new(), Vec::new()), |(orders, payments): &mut (Vec<i64>, Vec<i64>), e| {
        match e {
            Either::Left(order) => orders.push(order.ts),
            Either::Right(payment) => payments.push(payment.ts),
        }
    })
    |> flat_map(|w| {
        let (orders, payments) = w.value;
        let (id, start) = (w.key, w.start);
        orders.into_iter().flat_map(move |o| {
            payments.clone().into_iter().map(move |p| (id, start, o, p))
        })
    })
    |> sink(WINDOW_PAIRS.clone())
}

/// A click on `page` by `user`, or a user's profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Click {
    pub n: u64,
    pub user: u32,
}

pub const CLICKS: u64 = 2_000;
pub static CLICK_INPUT: LazyLock<Vec<Click>> = LazyLock::new(|| {
    (0..CLICKS)
        .map(|n| Click {
            n,
            user: (mix64(n) % 30) as u32,
        })
        .collect()
});
/// Each user's name, one profile per user.
pub static PROFILE_INPUT: LazyLock<Vec<(u32, String)>> =
    LazyLock::new(|| (0..30).map(|user| (user, format!("user{user}"))).collect());
/// Each click with its user's name, if the profile came first.
pub static ENRICHED: LazyLock<CollectSink<(u64, u32, Option<String>)>> =
    LazyLock::new(CollectSink::new);

pipeline! {
    pub EnrichedClicks(batch_size = 100, key_groups = 4):
    source(InMemorySource::new(CLICK_INPUT.iter().cloned()).with_splits(2))
    |> connect(InMemorySource::new(PROFILE_INPUT.iter().cloned()))
    |> key_by(|e| e.either(|click| click.user, |profile| profile.0))
    |> process(|e, ctx| match e {
        Either::Right((_, name)) => ctx.value("name").set(name),
        Either::Left(click) => {
            let name: Option<String> = ctx.value("name").get();
            ctx.collect((click.n, click.user, name));
        }
    })
    |> sink(ENRICHED.clone())
}

/// Each (id, order time, payment time) that an interval join of 0 s to
/// 3 s pairs, by a plain nested loop, sorted.
pub fn nested_loop(orders: &[Event], payments: &[Event]) -> Vec<(u32, i64, i64)> {
    let bounds = between(0, 3_000);
    let mut expected = Vec::new();
    for o in orders {
        for p in payments.iter().filter(|p| p.id == o.id) {
            if bounds.holds(o.ts, p.ts) {
                expected.push((o.id, o.ts, p.ts));
            }
        }
    }
    expected.sort_unstable();
    expected
}

/// The join `names` wrote to `sink` exactly the pairs `expected`, each
/// once, and every buffered record left state once the watermark passed
/// it (the state read as the pipeline reads it, deltas over entries).
pub async fn assert_joined_once(
    names: &stream_runtime::ServiceNames,
    sink: &CollectSink<(u32, i64, i64)>,
    expected: &[(u32, i64, i64)],
) {
    let mut got = until_results(sink, expected.len()).await;
    got.sort_unstable();
    assert_eq!(got.len(), expected.len(), "each pair once");
    assert!(got == expected, "the pairs differ from a nested loop's");
    harness().assert_nothing_stuck(names).await;
    let entries = stream_support::state::group_state(&harness().admin(), &names.keyed)
        .await
        .unwrap_or_else(|e| panic!("state: {e}"));
    let left: Vec<_> = entries
        .iter()
        .filter(|(_, name, _)| name != "time")
        .collect();
    assert!(left.is_empty(), "state left behind: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interval_join_pairs_each_order_with_its_payments_once() {
    let names = PaidOrders::service_names();
    run_to_end(&names, 3).await;
    let expected = nested_loop(&ORDER_INPUT, &PAYMENT_INPUT);
    assert!(
        expected.len() > ORDERS as usize,
        "ids repeat, so pairs cross"
    );
    assert_joined_once(&names, &PAID, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_join_pairs_the_orders_and_payments_of_each_window_once() {
    let names = WindowJoined::service_names();
    run_to_end(&names, 3).await;
    let window = |ts: i64| ts.div_euclid(2_000) * 2_000;
    let mut expected = Vec::new();
    for o in ORDER_INPUT.iter() {
        let start = window(o.ts);
        let payments = PAYMENT_INPUT
            .iter()
            .filter(|p| p.id == o.id && window(p.ts) == start);
        expected.extend(payments.map(|p| (o.id, start, o.ts, p.ts)));
    }
    expected.sort_unstable();
    assert!(!expected.is_empty());
    let mut got = until_results(&WINDOW_PAIRS, expected.len()).await;
    got.sort_unstable();
    assert_eq!(got, expected, "each pair of a window once");
    harness().assert_nothing_stuck(&names).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_table_join_enriches_each_click_once() {
    let names = EnrichedClicks::service_names();
    let status = harness().finish(&names, 3).await;
    assert_eq!(status.dead_letters, 0, "{status:?}");
    let got = until_results(&ENRICHED, CLICKS as usize).await;
    let mut once = BTreeMap::new();
    for (n, user, name) in got {
        assert!(
            once.insert(n, (user, name.clone())).is_none(),
            "click {n} twice"
        );
        if let Some(name) = name {
            assert_eq!(name, format!("user{user}"), "click {n} got another's name");
        }
    }
    assert_eq!(once.len() as u64, CLICKS, "every click once");
    harness().assert_nothing_stuck(&names).await;
}
