//! Prometheus metrics of the pipelines an endpoint serves (feature
//! `metrics`; without it every recording here does nothing).
//!
//! [`serve`] starts the exporter: `GET http://ADDR/metrics` answers
//! Prometheus text. The runner starts it with `--metrics ADDR`.
//!
//! | series | kind | what |
//! |---|---|---|
//! | `stream_records_read_total{pipeline}` | counter | records leased from the source |
//! | `stream_records_written_total{pipeline}` | counter | records the sink wrote |
//! | `stream_dead_letters_total{pipeline}` | counter | dead letters kept |
//! | `stream_late_records_total{pipeline}` | counter | late records kept |
//! | `stream_batch_records{pipeline}` | histogram | records per lease (per round) |
//! | `stream_round_seconds{pipeline}` | histogram | a token's round, from lease to the next |
//! | `stream_split_position{pipeline,split}` | gauge | where the split leases next |
//! | `stream_split_lag{pipeline,split}` | gauge | a remote split (Kafka): records behind the end it last saw |
//! | `stream_tokens_injected{pipeline}` | gauge | from `status` ([`record_status`]) |
//! | `stream_tokens_in_flight{pipeline}` | gauge | from `status` ([`record_status`]) |
//! | `stream_tokens_parked{pipeline}` | gauge | from `status` ([`record_status`]) |
//! | `stream_invocations_paused{pipeline}` | gauge | paused by the server ([`record_stalled`]; the runner every 5 s) |
//! | `stream_invocations_backing_off{pipeline}` | gauge | retrying after a failure ([`record_stalled`]) |
//!
//! The counters are this process's: they start at 0 when it starts, and
//! each replica of an endpoint counts what it did. The exact totals, across
//! restarts and replicas, are in `status`.

use std::net::SocketAddr;

use crate::protocol::Status;
use crate::restate::Stalled;

/// Why the exporter could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot serve metrics on {addr}: {reason}")]
pub struct MetricsError {
    addr: SocketAddr,
    reason: String,
}

/// Serves the metrics on `addr` (such as `0.0.0.0:9464`) from this
/// process's tokio runtime, and starts recording. Once per process.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// // A service of one's own, without the runner:
/// stream_runtime::metrics::serve("0.0.0.0:9464".parse()?)?;
/// // ... serve the pipelines on an `Endpoint`; Prometheus scrapes
/// // http://HOST:9464/metrics. The token and stall gauges are set by
/// // whoever polls `status`: call `record_status` (and `record_stalled`)
/// // there, as the runner does.
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub fn serve(addr: SocketAddr) -> Result<(), MetricsError> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    let error = |reason: String| MetricsError { addr, reason };
    let seconds = [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];
    let records = [1.0, 10.0, 100.0, 500.0, 1_000.0, 2_000.0, 5_000.0, 10_000.0];
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(Matcher::Full("stream_round_seconds".into()), &seconds)
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Full("stream_batch_records".into()), &records)
        })
        .map_err(|e| error(e.to_string()))?
        .install()
        .map_err(|e| error(e.to_string()))?;
    describe();
    Ok(())
}

/// The `# HELP` line of each series.
#[cfg(feature = "metrics")]
fn describe() {
    use ::metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "stream_records_read_total",
        "Records leased from the source (this process)."
    );
    describe_counter!(
        "stream_records_written_total",
        "Records the sink wrote (this process)."
    );
    describe_counter!(
        "stream_dead_letters_total",
        "Dead letters kept (this process)."
    );
    describe_counter!(
        "stream_late_records_total",
        "Late records kept (this process)."
    );
    describe_histogram!(
        "stream_batch_records",
        "Records per lease, that is per round."
    );
    describe_histogram!(
        "stream_round_seconds",
        Unit::Seconds,
        "A token's round, from its lease to sending the next."
    );
    describe_gauge!(
        "stream_split_position",
        "The position a split leases from next."
    );
    describe_gauge!(
        "stream_split_lag",
        "Records a remote split is behind the end it last saw."
    );
    describe_gauge!(
        "stream_tokens_injected",
        "Tokens injected in all runs (status)."
    );
    describe_gauge!("stream_tokens_in_flight", "Tokens circulating (status).");
    describe_gauge!("stream_tokens_parked", "Tokens parked (status).");
    describe_gauge!(
        "stream_invocations_paused",
        "Invocations the server paused after its retries."
    );
    describe_gauge!(
        "stream_invocations_backing_off",
        "Invocations retrying after a failure."
    );
}

