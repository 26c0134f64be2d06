//! Windows fired by the clock over many keys of one key group: the
//! firing call reads the group's panes through the read cache and writes
//! what it cleared as a delta, as a batch does (a call that names 16
//! entries or more), instead of folding every pending delta at each
//! wake-up. Each window's count arrives once, and no pane is left when
//! the state is read from outside, deltas taken over entries.

use std::sync::LazyLock;

use stream_runtime::window::Windowed;
use stream_runtime::{pipeline, CollectSink, InMemorySource};

use crate::harness::harness;
use crate::pipelines::Reading;
use crate::windows::{assert_windows_cleaned_up, expected_counts, once, run_to_end, until_results};

/// Keys, all in one key group: each window fires this many panes at once.
const KEYS: u64 = 200;
const RECORDS: u64 = 20_000;

/// Reading `i`: key `i` mod [`KEYS`] at `2 * i` ms, so that each 2 s
/// window holds five readings of every key.
fn reading(i: u64) -> Reading {
    Reading {
        key: (i % KEYS) as u32,
        ts: i as i64 * 2,
    }
}

static INPUT: LazyLock<Vec<Reading>> = LazyLock::new(|| (0..RECORDS).map(reading).collect());
static FIRED: LazyLock<CollectSink<Windowed<u32, u64>>> = LazyLock::new(CollectSink::new);

pipeline! {
    pub ManyPanes(batch_size = 500, key_groups = 1):
    source(InMemorySource::new(INPUT.iter().cloned()).with_splits(2))
    |> event_time(|r| r.ts, max_delay = 1s)
    |> key_by(|r| r.key)
    |> window(tumbling(2s))
    |> aggregate(0u64, |count, _r| *count += 1)
    |> sink(FIRED.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_fired_over_many_keys_of_a_group_count_each_record_once() {
    let names = ManyPanes::service_names();
    run_to_end(&names, 2).await;
    let expected = expected_counts(&INPUT, 2_000, 2_000);
    // Twenty windows of every key.
    assert_eq!(expected.len() as u64, RECORDS * 2 / 2_000 * KEYS);
    let got = until_results(&FIRED, expected.len()).await;
    assert_eq!(once(&got), expected);
    harness().assert_nothing_stuck(&names).await;
    assert_windows_cleaned_up(&names.keyed).await;
}
