//! `process`: value state, reducing state, the current key and the
//! collector, followed by a stateless stage after the keyed one.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::harness::harness;
use crate::pipelines::{KeyedTally, Tally, PROCESS_RECORDS, TALLIES};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_function_keeps_named_state_per_key() {
    let h = harness();
    let names = KeyedTally::service_names();
    // One token reads the one split in order, so every key sees its records
    // in source order and the running sums below are exact. (With more
    // tokens than splits, batches of a split may reach a key group in any
    // order; see the guide's guarantees chapter.)
    h.add_tokens(&names, 1).await;
    h.wait_for(&names, Duration::from_secs(180), |_| {}, |s| s.finished)
        .await;

    // What each key's every 10th record should report.
    let mut expected = Vec::new();
    let mut per_key: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for n in 0..PROCESS_RECORDS {
        let (seen, sum) = per_key.entry(n % 7).or_default();
        *seen += 1;
        *sum += n;
        if *seen % 10 == 0 && n % 7 != 6 {
            expected.push(Tally {
                key: n % 7,
                seen: *seen,
                sum: *sum,
            });
        }
    }
    let mut got = TALLIES.records();
    got.sort_by_key(|t| (t.key, t.seen));
    expected.sort_by_key(|t| (t.key, t.seen));
    assert_eq!(got, expected);

    // The stored state is the named states of each key, including the
    // key the filter after `process` dropped.
    h.assert_nothing_stuck(&names).await;
    let state = h.keyed_state(&names).await;
    assert_eq!(state.len(), 7);
    for (key, (seen, sum)) in per_key {
        let stored = &state[&key.to_string()];
        assert_eq!(stored["seen"], seen, "key {key}");
        assert_eq!(stored["sum"], sum, "key {key}");
    }
}
