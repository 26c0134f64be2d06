//! Event-time windows: the average temperature per sensor per 10 seconds
//! over a generated, out-of-order stream of readings, written to a file.
//!
//! ```sh
//! cargo run --example sensor_windows -- --fresh
//! tail /tmp/sensor-windows.jsonl
//! ```
//!
//! Each reading is up to `--disorder` late against its neighbours. The
//! watermark trails the latest reading of each split by `max_delay`
//! (5 s), so no reading is late, and each (sensor, window) is written once,
//! when the watermark passes its end. The progress line shows the
//! watermark and the windows still open.

use std::path::PathBuf;

use clap::Parser;
use serde::{Deserialize, Serialize};
use stream_runner::{Runner, RunnerArgs};
use stream_runtime::source::mix64;
use stream_runtime::{pipeline, FileSink, Source};

/// One sensor's reading.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Reading {
    sensor: u32,
    temp: f64,
    ts_millis: i64,
}

/// Readings made up from their position: `rate` per second of event
/// time over `sensors` sensors, each shifted by up to `disorder_ms` either
/// way, so they arrive out of order. The same every time, so a replayed
/// range reads the same readings.
#[derive(Clone, Copy)]
struct Sensors {
    readings: u64,
    sensors: u32,
    rate: u64,
    disorder_ms: i64,
}

impl Sensors {
    /// How many readings split `split` has from `position`, up to `max`.
    fn count(&self, split: u32, position: u64, max: usize) -> usize {
        let total = (self.readings + 1 - u64::from(split).min(self.readings)) / 2;
        total.saturating_sub(position).min(max as u64) as usize
    }

    fn reading(&self, n: u64) -> Reading {
        let mix = mix64(n);
        let shift = (mix >> 20) as i64 % (2 * self.disorder_ms + 1) - self.disorder_ms;
        Reading {
            sensor: (mix % u64::from(self.sensors)) as u32,
            temp: 15.0 + (mix >> 40) as f64 % 200.0 / 10.0,
            ts_millis: (n * 1_000 / self.rate) as i64 + shift,
        }
    }
}

impl Source for Sensors {
    type Item = Reading;

    fn splits(&self) -> u32 {
        2
    }

    /// Split `s` holds readings `s`, `s + 2`, `s + 4`, …
    async fn read(&self, split: u32, position: u64, max: usize) -> std::io::Result<Vec<Reading>> {
        let count = self.count(split, position, max) as u64;
        Ok((position..position + count)
            .map(|p| self.reading(p * 2 + u64::from(split)))
            .collect())
    }

    async fn available(&self, split: u32, position: u64, max: usize) -> std::io::Result<usize> {
        Ok(self.count(split, position, max))
    }

    fn is_bounded(&self) -> bool {
        true
    }
}

/// A running mean.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Average {
    sum: f64,
    count: u64,
}

impl Average {
    fn add(&mut self, temp: f64) {
        self.sum += temp;
        self.count += 1;
    }
}

/// One line of the output: a sensor's mean over one window.
#[derive(Debug, Serialize, Deserialize)]
struct SensorMean {
    sensor: u32,
    start_ms: i64,
    end_ms: i64,
    readings: u64,
    mean: f64,
}

pipeline! {
    SensorWindows(sensors: Sensors, out: PathBuf):
    source(sensors)
    |> event_time(|r| r.ts_millis, max_delay = 5s, idle = 30s)
    |> key_by(|r| r.sensor)
    |> window(tumbling(10s))
    |> aggregate(Average::default(), |acc, r| acc.add(r.temp))
    |> map(|w| SensorMean {
        sensor: w.key,
        start_ms: w.start,
        end_ms: w.end,
        readings: w.value.count,
        mean: w.value.sum / w.value.count as f64,
    })
    |> sink(FileSink::new(out))
}

/// Average temperature per sensor per 10 s of event time.
#[derive(Parser)]
struct Cli {
    /// Readings to generate
    #[arg(long, default_value_t = 200_000)]
    readings: u64,
    /// Sensors
    #[arg(long, default_value_t = 50)]
    sensors: u32,
    /// Readings per second of event time
    #[arg(long, default_value_t = 1_000)]
    rate: u64,
    /// How far a reading may be out of order, in milliseconds (at most 5000,
    /// the watermark's delay, for no reading to be late)
    #[arg(long, default_value_t = 3_000)]
    disorder: i64,
    /// Where each window's mean is appended
    #[arg(long, default_value = "/tmp/sensor-windows.jsonl")]
    out: PathBuf,
    #[command(flatten)]
    runner: RunnerArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let sensors = Sensors {
        readings: cli.readings,
        sensors: cli.sensors.max(1),
        rate: cli.rate.max(1),
        disorder_ms: cli.disorder.max(0),
    };
    println!(
        "{} readings from {} sensors, up to {} ms out of order; 10 s means go to {}",
        cli.readings,
        sensors.sensors,
        sensors.disorder_ms,
        cli.out.display()
    );
    let pipeline = SensorWindows {
        sensors,
        out: cli.out,
    };
    match Runner::new(cli.runner).pipeline(pipeline).run().await {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
