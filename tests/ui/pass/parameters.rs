// A pipeline with parameters: each stage sees them by name, closures and
// the sink alike, and the struct has them as public fields.
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use stream_runtime::{pipeline, FileSink, Sequence};

#[derive(Clone, Serialize, Deserialize)]
struct Reading {
    device: u64,
    temp: f64,
}

pipeline! {
    pub SensorAlerts(threshold: f64, label: String, out: PathBuf, batch_size = 100):
    source(Sequence::new())
    |> map(|n| Reading { device: n % 7, temp: (n % 50) as f64 })
    |> filter(|r| r.temp > threshold && !label.is_empty())
    |> key_by(|r| r.device)
    |> reduce(|a, b| if a.temp >= b.temp { a } else { b })
    |> sink(FileSink::new(out))
}

fn main() {
    let threshold = 30.0;
    let alerts = SensorAlerts { threshold, label: "hot".into(), out: "/tmp/alerts.txt".into() };
    assert_eq!(alerts.threshold, 30.0);
    let endpoint = stream_runtime::Endpoint::new().pipeline(alerts.clone());
    endpoint.build().expect("the pipeline builds");
}
