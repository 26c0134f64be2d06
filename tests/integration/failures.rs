//! A user function that panics on one record does not stop the stream: the
//! record is tried a bounded number of times, then goes to the dead-letter
//! output with its error and source position, and every other record flows.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use stream_runtime::{DeadLetter, FailedStage};

use crate::harness::harness;
use crate::pipelines::{
    Failing, FAILING_RECORDS, FLAKY_BEFORE_KEY_FAILED, FLAKY_KEYED_FAILED, POISON_BEFORE_KEY,
    POISON_KEYED, SURVIVORS,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_records_go_to_the_dead_letter_output_and_the_rest_flow() {
    let h = harness();
    let names = Failing::service_names();
    h.add_tokens(&names, 2).await;
    let done = h
        .wait_for(&names, Duration::from_secs(180), |_| {}, |s| s.finished)
        .await;
    assert_eq!(done.records_in, FAILING_RECORDS);
    assert_eq!(
        done.tokens_in_flight, 0,
        "every token came back and parked: {done:?}"
    );
    assert_eq!(done.dead_letters, 2, "{done:?}");
    assert_eq!(h.live_ingests(&names).await, 0);
    h.assert_nothing_stuck(&names).await;

    // The flaky records failed once, then passed on a later attempt.
    assert!(FLAKY_BEFORE_KEY_FAILED.load(Ordering::SeqCst));
    assert!(FLAKY_KEYED_FAILED.load(Ordering::SeqCst));

    // Every record but the two poisoned ones reached the sink, once.
    let mut survivors: Vec<u64> = SURVIVORS.records().into_iter().map(|(n, _)| n).collect();
    survivors.sort_unstable();
    let expected: Vec<u64> = (0..FAILING_RECORDS)
        .filter(|n| *n != POISON_BEFORE_KEY && *n != POISON_KEYED)
        .collect();
    assert_eq!(survivors, expected);
    // Keyed state counts exactly the survivors of each key.
    let state = h.keyed_state(&names).await;
    for key in 0..4u64 {
        let survivors_of_key = expected.iter().filter(|n| *n % 4 == key).count() as u64;
        assert_eq!(
            state[&key.to_string()]["count"],
            survivors_of_key,
            "key {key}"
        );
    }

    // The dead letters, as stored: error, stage, and source position.
    let letters: BTreeMap<u64, DeadLetter> = h
        .dead_letters(&names)
        .await
        .into_iter()
        .map(|letter| (letter.position, letter))
        .collect();
    assert_eq!(
        letters.keys().copied().collect::<Vec<_>>(),
        vec![POISON_BEFORE_KEY, POISON_KEYED]
    );
    let before = &letters[&POISON_BEFORE_KEY];
    assert_eq!(before.stage, FailedStage::BeforeKey);
    assert!(
        before.error.contains("poisoned record 13") && before.error.contains("after 3 attempts"),
        "{before:?}"
    );
    let keyed = &letters[&POISON_KEYED];
    assert_eq!(keyed.stage, FailedStage::Keyed);
    assert!(
        keyed.error.contains("poisoned record 500") && keyed.error.contains("after 3 attempts"),
        "{keyed:?}"
    );
    assert_eq!(keyed.record, Some(serde_json::json!(POISON_KEYED)));
}
