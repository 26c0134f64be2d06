//! `just bench-peers`: the same word count three ways on one Kafka broker,
//! one after another: Kafka Streams, Flink, and this project (at batch 1000
//! and at the default, each emitting every update and the latest per
//! batch), over the same pre-filled
//! topic of JSON words, 15 distinct words and then 100,000 Zipf-skewed
//! keys. Every job writes its running counts to an output topic of its
//! own, read by a `read_committed` console consumer.
//!
//! For each job and series:
//! - **records/s** at saturation: input records over the time from the first
//!   committed output to the last count (so a JVM's or a server's start is
//!   not counted), with the wall time from start beside it;
//! - **delay** from produce to a result readable by the `read_committed`
//!   consumer (p50, p99), at half of that job's own rate, after a warm-up;
//! - **CPU** (% of one core) of the job's processes, the broker apart (the
//!   JVM; for this project the restate-server and the endpoint), and their
//!   largest **RSS** together;
//! - whether the counts are **exact**: each word's last count equals its
//!   input count, and no count repeats or goes back; for the jobs that
//!   emit every update (Flink, our every-update rows), one output per
//!   record, so no running count in between is missing. Kafka Streams
//!   caches its table (its default), so it writes fewer counts.

mod committed;
mod jobs;

use std::time::{Duration, Instant};

use stream_support::kafka::{create_topic, KafkaBroker, KAFKA_VERSION};
use stream_support::running_counts::expected_counts;

use crate::kafka::produce_words;
use crate::probe::{cpu_time, machine, thread_cpu_time};
use crate::{key, Args, Bench, Error};
use committed::Committed;
use jobs::Job;
use stream_runtime::PipelineConfig;

/// The input keys: the seed's 15 words, or 100,000 Zipf-skewed users.
#[derive(Clone, Copy)]
struct Series {
    tag: &'static str,
    label: &'static str,
    keys: Option<u64>,
}

const SERIES: [Series; 2] = [
    Series {
        tag: "words",
        label: "15 words",
        keys: None,
    },
    Series {
        tag: "zipf",
        label: "100,000 keys (Zipf)",
        keys: Some(100_000),
    },
];

/// Records produced before the delay is measured, to warm the job up.
const WARM_UP: u64 = 1_000;

/// One job's row.
struct Row {
    job: Job,
    series: Series,
    records: u64,
    rate: f64,
    wall: f64,
    cpu: f64,
    rss_mib: f64,
    exact: String,
    outputs: u64,
    live_rate: u64,
    p50: f64,
    p99: f64,
    live_exact: String,
}

/// Runs every job on each series and prints the table.
pub async fn run(args: &Args) -> Result<(), Error> {
    let records: u64 = if args.quick { 300_000 } else { 2_000_000 };
    let live_seconds: u64 = if args.quick { 10 } else { 30 };
    // A kind (jobs, series) that `--peers-only` names none of is run whole.
    let picked = |tags: &[String]| -> Vec<bool> {
        let named = tags
            .iter()
            .map(|t| args.peers_only.contains(t))
            .collect::<Vec<_>>();
        let any = named.iter().any(|n| *n);
        named.into_iter().map(|n| n || !any).collect()
    };
    let job_tags: Vec<String> = Job::ALL.iter().map(|j| j.tag()).collect();
    let series_tags: Vec<String> = SERIES.iter().map(|s| s.tag.to_owned()).collect();
    let jobs: Vec<Job> = Job::ALL
        .into_iter()
        .zip(picked(&job_tags))
        .filter_map(|(job, keep)| keep.then_some(job))
        .collect();
    let series: Vec<Series> = SERIES
        .into_iter()
        .zip(picked(&series_tags))
        .filter_map(|(series, keep)| keep.then_some(series))
        .collect();
    for job in &jobs {
        job.build()?;
    }
    let broker = KafkaBroker::start(Bench::scratch("peers-broker")?, 0).await?;
    let bootstrap = broker.bootstrap();
    let mut rows = Vec::new();
    for series in series.iter().copied() {
        let input = format!("{}-in", series.tag);
        create_topic(&bootstrap, &input, 2).await?;
        produce_words(&bootstrap, &input, 0..records, series.keys, None).await?;
        for job in jobs.iter().copied() {
            let row = measure(args, job, series, &bootstrap, &input, records, live_seconds).await?;
            println!(
                "{} on {}: {:.0} records/s, delay p50 {:.0} ms at {}/s, exact: {}",
                job.label(),
                series.label,
                row.rate,
                row.p50,
                row.live_rate,
                row.exact
            );
            rows.push(row);
        }
    }
    print_table(&rows);
    drop(broker);
    Ok(())
}

