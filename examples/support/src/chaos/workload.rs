//! The pipelines the fault-injection runs kill, and what each must leave
//! behind: a running word count, event-time tumbling windows, the top 3
//! keys of each window (two keyed stages in a row), and the
//! running word count from Kafka to Kafka, from Kafka to PostgreSQL, and
//! from Kafka to Kafka with a side output to PostgreSQL, an interval join
//! of two Kafka topics, an enrichment stage calling a Restate object
//! the killed endpoint serves, and a join of two inputs that each have a
//! keyed stage of their own.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use stream_runtime::keyed::Emit;
use stream_runtime::lookup::{Enrich, Lookup};
use stream_runtime::restate::AdminClient;
use stream_runtime::source::{Either, Pushed};
use stream_runtime::time::Watermarks;
use stream_runtime::window::{tumbling, Windowed};
use stream_runtime::{CompletePipeline, FileSink, IntoPipeline, Pipeline, Sequence, ServiceNames};

use super::connectors::Connectors;
use crate::join_pairs::{self, check_pairs};
use crate::joined_stages::{check_joined, JoinedLine};
use crate::keys::{mix, zipf_rank};
use crate::lookups;
use crate::random_pipelines;
use crate::running_counts::{
    check_latest_counts, check_running_counts, expected_counts, CountCheck, CountChecker,
};
pub use crate::window_counts::WindowCount;
use crate::window_counts::{check_window_counts, expected_windows, top3, top_of};

/// How many distinct keys the input spreads over, skewed.
pub const KEYS: u64 = 50;
/// The windows' length, in milliseconds of event time.
pub const WINDOW_MS: i64 = 1_000;
/// How far a record's event time strays from its place in the input.
pub const DISORDER_MS: i64 = 200;

/// Which pipeline a run kills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// A running word count (`reduce`): every running count, once.
    Count,
    /// The word count emitting each word's latest count once per batch
    /// (`Emit::LatestPerBatch`): each count at most once, every total.
    CountLatest,
    /// Counts per key per 1 s tumbling event-time window: every window, once.
    Window,
    /// The counts per key per window, then the 3 largest of each window, a
    /// second keyed stage windowed over the first's results: every
    /// window's top 3, once.
    TopN,
    /// The running word count from a Kafka topic to a Kafka topic.
    KafkaToKafka,
    /// The running word count from a Kafka topic, inserted into a
    /// PostgreSQL table.
    KafkaToPostgres,
    /// The running word count from a Kafka topic: odd counts to a Kafka
    /// topic, even ones, a side output, into a PostgreSQL table.
    SideOutput,
    /// Two Kafka topics of the same sequence numbers, joined by event time
    /// within `JOIN_WITHIN_MS` per block of `JOIN_BLOCK` numbers: every
    /// pair, once.
    IntervalJoin,
    /// Two keyed stages, the first giving `LARGE_BYTES` per record, so that
    /// a group's output for the second goes in several calls under
    /// `LARGE_CALL_BYTES`; the second counts per key: every count, once.
    LargeOutputs,
    /// A random pipeline from the stage table
    /// ([`random_pipelines`](crate::random_pipelines)), drawn from the
    /// run's seed, over `records` records: the reference model's output,
    /// each result once.
    Random,
    /// One named stream read by two chains: every record archived raw to
    /// a file of its own (the branch), and the running word count: every
    /// record in the archive once, and every running count once.
    Branch,
    /// An enrichment stage calling, per record, the `EnrichCalls` object
    /// served by the killed endpoint: each record once with its answer,
    /// and the object's own count of calls per record exactly 1.
    Enrich,
    /// A join whose inputs have stages of their own: counts per key and
    /// window (with `event_time`) joined with each key's running count
    /// (without), the join numbering what it sees per key in its state:
    /// every window once, every running count once, every number once.
    JoinAfterStages,
    /// The running word count over records pushed over HTTP
    /// (`{name}Ingest/append`) by a producer that sends every batch again,
    /// with its key, until it sees an answer, and waits out 429s: every
    /// running count once.
    Push,
    /// The running word count over the rows inserted into a PostgreSQL
    /// table, read by change data capture, while PostgreSQL too is crashed
    /// and restarted: every running count once.
    Cdc,
}

