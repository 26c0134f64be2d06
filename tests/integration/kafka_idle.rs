//! Two Kafka partitions that go idle and then have data again together:
//! the partition read first must not carry the watermark past the other's
//! records, so nothing is late and every window is exact.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use stream_runtime::kafka::KafkaSource;
use stream_runtime::time::Watermarks;
use stream_runtime::window::{tumbling, Windowed};
use stream_runtime::{CollectSink, Endpoint, Pipeline, ServiceNames};
use stream_support::kafka::{create_topic, produce};

use crate::harness::{harness, kafka};

/// A keyed event with its time, as the test writes it to the topic.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Event {
    key: u32,
    ts: i64,
}

static WINDOWS: LazyLock<CollectSink<Windowed<u32, u64>>> = LazyLock::new(CollectSink::new);

const TOPIC: &str = "idle-return";
const KEYS: u32 = 3;

/// `n` events for one partition, from `from`, `step` ms of event time apart.
fn events(from: i64, n: i64, step: i64) -> Vec<Event> {
    (0..n)
        .map(|i| Event {
            key: (i % i64::from(KEYS)) as u32,
            ts: from + i * step,
        })
        .collect()
}

async fn write(bootstrap: &str, partition: i32, events: &[Event]) {
    let values = events
        .iter()
        .map(|e| serde_json::to_vec(e).unwrap_or_default())
        .collect();
    produce(bootstrap, TOPIC, partition, values)
        .await
        .unwrap_or_else(|e| panic!("produce to {partition}: {e}"));
}

/// Whether the clock has marked both partitions idle.
async fn both_idle(names: &ServiceNames) -> bool {
    #[derive(Deserialize)]
    struct Row {
        value_utf8: String,
    }
    let rows: Vec<Row> = harness()
        .sql(&format!(
            "SELECT value_utf8 FROM state WHERE service_name = '{}' AND key = 'clock'",
            names.clock
        ))
        .await;
    rows.first()
        .is_some_and(|row| row.value_utf8.matches("\"idle\":true").count() == 2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_back_from_idleness_together_lose_nothing_to_lateness() {
    let kafka = kafka();
    let bootstrap = kafka.bootstrap.as_str();
    create_topic(bootstrap, TOPIC, 2)
        .await
        .unwrap_or_else(|e| panic!("topic: {e}"));
    // Before: 2 s of events on each partition.
    let before = events(0, 400, 5);
    for partition in [0, 1] {
        write(bootstrap, partition, &before).await;
    }
    let source = KafkaSource::connect(bootstrap, TOPIC)
        .await
        .unwrap_or_else(|e| panic!("source: {e}"));
    let pipeline = Pipeline::named("KafkaIdleReturn")
        .batch_size(50)
        .source(source)
        .map(|r| r.json::<Event>().unwrap_or_else(|e| panic!("{e}")))
        .event_time(
            |e| e.ts,
            Watermarks::max_delay(Duration::from_secs(2)).idle(Duration::from_secs(3)),
        )
        .key_by(|e| e.key)
        .window(tumbling(Duration::from_secs(1)))
        .aggregate(0u64, |n, _e| *n += 1)
        .sink(WINDOWS.clone());
    kafka.serve(Endpoint::new().pipeline(pipeline)).await;
    let h = harness();
    let names = ServiceNames::for_pipeline("KafkaIdleReturn");
    // One token: it leases partition 0 while that has data, so partition 1
    // is read only after it, as when a partition's own token is asleep.
    h.add_tokens(&names, 1).await;

    // Both partitions read to their end, then idle past the timeout.
    let deadline = Instant::now() + Duration::from_secs(90);
    while !both_idle(&names).await {
        assert!(
            Instant::now() < deadline,
            "never idle: {:?}",
            h.status(&names).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Then 40 s of events on both at once, from 20 s: whichever partition
    // a token polls first must not make the other's late. Each batch of 50
    // spans 5 s, more than the 2 s delay, so one batch read ahead of the
    // other partition's would.
    let after = events(20_000, 400, 100);
    write(bootstrap, 1, &after).await;
    write(bootstrap, 0, &after).await;
    // And one event far ahead on each, so that every window before it fires.
    for partition in [0, 1] {
        write(
            bootstrap,
            partition,
            &[Event {
                key: 0,
                ts: 100_000,
            }],
        )
        .await;
    }

    let mut expected: BTreeMap<(u32, i64, i64), u64> = BTreeMap::new();
    for e in before.iter().chain(&after) {
        let start = e.ts - e.ts.rem_euclid(1_000);
        *expected.entry((e.key, start, start + 1_000)).or_default() += 2;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        let status = h.status(&names).await;
        let done = status.watermark.is_some_and(|w| w >= 97_999)
            && WINDOWS.records().len() >= expected.len();
        if done || status.late_records > 0 {
            break status;
        }
        assert!(Instant::now() < deadline, "not done: {status:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status.late_records, 0, "{status:?}");
    assert_eq!(status.dead_letters, 0, "{status:?}");
    let mut got: BTreeMap<(u32, i64, i64), u64> = BTreeMap::new();
    for w in WINDOWS.records() {
        let previous = got.insert((w.key, w.start, w.end), w.value);
        assert!(previous.is_none(), "{w:?} emitted twice");
    }
    assert_eq!(got, expected);
    h.ingress()
        .stop(&names)
        .await
        .unwrap_or_else(|e| panic!("stop: {e}"));
}
