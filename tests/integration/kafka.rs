//! Kafka connectors against a real broker and a real Restate server:
//! words from a topic, counted per word, each running count written to
//! another topic exactly once; a topic that does not exist; offsets
//! deleted before they were read; and a topic read from its latest offsets.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use stream_runtime::kafka::{KafkaError, KafkaRecord, KafkaSink, KafkaSource, StartAt};
use stream_runtime::{
    CollectSink, CompletePipeline, Endpoint, FailedStage, IntoPipeline, Pipeline, ServiceNames,
    Sink,
};
use stream_support::kafka::{create_topic, delete_before, produce, read_all};

use crate::harness::{harness, kafka};
use crate::pipelines::skewed_words;

/// A word and its running count, as the Kafka tests write them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordCount {
    word: String,
    count: u64,
}

/// The running word count over `source`, each record's word as `word`
/// reads it, into `sink`.
pub fn word_count(
    name: &str,
    batch: u32,
    source: KafkaSource,
    word: fn(&KafkaRecord) -> String,
    sink: impl Sink<WordCount>,
) -> CompletePipeline {
    Pipeline::named(name)
        .batch_size(batch)
        .source(source)
        .map(move |r| WordCount {
            word: word(&r),
            count: 1,
        })
        .key_by(|wc| wc.word.clone())
        .reduce(|a, b| WordCount {
            count: a.count + b.count,
            ..a
        })
        .sink(sink)
        .into_pipeline()
}

/// A value's JSON string, or a panic that dead-letters the record.
fn json_word(record: &KafkaRecord) -> String {
    record.json::<String>().unwrap_or_else(|e| panic!("{e}"))
}

/// Asserts that `counts` holds, for each of `words` seen n times, the
/// running counts 1..n once each, and nothing else.
pub fn assert_each_count_once(counts: impl IntoIterator<Item = (String, u64)>, words: &[String]) {
    let mut seen: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (word, count) in counts {
        seen.entry(word).or_default().push(count);
    }
    for counts in seen.values_mut() {
        counts.sort_unstable();
    }
    let expected: BTreeMap<String, Vec<u64>> = crate::pipelines::counts(words)
        .into_iter()
        .map(|(word, n)| (word, (1..=n).collect()))
        .collect();
    assert_eq!(seen, expected);
}

/// Produces `words` as text to `topic`: the first half to partition 0,
/// the rest to partition 1.
pub async fn produce_halves(bootstrap: &str, topic: &str, words: &[String]) {
    let (a, b) = words.split_at(words.len() / 2);
    for (partition, half) in [(0, a), (1, b)] {
        let values = half.iter().map(|w| w.clone().into_bytes()).collect();
        produce(bootstrap, topic, partition, values)
            .await
            .unwrap_or_else(|e| panic!("produce to {topic}: {e}"));
    }
}

/// The running counts written to `topic`, read back independently.
pub async fn written_counts(bootstrap: &str, topic: &str) -> Vec<(String, u64)> {
    read_all(bootstrap, topic)
        .await
        .unwrap_or_else(|e| panic!("read {topic}: {e}"))
        .iter()
        .map(|value| {
            let wc: WordCount = serde_json::from_slice(value).unwrap_or_else(|e| panic!("{e}"));
            (wc.word, wc.count)
        })
        .collect()
}

