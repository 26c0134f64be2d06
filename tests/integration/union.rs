//! `union`: two sources of one record type, each with its own splits and
//! positions, counted as one stream, every running count once.

use std::time::Duration;

use crate::harness::harness;
use crate::kafka::assert_each_count_once;
use crate::pipelines::{Unioned, UNIONED, UNION_FIRST, UNION_SECOND};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_union_of_two_sources_counts_every_record_of_both_once() {
    let h = harness();
    let names = Unioned::service_names();
    h.add_tokens(&names, 3).await;
    let status = h
        .wait_for(&names, Duration::from_secs(120), |_| {}, |s| s.finished)
        .await;
    let words: Vec<String> = UNION_FIRST
        .iter()
        .chain(UNION_SECOND.iter())
        .cloned()
        .collect();
    assert_eq!(status.records_in, words.len() as u64, "{status:?}");
    assert_eq!(status.records_out, words.len() as u64, "{status:?}");

    // Three splits, each read to its own end: two of the first source, one
    // of the second.
    let positions: Vec<serde_json::Value> = h
        .sql(&format!(
            "SELECT service_key, value_utf8 FROM state WHERE service_name = '{}' \
             AND key = 'position' ORDER BY service_key",
            names.split
        ))
        .await;
    assert_eq!(positions.len(), 3, "{positions:?}");

    // Checked independently: each word's running counts 1..n, each once.
    let written = UNIONED.records().into_iter().map(|wc| (wc.word, wc.count));
    assert_each_count_once(written, &words);
}
