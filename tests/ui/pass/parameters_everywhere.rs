// Parameters named in every place a stage can name them: an option of
// `event_time`, a window's lateness, a format string, and beside a field of
// the same name, which is not a use.
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stream_runtime::time::Timed;
use stream_runtime::{pipeline, ConsoleSink, Sequence};

#[derive(Clone, Serialize, Deserialize)]
struct Reading {
    prefix: u64,
    ts: i64,
}

/// Not `Clone`: used by one stage only, so it is moved there.
struct Source(Sequence);

pipeline! {
    Everywhere(source: Source, delay: Duration, prefix: String):
    source(source.0)
    |> map(|n| Reading { prefix: n % 3, ts: n as i64 })
    |> event_time(|r| r.ts, max_delay = delay)
    |> key_by(|r: &Timed<Reading>| r.prefix)
    |> window(tumbling(1s), lateness = delay)
    |> aggregate(0u64, |n, _r| *n += 1)
    |> map(|w| format!("{prefix}{}", w.value))
    |> filter(|line| line.starts_with(&format!("{prefix}:")) || !prefix.is_empty())
    |> sink(ConsoleSink::new())
}

fn main() {
    let pipeline = Everywhere {
        source: Source(Sequence::new()),
        delay: Duration::from_secs(1),
        prefix: "n=".to_owned(),
    };
    stream_runtime::Endpoint::new().pipeline(pipeline).build().expect("it builds");
}