const WORDS: usize = 4_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_to_word_count_to_kafka_is_exact() {
    let kafka = kafka();
    let bootstrap = kafka.bootstrap.as_str();
    create_topic(bootstrap, "words", 2)
        .await
        .unwrap_or_else(|e| panic!("topic: {e}"));
    create_topic(bootstrap, "word-counts", 2)
        .await
        .unwrap_or_else(|e| panic!("topic: {e}"));
    // The input: JSON strings over 2 partitions, in batches, so that some
    // offsets fall inside record batches; each batch also holds one value
    // that is not JSON, which must go to the dead-letter output while the
    // rest flow.
    let words = skewed_words("k", WORDS, 30);
    let mut broken = 0;
    for (i, chunk) in words.chunks(250).enumerate() {
        let mut values: Vec<Vec<u8>> = chunk
            .iter()
            .map(|w| serde_json::to_vec(w).unwrap_or_default())
            .collect();
        values.insert(values.len() / 2, b"not json {".to_vec());
        broken += 1;
        produce(bootstrap, "words", (i % 2) as i32, values)
            .await
            .unwrap_or_else(|e| panic!("produce: {e}"));
    }

    let source = KafkaSource::connect(bootstrap, "words")
        .await
        .unwrap_or_else(|e| panic!("source: {e}"));
    let sink = KafkaSink::<WordCount>::json(bootstrap, "word-counts")
        .await
        .unwrap_or_else(|e| panic!("sink: {e}"));
    let pipeline = word_count("KafkaWords", 300, source, json_word, sink);
    kafka.serve(Endpoint::new().pipeline(pipeline)).await;

    let h = harness();
    let names = ServiceNames::for_pipeline("KafkaWords");
    // The topic never ends: run until every word is counted, then stop.
    let status = h.run_until_written(&names, 3, WORDS as u64).await;
    assert_eq!(status.records_in, (WORDS + broken) as u64, "{status:?}");
    assert_eq!(status.dead_letters, broken as u64, "{status:?}");
    let letters = h.dead_letters(&names).await;
    assert_eq!(letters.len(), broken);
    assert!(
        letters
            .iter()
            .all(|l| l.error.contains("is not the JSON expected")),
        "{letters:#?}"
    );

    // The page's view: each partition's end offset, asked of the broker, is
    // where its split leases next (no lag left); the letters are listed,
    // and one replayed, read again from the broker at its offset, fails
    // again (the record is still not JSON) and is kept at that offset.
    let overview = (h.ingress().overview(&names).await).unwrap_or_else(|e| panic!("{e}"));
    let splits: Vec<_> = overview
        .splits
        .iter()
        .map(|s| (s.position, s.end))
        .collect();
    assert!(
        overview.splits.iter().all(|s| s.end == Some(s.position)),
        "{splits:?}"
    );
    let read: u64 = overview.splits.iter().map(|s| s.position).sum();
    assert_eq!(read, status.records_in, "{splits:?}");
    assert_eq!(
        overview.dead_letters.len(),
        broken,
        "{:#?}",
        overview.dead_letters
    );
    let first = &overview.dead_letters[0];
    assert!(first.replayable, "{first:#?}");
    let replayed = h.ingress().replay(&names, Some(first.id)).await;
    let replayed = replayed.unwrap_or_else(|e| panic!("replay: {e}"));
    assert_eq!(replayed.failed_again, [first.id], "{replayed:?}");
    // The new letter is sent on to the control object: wait for it.
    let kept = broken as u64 + 1;
    h.wait_for(
        &names,
        Duration::from_secs(30),
        |_| {},
        |s| s.dead_letters == kept,
    )
    .await;
    let after = h.dead_letters(&names).await;
    let again: Vec<_> = (after.iter())
        .filter(|l| l.error.starts_with("replayed: "))
        .collect();
    let [again] = &again[..] else {
        panic!("one letter replayed again: {after:#?}")
    };
    let before = letters
        .iter()
        .find(|l| l.error == again.error["replayed: ".len()..]);
    assert!(
        before.is_some_and(|b| (b.split, b.position) == (again.split, again.position)),
        "{again:?} is not at a letter's offset: {letters:#?}"
    );
    assert_eq!(after.len(), broken, "{after:#?}");

    // Checked independently: each word's running counts 1..n, each once.
    assert_each_count_once(written_counts(bootstrap, "word-counts").await, &words);
    h.assert_nothing_stuck(&names).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_that_does_not_exist_is_a_clear_error() {
    let kafka = kafka();
    let error = KafkaSource::connect(kafka.bootstrap.as_str(), "no-such-topic").await;
    let Err(error @ KafkaError::NoTopic { .. }) = error else {
        panic!("expected NoTopic");
    };
    let message = error.to_string();
    assert!(
        message.contains("`no-such-topic` does not exist"),
        "{message}"
    );
}

static RETAINED: LazyLock<CollectSink<(String, u64)>> = LazyLock::new(CollectSink::new);

/// Offsets that retention deletes before the pipeline reads them are not
/// skipped silently: they go to the dead-letter output, with the reason,
/// and every record still there is counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_deleted_before_they_are_read_are_dead_lettered() {
    let kafka = kafka();
    let bootstrap = kafka.bootstrap.as_str();
    create_topic(bootstrap, "retained", 1)
        .await
        .unwrap_or_else(|e| panic!("topic: {e}"));
    let words = skewed_words("r", 400, 12);
    let (read, later) = words.split_at(100);
    let produce_json = |words: &[String]| {
        let values = words
            .iter()
            .map(|w| serde_json::to_vec(w).unwrap_or_default())
            .collect();
        produce(bootstrap, "retained", 0, values)
    };
    produce_json(read)
        .await
        .unwrap_or_else(|e| panic!("produce: {e}"));

    let source = KafkaSource::connect(bootstrap, "retained")
        .await
        .unwrap_or_else(|e| panic!("source: {e}"));
    let pipeline = Pipeline::named("KafkaRetained")
        .batch_size(40)
        .source(source)
        .map(|r| (r.json::<String>().unwrap_or_else(|e| panic!("{e}")), 1u64))
        .key_by(|(word, _)| word.clone())
        .reduce(|(word, a), (_, b)| (word, a + b))
        .sink(RETAINED.clone());
    kafka.serve(Endpoint::new().pipeline(pipeline)).await;
    let h = harness();
    let names = ServiceNames::for_pipeline("KafkaRetained");
    // The first 100 are read, then the pipeline stops and drains.
    h.run_until_written(&names, 2, 100).await;
    h.wait_for(&names, Duration::from_secs(60), |_| {}, |s| s.finished)
        .await;

    // 300 more arrive, and the first 150 of them are deleted unread.
    produce_json(later)
        .await
        .unwrap_or_else(|e| panic!("produce: {e}"));
    delete_before(bootstrap, "retained", 0, 250)
        .await
        .unwrap_or_else(|e| panic!("delete: {e}"));
    let status = h.run_until_written(&names, 2, 250).await;
    assert_eq!(status.records_in, 400, "{status:?}");

    let letters = h.dead_letters(&names).await;
    let lost: u32 = letters.iter().map(|l| l.count).sum();
    assert_eq!(lost, 150, "{letters:#?}");
    assert!(
        letters.iter().all(|l| l.stage == FailedStage::Source
            && l.error.contains("no longer has offsets")
            && l.error.contains("deleted by retention")),
        "{letters:#?}"
    );

    // Checked independently: each surviving word's running counts 1..n.
    let survivors: Vec<String> = read.iter().chain(&later[150..]).cloned().collect();
    assert_each_count_once(RETAINED.records(), &survivors);
}

