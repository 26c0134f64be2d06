//! A branch against a real server: one stream, read once, archived raw to
//! a file while its counts per key and 1 s window go to PostgreSQL. Both
//! sinks must hold what the reference model writes, each record once, and
//! the source must have been read once.

use std::collections::BTreeMap;
use std::time::Duration;

use stream_runtime::driver::TestDriver;
use stream_runtime::postgres::PostgresSink;
use stream_runtime::time::Watermarks;
use stream_runtime::window::tumbling;
use stream_runtime::{CollectSink, CompletePipeline, Endpoint, FileSink, Pipeline, Sequence};
use stream_runtime::{ServiceNames, Sink};

use crate::harness::{harness, kafka, postgres, postgres_client, scratch};

const RECORDS: u64 = 3_000;
const KEYS: u64 = 7;

/// A window's count: key, window start, count.
type Count = (u64, i64, u64);

/// Record `n` at `n * 3` ms of event time, a little out of order.
fn time_of(n: u64) -> i64 {
    (n * 3) as i64 + [0, 40, -40, 15][(n % 4) as usize]
}

/// The pipeline: every record to `raw`, and each key's count per 1 s
/// window to `counts`.
fn archived_and_counted(
    name: &str,
    raw: impl Sink<u64>,
    counts: impl Sink<Count>,
) -> CompletePipeline {
    Pipeline::named(name)
        .batch_size(100)
        .key_groups(4)
        .source(Sequence::new().take(RECORDS).with_splits(2))
        .event_time(
            |n| time_of(*n),
            Watermarks::max_delay(Duration::from_millis(100)),
        )
        .branch(|all| all.map(|n| *n).sink(raw))
        .key_by(|n| **n % KEYS)
        .window(tumbling(Duration::from_secs(1)))
        .aggregate(0u64, |count, _| *count += 1)
        .map(|w| (w.key, w.start, w.value))
        .sink(counts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branch_archives_every_record_and_its_counts_reach_postgres_each_once() {
    let config = postgres();
    let db = postgres_client().await;
    db.batch_execute(
        "CREATE TABLE branch_counts (key bigint, start bigint, count bigint NOT NULL, \
         PRIMARY KEY (key, start))",
    )
    .await
    .unwrap_or_else(|e| panic!("create: {e}"));
    let counts = PostgresSink::connect(
        config,
        "branch_counts",
        &["key", "start", "count"],
        |(key, start, count): &Count| {
            vec![
                (*key as i64).into(),
                (*start).into(),
                (*count as i64).into(),
            ]
        },
    )
    .await
    .unwrap_or_else(|e| panic!("sink: {e}"));
    let raw_file = scratch("branch-raw.jsonl");
    let name = "ArchivedAndCounted";
    let pipeline = archived_and_counted(name, FileSink::new(&raw_file), counts);
    kafka().serve(Endpoint::new().pipeline(pipeline)).await;
    let names = ServiceNames::for_pipeline(name);
    let status = harness().finish(&names, 3).await;
    assert_eq!(status.dead_letters, 0, "{status:?}");
    // The source was read once, not once per branch.
    assert_eq!(status.records_in, RECORDS, "{status:?}");

    // The model, with both sinks collected.
    let (model_raw, model_counts) = (CollectSink::new(), CollectSink::new());
    let mut driver = TestDriver::new(archived_and_counted(
        "Model",
        model_raw.clone(),
        model_counts.clone(),
    ));
    driver.run_to_end().await.expect("the model runs");
    let mut expected_raw = model_raw.records();
    expected_raw.sort_unstable();
    assert_eq!(expected_raw, (0..RECORDS).collect::<Vec<_>>());
    let expected: BTreeMap<(u64, i64), u64> = model_counts
        .records()
        .into_iter()
        .map(|(key, start, count)| ((key, start), count))
        .collect();
    assert_eq!(expected.values().sum::<u64>(), RECORDS);

    // The file: every record once.
    let text = std::fs::read_to_string(&raw_file).expect("the archive");
    let mut got_raw: Vec<u64> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect();
    got_raw.sort_unstable();
    assert_eq!(got_raw, expected_raw);
    // The table: every window's count once, as the model counts it.
    let rows = db
        .query("SELECT key, start, count FROM branch_counts", &[])
        .await
        .unwrap_or_else(|e| panic!("select: {e}"));
    let got: BTreeMap<(u64, i64), u64> = rows
        .iter()
        .map(|row| {
            let (key, start, count): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
            ((key as u64, start), count as u64)
        })
        .collect();
    assert_eq!(rows.len(), expected.len(), "a window written twice");
    assert_eq!(got, expected);
    assert_eq!(status.records_out, RECORDS + expected.len() as u64);
    harness().assert_nothing_stuck(&names).await;
}
