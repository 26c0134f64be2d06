// A named stream read by two chains: every record archived as it is, and
// counts per key and window; a parameter (the path) used by the branch.
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use stream_runtime::{pipeline, CollectSink, FileSink, Sequence};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Order {
    shop: u32,
    ts: i64,
}

pipeline! {
    Shop(archive: PathBuf, batch_size = 100):
    let placed = source(Sequence::new().take(1_000))
        |> map(|n| Order { shop: (n % 5) as u32, ts: n as i64 * 10 })
        |> event_time(|o| o.ts, max_delay = 2s);
    placed |> map(|o| o.shop) |> sink(FileSink::new(archive));
    placed |> key_by(|o| o.shop) |> window(tumbling(1m)) |> aggregate(0u64, |n, _| *n += 1)
        |> sink(CollectSink::new())
}

pipeline! {
    // Read once: a line, as without the name.
    Named:
    let numbers = source(Sequence::new().take(10));
    numbers |> filter(|n| n % 2 == 0) |> sink(CollectSink::new());
}

fn main() {
    let shop = Shop { archive: "/tmp/orders.jsonl".into() };
    let endpoint = stream_runtime::Endpoint::new().pipeline(shop).pipeline(Named);
    endpoint.build().expect("the pipelines build");
}