/// The records a split of the push row's log holds unread: small, so that
/// the producer is held back, and its requests meet the kills too.
pub const PUSH_BOUND: u64 = 2_000;
/// The records in one of the push row's batches.
pub const PUSH_BATCH: u64 = 250;

/// What the first stage of the large-output row gives per record.
pub const LARGE_BYTES: usize = 2_000;
/// The most bytes a call of the large-output row carries: a group's output
/// of a few records takes several.
pub const LARGE_CALL_BYTES: usize = 8 << 10;

/// The second stage's key of the large-output row.
fn large_key(n: u64) -> String {
    format!("k{}", n % 3)
}

/// The join's key: a block of this many consecutive numbers.
pub const JOIN_BLOCK: u64 = 10;
/// How far apart, either way, two numbers' event times may be to join.
pub const JOIN_WITHIN_MS: i64 = 50;

/// A word and its running count, as the word count writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordCount {
    /// The key.
    pub word: String,
    /// How many times it was seen so far.
    pub count: u64,
}

/// The key of sequence number `n`: key `k` has weight about 1/(k+1).
pub fn key_of(n: u64) -> String {
    format!("key{:02}", zipf_rank(n, KEYS))
}

/// The event time of sequence number `n`: 100 records per second, each up
/// to `DISORDER_MS` early or late.
pub fn time_of(n: u64) -> i64 {
    let shift = (mix(n ^ 0x5eed) % (2 * DISORDER_MS as u64 + 1)) as i64 - DISORDER_MS;
    n as i64 * 10 + shift
}

/// Sequence number `n` as one occurrence of its word.
fn one_word(n: u64) -> WordCount {
    WordCount {
        word: key_of(n),
        count: 1,
    }
}

/// Two counts of one word, added.
fn summed(a: WordCount, b: WordCount) -> WordCount {
    WordCount {
        count: a.count + b.count,
        ..a
    }
}

/// What a run must find once the pipeline has finished.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Results the input implies that the file lacks.
    pub lost: u64,
    /// Results beyond one per expected result (repeats, wrong values, strays).
    pub duplicated: u64,
    /// What else is wrong, in words.
    pub violations: Vec<String>,
}

impl Workload {
    /// Every one, in the order the soak runs them.
    pub const ALL: [Workload; 15] = [
        Workload::Count,
        Workload::CountLatest,
        Workload::Window,
        Workload::TopN,
        Workload::LargeOutputs,
        Workload::Random,
        Workload::Branch,
        Workload::Enrich,
        Workload::JoinAfterStages,
        Workload::Push,
        Workload::KafkaToKafka,
        Workload::KafkaToPostgres,
        Workload::SideOutput,
        Workload::IntervalJoin,
        Workload::Cdc,
    ];

    /// The ones that need no server but Restate.
    pub const BUILT_IN: [Workload; 10] = [
        Workload::Count,
        Workload::CountLatest,
        Workload::Window,
        Workload::TopN,
        Workload::LargeOutputs,
        Workload::Random,
        Workload::Branch,
        Workload::Enrich,
        Workload::JoinAfterStages,
        Workload::Push,
    ];

    /// The ones with connectors.
    pub const CONNECTORS: [Workload; 5] = [
        Workload::KafkaToKafka,
        Workload::KafkaToPostgres,
        Workload::SideOutput,
        Workload::IntervalJoin,
        Workload::Cdc,
    ];

