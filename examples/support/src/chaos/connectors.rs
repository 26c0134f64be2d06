//! The connector pipelines the fault-injection runs kill: the running word
//! count read from a Kafka topic and written to another topic, inserted
//! into a PostgreSQL table, or both (odd counts to the topic, even ones as
//! a side output to the table), and an interval join of two topics; where
//! their input and output live, and how the output is read back.

use std::path::Path;

use std::collections::BTreeMap;
use std::time::Duration;

use stream_runtime::kafka::{KafkaRecord, KafkaSink, KafkaSource};
use stream_runtime::keyed::between;
use stream_runtime::postgres::PostgresSink;
use stream_runtime::sink::{SideOutput, To};
use stream_runtime::source::Either;
use stream_runtime::time::Watermarks;
use stream_runtime::{CompletePipeline, IntoPipeline, Pipeline, Sink};

use super::workload::{key_of, time_of, WordCount, JOIN_BLOCK, JOIN_WITHIN_MS};
use crate::join_pairs::count_pairs;
use crate::kafka::{create_topic, read_all, KafkaBroker, Producer};
use crate::postgres::PostgresServer;
use crate::running_counts::CountChecker;

/// The input's partitions, and so the splits.
const PARTITIONS: i32 = 2;
/// Records per produced batch.
const PRODUCE_BATCH: u64 = 1_000;

/// Where the connector pipelines' servers are, and the run's tag, which
/// names its topics and table so that runs sharing a server do not meet.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Connectors {
    /// The Kafka broker of a connector pipeline, `host:port`
    #[arg(long)]
    pub kafka: Option<String>,
    /// The PostgreSQL connection string of a connector pipeline
    #[arg(long)]
    pub postgres: Option<String>,
    /// Names the run's topics and table
    #[arg(long, default_value_t = 0)]
    pub tag: u64,
}

/// The servers a run started itself, stopped when dropped.
#[derive(Default)]
pub(super) struct Started {
    _broker: Option<KafkaBroker>,
    /// The PostgreSQL the run started, which the CDC row restarts.
    pub postgres: Option<PostgresServer>,
}

impl Connectors {
    /// The input topic of the pipeline named `pipeline`.
    pub fn input(&self, pipeline: &str) -> String {
        format!("{}_{}_in", pipeline.to_lowercase(), self.tag)
    }

    /// The second input topic of a join named `pipeline`.
    pub fn second_input(&self, pipeline: &str) -> String {
        format!("{}_{}_in2", pipeline.to_lowercase(), self.tag)
    }

    /// The output topic (or table) of the pipeline named `pipeline`.
    pub fn output(&self, pipeline: &str) -> String {
        format!("{}_{}_out", pipeline.to_lowercase(), self.tag)
    }

    fn kafka(&self) -> Result<&str, String> {
        self.kafka
            .as_deref()
            .ok_or_else(|| "no Kafka broker given (--kafka)".to_owned())
    }

    fn postgres(&self) -> Result<&str, String> {
        self.postgres
            .as_deref()
            .ok_or_else(|| "no PostgreSQL given (--postgres)".to_owned())
    }

    /// Starts, under `scratch`, a broker and a PostgreSQL server where
    /// these connectors name none and a pipeline needs one.
    pub(super) async fn start_missing(
        &mut self,
        kafka: bool,
        postgres: bool,
        scratch: &Path,
    ) -> Result<Started, String> {
        let mut started = Started::default();
        if kafka && self.kafka.is_none() {
            let broker = KafkaBroker::start(scratch.join("kafka"), 0)
                .await
                .map_err(|e| e.to_string())?;
            self.kafka = Some(broker.bootstrap());
            started._broker = Some(broker);
        }
        if postgres && self.postgres.is_none() {
            let server = PostgresServer::start(scratch.join("postgres"))
                .await
                .map_err(|e| e.to_string())?;
            self.postgres = Some(server.config());
            started.postgres = Some(server);
        }
        Ok(started)
    }

    /// Fills the input topic with the sequence numbers `0..records` as
    /// JSON, in batches spread over its partitions.
    pub(super) async fn fill_input(&self, pipeline: &str, records: u64) -> Result<(), String> {
        self.fill(&self.input(pipeline), records).await
    }