/// Without the feature `metrics`: an error that says to turn it on.
#[cfg(not(feature = "metrics"))]
pub fn serve(addr: SocketAddr) -> Result<(), MetricsError> {
    Err(MetricsError {
        addr,
        reason: "stream-runtime was built without its `metrics` feature (turn on `metrics` of \
                 stream-runner, or of stream-runtime)"
            .to_owned(),
    })
}

/// Adds `n` to the counter `name` of `pipeline`.
fn count(name: &'static str, pipeline: &str, n: u64) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(name, "pipeline" => pipeline.to_owned()).increment(n);
    #[cfg(not(feature = "metrics"))]
    let _ = (name, pipeline, n);
}

/// Sets the gauge `name` of `pipeline` (and `split`, if any).
fn set(name: &'static str, pipeline: &str, split: Option<u32>, value: f64) {
    #[cfg(feature = "metrics")]
    match split {
        Some(split) => ::metrics::gauge!(
            name,
            "pipeline" => pipeline.to_owned(),
            "split" => split.to_string()
        )
        .set(value),
        None => ::metrics::gauge!(name, "pipeline" => pipeline.to_owned()).set(value),
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (name, pipeline, split, value);
}

/// Records `value` in the histogram `name` of `pipeline`.
fn observe(name: &'static str, pipeline: &str, value: f64) {
    #[cfg(feature = "metrics")]
    ::metrics::histogram!(name, "pipeline" => pipeline.to_owned()).record(value);
    #[cfg(not(feature = "metrics"))]
    let _ = (name, pipeline, value);
}

/// A split leased `records`; it leases from `position` next, and the
/// source's end, as the split last saw it, is `end` (remote sources).
pub(crate) fn leased(pipeline: &str, split: u32, records: u32, position: u64, end: Option<u64>) {
    count("stream_records_read_total", pipeline, u64::from(records));
    observe("stream_batch_records", pipeline, f64::from(records));
    set(
        "stream_split_position",
        pipeline,
        Some(split),
        position as f64,
    );
    if let Some(end) = end {
        let lag = end.saturating_sub(position);
        set("stream_split_lag", pipeline, Some(split), lag as f64);
    }
}

/// The sink wrote `n` records.
pub(crate) fn written(pipeline: &str, n: usize) {
    count("stream_records_written_total", pipeline, n as u64);
}

/// A dead letter was kept.
pub(crate) fn dead_letter(pipeline: &str) {
    count("stream_dead_letters_total", pipeline, 1);
}

/// A late record was kept.
pub(crate) fn late_record(pipeline: &str) {
    count("stream_late_records_total", pipeline, 1);
}

/// A token's round took `seconds`.
pub(crate) fn round(pipeline: &str, seconds: f64) {
    observe("stream_round_seconds", pipeline, seconds);
}

/// Sets the token gauges of `pipeline` from its `status` answer: what a
/// program that polls `status` (as `stream-runner` does every second)
/// records.
pub fn record_status(pipeline: &str, status: &Status) {
    let parked = status
        .tokens_injected
        .saturating_sub(status.tokens_in_flight)
        .saturating_sub(status.halted);
    set(
        "stream_tokens_injected",
        pipeline,
        None,
        status.tokens_injected as f64,
    );
    set(
        "stream_tokens_in_flight",
        pipeline,
        None,
        status.tokens_in_flight as f64,
    );
    set("stream_tokens_parked", pipeline, None, parked as f64);
}

/// Sets the gauges of the invocations of `pipeline` that the server paused
/// or is retrying (from [`AdminClient::stalled`](crate::restate::AdminClient::stalled)).
pub fn record_stalled(pipeline: &str, stalled: &Stalled) {
    set(
        "stream_invocations_paused",
        pipeline,
        None,
        stalled.paused.len() as f64,
    );
    set(
        "stream_invocations_backing_off",
        pipeline,
        None,
        stalled.backing_off as f64,
    );
}