static LATEST: LazyLock<CollectSink<WordCount>> = LazyLock::new(CollectSink::new);

/// A topic read from its latest offsets: what was there before the first
/// lease is not read, what comes after is, once, and `records_in` counts
/// from where each partition started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_at_the_latest_offset_reads_only_what_comes_after() {
    let kafka = kafka();
    let bootstrap = kafka.bootstrap.as_str();
    create_topic(bootstrap, "latest", 2)
        .await
        .unwrap_or_else(|e| panic!("topic: {e}"));
    let words = skewed_words("l", 500, 9);
    let (before, after) = words.split_at(200);
    produce_halves(bootstrap, "latest", before).await;
    let source = KafkaSource::connect(bootstrap, "latest")
        .await
        .unwrap_or_else(|e| panic!("source: {e}"))
        .start_at(StartAt::Latest);
    let text = |r: &KafkaRecord| r.value_str().unwrap_or_default().to_owned();
    let pipeline = word_count("KafkaLatest", 50, source, text, LATEST.clone());
    kafka.serve(Endpoint::new().pipeline(pipeline)).await;
    let h = harness();
    let names = ServiceNames::for_pipeline("KafkaLatest");
    h.add_tokens(&names, 2).await;
    // Both partitions have been leased once, so their start is fixed.
    let started = Instant::now();
    loop {
        let positions: Vec<serde_json::Value> = h
            .sql(&format!(
                "SELECT key FROM state WHERE service_name = '{}' AND key = 'position'",
                names.split
            ))
            .await;
        if positions.len() == 2 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "never leased");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    produce_halves(bootstrap, "latest", after).await;
    let status = h.run_until_written(&names, 1, after.len() as u64).await;
    assert_eq!(status.records_in, after.len() as u64, "{status:?}");
    let written = LATEST.records().into_iter().map(|wc| (wc.word, wc.count));
    assert_each_count_once(written, after);
}

static REBORN: LazyLock<CollectSink<WordCount>> = LazyLock::new(CollectSink::new);

/// A pipeline whose topic is not the one its positions came from (here,
/// the same pipeline pointed at a smaller topic, as a topic deleted and
/// created again is) does not wait for offsets that will never come: its
/// tokens stop, and the status says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_that_ends_before_the_pipelines_position_stops_it_and_says_why() {
    let kafka = kafka();
    let bootstrap = kafka.bootstrap.as_str();
    for topic in ["reborn-old", "reborn-new"] {
        create_topic(bootstrap, topic, 1)
            .await
            .unwrap_or_else(|e| panic!("topic: {e}"));
    }
    let words = skewed_words("n", 100, 5);
    let text = |r: &KafkaRecord| r.value_str().unwrap_or_default().to_owned();
    let values = |words: &[String]| words.iter().map(|w| w.clone().into_bytes()).collect();
    produce(bootstrap, "reborn-old", 0, values(&words))
        .await
        .unwrap_or_else(|e| panic!("produce: {e}"));
    produce(bootstrap, "reborn-new", 0, values(&words[..10]))
        .await
        .unwrap_or_else(|e| panic!("produce: {e}"));
    let h = harness();
    let names = ServiceNames::for_pipeline("KafkaReborn");
    for (topic, run) in [("reborn-old", 0), ("reborn-new", 1)] {
        let source = KafkaSource::connect(bootstrap, topic)
            .await
            .unwrap_or_else(|e| panic!("source: {e}"));
        let pipeline = word_count("KafkaReborn", 30, source, text, REBORN.clone());
        kafka.serve(Endpoint::new().pipeline(pipeline)).await;
        if run == 0 {
            h.run_until_written(&names, 2, 100).await;
            h.wait_for(&names, Duration::from_secs(60), |_| {}, |s| s.finished)
                .await;
        }
    }
    // The same pipeline, now over a topic that ends at offset 10.
    h.add_tokens(&names, 2).await;
    let status = h
        .wait_for(
            &names,
            Duration::from_secs(60),
            |_| {},
            |s| s.tokens_in_flight == 0 && s.conflict.is_some(),
        )
        .await;
    let reason = status.conflict.unwrap_or_default();
    assert!(
        reason.contains("topic `reborn-new` partition 0 ends at offset 10")
            && reason.contains("read it up to offset 100"),
        "{reason}"
    );
    assert_eq!(status.records_in, 100, "nothing of the new topic was read");
    assert_eq!(REBORN.records().len(), 100);
}