/// CPU and largest RSS of a set of processes, sampled while a job runs.
/// When this process is one of them (our job), the checker's thread in it
/// is not counted.
struct Meter {
    pids: Vec<u32>,
    /// The checker's thread, when its CPU is to be left out.
    checker: Option<u32>,
    cpu: Duration,
    since: Instant,
    rss_kib: std::sync::Arc<std::sync::atomic::AtomicU64>,
    sampler: tokio::task::JoinHandle<()>,
}

impl Meter {
    /// The CPU a set of processes spends, apart from the checker's thread.
    fn spent(pids: &[u32], checker: Option<u32>) -> Duration {
        let all: Duration = pids.iter().map(|pid| cpu_time(*pid)).sum();
        all.saturating_sub(checker.map_or(Duration::ZERO, thread_cpu_time))
    }

    fn start(pids: Vec<u32>, checker: u32) -> Self {
        let checker = pids.contains(&std::process::id()).then_some(checker);
        let rss_kib = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (largest, sampled) = (std::sync::Arc::clone(&rss_kib), pids.clone());
        let sampler = tokio::spawn(async move {
            loop {
                let rss: u64 = sampled.iter().map(|pid| rss_kib_of(*pid)).sum();
                largest.fetch_max(rss, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
        Self {
            cpu: Self::spent(&pids, checker),
            pids,
            checker,
            since: Instant::now(),
            rss_kib,
            sampler,
        }
    }

    /// (% of one core, largest RSS in MiB) since the start.
    fn finish(self) -> (f64, f64) {
        self.sampler.abort();
        let cpu = Self::spent(&self.pids, self.checker);
        let seconds = self.since.elapsed().as_secs_f64().max(1e-9);
        let percent = cpu.saturating_sub(self.cpu).as_secs_f64() / seconds * 100.0;
        let rss = self.rss_kib.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1024.0;
        (percent, rss)
    }
}

/// A process's resident memory, in KiB, from /proc.
fn rss_kib_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A job's saturated run over the filled `input`, then its delay at half
/// the rate it reached, on topics of its own.
#[allow(clippy::too_many_arguments)]
async fn measure(
    args: &Args,
    job: Job,
    series: Series,
    bootstrap: &str,
    input: &str,
    records: u64,
    live_seconds: u64,
) -> Result<Row, Error> {
    let tag = format!("{}-{}", series.tag, job.tag());
    let scratch = Bench::scratch(&format!("peers-{tag}"))?;
    let limit = Duration::from_secs(1_800);

    // Saturation.
    let output = format!("{tag}-out");
    create_topic(bootstrap, &output, 2).await?;
    let consumer = Committed::start(bootstrap, &output)?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let started = Instant::now();
    let running = job.start(args, bootstrap, input, &output, &scratch).await?;
    let meter = Meter::start(running.pids(), consumer.reader_thread());
    consumer.until_total(records, limit).await?;
    // Done when the last count is readable: the job's teardown (for ours, a
    // server stop with its grace period and the data dir's removal; for
    // the JVMs, a kill) is not part of the run.
    let done = Instant::now();
    let (cpu, rss_mib) = meter.finish();
    let every = every_update_outputs(job, &consumer, records).await;
    drop(running);
    let (rate, exact, outputs) = {
        let seen = consumer.seen.lock().map_err(|_| "the consumer's lock")?;
        let first = seen.first.unwrap_or(started);
        let rate = records as f64 / (done - first).as_secs_f64().max(1e-9);
        (
            rate,
            exactness(&seen, records, series.keys, every),
            seen.outputs,
        )
    };
    drop(consumer);

    // Delay at half that rate, after a warm-up.
    let live_rate = ((rate / 2.0) as u64).max(100);
    let (live_in, live_out) = (format!("{tag}-live-in"), format!("{tag}-live-out"));
    create_topic(bootstrap, &live_in, 2).await?;
    create_topic(bootstrap, &live_out, 2).await?;
    let consumer = Committed::start(bootstrap, &live_out)?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let running = job
        .start(args, bootstrap, &live_in, &live_out, &scratch)
        .await?;
    produce_words(bootstrap, &live_in, 0..WARM_UP, series.keys, None).await?;
    consumer.until_total(WARM_UP, limit).await?;
    if let Ok(mut seen) = consumer.seen.lock() {
        seen.delays.clear();
    }
    let live_end = WARM_UP + live_rate * live_seconds;
    produce_words(
        bootstrap,
        &live_in,
        WARM_UP..live_end,
        series.keys,
        Some(live_rate),
    )
    .await?;
    consumer.until_total(live_end, limit).await?;
    let every_live = every_update_outputs(job, &consumer, live_end).await;
    drop(running);
    let seen = consumer.seen.lock().map_err(|_| "the consumer's lock")?;
    Ok(Row {
        job,
        series,
        records,
        rate,
        wall: (done - started).as_secs_f64(),
        cpu,
        rss_mib,
        exact,
        outputs,
        live_rate,
        p50: seen.delays.percentile(0.50).as_secs_f64() * 1e3,
        p99: seen.delays.percentile(0.99).as_secs_f64() * 1e3,
        live_exact: exactness(&seen, live_end, series.keys, every_live),
    })
}

/// The outputs a job that emits every update must have written (one per
/// record), once the consumer has read them or a minute has passed, off the
/// timed path: the last counts can be read before earlier ones of the same
/// word that went to the other partition. `None` for the other jobs.
async fn every_update_outputs(job: Job, consumer: &Committed, records: u64) -> Option<u64> {
    let outputs = job.emits_every_update().then_some(records)?;
    consumer
        .until_outputs(outputs, Duration::from_secs(60))
        .await;
    Some(outputs)
}

/// `yes`, or what is wrong with the counts seen against the input
/// `0..records`: "yes" when every key's last count is its number of
/// records, no count came twice, and (with `every`, the outputs expected)
/// every count in between came too.
fn exactness(
    seen: &committed::Seen,
    records: u64,
    keys: Option<u64>,
    every: Option<u64>,
) -> String {
    let missing = every.map_or(0, |outputs| outputs.saturating_sub(seen.outputs));
    let expected = expected_counts(records, |n| key(n, keys));
    let wrong = expected
        .iter()
        .filter(|(word, n)| seen.largest.get(*word) != Some(n))
        .count()
        + seen
            .largest
            .keys()
            .filter(|w| !expected.contains_key(*w))
            .count();
    if wrong == 0 && seen.repeated == 0 && seen.malformed == 0 && missing == 0 {
        "yes".to_owned()
    } else {
        let first: Vec<String> = expected
            .iter()
            .filter(|(word, n)| seen.largest.get(*word) != Some(n))
            .take(2)
            .map(|(word, n)| format!("{word} {} of {n}", seen.largest.get(word).unwrap_or(&0)))
            .collect();
        format!(
            "NO: {wrong} words off ({}), {} repeated, {} malformed, {missing} updates missing",
            first.join(", "),
            seen.repeated,
            seen.malformed
        )
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "\nThe word count three ways, one after another, on one Kafka {KAFKA_VERSION} broker \
         (single-node KRaft); restate-server {}; on {}.\n",
        stream_runner::RESTATE_VERSION,
        machine()
    );
    let default = PipelineConfig::DEFAULT_BATCH_SIZE;
    println!(
        "Each peer is compared with our rows that emit as it does: Kafka Streams (its record \
         cache writes a word's latest count per commit) with ours emitting the latest per batch, \
         Flink (every running count) with ours emitting every update.\n"
    );
    println!("| series | job | records | records/s | wall s | CPU | RSS MiB | outputs | exact | delay at | p50 ms | p99 ms | exact | ours/theirs records/s (batch 1000, {default}) | theirs/ours p50 (batch 1000, {default}) |");
    println!("|---|---|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|---|--:|--:|");
    for row in rows {
        let ours = |batch| {
            let like = row.job.ours_like(batch)?;
            rows.iter()
                .find(|r| r.series.tag == row.series.tag && r.job == like)
        };
        let ratio = |of: fn(&Row, &Row) -> f64| match row.job {
            Job::KafkaStreams | Job::Flink => [1_000, default]
                .map(|batch| ours(batch).map_or("-".to_owned(), |o| format!("{:.2}", of(o, row))))
                .join(", "),
            Job::Ours { .. } => String::new(),
        };
        let speed = ratio(|ours, theirs| ours.rate / theirs.rate.max(1e-9));
        let delay = ratio(|ours, theirs| theirs.p50 / ours.p50.max(1e-9));
        println!(
            "| {} | {} | {} | {:.0} | {:.1} | {:.0}% | {:.0} | {} | {} | {}/s | {:.0} | {:.0} | {} | {speed} | {delay} |",
            row.series.label,
            row.job.label(),
            row.records,
            row.rate,
            row.wall,
            row.cpu,
            row.rss_mib,
            row.outputs,
            row.exact,
            row.live_rate,
            row.p50,
            row.p99,
            row.live_exact,
        );
    }
}
