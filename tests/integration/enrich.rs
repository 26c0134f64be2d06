//! Enrichment stages against a real server: one calling a Restate Virtual
//! Object (`EnrichCalls`, served by the same endpoint), one calling a
//! plain HTTP server this test starts. Each output must be the reference
//! model's, each record's call made exactly once (counted by the called
//! object in its own state), and a call that fails must dead-letter its
//! record with why.

use std::collections::BTreeMap;
use std::sync::{LazyLock, OnceLock};

use stream_runtime::driver::TestDriver;
use stream_runtime::lookup::{Call, Lookup, Target};
use stream_runtime::{pipeline, CollectSink, FailedStage, IntoPipeline, Sequence};
use stream_support::lookups::{answer, object_key, restate_calls, HttpLookups};

use crate::harness::harness;
use crate::windows::until_results;

pub const OBJECT_RECORDS: u64 = 1_200;
pub static OBJECT_OUT: LazyLock<CollectSink<(u64, u64)>> = LazyLock::new(CollectSink::new);

pipeline! {
    /// Each number with the answer `EnrichCalls/{n}/lookup` gives for it.
    pub ObjectEnriched(out: CollectSink<(u64, u64)>, batch_size = 50, key_groups = 4):
    source(Sequence::new().take(OBJECT_RECORDS).with_splits(2))
    |> key_by(|n| n % 16)
    |> enrich(|n| Lookup::<u64>::object("EnrichCalls", object_key("ObjectEnriched", *n), "lookup", n), in_flight = 8)
    |> sink(out)
}

pub const HTTP_RECORDS: u64 = 600;
/// Every record whose lookup asks for a path the server does not have.
const MISSING_EVERY: u64 = 97;
pub static HTTP_OUT: LazyLock<CollectSink<(u64, u64)>> = LazyLock::new(CollectSink::new);
/// The HTTP server's base URL, set by the test before it adds tokens.
pub static HTTP_URL: OnceLock<String> = OnceLock::new();

/// `GET {base}/answer/{n}`, or a path the server answers 404 to.
fn http_lookup(n: u64) -> Lookup<u64> {
    let base = HTTP_URL.get().map_or("", String::as_str);
    match n % MISSING_EVERY {
        0 => Lookup::get(format!("{base}/missing/{n}")),
        _ => Lookup::get(format!("{base}/answer/{n}")),
    }
}

pipeline! {
    /// Each number with the answer the HTTP server gives, emitted as the
    /// calls answer.
    pub HttpEnriched(out: CollectSink<(u64, u64)>, batch_size = 40, key_groups = 4):
    source(Sequence::new().take(HTTP_RECORDS).with_splits(2))
    |> key_by(|n| n % 8)
    |> enrich(|n| http_lookup(*n), order = unordered, in_flight = 4, timeout = 5s, attempts = 2)
    |> sink(out)
}

/// The model's output of `pipeline`, with lookups answered as `answers`
/// says, and its dead letters.
async fn modelled(
    pipeline: impl IntoPipeline,
    model_out: &CollectSink<(u64, u64)>,
    answers: impl Fn(&Call) -> stream_runtime::lookup::Answered + Send + Sync + 'static,
) -> (BTreeMap<u64, u64>, usize) {
    let mut driver = TestDriver::new(pipeline);
    driver.answer_lookups(answers);
    driver
        .run_to_end()
        .await
        .expect("the model reads its source");
    let out = model_out.records().into_iter().collect();
    (out, driver.dead_letters().len())
}

/// Each record once: the output as a map, failing on a record twice.
fn once(got: &[(u64, u64)]) -> BTreeMap<u64, u64> {
    let mut seen = BTreeMap::new();
    for (n, answer) in got {
        assert!(seen.insert(*n, *answer).is_none(), "record {n} twice");
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restate_lookup_enriches_each_record_once_and_calls_once() {
    let names = ObjectEnriched::service_names();
    let status = harness().finish(&names, 3).await;
    assert_eq!(status.dead_letters, 0, "{status:?}");
    assert_eq!(status.records_out, OBJECT_RECORDS, "{status:?}");
    let got = until_results(&OBJECT_OUT, OBJECT_RECORDS as usize).await;
    let model_out = CollectSink::new();
    let model = ObjectEnriched {
        out: model_out.clone(),
    };
    let (expected, letters) = modelled(model, &model_out, |call| {
        let n = call.body.clone()?.as_u64().ok_or("not a number")?;
        Ok(serde_json::json!(answer(n)))
    })
    .await;
    assert_eq!(letters, 0);
    assert_eq!(once(&got), expected);
    assert_eq!(expected.len() as u64, OBJECT_RECORDS);
    // The object counted its own invocations: one per record.
    let calls = restate_calls(&harness().admin(), "ObjectEnriched")
        .await
        .expect("the calls");
    let wrong: Vec<_> = calls.iter().filter(|(_, count)| **count != 1).collect();
    assert!(
        wrong.is_empty(),
        "records called other than once: {wrong:?}"
    );
    assert_eq!(calls.len() as u64, OBJECT_RECORDS);
    harness().assert_nothing_stuck(&names).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_lookup_enriches_each_record_and_dead_letters_a_failed_call() {
    let server = HttpLookups::default();
    let url = server.start().await.expect("the HTTP server starts");
    HTTP_URL.set(url).expect("set once");
    let names = HttpEnriched::service_names();
    let status = harness().finish(&names, 3).await;
    let missing = (0..HTTP_RECORDS).filter(|n| n % MISSING_EVERY == 0).count();
    let answered = HTTP_RECORDS as usize - missing;
    assert_eq!(status.dead_letters, missing as u64, "{status:?}");
    let got = until_results(&HTTP_OUT, answered).await;
    let model_out = CollectSink::new();
    let model = HttpEnriched {
        out: model_out.clone(),
    };
    let (expected, letters) = modelled(model, &model_out, |call| match &call.target {
        Target::Http { url, .. } if url.contains("/answer/") => {
            let n: u64 = url
                .rsplit('/')
                .next()
                .and_then(|n| n.parse().ok())
                .ok_or("no n")?;
            Ok(serde_json::json!(answer(n)))
        }
        Target::Http { url, .. } => Err(format!("{url} answered 404")),
        other => Err(format!("not an HTTP call: {other}")),
    })
    .await;
    assert_eq!(letters, missing);
    assert_eq!(once(&got), expected);
    // Every dead letter is a missing path's record, with the server's why.
    let letters = harness().dead_letters(&names).await;
    for letter in &letters {
        assert!(
            matches!(letter.stage, FailedStage::Lookup { stage: 1, .. }),
            "{letter:?}"
        );
        assert!(letter.error.contains("answered 404"), "{}", letter.error);
        let n = letter.record.as_ref().and_then(|r| r.as_u64());
        assert!(n.is_some_and(|n| n % MISSING_EVERY == 0), "{letter:?}");
    }
    // A server kill is what would make a call twice (the HTTP calls are
    // at least once); here, on a clean run, each was made once.
    let counts = server.counts();
    assert_eq!(counts.len(), answered);
    assert!(counts.values().all(|c| *c == 1), "{counts:?}");
    harness().assert_nothing_stuck(&names).await;
}
