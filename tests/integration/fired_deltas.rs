//! An interval join over many ids of one key group, whose buffered
//! records the clock's wake-ups fire and clear: such a call reads the
//! buffers its due timers name through the read cache (16 entries or
//! more) and writes what it changed as a delta, as a batch does, instead
//! of folding every pending delta at each wake-up. Each pair arrives
//! once, no buffer is left when the state is read from outside (deltas
//! taken over entries), and the group still holds deltas after its last
//! firing, which a fold would have taken.

use std::sync::LazyLock;

use stream_runtime::keyed::DELTA_PREFIX;
use stream_runtime::source::mix64;
use stream_runtime::{pipeline, CollectSink, InMemorySource};

use crate::harness::harness;
use crate::joins::{assert_joined_once, nested_loop, Event};
use crate::windows::run_to_end;

/// Ids, all in one key group: the last wake-up clears the buffers of
/// every one.
const IDS: u64 = 300;
/// Orders, and as many payments. Batches of 5,000 and the clock's
/// wake-ups between them make far fewer calls than the 256 deltas a group
/// holds before a call folds them, so no call that uses the cache folds.
const ORDERS: u64 = 6_000;

/// Order `i`: id `i` mod [`IDS`], at `2 * i` ms.
fn order(i: u64) -> Event {
    Event {
        id: (i % IDS) as u32,
        ts: i as i64 * 2,
    }
}

/// Payment `i`: order `i`'s id, 0 to 4 s after it, so some fall outside
/// the 3 s the join allows.
fn payment(i: u64) -> Event {
    let placed = order(i);
    Event {
        id: placed.id,
        ts: placed.ts + (mix64(i) % 4_000) as i64,
    }
}

static ORDER_INPUT: LazyLock<Vec<Event>> = LazyLock::new(|| (0..ORDERS).map(order).collect());
static PAYMENT_INPUT: LazyLock<Vec<Event>> = LazyLock::new(|| (0..ORDERS).map(payment).collect());
static PAIRS: LazyLock<CollectSink<(u32, i64, i64)>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub ManyIds(batch_size = 5000, key_groups = 1):
    source(InMemorySource::new(ORDER_INPUT.iter().cloned()))
    |> connect(InMemorySource::new(PAYMENT_INPUT.iter().cloned()))
    |> event_time(|e| e.either(|o| o.ts, |p| p.ts), max_delay = 5s)
    |> key_by(|e| e.either(|o| o.id, |p| p.id))
    |> interval_join(between(0s, 3s), |o, p| (o.id, o.ts, p.ts))
    |> sink(PAIRS.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffers_fired_over_many_ids_of_a_group_pair_each_order_once() {
    let names = ManyIds::service_names();
    run_to_end(&names, 2).await;
    let expected = nested_loop(&ORDER_INPUT, &PAYMENT_INPUT);
    assert_joined_once(&names, &PAIRS, &expected).await;
    // The last firing (the clock's, at the end of time) wrote a delta: a
    // call reading without the cache would have folded every one.
    let rows = stream_support::state::entries(&harness().admin(), &names.keyed)
        .await
        .unwrap_or_else(|e| panic!("state: {e}"));
    let deltas = rows
        .iter()
        .filter(|(_, name, _)| name.starts_with(DELTA_PREFIX))
        .count();
    assert!(deltas > 0, "no delta entry left among {} rows", rows.len());
}
