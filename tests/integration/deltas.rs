//! A key group's changes written as one delta entry a call and folded
//! later: counts over many keys, cleared every few records, stay exact
//! across folds and across a new endpoint whose cache knows nothing (so
//! its calls read the pending deltas), and the state read from outside
//! takes the deltas over the keys' own entries.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use stream_runner::{LocalServer, LocalServerOptions};
use stream_runtime::keyed::DELTA_PREFIX;
use stream_runtime::{CollectSink, Endpoint, IntoPipeline, Pipeline, Sequence, ServiceNames};
use tokio::sync::oneshot;

use crate::harness::{bind_again, harness, scratch, serve_on, until_finished, until_out};

const PIPELINE: &str = "Deltas";
const KEYS: u64 = 3_000;
/// Records per key: nine full cycles of [`CYCLE`] and a part, so that
/// each group takes about 570 calls (a round of 500 records touches every
/// group), more than twice the deltas it holds before it folds.
const PER_KEY: u64 = 95;
const RECORDS: u64 = KEYS * PER_KEY;
/// A key's count is cleared when it reaches this.
const CYCLE: u64 = 10;
/// Deltas a group holds at most (the runtime's `MAX_PENDING`).
const MAX_PENDING: usize = 256;

static OUT: LazyLock<CollectSink<(u64, u64)>> = LazyLock::new(CollectSink::new);

/// Each key's count within its cycle, cleared at [`CYCLE`], emitted at
/// every record, over many keys, in batches whose group calls each touch
/// more than a cached call's minimum of keys, so that they write deltas
/// (some with cleared entries).
fn cycling() -> impl IntoPipeline {
    Pipeline::named(PIPELINE)
        .batch_size(500)
        .source(Sequence::new().take(RECORDS))
        .key_by(|n| n % KEYS)
        .process(|_n: u64, ctx| {
            let key = *ctx.key();
            let mut count = ctx.value::<u64>("n");
            let n = count.get().unwrap_or(0) + 1;
            match n {
                CYCLE => count.clear(),
                _ => count.set(n),
            }
            ctx.collect((key, n));
        })
        .sink(OUT.clone())
}

/// Serves the pipeline on `port`, with a read cache of its own, until the
/// answer is sent.
async fn serve(port: u16) -> oneshot::Sender<()> {
    serve_on(bind_again(port).await, Endpoint::new().pipeline(cycling()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_over_many_keys_stay_exact_across_folds_and_a_cold_cache() {
    harness(); // for its scratch dir, removed at exit
    let dir = scratch("deltas");
    let _ = std::fs::remove_dir_all(&dir);
    let options = LocalServerOptions::new(dir).ports(
        stream_support::free_port().expect("port"),
        stream_support::free_port().expect("port"),
        stream_support::free_port().expect("port"),
    );
    let server = LocalServer::start(options).await.expect("restate-server");
    let (admin, ingress) = (server.admin(), server.ingress());
    let names = ServiceNames::for_pipeline(PIPELINE);
    let port = stream_support::free_port().expect("port");
    let stop = serve(port).await;
    admin
        .register(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("register");
    ingress.add_tokens(&names, 2).await.expect("addTokens");
    // Half the records: each group has taken about 285 calls, more than
    // the MAX_PENDING deltas it can hold, so it has folded once and now
    // holds deltas over entries that fold wrote, which the cold cache
    // below must read together.
    until_out(&ingress, &names, RECORDS / 2, Duration::from_secs(180)).await;

    // The groups hold their recent changes in delta entries.
    let rows = stream_support::state::entries(&admin, &names.keyed)
        .await
        .expect("state");
    let deltas = rows
        .iter()
        .filter(|(_, key, _)| key.starts_with(DELTA_PREFIX))
        .count();
    assert!(deltas > 0, "no delta entry among {} rows", rows.len());

    // A new endpoint, whose cache holds nothing: its calls read the
    // pending deltas (in-flight calls are replayed from their journals).
    let _ = stop.send(());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stop = serve(port).await;
    let done = until_finished(&ingress, &names, Duration::from_secs(240)).await;
    assert_eq!(
        (done.records_in, done.records_out, done.dead_letters),
        (RECORDS, RECORDS, 0),
        "{done:?}"
    );

    // Each count once: a stale entry read under a pending delta (or a
    // cleared one read back) would repeat a count or pass the cycle.
    let mut counts = OUT.records();
    counts.sort_unstable();
    let mut expected: Vec<(u64, u64)> = (0..KEYS)
        .flat_map(|key| (0..PER_KEY).map(move |i| (key, i % CYCLE + 1)))
        .collect();
    expected.sort_unstable();
    if counts != expected {
        let beyond: Vec<_> = counts.iter().filter(|(_, n)| *n > CYCLE).take(5).collect();
        let mut by_key: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for (k, n) in OUT.records() {
            by_key.entry(k).or_default().push(n);
        }
        let odd: Vec<_> = by_key
            .iter()
            .filter(|(_, ns)| {
                let mut s = (*ns).clone();
                s.sort_unstable();
                let mut w: Vec<u64> = (0..PER_KEY).map(|i| i % CYCLE + 1).collect();
                w.sort_unstable();
                s != w
            })
            .take(4)
            .collect();
        eprintln!("odd keys: {} e.g. {odd:?}", by_key.len());
        panic!(
            "{} counts written, {} expected; past the cycle: {beyond:?}",
            counts.len(),
            expected.len()
        );
    }

    // Every group folded (it took far more calls than it holds deltas),
    // and the state read from outside, deltas over entries, is each key's
    // count in its last cycle.
    let rows = stream_support::state::entries(&admin, &names.keyed)
        .await
        .expect("state");
    let mut held: BTreeMap<&str, usize> = BTreeMap::new();
    for (group, key, _) in &rows {
        if key.starts_with(DELTA_PREFIX) {
            *held.entry(group.as_str()).or_default() += 1;
        }
    }
    assert!(
        held.values().all(|n| *n <= MAX_PENDING),
        "a group did not fold: {held:?}"
    );
    let state = stream_support::state::keyed_state(&admin, &names)
        .await
        .expect("keyed state");
    let last: BTreeMap<u64, u64> = state
        .iter()
        .map(|(key, value)| {
            let key: u64 = serde_json::from_str(key).expect("keys are numbers");
            let value: serde_json::Value = serde_json::from_str(value).expect("state is JSON");
            (key, value["n"].as_u64().unwrap_or_default())
        })
        .collect();
    let want: BTreeMap<u64, u64> = (0..KEYS).map(|key| (key, PER_KEY % CYCLE)).collect();
    assert!(last == want, "the stored counts differ from the input's");
    let _ = stop.send(());
}