    /// The row's name in the table.
    pub fn label(self) -> &'static str {
        match self {
            Workload::Count => "word count",
            Workload::CountLatest => "word count, latest per batch",
            Workload::Window => "window (tumbling 1 s)",
            Workload::TopN => "top 3 per window (two keyed stages)",
            Workload::KafkaToKafka => "Kafka source to Kafka sink",
            Workload::KafkaToPostgres => "Kafka source to PostgreSQL",
            Workload::SideOutput => "Kafka to Kafka, side output to PostgreSQL",
            Workload::IntervalJoin => "interval join of two Kafka topics",
            Workload::LargeOutputs => "a stage's output in several calls to the next",
            Workload::Random => "a random pipeline from the stage table, against the model",
            Workload::Branch => "branch: every record archived, and the word count",
            Workload::Enrich => "enrich: a Restate call per record, each made once",
            Workload::JoinAfterStages => "join after stages: windowed counts with running counts",
            Workload::Push => "pushed over HTTP, every batch sent until answered",
            Workload::Cdc => "change data capture from PostgreSQL, itself restarted",
        }
    }

    /// The pipeline's name, and so its services' prefix.
    pub fn pipeline_name(self) -> &'static str {
        match self {
            Workload::Count => "ChaosWordCount",
            Workload::CountLatest => "ChaosWordCountLatest",
            Workload::Window => "ChaosWindows",
            Workload::TopN => "ChaosTopN",
            Workload::KafkaToKafka => "ChaosKafkaToKafka",
            Workload::KafkaToPostgres => "ChaosKafkaToPostgres",
            Workload::SideOutput => "ChaosSideOutput",
            Workload::IntervalJoin => "ChaosIntervalJoin",
            Workload::LargeOutputs => "ChaosLargeOutputs",
            Workload::Random => "ChaosRandom",
            Workload::Branch => "ChaosBranch",
            Workload::Enrich => "ChaosEnrich",
            Workload::JoinAfterStages => "ChaosJoinAfterStages",
            Workload::Push => "ChaosPush",
            Workload::Cdc => "ChaosCdc",
        }
    }

    /// Its name on the command line (`--pipeline`, `--workload`).
    pub fn arg(self) -> String {
        clap::ValueEnum::to_possible_value(&self)
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default()
    }

    /// Whether it reads a Kafka topic.
    pub fn needs_kafka(self) -> bool {
        matches!(
            self,
            Workload::KafkaToKafka
                | Workload::KafkaToPostgres
                | Workload::SideOutput
                | Workload::IntervalJoin
        )
    }

    /// Whether it writes to PostgreSQL.
    pub fn needs_postgres(self) -> bool {
        matches!(
            self,
            Workload::KafkaToPostgres | Workload::SideOutput | Workload::Cdc
        )
    }

    /// Whether its source ends by itself; an endless one (a topic) is
    /// stopped once every result is written.
    pub fn is_bounded(self) -> bool {
        !self.needs_kafka() && !matches!(self, Workload::Push | Workload::Cdc)
    }

    /// Its service names.
    pub fn names(self) -> ServiceNames {
        ServiceNames::for_pipeline(self.pipeline_name())
    }

    /// The pipeline over `records` sequence numbers, writing to `output`
    /// (or to the connectors' topic or table).
    pub async fn pipeline(
        self,
        output: &Path,
        connectors: &Connectors,
        records: u64,
        batch: u32,
    ) -> Result<CompletePipeline, String> {
        let name = self.pipeline_name();
        let source = Pipeline::named(name)
            .batch_size(batch)
            .source(Sequence::new().take(records).with_splits(2));
        let emit = match self {
            Workload::CountLatest => Emit::LatestPerBatch,
            _ => Emit::EveryUpdate,
        };
        Ok(match self {
            Workload::Cdc => Pipeline::named(name)
                .batch_size(batch)
                .source(connectors.cdc_source(name)?)
                .map(|change| one_word(super::cdc::inserted(&change)))
                .key_by(|wc| wc.word.clone())
                .reduce(summed)
                .sink(FileSink::new(output))
                .into_pipeline(),
            Workload::Push => Pipeline::named(name)
                .batch_size(batch)
                .source(Pushed::<u64>::new().with_splits(2).bound(PUSH_BOUND))
                .map(one_word)
                .key_by(|wc| wc.word.clone())
                .reduce(summed)
                .sink(FileSink::new(output))
                .into_pipeline(),
            Workload::Count | Workload::CountLatest => source
                .map(one_word)
                .key_by(|wc| wc.word.clone())
                .reduce_emitting(summed, emit)
                .sink(FileSink::new(output))
                .into_pipeline(),
            Workload::Window => source
                .event_time(
                    |n| time_of(*n),
                    Watermarks::max_delay(std::time::Duration::from_millis(500)),
                )
                .key_by(|n| key_of(**n))
                .window(tumbling(std::time::Duration::from_millis(WINDOW_MS as u64)))
                .aggregate(0u64, |count, _n| *count += 1)
                .map(WindowCount::from)
                .sink(FileSink::new(output))
                .into_pipeline(),
            Workload::TopN => source
                .event_time(
                    |n| time_of(*n),
                    Watermarks::max_delay(std::time::Duration::from_millis(500)),
                )
                .key_by(|n| key_of(**n))
                .window(tumbling(std::time::Duration::from_millis(WINDOW_MS as u64)))
                .aggregate(0u64, |count, _n| *count += 1)
                .key_by(|w: &Windowed<String, u64>| w.start)
                .window(tumbling(std::time::Duration::from_millis(WINDOW_MS as u64)))
                .aggregate(Vec::new(), top3)
                .flat_map(|w| {
                    let start = w.key;
                    (w.value.into_iter()).map(move |(count, word)| WindowCount {
                        word,
                        start,
                        count,
                    })
                })
                .sink(FileSink::new(output))
                .into_pipeline(),
            Workload::KafkaToKafka => connectors.kafka_to_kafka(name, batch).await?,
            Workload::KafkaToPostgres => connectors.kafka_to_postgres(name, batch).await?,
            Workload::SideOutput => connectors.kafka_with_side_output(name, batch).await?,
            Workload::IntervalJoin => connectors.interval_join(name, batch).await?,
            Workload::LargeOutputs => Pipeline::named(name)
                .batch_size(batch)
                .key_groups(2)
                .max_call_bytes(LARGE_CALL_BYTES)
                .source(Sequence::new().take(records).with_splits(2))
                .key_by(|n| n % 7)
                .process(|n, ctx| ctx.collect((n, "x".repeat(LARGE_BYTES))))
                .key_by(|(n, _): &(u64, String)| large_key(*n))
                .process(|(n, _), ctx| {
                    let mut seen = ctx.value::<u64>("seen");
                    let count = seen.get().unwrap_or(0) + 1;
                    seen.set(count);
                    let word = large_key(n);
                    ctx.collect(WordCount { word, count });
                })
                .sink(FileSink::new(output))
                .into_pipeline(),
            Workload::Random => {
                let case = random_case(connectors.tag, records, batch);
                random_pipelines::build(&case, name, FileSink::new(output))
            }
            Workload::Branch => source
                .branch(|all| all.sink(FileSink::new(archive_of(output))))
                .map(one_word)
                .key_by(|wc| wc.word.clone())
                .reduce(summed)
                .sink(FileSink::new(output))
                .into_pipeline(),
            Workload::Enrich => source
                .key_by(|n| n % 7)
                .enrich_with(Enrich::new().in_flight(8), move |n| {
                    let key = lookups::object_key(name, *n);
                    Lookup::<u64>::object("EnrichCalls", key, "lookup", n)
                })
                .sink(FileSink::new(output))
                .into_pipeline(),
            Workload::JoinAfterStages => {
                let windows = source
                    .event_time(
                        |n| time_of(*n),
                        Watermarks::max_delay(std::time::Duration::from_millis(500)),
                    )
                    .key_by(|n| key_of(**n))
                    .window(tumbling(std::time::Duration::from_millis(WINDOW_MS as u64)))
                    .aggregate(0u64, |count, _n| *count += 1);
                let counts = Pipeline::named(name)
                    .source(Sequence::new().take(records).with_splits(2))
                    .map(one_word)
                    .key_by(|wc| wc.word.clone())
                    .reduce(summed);
                windows
                    .join(counts)
                    .key_by(|e| e.either(|w| w.key.clone(), |wc| wc.word.clone()))
                    .process(|e, ctx| {
                        let mut seen = ctx.value::<u64>("seen");
                        let n = seen.get().unwrap_or(0) + 1;
                        seen.set(n);
                        ctx.collect(match e {
                            Either::Left(w) => JoinedLine {
                                word: w.key,
                                start: Some(w.start),
                                count: w.value,
                                seen: n,
                            },
                            Either::Right(wc) => JoinedLine {
                                word: wc.word,
                                start: None,
                                count: wc.count,
                                seen: n,
                            },
                        });
                    })
                    .sink(FileSink::new(output))
                    .into_pipeline()
            }
        })
    }

    /// Makes the input and the output a run needs beside its file: the
    /// input topic, filled, and the output topic or table.
    pub async fn prepare(self, connectors: &Connectors, records: u64) -> Result<(), String> {
        let name = self.pipeline_name();
        match self {
            Workload::Count
            | Workload::CountLatest
            | Workload::Window
            | Workload::TopN
            | Workload::LargeOutputs
            | Workload::Random
            | Workload::Branch
            | Workload::Enrich
            | Workload::JoinAfterStages
            | Workload::Push => return Ok(()),
            Workload::KafkaToKafka => connectors.create_output_topic(name).await?,
            Workload::KafkaToPostgres => connectors.create_output_table(name).await?,
            Workload::SideOutput => {
                connectors.create_output_topic(name).await?;
                connectors.create_output_table(name).await?;
            }
            Workload::IntervalJoin => {
                connectors.create_output_topic(name).await?;
                connectors.fill_second_input(name, records).await?;
            }
            // Written while the run goes on (`write_cdc_rows`).
            Workload::Cdc => return connectors.create_cdc_table(name).await,
        }
        connectors.fill_input(name, records).await
    }

    /// How many records the pipeline reads: `records` from each input (for
    /// the random pipeline, its case's, drawn from `seed`).
    pub fn inputs(self, records: u64, seed: u64) -> u64 {
        match self {
            Workload::IntervalJoin | Workload::JoinAfterStages => 2 * records,
            Workload::Random => random_case(seed, records, 1).records_read(),
            _ => records,
        }
    }

    /// Whether the sink gets exactly [`outputs`](Self::outputs) records;
    /// the latest counts per batch depend on how records fall in batches.
    pub fn has_fixed_outputs(self) -> bool {
        self != Workload::CountLatest
    }

    /// How many records the sink gets from `records` inputs (for the
    /// latest counts, the least: one per key; for the random pipeline, the
    /// model's, for the case drawn from `seed`).
    pub async fn outputs(self, records: u64, seed: u64) -> Result<u64, String> {
        Ok(match self {
            Workload::Window => expected(records).len() as u64,
            Workload::TopN => expected_top(records).len() as u64,
            Workload::CountLatest => expected_counts(records, key_of).len() as u64,
            Workload::IntervalJoin => expected_pairs(records).len() as u64,
            Workload::Random => {
                let case = random_case(seed, records, 1);
                random_pipelines::modelled(&case).await?.len() as u64
            }
            // Both sinks: every running count, and every record archived.
            Workload::Branch => 2 * records,
            // Every window, and every running count.
            Workload::JoinAfterStages => expected(records).len() as u64 + records,
            _ => records,
        })
    }

    /// Checks the output (file, topic or table) and the keyed state
    /// against the input.
    pub async fn check(
        self,
        output: &Path,
        connectors: &Connectors,
        admin: &AdminClient,
        records: u64,
    ) -> Result<Outcome, String> {
        let expected = expected_counts(records, key_of);
        let mut checker = CountChecker::new(&expected);
        let mut violations = Vec::new();
        let name = self.pipeline_name();
        match self {
            Workload::LargeOutputs => {
                let expected = expected_counts(records, large_key);
                let check = check_running_counts(output, &expected)
                    .map_err(|e| format!("{}: {e}", output.display()))?;
                let mut outcome = Outcome {
                    lost: check.lost,
                    duplicated: check.duplicated + check.malformed,
                    violations: Vec::new(),
                };
                if outcome.lost + outcome.duplicated > 0 {
                    let (lost, duplicated) = (outcome.lost, outcome.duplicated);
                    (outcome.violations).push(format!("{lost} counts lost, {duplicated} extra"));
                }
                return Ok(outcome);
            }
            Workload::Random => {
                let case = random_case(connectors.tag, records, 1);
                let expected = random_pipelines::modelled(&case).await?;
                return check_random(output, expected);
            }
            Workload::Enrich => {
                let (lost, duplicated, violations) =
                    lookups::check_enriched(output, admin, name, records).await?;
                return Ok(Outcome {
                    lost,
                    duplicated,
                    violations,
                });
            }
            Workload::Window => {
                let windows = self::expected(records);
                return check_windows(self, output, admin, &windows).await;
            }
            Workload::JoinAfterStages => {
                let check = check_joined(output, &self::expected(records), &expected)?;
                return Ok(Outcome {
                    lost: check.lost,
                    duplicated: check.duplicated,
                    violations: check.violations,
                });
            }
            Workload::TopN => {
                let tops = expected_top(records);
                return check_windows(self, output, admin, &tops).await;
            }
            Workload::IntervalJoin => {
                let (pairs, malformed) = connectors.read_pairs(name).await?;
                let check = check_pairs(&expected_pairs(records), &pairs, malformed);
                let mut outcome = Outcome {
                    lost: check.lost,
                    duplicated: check.duplicated + check.malformed,
                    violations: Vec::new(),
                };
                if malformed > 0 {
                    (outcome.violations).push(format!("{malformed} records are not a pair"));
                }
                return Ok(outcome);
            }
            Workload::Count | Workload::Push | Workload::Cdc => {
                let check = check_running_counts(output, &expected)
                    .map_err(|e| format!("{}: {e}", output.display()))?;
                return check_word_count(self, check, &expected, admin).await;
            }
            Workload::Branch => {
                let check = check_running_counts(output, &expected)
                    .map_err(|e| format!("{}: {e}", output.display()))?;
                let mut outcome = check_word_count(self, check, &expected, admin).await?;
                let (lost, duplicated) =
                    crate::archive::check_archive(&archive_of(output), records)?;
                if lost + duplicated > 0 {
                    outcome.violations.push(format!(
                        "the branch's archive lost {lost} records and has {duplicated} extra"
                    ));
                }
                outcome.lost += lost;
                outcome.duplicated += duplicated;
                return Ok(outcome);
            }
            Workload::CountLatest => {
                let check = check_latest_counts(output, &expected)
                    .map_err(|e| format!("{}: {e}", output.display()))?;
                return check_word_count(self, check, &expected, admin).await;
            }
            Workload::KafkaToKafka => connectors.read_topic(name, &mut checker).await?,
            Workload::KafkaToPostgres => {
                let committed = connectors.read_table(name, &mut checker).await?;
                if committed != records {
                    violations.push(format!(
                        "the sink's committed offsets add up to {committed}, not {records}"
                    ));
                }
            }
            Workload::SideOutput => {
                // Both outputs feed one checker: each count once, in one.
                connectors.read_topic(name, &mut checker).await?;
                let committed = connectors.read_table(name, &mut checker).await?;
                let even: u64 = expected.values().map(|n| n / 2).sum();
                if committed != even {
                    violations.push(format!(
                        "the side sink's committed offsets add up to {committed}, not {even}"
                    ));
                }
            }
        }
        let mut outcome = check_word_count(self, checker.finish(), &expected, admin).await?;
        outcome.violations.extend(violations);
        Ok(outcome)
    }
}

