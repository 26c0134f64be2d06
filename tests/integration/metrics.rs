//! The endpoint's Prometheus metrics, scraped while a word count runs: the
//! series are there, and the records-written counter matches what the sink
//! holds within one batch.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::LazyLock;
use std::time::Duration;

use stream_runtime::{CollectSink, IntoPipeline, Pipeline, ServiceNames};

use crate::harness::harness;
use crate::pipelines::slow_counts;

const PIPELINE: &str = "Metered";
const RECORDS: u64 = 3_000;
const BATCH: u32 = 25;

static OUT: LazyLock<CollectSink<(u64, u64)>> = LazyLock::new(CollectSink::new);

/// A count per key, slowed down so that it is scraped while it runs.
pub fn metered() -> impl IntoPipeline {
    let named = Pipeline::named(PIPELINE).batch_size(BATCH);
    slow_counts(named, RECORDS, 5, Duration::from_millis(2), OUT.clone())
}

/// `GET /metrics`, as Prometheus text.
fn scrape(addr: std::net::SocketAddr) -> String {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to the metrics port");
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    assert!(
        answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"),
        "{answer}"
    );
    answer
}

/// Every sample of the series `name` whose labels include the pipeline's,
/// by its full label set.
fn samples(text: &str, name: &str) -> BTreeMap<String, f64> {
    let label = format!("pipeline=\"{PIPELINE}\"");
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let labels = series.strip_prefix(name)?;
            if !(labels.starts_with('{') && labels.contains(&label)) {
                return None;
            }
            Some((labels.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn one(text: &str, name: &str) -> f64 {
    let found = samples(text, name);
    assert_eq!(found.len(), 1, "{name}: {found:?}\n{text}");
    found.into_values().next().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_show_the_running_pipeline_and_the_written_counter_matches_the_sink() {
    let h = harness();
    let names = ServiceNames::for_pipeline(PIPELINE);
    h.add_tokens(&names, 1).await;
    h.wait_for(
        &names,
        Duration::from_secs(60),
        |_| {},
        |s| s.records_out >= RECORDS / 4,
    )
    .await;

    // While it runs: the counter, the sink, the counter again. One token
    // writes one batch at a time, and counts it once it is written.
    let before = scrape(h.metrics);
    let in_sink = OUT.records().len() as f64;
    let after = scrape(h.metrics);
    let (written_before, written_after) = (
        one(&before, "stream_records_written_total"),
        one(&after, "stream_records_written_total"),
    );
    assert!(
        written_before <= in_sink && in_sink <= written_after + f64::from(BATCH),
        "written {written_before}..{written_after}, in the sink {in_sink}"
    );
    assert!(
        written_before > 0.0 && written_after < RECORDS as f64,
        "{after}"
    );
    let read = one(&after, "stream_records_read_total");
    assert!(
        read >= written_after,
        "read {read}, written {written_after}"
    );

    // The split positions add up to what was read (a split the token has
    // not leased from yet has no gauge).
    let positions = samples(&after, "stream_split_position");
    let leased: f64 = positions.values().sum();
    assert!(!positions.is_empty(), "{after}");
    assert!(
        (leased - read).abs() <= f64::from(BATCH),
        "{positions:?}, read {read}"
    );
    // The histograms: rounds and batch sizes, counted once per round.
    let rounds = one(&after, "stream_round_seconds_count");
    let batches = one(&after, "stream_batch_records_count");
    assert!(rounds > 0.0 && batches > 0.0, "{after}");
    assert!(
        samples(&after, "stream_batch_records_bucket")
            .keys()
            .any(|labels| labels.contains("le=\"100\"")),
        "{after}"
    );
    // One scrape is not one instant: the exporter reads the counters, then
    // drains the histograms, so a lease between the two is in the sum and
    // not yet in the counter. At most one batch of it, with one token.
    let sum = one(&after, "stream_batch_records_sum");
    assert!(sum <= read + f64::from(BATCH), "sum {sum}, read {read}");

    let done = h
        .wait_for(&names, Duration::from_secs(120), |_| {}, |s| s.finished)
        .await;
    let end = scrape(h.metrics);
    assert_eq!(
        one(&end, "stream_records_written_total"),
        done.records_out as f64
    );
    assert_eq!(one(&end, "stream_records_read_total"), RECORDS as f64);
    // At rest, each lease is counted once in both.
    assert_eq!(one(&end, "stream_batch_records_sum"), RECORDS as f64);
}
