//! The CDC row: the word count over the rows a writer inserts into a
//! PostgreSQL table as fast as it can (transactions of `TRANSACTION` rows,
//! a PostgreSQL of the bench's own), read by change data capture; changes
//! per second from the first insert to the last count written, with the
//! delay from a row's insert to its count's durable write. The output is
//! checked: every running count once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use stream_runtime::postgres::cdc::{Change, PostgresCdc};
use stream_runtime::{Endpoint, FileSink, Pipeline, ServiceNames};
use stream_support::exactness;
use stream_support::postgres::PostgresServer;
use stream_support::running_counts::{check_running_counts, expected_counts};

use crate::instrument::{Clock, TimedFileSink, WordCount};
use crate::probe::CpuMeter;
use crate::{key, Args, Bench, Error};

/// Rows per inserting transaction.
const TRANSACTION: u64 = 1_000;
const TOKENS: u64 = 4;
const NAME: &str = "CdcWords";
const SLOT: &str = "bench_slot";

/// Runs the CDC row and prints its table.
pub async fn run(args: &Args, quick: bool) -> Result<(), Error> {
    let rows = if quick { 40_000 } else { 200_000 };
    let scratch = Bench::scratch("cdc")?;
    let postgres = PostgresServer::start(scratch.join("postgres")).await?;
    let config = postgres.config();
    let (db, connection) = tokio_postgres::connect(&config, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    db.batch_execute("CREATE TABLE events (n bigint PRIMARY KEY)")
        .await?;
    let clock = Clock::new();
    let output = scratch.join("cdc.jsonl");
    let source = PostgresCdc::new(&config, SLOT, "bench_pub")?.tables(["events"]);
    let pipeline = Pipeline::named(NAME)
        .source(source)
        .map(|change: Change| {
            let n = change
                .after
                .and_then(|row| row.get("n").and_then(|n| n.as_u64()));
            let n = n.unwrap_or_else(|| panic!("an event row"));
            WordCount {
                word: key(n, None),
                count: 1,
                seq: n,
            }
        })
        .key_by(|wc| wc.word.clone())
        .reduce(|a, b| WordCount {
            count: a.count + b.count,
            seq: b.seq,
            ..a
        })
        .sink(TimedFileSink::new(FileSink::new(&output), &clock));
    let bench = Bench::start(args, scratch, Endpoint::new().pipeline(pipeline)).await?;
    let names = ServiceNames::for_pipeline(NAME);
    bench.ready(&names).await;
    bench.ingress.add_tokens(&names, TOKENS).await?;
    // The first pull makes the slot: rows inserted before it are the
    // snapshot's, not the stream's.
    stream_support::postgres::wait_for_slot(&db, SLOT, Duration::from_secs(60)).await?;
    clock.take_latencies();
    let mut cpu = CpuMeter::start(bench.server_pid);
    let started = Instant::now();
    let writer = tokio::spawn(write(db, rows, Arc::clone(&clock)));
    loop {
        let status = bench.ingress.status(&names).await?;
        if status.records_out >= rows {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err(format!("not done after 10 minutes: {status:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let (server_cpu, endpoint_cpu) = cpu.lap();
    let wrote = writer.await??;
    bench.ingress.stop(&names).await?;
    let latencies = clock.take_latencies();
    let check = check_running_counts(&output, &expected_counts(rows, |n| key(n, None)))?;
    println!("change data capture from PostgreSQL 15 (a writer inserting {TRANSACTION} rows a transaction as fast as it can; the word count, {TOKENS} tokens, release build):");
    println!("| rows | inserted/s | changes/s counted | delay p50 | delay p99 | server CPU | endpoint CPU | exactly once |");
    println!("|-----:|-----------:|------------------:|----------:|----------:|-----------:|-------------:|:-----|");
    println!(
        "| {rows} | {:.0} | {:.0} | {:.0} ms | {:.0} ms | {server_cpu:.0}% | {endpoint_cpu:.0}% | {} |",
        rows as f64 / wrote.as_secs_f64().max(1e-9),
        rows as f64 / seconds,
        latencies.percentile(0.50).as_secs_f64() * 1e3,
        latencies.percentile(0.99).as_secs_f64() * 1e3,
        exactness(check.lost, check.duplicated, check.malformed),
    );
    println!("changes/s: from the first insert to the last running count written; delay: from a row's insert to its count's durable write.");
    drop(postgres);
    Ok(())
}

/// Inserts rows `0..rows` in transactions of [`TRANSACTION`], noting each
/// row's start; answers how long it took.
async fn write(
    db: tokio_postgres::Client,
    rows: u64,
    clock: Arc<Clock>,
) -> Result<Duration, String> {
    let started = Instant::now();
    let mut first = 0;
    while first < rows {
        let end = (first + TRANSACTION).min(rows);
        clock.start(first..end);
        let insert = format!(
            "INSERT INTO events SELECT generate_series({first}, {})",
            end - 1
        );
        db.batch_execute(&insert).await.map_err(|e| e.to_string())?;
        first = end;
    }
    Ok(started.elapsed())
}