/// Each key's counts 1..n once in the output, and the keyed state equal to
/// the input counts.
async fn check_word_count(
    workload: Workload,
    check: CountCheck,
    expected: &BTreeMap<String, u64>,
    admin: &AdminClient,
) -> Result<Outcome, String> {
    let mut outcome = Outcome {
        lost: check.lost,
        duplicated: check.duplicated + check.malformed,
        violations: Vec::new(),
    };
    if let Some(line) = &check.first_malformed {
        let malformed = check.malformed;
        outcome
            .violations
            .push(format!("{malformed} malformed lines, the first {line}"));
    }
    let names = workload.names();
    let rows = crate::state::keyed_state(admin, &names)
        .await
        .map_err(|e| e.to_string())?;
    let mut stored = BTreeMap::new();
    for (key, value) in rows {
        let wc: WordCount =
            serde_json::from_str(&value).map_err(|e| format!("state {key}: {e}"))?;
        stored.insert(wc.word, wc.count);
    }
    if stored != *expected {
        let wrong: Vec<String> = expected
            .iter()
            .filter(|(word, n)| stored.get(*word) != Some(n))
            .map(|(word, n)| format!("{word}: stored {:?}, input {n}", stored.get(word)))
            .collect();
        outcome.violations.push(format!(
            "keyed state differs from the input counts: {}",
            wrong.join(", ")
        ));
    }
    Ok(outcome)
}

