//! The soak: the endless word count for a while, sampled as it runs, then
//! drained and checked line by line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::instrument::{Clock, TimedFileSink, TimedSequence};
use crate::probe::{dir_bytes, rss_mib, CpuMeter};
use crate::{key, word_count, Args, Bench, Error};
use stream_runtime::{Endpoint, FileSink, PipelineConfig, Sequence, ServiceNames};
use stream_support::running_counts::{check_running_counts, expected_counts};

const PIPELINE: &str = "BenchSoak";
/// Tokens in circulation: near the table's peak, not past it.
const TOKENS: u64 = 10;

pub async fn run(args: &Args, seconds: u64, clock: &Arc<Clock>) -> Result<(), Error> {
    let scratch = Bench::scratch("soak")?;
    let output = scratch.join("soak.jsonl");
    let batch = PipelineConfig::DEFAULT_BATCH_SIZE;
    let endpoint = Endpoint::new().pipeline(word_count(
        PIPELINE,
        batch,
        args.key_groups,
        None,
        args.levers(),
        TimedSequence::new(Sequence::new(), clock),
        TimedFileSink::new(FileSink::new(&output), clock),
    ));
    let bench = Bench::start(args, scratch, endpoint).await?;
    let names = ServiceNames::for_pipeline(PIPELINE);
    bench.ready(&names).await;

    println!(
        "\nsoak: the endless word count (15 words), batch {batch}, {TOKENS} tokens, {seconds} s; \
         each row covers the interval before it\n\
         (data dir: its size now; disk B/record: its growth since the server started / records)\n"
    );
    println!("| seconds | records | records/s | p50 ms | p99 ms | server CPU | endpoint CPU | endpoint RSS MiB | data dir MB | disk B/record |");
    println!("|--------:|--------:|----------:|-------:|-------:|-----------:|-------------:|-----------------:|------------:|--------------:|");
    let interval = Duration::from_secs((seconds / 10).clamp(5, 60));
    let duration = Duration::from_secs(seconds);
    clock.take_latencies();
    let mut cpu = CpuMeter::start(bench.server_pid);
    let started = Instant::now();
    bench.ingress.add_tokens(&names, TOKENS).await?;
    let (mut last_records, mut last_time) = (0u64, started);
    let mut rss = Vec::new();
    while started.elapsed() < duration {
        tokio::time::sleep(interval.min(duration.saturating_sub(started.elapsed()))).await;
        let status = bench.ingress.status(&names).await?;
        let now = Instant::now();
        let (server_cpu, endpoint_cpu) = cpu.lap();
        let latencies = clock.take_latencies();
        let (disk, growth) = (dir_bytes(&bench.data_dir), bench.disk_growth());
        let resident = rss_mib();
        rss.push(resident);
        let rate = (status.records_out - last_records) as f64 / (now - last_time).as_secs_f64();
        println!(
            "| {:.0} | {} | {rate:.0} | {:.1} | {:.1} | {server_cpu:.0}% | {endpoint_cpu:.0}% | {:.1} | {:.0} | {:.0} |",
            (now - started).as_secs_f64(),
            status.records_out,
            latencies.percentile(0.50).as_secs_f64() * 1e3,
            latencies.percentile(0.99).as_secs_f64() * 1e3,
            resident,
            disk as f64 / 1e6,
            growth as f64 / status.records_out.max(1) as f64,
        );
        (last_records, last_time) = (status.records_out, now);
    }

    bench.ingress.stop(&names).await?;
    let drained = Instant::now();
    let status = loop {
        let status = bench.ingress.status(&names).await?;
        if status.finished {
            break status;
        }
        if drained.elapsed() > Duration::from_secs(120) {
            return Err(format!("the soak did not drain within 120 s: {status:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let expected = expected_counts(status.records_in, |n| key(n, None));
    let check = check_running_counts(&output, &expected)?;
    let (low, high) = rss
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    println!(
        "\ndrained in {:.1} s: {} records in, {} out, {} of {} tokens parked",
        drained.elapsed().as_secs_f64(),
        status.records_in,
        status.records_out,
        status.tokens_injected - status.tokens_in_flight,
        status.tokens_injected,
    );
    println!(
        "exactly once: {} lines, lost {}, duplicated {}, malformed {}",
        check.lines, check.lost, check.duplicated, check.malformed
    );
    println!(
        "endpoint RSS across the samples: {low:.1}–{high:.1} MiB, first {:.1}, last {:.1}",
        rss.first().copied().unwrap_or(0.0),
        rss.last().copied().unwrap_or(0.0),
    );
    if !check.exact() || check.lines != status.records_out {
        return Err(format!("the soak's output is not exact: {check:?}").into());
    }
    Ok(())
}
