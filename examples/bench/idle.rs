//! Tokens on an endless source with no data: they wait with durable
//! delayed calls, backing off to one look every 2 s, so the server stays
//! nearly idle. Measures the server's CPU with no tokens, then with 10
//! tokens waiting, and how often the splits are asked.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use stream_runtime::{CollectSink, Endpoint, Pipeline, ServiceNames, Source};

use crate::probe::CpuMeter;
use crate::{Args, Bench, Error};

/// An endless source that never has a record; counts how often it is asked.
#[derive(Clone)]
struct Silent {
    asked: Arc<AtomicU64>,
}

impl Source for Silent {
    type Item = u64;

    fn splits(&self) -> u32 {
        2
    }

    async fn read(&self, _split: u32, _position: u64, _max: usize) -> std::io::Result<Vec<u64>> {
        Ok(Vec::new())
    }

    async fn available(&self, _split: u32, _position: u64, _max: usize) -> std::io::Result<usize> {
        self.asked.fetch_add(1, Ordering::Relaxed);
        Ok(0)
    }

    fn is_bounded(&self) -> bool {
        false
    }
}

const TOKENS: u64 = 10;
const MEASURE: Duration = Duration::from_secs(20);

/// Runs the idle measurement and prints its table.
pub async fn run(args: &Args) -> Result<(), Error> {
    let asked = Arc::new(AtomicU64::new(0));
    let pipeline = Pipeline::named("Idle")
        .source(Silent {
            asked: Arc::clone(&asked),
        })
        .key_by(|n| *n)
        .reduce(|a, b| a + b)
        .sink(CollectSink::<u64>::new());
    let bench = Bench::start(
        args,
        Bench::scratch("idle")?,
        Endpoint::new().pipeline(pipeline),
    )
    .await?;
    let names = ServiceNames::for_pipeline("Idle");
    bench.ready(&names).await;

    let mut cpu = CpuMeter::start(bench.server_pid);
    tokio::time::sleep(MEASURE).await;
    let (server_alone, endpoint_alone) = cpu.lap();

    bench.ingress.add_tokens(&names, TOKENS).await?;
    // The waits double from 50 ms up to 2 s: past the first few seconds
    // every token looks every 2 s.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let before = asked.load(Ordering::Relaxed);
    let started = Instant::now();
    let _ = cpu.lap();
    tokio::time::sleep(MEASURE).await;
    let (server_waiting, endpoint_waiting) = cpu.lap();
    let looks = (asked.load(Ordering::Relaxed) - before) as f64 / started.elapsed().as_secs_f64();

    println!(
        "\nidle: an endless source with no data (2 splits); CPU in % of one core over {} s.\n",
        MEASURE.as_secs()
    );
    println!("| tokens waiting | server CPU | endpoint CPU | splits asked per second |");
    println!("|---------------:|-----------:|-------------:|------------------------:|");
    println!("| 0 | {server_alone:.1}% | {endpoint_alone:.1}% | 0 |");
    println!("| {TOKENS} | {server_waiting:.1}% | {endpoint_waiting:.1}% | {looks:.1} |");
    Ok(())
}