/// Every pair the join must write for `records` numbers per topic.
fn expected_pairs(records: u64) -> Vec<(u64, u64)> {
    join_pairs::expected_pairs(records, JOIN_BLOCK, JOIN_WITHIN_MS, time_of)
}

/// Each key's count in each window of the input.
fn expected(records: u64) -> BTreeMap<(String, i64), u64> {
    expected_windows(records, WINDOW_MS, key_of, time_of)
}

/// The 3 largest counts of each window of the input, with their keys.
fn expected_top(records: u64) -> BTreeMap<(String, i64), u64> {
    top_of(&expected(records), WINDOW_MS)
}

/// Each (key, window) once in the file with its exact count, and no pane
/// or timer left in any keyed stage's groups.
async fn check_windows(
    workload: Workload,
    output: &Path,
    admin: &AdminClient,
    expected: &BTreeMap<(String, i64), u64>,
) -> Result<Outcome, String> {
    let check =
        check_window_counts(output, expected).map_err(|e| format!("{}: {e}", output.display()))?;
    let mut outcome = Outcome {
        lost: check.lost,
        duplicated: check.duplicated + check.malformed,
        violations: Vec::new(),
    };
    if !check.exact() {
        outcome.violations.push(format!(
            "the file lost {} windows and has {} extra, wrong or malformed results",
            outcome.lost, outcome.duplicated
        ));
    }
    let names = workload.names();
    let stages = match workload {
        Workload::TopN => 2,
        _ => 1,
    };
    let mut left = Vec::new();
    for stage in 0..stages {
        let keyed = names.at_level(stage).keyed;
        let entries = crate::state::group_state(admin, &keyed)
            .await
            .map_err(|e| e.to_string())?;
        left.extend(
            (entries.iter())
                .filter(|(_, name, value)| name != "time" || value.contains("\"event\":{\""))
                .map(|(group, name, _)| format!("{keyed} group {group}: {name}")),
        );
    }
    if !left.is_empty() {
        outcome.violations.push(format!(
            "windows or timers left in the key groups: {}",
            left.join(", ")
        ));
    }
    Ok(outcome)
}

