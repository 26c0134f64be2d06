// An enrichment stage with every option, then another keyed stage: the
// lookup's answer joins its record, and the stream goes on.
use serde::{Deserialize, Serialize};
use stream_runtime::lookup::Lookup;
use stream_runtime::{pipeline, CollectSink, Sequence};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Profile {
    tier: u8,
}

pipeline! {
    Tiers(base: String):
    source(Sequence::new().take(1_000))
    |> key_by(|n| n % 100)
    |> enrich(
        |n| Lookup::<Profile>::get(format!("{base}/users/{}", n % 100)),
        in_flight = 32, order = unordered, timeout = 2s, attempts = 5, cache = 60s
    )
    |> map(|(_, profile)| (profile.tier, 1u64))
    |> key_by(|(tier, _)| *tier)
    |> reduce(|(tier, a), (_, b)| (tier, a + b))
    |> sink(CollectSink::new())
}

fn main() {
    let tiers = Tiers { base: "http://127.0.0.1:8000".into() };
    let endpoint = stream_runtime::Endpoint::new().pipeline(tiers);
    endpoint.build().expect("the pipeline builds");
}
