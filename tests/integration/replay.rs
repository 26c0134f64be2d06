//! Dead-letter replay at a later keyed stage: a record that a chain's
//! second stage failed on (while a flag stands in for a bug) is replayed
//! after the fix, enters that stage again, once, and its result reaches
//! the sink once; every total then matches a plain computation. And
//! replay all over more letters than a page holds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use stream_runtime::{CollectSink, Endpoint, FailedStage, Pipeline, Sequence, ServiceNames};

use crate::harness::harness;

const WAIT: Duration = Duration::from_secs(120);

/// Serves `pipeline` (named `name`) and runs it to its end with 2 tokens:
/// the endpoint (served while it is kept), its names, its last status.
async fn run_to_its_end(
    pipeline: impl stream_runtime::IntoPipeline,
    name: &str,
) -> (crate::harness::Served, ServiceNames, stream_runtime::Status) {
    let h = harness();
    let served = h.serve_here(Endpoint::new().pipeline(pipeline)).await;
    let names = ServiceNames::for_pipeline(name);
    h.add_tokens(&names, 2).await;
    let done = h.wait_for(&names, WAIT, |_| {}, |s| s.finished).await;
    (served, names, done)
}

/// The bug: the second stage fails on the running sum 24 while it stands.
static BROKEN: AtomicBool = AtomicBool::new(true);
const RECORDS: u64 = 40;
const FAILS_ON: u64 = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_a_later_stage_failed_on_is_replayed_there_once() {
    let name = "ReplayChained";
    let out = CollectSink::<(u64, u64, u64)>::new();
    let pipeline = Pipeline::named(name)
        .key_groups(4)
        .max_attempts(2)
        .source(Sequence::new().take(RECORDS))
        .key_by(|n| n % 4)
        .reduce(|a, b| a + b)
        .map(|sum| (sum % 2, sum, 1u64))
        .key_by(|r: &(u64, u64, u64)| r.0)
        .reduce(|a, b| {
            assert!(
                !(BROKEN.load(Ordering::SeqCst) && b.1 == FAILS_ON),
                "the bug"
            );
            (a.0, a.1 + b.1, a.2 + b.2)
        })
        .sink(out.clone());
    let (_served, names, done) = run_to_its_end(pipeline, name).await;
    let (h, wait) = (harness(), WAIT);
    assert_eq!(done.dead_letters, 1, "{done:?}");

    let ingress = h.ingress();
    let overview = (ingress.overview(&names).await).unwrap_or_else(|e| panic!("{e}"));
    let [letter] = &overview.dead_letters[..] else {
        panic!("one letter: {:#?}", overview.dead_letters)
    };
    assert!(letter.replayable, "{letter:#?}");
    let second = FailedStage::Chained {
        stage: 2,
        from_group: 0,
    }
    .to_string();
    let second = second.split(", from").next().unwrap_or_default().to_owned();
    assert!(letter.stage.starts_with(&second), "{letter:#?}");
    let before = out.records().len();

    BROKEN.store(false, Ordering::SeqCst);
    let replayed = (ingress.replay(&names, None).await).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (replayed.replayed.len(), replayed.failed_again.len()),
        (1, 0)
    );
    let overview = (ingress.overview(&names).await).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        overview.dead_letters.is_empty(),
        "{:#?}",
        overview.dead_letters
    );

    // The plain computation: each key's running sums, then per parity
    // their total and count.
    let mut sums = [0u64; 4];
    let mut expected = [(0u64, 0u64); 2];
    for n in 0..RECORDS {
        sums[(n % 4) as usize] += n;
        let sum = sums[(n % 4) as usize];
        let parity = &mut expected[(sum % 2) as usize];
        *parity = (parity.0 + sum, parity.1 + 1);
    }
    let deadline = std::time::Instant::now() + wait;
    while out.records().len() < before + 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let records = out.records();
    assert_eq!(
        records.len(),
        before + 1,
        "the replayed record's one result"
    );
    assert_eq!(records.len() as u64, RECORDS, "one result per record, once");
    for parity in 0..2u64 {
        let last = (records.iter())
            .filter(|r| r.0 == parity)
            .max_by_key(|r| r.2)
            .map(|r| (r.1, r.2));
        assert_eq!(last, Some(expected[parity as usize]), "parity {parity}");
    }
    h.assert_nothing_stuck(&names).await;
}

/// The bug of the second test: `map` fails on every odd number while it
/// stands, before `key_by`.
static ODD_BROKEN: AtomicBool = AtomicBool::new(true);
const MANY: u64 = 250;

/// Replay all over more letters than one page (at most 100) holds: 125
/// records failed before `key_by`; replayed before the fix, each fails
/// again once and the replay ends; after the fix each is read again from
/// the source, once, and every key's sum is then the plain one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_all_reads_every_page_and_replays_each_letter_once() {
    let name = "ReplayPages";
    let out = CollectSink::<(u64, u64)>::new();
    let pipeline = Pipeline::named(name)
        .key_groups(4)
        .max_attempts(1)
        .source(Sequence::new().take(MANY))
        .map(|n| {
            assert!(!(ODD_BROKEN.load(Ordering::SeqCst) && n % 2 == 1), "odd");
            (n % 5, n)
        })
        .key_by(|r: &(u64, u64)| r.0)
        .reduce(|a, b| (a.0, a.1 + b.1))
        .sink(out.clone());
    let (_served, names, done) = run_to_its_end(pipeline, name).await;
    let (h, wait) = (harness(), WAIT);
    assert_eq!(done.dead_letters, MANY / 2, "{done:?}");

    // While the bug stands, each fails again, once: the letters a replay
    // makes are not its own to take, so it ends.
    let ingress = h.ingress();
    let failed = (ingress.replay(&names, None).await).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (failed.replayed.len(), failed.failed_again.len() as u64),
        (0, MANY / 2)
    );
    let kept = MANY; // the first letters, then one new letter each
    h.wait_for(&names, wait, |_| {}, |s| s.dead_letters == kept)
        .await;

    ODD_BROKEN.store(false, Ordering::SeqCst);
    let replayed = (ingress.replay(&names, None).await).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (replayed.replayed.len() as u64, replayed.failed_again.len()),
        (MANY / 2, 0)
    );
    let again = (ingress.replay(&names, None).await).unwrap_or_else(|e| panic!("{e}"));
    assert!(again.replayed.is_empty(), "{again:?}");

    let deadline = std::time::Instant::now() + wait;
    while (out.records().len() as u64) < MANY && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let records = out.records();
    assert_eq!(records.len() as u64, MANY, "one result per record, once");
    for key in 0..5 {
        let total: u64 = (0..MANY).filter(|n| n % 5 == key).sum();
        let last = (records.iter()).filter(|r| r.0 == key).map(|r| r.1).max();
        assert_eq!(last, Some(total), "key {key}");
    }
    h.assert_nothing_stuck(&names).await;
}
