//! A user function that panics on one record does not stop the stream: the
//! record is tried a bounded number of times, then goes to the dead-letter
//! output with its error and source position, and every other record flows.
//! A sink write that fails for good after landing in part (as a Kafka
//! topic's can) does not make the next write take those records for its
//! own.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use stream_runtime::{pipeline, DeadLetter, FailedStage, Sequence, Sink};

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

const APPENDED_RECORDS: u64 = 100;
/// Every attempt of the write holding this record lands the records
/// before it, then fails.
const SINK_DOWN_AT: u64 = 35;

/// An append-only sink, as a Kafka topic is: a write takes what lies past
/// `committed` for its own records, landed by an earlier attempt, and
/// appends the rest; after a failed write, it answers where its records
/// end.
#[derive(Clone, Default)]
pub struct AppendOnly {
    lines: Arc<Mutex<Vec<u64>>>,
    /// The committed offset of each question after a failed write.
    asked: Arc<Mutex<Vec<u64>>>,
}

impl Sink<u64> for AppendOnly {
    async fn write(&self, _: u32, committed: u64, records: &[u64]) -> std::io::Result<u64> {
        let mut lines = self
            .lines
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        let landed = (lines.len() as u64).saturating_sub(committed) as usize;
        for &record in records.iter().skip(landed) {
            if record == SINK_DOWN_AT {
                return Err(std::io::Error::other("the sink went down"));
            }
            lines.push(record);
        }
        Ok(committed + records.len() as u64)
    }

    async fn after_failed_write(&self, _: u32, committed: u64) -> std::io::Result<u64> {
        let mut asked = self
            .asked
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        asked.push(committed);
        let lines = self
            .lines
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        Ok(lines.len() as u64)
    }
}

pub static APPENDED: LazyLock<AppendOnly> = LazyLock::new(AppendOnly::default);

pipeline! {
    pub DownOnce(batch_size = 10, max_attempts = 2):
    source(Sequence::new().take(APPENDED_RECORDS))
    |> map(|n| n)
    |> sink(APPENDED.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_failed_after_landing_in_part_is_not_taken_for_the_next() {
    let h = harness();
    let names = DownOnce::service_names();
    h.add_tokens(&names, 1).await;
    let done = h
        .wait_for(&names, Duration::from_secs(120), |_| {}, |s| s.finished)
        .await;
    assert_eq!(done.dead_letters, 1, "{done:?}");
    let letters = h.dead_letters(&names).await;
    let [letter] = &letters[..] else {
        panic!("one dead letter, not {letters:?}");
    };
    assert_eq!(letter.stage, FailedStage::Sink, "{letter:?}");
    assert!(letter.error.contains("the sink went down"), "{letter:?}");
    let batch = letter.position..letter.position + u64::from(letter.count);
    assert!(batch.contains(&SINK_DOWN_AT), "{letter:?}");

    // The failed batch's records before the failure landed and stay; the
    // sink was asked where its records end, once, and the next write went
    // on after them: every other record is there once.
    let asked = APPENDED.asked.lock().map(|a| a.clone()).unwrap_or_default();
    assert_eq!(
        asked,
        [batch.start],
        "asked once, from the failed batch's start"
    );
    let mut lines = APPENDED.lines.lock().map(|l| l.clone()).unwrap_or_default();
    lines.sort_unstable();
    let expected: Vec<u64> = (0..APPENDED_RECORDS)
        .filter(|n| !(SINK_DOWN_AT..batch.end).contains(n))
        .collect();
    assert_eq!(lines, expected);
}
