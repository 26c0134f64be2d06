//! Records too large to go to a key group or a sink in one call: a round
//! sends them in several calls under the server's message limit, and a
//! record larger than one call may carry goes to the dead-letter output
//! with its size. (Before, 400 records of 200 KB sent one key group about
//! 40 MB in a call; restate-server refused it and the tokens retried
//! forever, with nothing in `status`.)

use std::sync::LazyLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stream_runtime::{
    CollectSink, FailedStage, IntoPipeline, Pipeline, PipelineConfig, Sequence, ServiceNames,
};

use crate::harness::harness;

const PIPELINE: &str = "LargeRecords";
const RECORDS: u64 = 400;
/// Each record's padding: 400 of them are 80 MB in one round (the default
/// batch of 1,000 takes them all), in 2 keys.
const PADDING: usize = 200_000;
/// This record is larger than a call may carry.
const HUGE: u64 = 123;

/// A record with its key's running count, padded.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Padded {
    key: u64,
    count: u64,
    padding: String,
}

static OUT: LazyLock<CollectSink<Padded>> = LazyLock::new(CollectSink::new);

/// A running count per key over large records, written with their padding.
pub fn large_records() -> impl IntoPipeline {
    Pipeline::named(PIPELINE)
        .source(Sequence::new().take(RECORDS))
        .map(|n| {
            let bytes = match n {
                HUGE => PipelineConfig::DEFAULT_MAX_CALL_BYTES + 1,
                _ => PADDING,
            };
            Padded {
                key: n % 2,
                count: 1,
                padding: "x".repeat(bytes),
            }
        })
        .key_by(|p| p.key)
        .reduce(|a, b| Padded {
            count: a.count + b.count,
            ..b
        })
        .sink(OUT.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_records_are_sent_in_several_calls_and_one_too_large_is_dead_lettered() {
    let h = harness();
    let names = ServiceNames::for_pipeline(PIPELINE);
    h.add_tokens(&names, 1).await;
    let done = h
        .wait_for(&names, Duration::from_secs(240), |_| {}, |s| s.finished)
        .await;
    assert_eq!(
        (done.records_in, done.records_out, done.dead_letters),
        (RECORDS, RECORDS - 1, 1),
        "{done:?}"
    );
    let letters = h.dead_letters(&names).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = &letters[0];
    assert_eq!((letter.position, letter.count), (HUGE, 1), "{letter:?}");
    assert_eq!(letter.stage, FailedStage::Keyed, "{letter:?}");
    assert!(
        letter
            .error
            .contains("more than the 8388608 bytes one call may carry"),
        "{letter:?}"
    );
    // Each key's running counts, each once: 1..=200 for key 0, and 1..=199
    // for key 1, which lost the huge record.
    let mut counts: Vec<(u64, u64)> = OUT
        .records()
        .into_iter()
        .map(|p| {
            assert_eq!(p.padding.len(), PADDING);
            (p.key, p.count)
        })
        .collect();
    counts.sort_unstable();
    let expected: Vec<(u64, u64)> = (1..=200)
        .map(|c| (0, c))
        .chain((1..=199).map(|c| (1, c)))
        .collect();
    assert_eq!(counts, expected);
    h.assert_nothing_stuck(&names).await;
}