    /// Fills the join's second input topic as the first.
    pub(super) async fn fill_second_input(
        &self,
        pipeline: &str,
        records: u64,
    ) -> Result<(), String> {
        self.fill(&self.second_input(pipeline), records).await
    }

    async fn fill(&self, topic: &str, records: u64) -> Result<(), String> {
        let kafka = self.kafka()?;
        create_topic(kafka, topic, PARTITIONS).await?;
        let producer = Producer::connect(kafka, topic).await?;
        let mut from = 0;
        let mut partition = 0;
        while from < records {
            let to = (from + PRODUCE_BATCH).min(records);
            let values = (from..to).map(|n| n.to_string().into_bytes()).collect();
            producer.send(partition, values).await?;
            partition = (partition + 1) % PARTITIONS;
            from = to;
        }
        Ok(())
    }

    /// Makes the output topic.
    pub(super) async fn create_output_topic(&self, pipeline: &str) -> Result<(), String> {
        create_topic(self.kafka()?, &self.output(pipeline), PARTITIONS).await
    }

    /// Makes the output table: every running count is inserted as a row,
    /// with no unique key, so a row written twice would show.
    pub(super) async fn create_output_table(&self, pipeline: &str) -> Result<(), String> {
        let db = self.database().await?;
        let table = self.output(pipeline);
        db.batch_execute(&format!(
            "CREATE TABLE {table} (word text NOT NULL, count bigint NOT NULL)"
        ))
        .await
        .map_err(|e| format!("create {table}: {e}"))
    }

    pub(super) async fn database(&self) -> Result<tokio_postgres::Client, String> {
        let (db, connection) = tokio_postgres::connect(self.postgres()?, tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("PostgreSQL: {e}"))?;
        tokio::spawn(connection);
        Ok(db)
    }

    /// The running word count over the input topic, into `sink`.
    async fn word_count(
        &self,
        pipeline: &str,
        batch: u32,
        sink: impl Sink<WordCount>,
    ) -> Result<CompletePipeline, String> {
        let source = KafkaSource::connect(self.kafka()?, self.input(pipeline))
            .await
            .map_err(|e| e.to_string())?;
        Ok(Pipeline::named(pipeline)
            .batch_size(batch)
            .source(source)
            .map(|record| WordCount {
                word: key_of(
                    record
                        .json::<u64>()
                        .unwrap_or_else(|e| panic!("not a sequence number: {e}")),
                ),
                count: 1,
            })
            .key_by(|wc| wc.word.clone())
            .reduce(|a, b| WordCount {
                count: a.count + b.count,
                ..a
            })
            .sink(sink)
            .into_pipeline())
    }

    /// Kafka topic in, running counts per key, Kafka topic out.
    pub(super) async fn kafka_to_kafka(
        &self,
        pipeline: &str,
        batch: u32,
    ) -> Result<CompletePipeline, String> {
        let sink = self.topic_sink(pipeline).await?;
        self.word_count(pipeline, batch, sink).await
    }

    /// Running counts as JSON records of the pipeline's output topic.
    async fn topic_sink(&self, pipeline: &str) -> Result<KafkaSink<WordCount>, String> {
        KafkaSink::<WordCount>::json(self.kafka()?, self.output(pipeline))
            .await
            .map_err(|e| e.to_string())
    }

    /// Kafka topic in, running counts per key, rows inserted into a table.
    pub(super) async fn kafka_to_postgres(
        &self,
        pipeline: &str,
        batch: u32,
    ) -> Result<CompletePipeline, String> {
        let sink = self.table_sink(pipeline).await?;
        self.word_count(pipeline, batch, sink).await
    }

    /// Running counts inserted as rows into the pipeline's output table.
    async fn table_sink(&self, pipeline: &str) -> Result<PostgresSink<WordCount>, String> {
        PostgresSink::connect(
            self.postgres()?,
            &self.output(pipeline),
            &["word", "count"],
            |wc: &WordCount| vec![wc.word.as_str().into(), (wc.count as i64).into()],
        )
        .await
        .map_err(|e| e.to_string())
    }

