//! Change data capture after a burst of writes: 200,000 rows inserted in
//! transactions of 1,000 as fast as PostgreSQL takes them, just after the
//! slot is made, each read once. The slot's restart position stays where
//! the slot began (no running-transactions record comes between), so the
//! server behind each pull decodes the whole burst again before it sends
//! anything past the pull's start; a pull that took that silence for a
//! quiet stream stopped with nothing, every time, and the split never
//! moved again (`bench --cdc` stalled at 160,000 of 200,000).

use std::sync::LazyLock;
use std::time::Duration;

use stream_runtime::postgres::cdc::{Change, PostgresCdc};
use stream_runtime::{CollectSink, Endpoint, Pipeline, ServiceNames};

use crate::harness::{harness, postgres, postgres_client};

const PIPELINE: &str = "CdcBurst";
const SLOT: &str = "cdc_burst_slot";
const ROWS: i64 = 200_000;
const TRANSACTION: i64 = 1_000;

static OUT: LazyLock<CollectSink<Change>> = LazyLock::new(CollectSink::new);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_writes_is_read_to_its_end() {
    let db = postgres_client().await;
    db.batch_execute("CREATE TABLE cdc_burst (n bigint PRIMARY KEY)")
        .await
        .unwrap_or_else(|e| panic!("create: {e}"));
    let source = PostgresCdc::new(postgres(), SLOT, "cdc_burst_pub")
        .unwrap_or_else(|e| panic!("{e}"))
        .tables(["cdc_burst"]);
    let pipeline = Pipeline::named(PIPELINE).source(source).sink(OUT.clone());
    let h = harness();
    let names = ServiceNames::for_pipeline(PIPELINE);
    let _served = h.serve_here(Endpoint::new().pipeline(pipeline)).await;
    h.add_tokens(&names, 4).await;
    // The first pull makes the slot; the burst comes after it.
    stream_support::postgres::wait_for_slot(&db, SLOT, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for first in (0..ROWS).step_by(TRANSACTION as usize) {
        let last = first + TRANSACTION - 1;
        db.batch_execute(&format!(
            "INSERT INTO cdc_burst SELECT generate_series({first}, {last})"
        ))
        .await
        .unwrap_or_else(|e| panic!("insert: {e}"));
    }
    let status = h
        .wait_for(
            &names,
            Duration::from_secs(240),
            |_| {},
            |s| s.records_out >= ROWS as u64,
        )
        .await;
    assert_eq!(
        (status.records_in, status.dead_letters),
        (ROWS as u64, 0),
        "{status:?}"
    );
    let mut read: Vec<i64> = OUT
        .records()
        .iter()
        .map(|change| {
            let row = change.after.as_ref();
            let n = row.and_then(|r| r.get("n")).and_then(|n| n.as_i64());
            n.unwrap_or_else(|| panic!("a change without its row: {change:?}"))
        })
        .collect();
    read.sort_unstable();
    let expected: Vec<i64> = (0..ROWS).collect();
    assert!(
        read == expected,
        "{} changes read, not each row once",
        read.len()
    );
}
