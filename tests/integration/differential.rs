//! Differential tests: random pipelines from the stage table, over random
//! input and layouts, each run on the real server and in the reference
//! model (`stream_runtime::driver`), whose outputs must be equal.
//!
//! The input's disorder stays within the allowed delay, so no record is
//! ever behind the watermark, whichever way the tokens batch it: the result
//! is then defined by the input alone, and the server must give the
//! model's. A failing seed prints itself; add it to [`FIXED`].
//!
//! `DIFF_SEEDS=200 cargo test --all-features --test integration
//! differential` runs 200 random seeds (the default runs the fixed ones
//! and 3 random).

use stream_runtime::{CollectSink, Endpoint, ServiceNames};
use stream_support::random_pipelines::{build, modelled, Case, Rec, SHAPES};

use crate::harness::{harness, Served};

/// Seeds that are always run: each shape at least once (a case's shape is
/// its seed modulo [`SHAPES`]).
const FIXED: [u64; 11] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

/// The seeds to run: the fixed ones, then `DIFF_SEEDS` random ones (3 by
/// default), drawn from the clock.
fn seeds() -> Vec<u64> {
    let random: u64 = std::env::var("DIFF_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(11, |d| d.as_secs() * 1_000 % 1_000_000_007);
    FIXED
        .into_iter()
        .chain((0..random).map(|i| 1_000 + start + i))
        .collect()
}

/// Each case's pipeline, named `{prefix}{process}S{seed}`, served on an
/// endpoint of the calling test's own: the services' names, each case's
/// sink, and the endpoint, served until dropped.
async fn serve(cases: &[Case], prefix: &str) -> (Vec<(ServiceNames, CollectSink<String>)>, Served) {
    let run = std::process::id();
    let mut endpoint = Endpoint::new();
    let mut served = Vec::new();
    for case in cases {
        let name = format!("{prefix}{run}S{}", case.seed);
        let sink = CollectSink::new();
        endpoint = endpoint.pipeline(build(case, &name, sink.clone()));
        served.push((ServiceNames::for_pipeline(&name), sink));
    }
    (served, harness().serve_here(endpoint).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_pipelines_give_the_models_results_on_a_server() {
    let h = harness();
    let cases: Vec<Case> = seeds().into_iter().map(Case::new).collect();
    let (served, _endpoint) = serve(&cases, "Diff").await;
    let mut shapes = [0u32; SHAPES as usize];
    for (case, (names, sink)) in cases.iter().zip(&served) {
        let expected = modelled(case).await.unwrap_or_else(|e| panic!("{e}"));
        let status = h.finish(names, case.tokens).await;
        let mut got = crate::windows::until_results(sink, expected.len()).await;
        got.sort();
        let context = format!(
            "seed {} (shape {}, {} + {} records, {} splits, {} tokens, batch {}, {} key groups, \
             delay {} ms): {status:?}",
            case.seed,
            case.shape,
            case.input.len(),
            case.other.len(),
            case.splits,
            case.tokens,
            case.batch,
            case.key_groups,
            case.delay_ms
        );
        assert_eq!(status.late_records, 0, "{context}");
        assert_eq!(status.dead_letters, 0, "{context}");
        assert_eq!(got, expected, "{context}");
        shapes[case.shape as usize] += 1;
        eprintln!(
            "differential: seed {} equal ({} results)",
            case.seed,
            got.len()
        );
    }
    eprintln!(
        "differential: {} pipelines by shape {shapes:?}",
        cases.len()
    );
}

/// With records beyond the allowed delay, which are late depends on how the
/// tokens batched them; but every record is counted once, in a window's
/// count or in the late-data output, and a late record was behind the
/// watermark: at least the allowed delay behind a record before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_late_input_every_record_is_counted_once_in_a_result_or_as_late() {
    let h = harness();
    let cases: Vec<Case> = seeds().into_iter().map(Case::with_late).collect();
    let (served, _endpoint) = serve(&cases, "Late").await;
    for (case, (names, sink)) in cases.iter().zip(&served) {
        let status = h.finish(names, case.tokens).await;
        let counted: u64 = (sink.records().iter())
            .map(|w| {
                let w: serde_json::Value = serde_json::from_str(w).unwrap_or_default();
                w["value"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("a count: {w}"))
            })
            .sum();
        let late = h.control_entries(names, "late:").await;
        let records = case.counted();
        let context = format!("seed {} (shape {}): {status:?}", case.seed, case.shape);
        assert_eq!(late.len() as u64, status.late_records, "{context}");
        assert_eq!(
            counted + status.late_records,
            records.len() as u64,
            "{context}"
        );
        // Each late record can have been behind the watermark.
        for record in late {
            let value: Rec = serde_json::from_value(record["value"].clone())
                .unwrap_or_else(|e| panic!("{record}: {e}"));
            assert!(case.can_be_late(&value), "{record} ({context})");
        }
        eprintln!(
            "differential: seed {} with late input: {counted} counted, {} late",
            case.seed, status.late_records
        );
    }
}