    /// Kafka topic in, running counts per key: odd counts to a Kafka topic,
    /// even ones (a side output) into a table, each sink exactly-once.
    pub(super) async fn kafka_with_side_output(
        &self,
        pipeline: &str,
        batch: u32,
    ) -> Result<CompletePipeline, String> {
        let main = self.topic_sink(pipeline).await?;
        let side = self.table_sink(pipeline).await?;
        let route = |wc: &WordCount| match wc.count % 2 {
            0 => To::Side(wc.clone()),
            _ => To::Main(wc.clone()),
        };
        self.word_count(pipeline, batch, SideOutput::new(route, main, side))
            .await
    }

    /// Two topics of sequence numbers, each at `time_of` its number, joined
    /// within `JOIN_WITHIN_MS` either way per block of `JOIN_BLOCK`
    /// numbers: each pair `(left, right)` as JSON into the output topic.
    pub(super) async fn interval_join(
        &self,
        pipeline: &str,
        batch: u32,
    ) -> Result<CompletePipeline, String> {
        let kafka = self.kafka()?;
        let connect = |topic: String| async move {
            KafkaSource::connect(kafka, topic)
                .await
                .map_err(|e| e.to_string())
        };
        let lefts = connect(self.input(pipeline)).await?;
        let rights = connect(self.second_input(pipeline)).await?;
        let sink = KafkaSink::<(u64, u64)>::json(kafka, self.output(pipeline))
            .await
            .map_err(|e| e.to_string())?;
        let number = |record: &KafkaRecord| {
            (record.json::<u64>()).unwrap_or_else(|e| panic!("not a sequence number: {e}"))
        };
        Ok(Pipeline::named(pipeline)
            .batch_size(batch)
            .source(lefts)
            .connect(rights)
            .map(move |e| match e {
                Either::Left(record) => Either::Left(number(&record)),
                Either::Right(record) => Either::Right(number(&record)),
            })
            .event_time(
                |e| e.either(|n| time_of(*n), |n| time_of(*n)),
                Watermarks::max_delay(Duration::from_millis(500)),
            )
            .key_by(|e| e.either(|n| n / JOIN_BLOCK, |n| n / JOIN_BLOCK))
            .interval_join(
                between(-JOIN_WITHIN_MS, JOIN_WITHIN_MS),
                |left: &u64, right: &u64| (*left, *right),
            )
            .sink(sink)
            .into_pipeline())
    }

    /// Each `(left, right)` pair in the output topic, with how many
    /// times, and how many records are not a pair.
    pub(super) async fn read_pairs(
        &self,
        pipeline: &str,
    ) -> Result<(BTreeMap<(u64, u64), u64>, u64), String> {
        let values = read_all(self.kafka()?, &self.output(pipeline)).await?;
        Ok(count_pairs(values.iter().map(Vec::as_slice)))
    }

    /// Feeds every record of the output topic to `checker`.
    pub(super) async fn read_topic(
        &self,
        pipeline: &str,
        checker: &mut CountChecker<'_>,
    ) -> Result<(), String> {
        for value in read_all(self.kafka()?, &self.output(pipeline)).await? {
            checker.line(&String::from_utf8_lossy(&value));
        }
        Ok(())
    }

    /// Feeds every row of the output table to `checker`, and answers the
    /// sink's committed offsets, summed.
    pub(super) async fn read_table(
        &self,
        pipeline: &str,
        checker: &mut CountChecker<'_>,
    ) -> Result<u64, String> {
        let db = self.database().await?;
        let table = self.output(pipeline);
        let rows = db
            .query(&format!("SELECT word, count FROM {table}"), &[])
            .await
            .map_err(|e| format!("select from {table}: {e}"))?;
        for row in rows {
            let count: i64 = row.get(1);
            checker.count(row.get(0), u64::try_from(count).unwrap_or(0));
        }
        let committed: Option<i64> = db
            .query_one(
                "SELECT sum(committed)::bigint FROM stream_sink_offsets WHERE sink = $1",
                &[&table],
            )
            .await
            .map_err(|e| format!("stream_sink_offsets: {e}"))?
            .get(0);
        Ok(committed.and_then(|c| u64::try_from(c).ok()).unwrap_or(0))
    }
}
