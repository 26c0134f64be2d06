//! The two inputs' keys must be of one type: one `key_by` gives both.

use serde::{Deserialize, Serialize};
use stream_runtime::{pipeline, CollectSink, InMemorySource};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Click {
    user: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Profile {
    user: String,
}

pipeline! {
    EnrichedClicks:
    source(InMemorySource::new(vec![Click { user: 1 }]))
    |> connect(InMemorySource::new(vec![Profile { user: "1".into() }]))
    |> key_by(|e| e.either(|c| c.user, |p| p.user.clone()))
    |> process(|e, ctx| ctx.collect(e))
    |> sink(CollectSink::new())
}

fn main() {}
