//! The PostgreSQL sink against a real server: a running count per word,
//! from Kafka, upserted exactly once; one row that breaks the table's
//! constraint goes to the dead-letter output, and the rest are written;
//! once the constraint is dropped, replaying the letter writes the row.

use std::collections::BTreeMap;

use stream_runtime::kafka::KafkaSource;
use stream_runtime::postgres::PostgresSink;
use stream_runtime::{Endpoint, FailedStage, Pipeline, ServiceNames};
use stream_support::kafka::{create_topic, produce};

use crate::harness::{harness, kafka, postgres, postgres_client};
use crate::pipelines::{counts, skewed_words};

const WORDS: usize = 3_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_to_running_counts_upserted_into_postgres_is_exact() {
    let kafka = kafka();
    let bootstrap = kafka.bootstrap.as_str();
    let config = postgres();
    let db = postgres_client().await;
    db.batch_execute(
        "CREATE TABLE word_counts (word text PRIMARY KEY CHECK (word <> 'forbidden'), \
         count bigint NOT NULL)",
    )
    .await
    .unwrap_or_else(|e| panic!("create: {e}"));

    create_topic(bootstrap, "pg-words", 2)
        .await
        .unwrap_or_else(|e| panic!("topic: {e}"));
    let words = skewed_words("p", WORDS, 40);
    for (i, chunk) in words.chunks(200).enumerate() {
        let mut values: Vec<Vec<u8>> = chunk.iter().map(|w| w.clone().into_bytes()).collect();
        if i == 3 {
            values.insert(77, b"forbidden".to_vec());
        }
        produce(bootstrap, "pg-words", (i % 2) as i32, values)
            .await
            .unwrap_or_else(|e| panic!("produce: {e}"));
    }

    let source = KafkaSource::connect(bootstrap, "pg-words")
        .await
        .unwrap_or_else(|e| panic!("source: {e}"));
    let sink = PostgresSink::connect(
        config,
        "word_counts",
        &["word", "count"],
        |(word, count): &(String, u64)| vec![word.as_str().into(), (*count as i64).into()],
    )
    .await
    .unwrap_or_else(|e| panic!("sink: {e}"))
    .upsert_on(&["word"]);
    let pipeline = Pipeline::named("PostgresCounts")
        .batch_size(250)
        .source(source)
        .map(|r| (r.value_str().unwrap_or_default().to_owned(), 1u64))
        .key_by(|(word, _)| word.clone())
        .reduce(|(word, a), (_, b)| (word, a + b))
        .sink(sink);
    kafka.serve(Endpoint::new().pipeline(pipeline)).await;

    let h = harness();
    let names = ServiceNames::for_pipeline("PostgresCounts");
    let status = h.run_until_written(&names, 3, WORDS as u64).await;
    assert_eq!(
        (status.records_in, status.dead_letters),
        (WORDS as u64 + 1, 1),
        "{status:?}"
    );
    let letters = h.dead_letters(&names).await;
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert!(
        letter.stage == FailedStage::Sink
            && letter.error.contains("violates check constraint")
            && letter.record == Some(serde_json::json!(["forbidden", 1])),
        "{letter:?}"
    );

    // Checked independently: the table holds each word's count, and the
    // sink partitions' committed offsets add up to every record written.
    let rows = db
        .query("SELECT word, count FROM word_counts", &[])
        .await
        .unwrap_or_else(|e| panic!("select: {e}"));
    let stored: BTreeMap<String, u64> = rows
        .iter()
        .map(|row| (row.get::<_, String>(0), row.get::<_, i64>(1) as u64))
        .collect();
    assert_eq!(stored, counts(&words));
    let committed: i64 = db
        .query_one(
            "SELECT sum(committed)::bigint FROM stream_sink_offsets WHERE sink = 'word_counts'",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("offsets: {e}"))
        .get(0);
    assert_eq!(committed, WORDS as i64);
    h.assert_nothing_stuck(&names).await;

    // The fix, then the replay: the row the table refused is written once,
    // to the sink again, and leaves the list.
    db.batch_execute("ALTER TABLE word_counts DROP CONSTRAINT word_counts_word_check")
        .await
        .unwrap_or_else(|e| panic!("alter: {e}"));
    let replayed = (h.ingress().replay(&names, None).await).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (replayed.replayed.len(), replayed.failed_again.len()),
        (1, 0),
        "{replayed:?}"
    );
    let forbidden = db
        .query(
            "SELECT count FROM word_counts WHERE word = 'forbidden'",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("select: {e}"));
    let forbidden: Vec<i64> = forbidden.iter().map(|row| row.get(0)).collect();
    assert_eq!(forbidden, [1], "the replayed row");
    assert!(h.dead_letters(&names).await.is_empty());
    let again = h.ingress().replay(&names, None).await;
    assert!(
        again.is_ok_and(|r| r.replayed.is_empty()),
        "a second replay finds nothing"
    );
}
