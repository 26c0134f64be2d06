//! Invariants 2, 3 and 4: exact keyed state, running counts once each in
//! the file, and `finished` exactly when everything is processed.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::harness::harness;
use crate::pipelines::{
    counts, BoundedWords, WordCount, BOUNDED_INPUT, BOUNDED_OUTPUT, BOUNDED_WORDS,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounded_word_count_is_exact_and_finishes_only_when_done() {
    let h = harness();
    let names = BoundedWords::service_names();
    let _ = std::fs::remove_file(&*BOUNDED_OUTPUT);

    let before = h.status(&names).await;
    assert!(
        !before.finished,
        "finished before any token ran: {before:?}"
    );
    assert!(before.bounded);

    h.add_tokens(&names, 4).await;
    let total = BOUNDED_WORDS as u64;
    let done = h
        .wait_for(
            &names,
            Duration::from_secs(180),
            |status| {
                // Never finished while any record is still on its way.
                if status.finished {
                    assert_eq!(status.records_out, total, "finished early: {status:?}");
                }
                assert!(
                    status.records_out <= total,
                    "more output than input: {status:?}"
                );
            },
            |status| status.finished,
        )
        .await;
    assert_eq!(done.records_in, total);
    assert_eq!(done.tokens_injected, 4);
    assert_eq!(
        done.tokens_in_flight, 0,
        "every token parks at the end: {done:?}"
    );
    assert_eq!(done.dead_letters, 0);

    // New tokens would only park: addTokens says so with a 409.
    let refused = h
        .ingress()
        .add_tokens(&names, 1)
        .await
        .expect_err("a bounded pipeline that ran out refuses tokens");
    assert_eq!(refused.status(), Some(409), "{refused}");
    assert!(
        refused.to_string().contains("processed all of its input"),
        "{refused}"
    );
    assert_eq!(
        h.status(&names).await.tokens_injected,
        4,
        "nothing was added"
    );

    // Invariant 2: every key's state equals its count in the input.
    let expected = counts(&BOUNDED_INPUT);
    let state = h.keyed_state(&names).await;
    let stored: BTreeMap<String, u64> = state
        .iter()
        .map(|(key, value)| {
            let word: String = serde_json::from_str(key).expect("keys are JSON strings");
            let wc: WordCount =
                serde_json::from_value(value.clone()).expect("state is a WordCount");
            assert_eq!(wc.word, word);
            (word, wc.count)
        })
        .collect();
    assert_eq!(stored, expected);

    // Invariant 3: for a word seen n times, the file holds counts 1..n, each once.
    let text = std::fs::read_to_string(&*BOUNDED_OUTPUT).expect("the sink wrote its file");
    let mut seen: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for line in text.lines() {
        let wc: WordCount =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad line {line:?}: {e}"));
        seen.entry(wc.word).or_default().push(wc.count);
    }
    for (word, n) in &expected {
        let mut got = seen.remove(word).unwrap_or_default();
        got.sort_unstable();
        assert_eq!(
            got,
            (1..=*n).collect::<Vec<_>>(),
            "running counts of {word}"
        );
    }
    assert!(
        seen.is_empty(),
        "words that were never in the input: {seen:?}"
    );

    // Every token really stopped: the server has no ingest left.
    assert_eq!(h.live_ingests(&names).await, 0);
    h.assert_nothing_stuck(&names).await;
    let _ = std::fs::remove_file(&*BOUNDED_OUTPUT);
}