/// Where the branch row archives its records: beside its output.
pub fn archive_of(output: &Path) -> std::path::PathBuf {
    output.with_extension("archive.jsonl")
}

/// The random pipeline's case for a run of `records` records with seed
/// `seed`, in batches of `batch`.
fn random_case(seed: u64, records: u64, batch: u32) -> random_pipelines::Case {
    let mut case = random_pipelines::Case::sized(seed, records);
    case.batch = batch;
    case
}

/// The file holds the model's results, each once: what it lacks is lost,
/// what it has beyond them duplicated.
fn check_random(output: &Path, mut expected: Vec<String>) -> Result<Outcome, String> {
    let text = std::fs::read_to_string(output).map_err(|e| format!("{}: {e}", output.display()))?;
    let mut got = Vec::new();
    let mut malformed = 0u64;
    for line in text.lines() {
        match serde_json::from_str::<String>(line) {
            Ok(result) => got.push(result),
            Err(_) => malformed += 1,
        }
    }
    got.sort();
    expected.sort();
    let (mut lost, mut duplicated) = (0u64, malformed);
    let (mut g, mut e) = (got.iter().peekable(), expected.iter().peekable());
    loop {
        match (g.peek(), e.peek()) {
            (Some(a), Some(b)) if a == b => {
                g.next();
                e.next();
            }
            (Some(a), Some(b)) if a < b => {
                duplicated += 1;
                g.next();
            }
            (_, Some(_)) => {
                lost += 1;
                e.next();
            }
            (Some(_), None) => {
                duplicated += 1;
                g.next();
            }
            (None, None) => break,
        }
    }
    let mut violations = Vec::new();
    if lost + duplicated > 0 {
        violations.push(format!(
            "the file differs from the model: {lost} results lost, {duplicated} extra or malformed"
        ));
    }
    Ok(Outcome {
        lost,
        duplicated,
        violations,
    })
}
