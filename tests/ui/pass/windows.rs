// Event time, the three window shapes, lateness, processing time, and a
// window length from a parameter.
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stream_runtime::window::Windowed;
use stream_runtime::{pipeline, CollectSink, ConsoleSink, Sequence};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Reading {
    device: u32,
    temp: f64,
    ts_millis: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Average {
    sum: f64,
    n: u64,
}

impl Average {
    fn add(&mut self, temp: f64) {
        self.sum += temp;
        self.n += 1;
    }
}

fn reading(n: u64) -> Reading {
    Reading { device: (n % 10) as u32, temp: 20.0 + (n % 7) as f64, ts_millis: n as i64 * 100 }
}

pipeline! {
    pub SensorAverages:
    source(Sequence::new())
    |> map(reading)
    |> event_time(|r| r.ts_millis, max_delay = 5s, idle = 1m)
    |> key_by(|r| r.device)
    |> window(tumbling(10s))
    |> aggregate(Average::default(), |acc, r| acc.add(r.temp))
    |> map(|w| (w.key, w.start, w.value.sum / w.value.n as f64))
    |> sink(ConsoleSink::new())
}

pipeline! {
    Hottest(size: Duration):
    source(Sequence::new().take(1_000))
    |> map(reading)
    |> event_time(|r| r.ts_millis)
    |> filter(|r| r.temp > 21.0)
    |> key_by(|r| r.device)
    |> window(sliding(size, 10s), lateness = 500ms)
    |> reduce(|a, b| if a.temp >= b.temp { a } else { b })
    |> sink(CollectSink::<Windowed<u32, Reading>>::new())
}

pipeline! {
    Visits:
    source(Sequence::new())
    |> event_time(|n| *n as i64 * 1_000, max_delay = 2s)
    |> key_by(|n| **n % 3)
    |> window(session(30s))
    |> aggregate(0u64, |count, _n| *count += 1)
    |> sink(CollectSink::<Windowed<u64, u64>>::new())
}

pipeline! {
    PerSecond:
    source(Sequence::new())
    |> key_by(|n| n % 3)
    |> window(tumbling(1s), time = processing)
    |> aggregate(0u64, |count, _n| *count += 1)
    |> sink(CollectSink::<Windowed<u64, u64>>::new())
}

fn main() {
    let _ = stream_runtime::Endpoint::new()
        .pipeline(SensorAverages)
        .pipeline(Hottest { size: Duration::from_secs(60) })
        .pipeline(Visits)
        .pipeline(PerSecond);
}
