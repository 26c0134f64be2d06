//! Invariant 5: two pipelines on one endpoint run side by side, with keys of
//! the same name, and share no state.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::harness::harness;
use crate::pipelines::{
    counts, LeftWords, RightWords, WordCount, LEFT_INPUT, LEFT_OUT, RIGHT_INPUT, RIGHT_OUT,
};

fn finals(records: Vec<WordCount>) -> BTreeMap<String, u64> {
    let mut finals = BTreeMap::new();
    for wc in records {
        let count = finals.entry(wc.word).or_insert(0);
        *count = wc.count.max(*count);
    }
    finals
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pipelines_share_an_endpoint_but_not_state() {
    let h = harness();
    let left = LeftWords::service_names();
    let right = RightWords::service_names();
    assert_ne!(left.keyed, right.keyed);
    h.add_tokens(&left, 3).await;
    h.add_tokens(&right, 3).await;
    for names in [&left, &right] {
        h.wait_for(names, Duration::from_secs(180), |_| {}, |s| s.finished)
            .await;
    }

    let left_expected = counts(&LEFT_INPUT);
    let right_expected = counts(&RIGHT_INPUT);
    // The inputs overlap in keys, with different counts.
    assert!(left_expected.keys().any(|k| right_expected
        .get(k)
        .is_some_and(|n| *n != left_expected[k])));

    assert_eq!(finals(LEFT_OUT.records()), left_expected);
    assert_eq!(finals(RIGHT_OUT.records()), right_expected);
    assert_eq!(LEFT_OUT.len(), LEFT_INPUT.len());
    assert_eq!(RIGHT_OUT.len(), RIGHT_INPUT.len());

    for (names, expected) in [(&left, &left_expected), (&right, &right_expected)] {
        let stored: BTreeMap<String, u64> = h
            .keyed_state(names)
            .await
            .into_iter()
            .map(|(key, value)| {
                let word: String = serde_json::from_str(&key).expect("JSON key");
                let wc: WordCount = serde_json::from_value(value).expect("a WordCount");
                (word, wc.count)
            })
            .collect();
        assert_eq!(&stored, expected, "{}", names.pipeline);
        h.assert_nothing_stuck(names).await;
    }
}
