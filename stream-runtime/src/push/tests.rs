use std::time::Duration;

use serde_json::{json, Value};

use super::*;

/// Feeds a take the log's batches (by first position) until it is done,
/// as the log's `take` handler does with its state.
fn take(batches: &[(u64, Vec<Value>)], from: u64, cursor: u64, max: u32, bytes: u64) -> Taken {
    let end = batches
        .last()
        .map_or(0, |(first, b)| first + b.len() as u64);
    let mut taking = Taking::new(from, cursor, max, bytes);
    while let Some(first) = taking.wants().filter(|first| *first < end) {
        let (_, records) = batches
            .iter()
            .find(|(f, _)| *f == first)
            .expect("the cursor names a batch");
        taking.batch(first, records.clone());
    }
    taking.finish()
}

fn numbers(range: std::ops::Range<u64>) -> Vec<Value> {
    range.map(|n| json!(n)).collect()
}

fn log() -> Vec<(u64, Vec<Value>)> {
    vec![(0, numbers(0..3)), (3, numbers(3..4)), (4, numbers(4..9))]
}

#[test]
fn a_take_walks_the_batches_and_drops_those_it_takes_whole() {
    let taken = take(&log(), 0, 0, 5, u64::MAX);
    assert_eq!(taken.records, numbers(0..5));
    assert_eq!(taken.dropped, vec![0, 3]);
    assert_eq!(taken.cursor, 4, "the third batch still holds 5..9");
    // The next take skips what was taken of it, and drops it.
    let rest = take(&log(), 5, taken.cursor, 100, u64::MAX);
    assert_eq!(rest.records, numbers(5..9));
    assert_eq!(rest.dropped, vec![4]);
    assert_eq!(rest.cursor, 9);
    // Nothing more: nothing taken, nothing dropped.
    let none = take(&log(), 9, 9, 100, u64::MAX);
    assert_eq!(
        (none.records.len(), none.dropped.len(), none.cursor),
        (0, 0, 9)
    );
}

#[test]
fn a_take_ending_on_a_batchs_last_record_drops_it() {
    let taken = take(&log(), 0, 0, 4, u64::MAX);
    assert_eq!(taken.records, numbers(0..4));
    assert_eq!(taken.dropped, vec![0, 3]);
    assert_eq!(taken.cursor, 4);
}

#[test]
fn a_take_keeps_under_its_bytes_but_takes_at_least_one_record() {
    // Each number below 10 encodes in one byte.
    let taken = take(&log(), 0, 0, 100, 2);
    assert_eq!(taken.records, numbers(0..2));
    assert_eq!((taken.dropped.len(), taken.cursor), (0, 0));
    let big = vec![(0, vec![json!("a record larger than the budget")])];
    let taken = take(&big, 0, 0, 100, 4);
    assert_eq!(taken.records.len(), 1, "a record alone is always taken");
}

#[test]
fn a_batch_goes_to_the_same_split_every_time() {
    assert_eq!(split_of("batch-7", 4), split_of("batch-7", 4));
    assert!(split_of("batch-7", 4) < 4);
    assert_eq!(split_of("anything", 1), 0);
    assert_eq!(split_of("anything", 0), 0, "no split count divides by zero");
    // Keys spread over the splits.
    let used: std::collections::BTreeSet<u32> =
        (0..64).map(|n| split_of(&format!("k{n}"), 4)).collect();
    assert_eq!(used.len(), 4);
}

#[test]
fn the_bound_refuses_with_a_wait_that_grows_past_it() {
    assert_eq!(
        admit(0, 0, 1_000, 10),
        Ok(()),
        "an empty log takes any batch"
    );
    assert_eq!(admit(0, 5, 5, 10), Ok(()), "up to the bound");
    let just = admit(1, 5, 6, 10).expect_err("past the bound");
    assert_eq!((just.split, just.unread, just.bound), (1, 5, 10));
    let far = admit(1, 9, 100, 10).expect_err("far past it");
    assert!(
        just.wait >= WAIT_MIN && just.wait < far.wait,
        "{just:?} {far:?}"
    );
    assert_eq!(far.wait, WAIT_MAX);
    assert!(just.to_string().contains("retry after"), "{just}");
    assert!(WAIT_MAX <= Duration::from_secs(5));
}

#[test]
fn a_records_length_is_its_json() {
    for record in [
        json!(1),
        json!("a \"b\""),
        json!({"k": [1, 2]}),
        Value::Null,
    ] {
        assert_eq!(encoded_len(&record), record.to_string().len());
    }
}
