//! The messages a pipeline's services exchange, and the status it reports.

use serde::{Deserialize, Serialize};

use super::codec::Encoding;
use crate::time::Millis;

/// A token: one circulating `ingest` invocation. Its id picks the split it
/// reads first and the sink partition it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// Tokens are numbered 0, 1, 2, … in the order they were injected.
    pub id: u64,
    /// The pipeline's layout when the token was injected. A token meeting an
    /// endpoint with another layout stops instead of running with it.
    /// (`None` for tokens injected by versions that did not record it.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<Layout>,
    /// The pipeline's watermark as of the token's last range (event-time
    /// pipelines only); the token hands it to the key groups with its next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<Millis>,
    /// How many rounds in a row found no data (an endless source with none
    /// right now): the token waits longer each time.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub idle: u32,
    /// The split the token asks first next round (`None`: its id modulo
    /// the splits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u32>,
    /// How many tokens there were once it was injected. After each lease
    /// the token moves that many splits on, so tokens injected together go
    /// round every split (none starves, however few they are), and, as many
    /// as the splits or a divisor of them, each keeps to splits of its own
    /// (each split is read in order). `None` (a token of an earlier
    /// version): it keeps to its own split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peers: Option<u64>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Token {
    /// Token `id` as injected with `layout`.
    pub fn new(id: u64, layout: Option<Layout>) -> Self {
        Self {
            id,
            layout,
            watermark: None,
            idle: 0,
            cursor: None,
            peers: None,
        }
    }

    /// The split this token asks first, of `splits`.
    pub(crate) fn first_split(&self, splits: u32) -> u32 {
        let splits = splits.max(1);
        match self.cursor {
            Some(cursor) => cursor % splits,
            None => (self.id % u64::from(splits)) as u32,
        }
    }

    /// The split it asks first the round after one that asked `first`
    /// first: [`peers`](Self::peers) splits on.
    pub(crate) fn next_split(&self, first: u32, splits: u32) -> Option<u32> {
        let splits = u64::from(splits.max(1));
        let on = self.peers? % splits;
        Some(((u64::from(first) + on) % splits) as u32)
    }
}

/// The settings a pipeline's stored state is laid out by: which key group
/// holds a key, which split a position belongs to, which sink partition
/// holds a committed offset. Fixed by the first `addTokens` for the life of
/// the pipeline's state, like Flink's max parallelism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// Key groups of the keyed stage (see [`KeyGroups`](crate::KeyGroups)).
    pub key_groups: u32,
    /// Source splits.
    pub splits: u32,
    /// Sink partitions.
    pub sink_partitions: u32,
    /// The partitions of a branch's sink, numbered after the main sink's
    /// (0 without a branch, as a layout stored before branches reads).
    #[serde(default)]
    pub branch_partitions: u32,
}

impl Layout {
    /// Why `self`, the layout of a running endpoint, cannot take over state
    /// laid out by `stored`; `None` when they agree.
    pub fn conflict(&self, pipeline: &str, stored: &Layout) -> Option<String> {
        let differences: Vec<String> = [
            ("key groups", self.key_groups, stored.key_groups),
            ("source splits", self.splits, stored.splits),
            (
                "sink partitions",
                self.sink_partitions,
                stored.sink_partitions,
            ),
            (
                "branch sink partitions",
                self.branch_partitions,
                stored.branch_partitions,
            ),
        ]
        .into_iter()
        .filter(|(_, ours, theirs)| ours != theirs)
        .map(|(what, ours, theirs)| format!("{ours} {what} where its state has {theirs}"))
        .collect();
        if differences.is_empty() {
            return None;
        }
        Some(format!(
            "pipeline `{pipeline}` is served with {}. Key groups, source splits and sink \
             partitions (a branch's too, so adding or removing a branch) are fixed for the \
             life of a pipeline's state: serve it with the settings it started with, or run \
             it under a new name",
            differences.join(" and ")
        ))
    }
}

/// A range of a split leased to one token: positions `from..from + count`.
/// A count of 0 comes with why (`dry`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The first position.
    pub from: u64,
    /// How many records.
    pub count: u32,
    /// Why nothing was leased; `None` with a count of 0 means ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry: Option<Dry>,
    /// For a split records are pushed to: the range's records themselves,
    /// as they were pushed (JSON). The split hands them out with the lease
    /// and drops them from its log, so they are kept in the round's
    /// journal from then on; a source read elsewhere has none here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<Vec<serde_json::Value>>,
}

/// What a split asks its log for: up to `max` records from `from`, at
/// most `bytes` of them encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LogTake {
    pub from: u64,
    pub max: u32,
    pub bytes: u64,
}

/// What a log hands out: the records from the position asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LogTaken {
    pub records: Vec<serde_json::Value>,
}

/// A batch of records pushed to a pipeline (`{name}Ingest/append`):
/// appended once, whatever how many times it is sent with the same key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushBatch {
    /// The producer's idempotency key: a batch sent again with the same
    /// key (within the source's key retention) appends nothing again and
    /// gets the first answer.
    pub key: String,
    /// The records, each one the source's record type as JSON.
    pub records: Vec<serde_json::Value>,
    /// The split to append to; by default the one the key hashes to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<u32>,
}

/// Where a pushed batch went: positions `first..first + count` of `split`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appended {
    /// The split it was appended to.
    pub split: u32,
    /// The position of its first record.
    pub first: u64,
    /// How many records.
    pub count: u32,
    /// The key was seen before: this answer is the first one's, and
    /// nothing was appended this time.
    pub again: bool,
}

/// Why a split leased nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dry {
    /// A bounded split has no more records.
    Ended,
    /// The pipeline was stopped.
    Stopped,
    /// An endless split has no records right now. `idle`: it has had none
    /// for the idle timeout, said once per quiet spell.
    Waiting {
        /// The split just became idle.
        idle: bool,
    },
}

impl Lease {
    /// Why the split leased nothing (`None` when it leased a range).
    pub fn dry(&self) -> Option<Dry> {
        (self.count == 0).then_some(self.dry.unwrap_or(Dry::Ended))
    }
}

/// A key group's batch: its records, and the watermark they come after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct KeyedBatch<T> {
    /// The watermark the token last saw (event-time pipelines only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<Millis>,
    /// The records, in source order.
    pub records: Vec<T>,
    /// Whether the group answers what it makes for the next keyed stage
    /// ([`Answer::passed`]) for its caller, a token, to carry there, rather
    /// than calling the next stage's groups itself: a token then calls each
    /// of them once with what every group of this stage made for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub relay: bool,
    /// How the records are written: from the pipeline's setting when sent,
    /// from the bytes when received (the group answers the same way).
    #[serde(skip)]
    pub encoding: Encoding,
}

/// A batch of records for a sink partition: a plain sequence, as JSON or
/// tagged MessagePack (as [`KeyedBatch`]'s records).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SinkBatch<T> {
    /// The records, in order.
    pub records: Vec<T>,
    /// How they are written: as the caller decided when sent, from the
    /// bytes when received.
    pub encoding: Encoding,
}

/// A key group's answer to a batch: the output, when it goes to the sink
/// through the caller (a token's round), and the event-time timers the
/// call asks the clock for, when a later keyed stage waits on this one
/// (the caller hands them to the clock with its report, so the clock
/// knows of them before the watermark it moves to can pass them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Answer<T> {
    /// The output for the caller to write.
    pub out: Vec<T>,
    /// Wake-ups for the clock, of this stage's groups and later ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<crate::time::watermark::Need>,
    /// What the group made for the next keyed stage, by the group there,
    /// for the caller to carry on ([`KeyedBatch::relay`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passed: Vec<Passed>,
    /// How the output is written: as the batch it answers was.
    #[serde(skip)]
    pub encoding: Encoding,
}

impl<T> Default for Answer<T> {
    fn default() -> Self {
        Self {
            out: Vec::new(),
            needs: Vec::new(),
            passed: Vec::new(),
            encoding: Encoding::Json,
        }
    }
}

/// Records a group made for one group of the next keyed stage, as JSON:
/// the token that carries them there does not know their type.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Passed {
    /// The next stage's group.
    pub group: u32,
    /// The group that made them.
    pub from: u32,
    /// The records, in the order made.
    pub records: Vec<Box<serde_json::value::RawValue>>,
}

impl PartialEq for Passed {
    fn eq(&self, other: &Self) -> bool {
        let texts = |p: &Self| {
            p.records
                .iter()
                .map(|r| r.get().to_owned())
                .collect::<Vec<_>>()
        };
        (self.group, self.from) == (other.group, other.from) && texts(self) == texts(other)
    }
}

/// What a key group's `fire` answers the clock: what its timers fired for
/// the next keyed stage, by the group there, for the clock to carry there,
/// and the wake-ups it asks for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Advanced {
    /// Wake-ups for the clock.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<crate::time::watermark::Need>,
    /// What the group fired for the next keyed stage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passed: Vec<Passed>,
}

/// A split's durable progress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitProgress {
    /// The next position to lease.
    pub position: u64,
    /// The position it started at (0 but for a source that starts
    /// elsewhere, as a Kafka partition at its latest offset).
    #[serde(default)]
    pub start: u64,
    /// Whether the split leases nothing more: a bounded split that has
    /// nothing left, or any split of a stopped pipeline.
    pub exhausted: bool,
}

/// A sink partition's durable progress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkProgress {
    /// The offset the last write returned (bytes for a file).
    pub committed: u64,
    /// Records written.
    pub records: u64,
    /// Whether the last write failed after its attempts (its batch went
    /// to the dead-letter output). Part of it may have landed in a sink
    /// that cannot discard it, so the next write first asks the sink
    /// where the partition's records end (see [`Sink`](crate::Sink)).
    #[serde(default)]
    pub failed: bool,
}

/// The control object's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlState {
    /// Tokens injected so far.
    pub injected: u64,
    /// Tokens parked because a bounded source ran out or the pipeline was
    /// stopped.
    pub parked: u64,
    /// Batches that went to the dead-letter output.
    pub dead_letters: u64,
    /// The layout fixed by the first `addTokens`.
    #[serde(default)]
    pub layout: Option<Layout>,
    /// Tokens stopped because they met an endpoint with another layout (or,
    /// rarely, could not lease a range).
    #[serde(default)]
    pub halted: u64,
    /// Why the last of them stopped; cleared by the next `addTokens`.
    #[serde(default)]
    pub conflict: Option<String>,
    /// Whether `stop` was called and no `addTokens` since.
    #[serde(default)]
    pub stopped: bool,
    /// Records too late for every window they belonged to.
    #[serde(default)]
    pub late_records: u64,
    /// Dead letters taken out of the list to be replayed.
    #[serde(default)]
    pub replayed: u64,
    /// Every dead letter below this id was taken out of the list.
    #[serde(default)]
    pub dead_from: u64,
}

/// Which dead letters `takeDeadLetters` takes: letter `id`, or a page of
/// those that can be replayed from id `from` on, below id `until` (the
/// letters there were when the replay took its first page, so that the
/// letters it makes itself, of records that fail again, are not taken by
/// the same replay, which would then never end).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Take {
    pub id: Option<u64>,
    pub from: u64,
    #[serde(default)]
    pub until: Option<u64>,
}

/// The letters taken, by id, where the next page starts, if there is more
/// to look at, and the bound the pages stay below.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Taken {
    pub letters: Vec<(u64, DeadLetter)>,
    pub next: Option<u64>,
    #[serde(default)]
    pub until: u64,
}

/// What `addTokens` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokensAdded {
    /// Tokens added by this call.
    pub added: u64,
    /// Tokens injected in all, after this call.
    pub injected: u64,
}

/// A record, or a batch, that could not be processed: the dead-letter
/// output. Stored in `{name}Control` as state `dead:<n>`, as JSON; read
/// them with SQL over the admin API (`restate sql` or
/// [`AdminClient::query`](crate::restate::AdminClient::query)):
/// `SELECT key, value_utf8 FROM state WHERE service_name = '{name}Control'
/// AND key LIKE 'dead:%'`.
///
/// ```
/// use stream_runtime::{DeadLetter, FailedStage};
///
/// // One entry, as the control object stores it.
/// let stored = r#"{"split":0,"position":13,"count":1,"stage":"keyed",
///     "error":"panicked: poisoned record 13 (after 3 attempts)","record":13}"#;
/// let letter: DeadLetter = serde_json::from_str(stored).unwrap();
/// assert_eq!(letter.stage, FailedStage::Keyed);
/// assert_eq!((letter.split, letter.position), (0, 13));
/// assert!(letter.error.ends_with("(after 3 attempts)"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The source split it was read from.
    pub split: u32,
    /// The source position of the failing record, or of the batch's first.
    pub position: u64,
    /// How many source positions it covers (1 for a single record).
    pub count: u32,
    /// Where it failed.
    pub stage: FailedStage,
    /// Why, after how many attempts.
    pub error: String,
    /// The failing record as it entered the keyed stage, when there is one.
    pub record: Option<serde_json::Value>,
}

impl DeadLetter {
    /// Whether `replay` can send the letter in again: one record that
    /// failed at a keyed stage on its way in, or that a sink rejected, kept
    /// with the letter. Answers why not otherwise.
    pub fn replayable(&self) -> Result<(), &'static str> {
        match (self.entry(), &self.record) {
            (Some(Entry::Read), _) if self.count == 1 => Ok(()),
            (Some(Entry::Read), _) => Err("the letter names a range, not one record"),
            (Some(_), Some(_)) => Ok(()),
            (Some(_), None) if self.count > 1 => Err("the letter names a range, not one record"),
            (Some(_), None) => Err("the record was not kept (too large for a call, say)"),
            (None, _) => Err(
                "a group's timers, an enrichment's lookup and positions the source no longer \
                 has cannot be replayed",
            ),
        }
    }

    /// Where the letter's record enters again when it is replayed: read
    /// again from the source when it failed before `key_by` (only its
    /// position is kept), the keyed stage it failed at on its way in (not
    /// while firing), or the sink that rejected it.
    pub(crate) fn entry(&self) -> Option<Entry> {
        match self.stage {
            FailedStage::BeforeKey => Some(Entry::Read),
            FailedStage::Keyed => Some(Entry::Keyed(0)),
            FailedStage::Chained { stage, .. } => stage.checked_sub(1).map(Entry::Keyed),
            // Versions before `BranchSink` said so in the error.
            FailedStage::Sink if self.error.starts_with("the branch's sink: ") => {
                Some(Entry::BranchSink)
            }
            FailedStage::Sink | FailedStage::TimersSink { .. } => Some(Entry::Sink),
            FailedStage::BranchSink => Some(Entry::BranchSink),
            _ => None,
        }
    }
}

/// Where a replayed record enters again (see [`DeadLetter::entry`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    /// Read again at its position and sent through the stages before
    /// `key_by`, as a round of that one position.
    Read,
    /// The keyed stage (0 for the first), to the record's key group.
    Keyed(u32),
    /// The pipeline's sink, as its output.
    Sink,
    /// A branch's sink.
    BranchSink,
}

/// Where a [`DeadLetter`] failed. Stored as `"source"`, `"before_key"`,
/// `"keyed"`, `"sink"`, or an object for the stages that carry numbers
/// (`{"chained":{"stage":2,"from_group":5}}`).
///
/// ```
/// use stream_runtime::FailedStage;
///
/// let stage: FailedStage = serde_json::from_str(r#""before_key""#).unwrap();
/// assert_eq!(stage, FailedStage::BeforeKey);
/// let chained = FailedStage::Chained { stage: 2, from_group: 5 };
/// assert_eq!(chained.to_string(), "keyed stage 2, from key group 5 of the stage before");
/// let stored = serde_json::to_string(&chained).unwrap();
/// assert_eq!(stored, r#"{"chained":{"stage":2,"from_group":5}}"#);
///
/// // What versions before this type stored, in words, still reads.
/// let old: FailedStage = serde_json::from_str(r#""timers of key group 3""#).unwrap();
/// assert_eq!(old, FailedStage::Described("timers of key group 3".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailedStage {
    /// The source: positions it no longer has (deleted by Kafka's
    /// retention, say), never skipped silently.
    Source,
    /// The operators before `key_by` (all of them, in a pipeline without
    /// one), in a token's round.
    BeforeKey,
    /// The first keyed stage (and the stateless ones after it), called by a
    /// token's round.
    Keyed,
    /// The sink, written by a token's round.
    Sink,
    /// A branch's sink, written by a token's round.
    BranchSink,
    /// A later keyed stage (counted from 1), called by a key group of the
    /// stage before it.
    Chained {
        /// The keyed stage that failed on it: 2 for the second.
        stage: u32,
        /// The key group of the stage before that passed it on.
        from_group: u32,
    },
    /// A key group's timers: firing them failed for good.
    Timers {
        /// The keyed stage (counted from 1).
        stage: u32,
        /// The key group.
        group: u32,
    },
    /// The sink, written by a key group with what its timers produced.
    TimersSink {
        /// The keyed stage (counted from 1).
        stage: u32,
        /// The key group.
        group: u32,
    },
    /// An enrichment stage's lookup, failed after its attempts (or its
    /// answer did not decode).
    Lookup {
        /// The keyed stage (counted from 1).
        stage: u32,
        /// The key group.
        group: u32,
    },
    /// A stage as an earlier version described it, in words.
    #[serde(untagged)]
    Described(String),
}

impl std::fmt::Display for FailedStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Source => f.write_str("the source"),
            Self::BeforeKey => f.write_str("the stages before key_by"),
            Self::Keyed => f.write_str("the keyed stage"),
            Self::Sink => f.write_str("the sink"),
            Self::BranchSink => f.write_str("the branch's sink"),
            Self::Chained { stage, from_group } => write!(
                f,
                "keyed stage {stage}, from key group {from_group} of the stage before"
            ),
            Self::Timers { stage, group } => {
                write!(f, "the timers of key group {group} of keyed stage {stage}")
            }
            Self::TimersSink { stage, group } => write!(
                f,
                "the sink, written by key group {group} of keyed stage {stage} with what its timers produced"
            ),
            Self::Lookup { stage, group } => {
                write!(f, "the lookup of key group {group} of keyed stage {stage}")
            }
            Self::Described(words) => f.write_str(words),
        }
    }
}

/// A pipeline's status, as `{name}Source/status` reports it.
///
/// ```
/// use stream_runtime::Status;
///
/// // What `curl -X POST localhost:8080/WordCountSource/status` answers, read back:
/// let body = r#"{"tokens_injected":10,"tokens_in_flight":0,"records_in":6,"records_out":6,
///     "dead_letters":0,"bounded":true,"finished":true,"stopped":false,"halted":0,
///     "conflict":null,"late_records":0,"watermark":null,"pending_timers":0}"#;
/// let status: Status = serde_json::from_str(body).unwrap();
/// assert!(status.finished && status.records_out == status.records_in);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Tokens injected so far.
    pub tokens_injected: u64,
    /// Tokens circulating now: injected minus parked and halted.
    pub tokens_in_flight: u64,
    /// Records read from the source: positions leased since each split's
    /// start (for Kafka, offsets, which may include gaps).
    pub records_in: u64,
    /// Records written to the sink.
    pub records_out: u64,
    /// Batches sent to the dead-letter output.
    pub dead_letters: u64,
    /// Whether the source is bounded.
    pub bounded: bool,
    /// Every token has stopped and every record read is processed, because
    /// the source ran out (bounded) or the pipeline was stopped.
    pub finished: bool,
    /// Whether the pipeline was stopped (`stop`) and not resumed since.
    #[serde(default)]
    pub stopped: bool,
    /// Tokens stopped because they met an endpoint whose layout (key groups, splits, sink partitions) differs
    /// from the one the pipeline's state was laid out by (or, rarely, could
    /// not lease a range).
    #[serde(default)]
    pub halted: u64,
    /// Why they stopped, until the next `addTokens` succeeds.
    #[serde(default)]
    pub conflict: Option<String>,
    /// Records that came after the watermark had passed every window they
    /// belonged to, beyond the allowed lateness: the late-data output
    /// (`{name}Control` state `late:<n>`).
    #[serde(default)]
    pub late_records: u64,
    /// The pipeline's watermark (event-time pipelines), in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<Millis>,
    /// Event-time timers and windows the key groups have yet to fire
    /// (event-time pipelines). A bounded pipeline is `finished` only once
    /// the end of its input has fired them all.
    #[serde(default)]
    pub pending_timers: u64,
}

impl Status {
    /// The status from the control object's counters and every split's and
    /// sink partition's progress. `finished`: every token has stopped and
    /// every split is exhausted, because a bounded source ran out or the
    /// pipeline was stopped.
    pub(crate) fn gather(
        control: ControlState,
        splits: &[SplitProgress],
        sinks: &[SinkProgress],
        bounded: bool,
        watermark: Option<Millis>,
        pending_timers: u64,
        clock_carries: bool,
    ) -> Self {
        let stopped_tokens = control.parked + control.halted;
        // With event time, the end of a bounded input must also have fired
        // every window and timer. When the clock carries what a stage
        // fires to the next, that output is in no group's timers while the
        // clock's wake-up carries it: the clock stores the end of time
        // only once its last wake-up is over.
        let carried = !clock_carries || watermark == Some(Millis::MAX);
        let fired = control.stopped || (pending_timers == 0 && carried);
        Status {
            tokens_injected: control.injected,
            tokens_in_flight: control.injected.saturating_sub(stopped_tokens),
            records_in: splits
                .iter()
                .map(|s| s.position.saturating_sub(s.start))
                .sum(),
            records_out: sinks.iter().map(|s| s.records).sum(),
            dead_letters: control.dead_letters,
            bounded,
            finished: (bounded || control.stopped)
                && splits.iter().all(|s| s.exhausted)
                && control.injected > 0
                && stopped_tokens == control.injected
                && fired,
            stopped: control.stopped,
            halted: control.halted,
            conflict: control.conflict,
            late_records: control.late_records,
            watermark,
            pending_timers,
        }
    }

    /// Whether new tokens would park at once: a bounded pipeline that ran
    /// to its end (not one that was stopped, which `addTokens` resumes).
    pub(crate) fn ran_out(&self) -> bool {
        self.bounded && self.finished && !self.stopped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_needs_every_token_stopped_and_every_split_exhausted() {
        let control = ControlState {
            injected: 2,
            parked: 2,
            ..ControlState::default()
        };
        let done = SplitProgress {
            position: 5,
            start: 0,
            exhausted: true,
        };
        let open = SplitProgress {
            position: 3,
            start: 0,
            exhausted: false,
        };
        let sink = [SinkProgress {
            committed: 90,
            records: 8,
            failed: false,
        }];
        let status = Status::gather(control.clone(), &[done, done], &sink, true, None, 0, false);
        assert!(status.finished && status.ran_out(), "{status:?}");
        assert_eq!((status.records_in, status.records_out), (10, 8));
        // A split that started at position 2 (a Kafka offset) read 3.
        let late_start = SplitProgress { start: 2, ..done };
        let status = Status::gather(
            control.clone(),
            &[done, late_start],
            &sink,
            true,
            None,
            0,
            false,
        );
        assert_eq!(status.records_in, 8);
        assert!(
            !Status::gather(control.clone(), &[done, open], &sink, true, None, 0, false).finished
        );
        // An endless source finishes only when stopped.
        assert!(!Status::gather(control.clone(), &[done], &sink, false, None, 0, false).finished);
        let stopped = ControlState {
            stopped: true,
            ..control.clone()
        };
        let status = Status::gather(stopped, &[done], &sink, false, None, 0, false);
        assert!(status.finished && !status.ran_out());
        // A token still out means not finished.
        let running = ControlState {
            parked: 1,
            ..control
        };
        let status = Status::gather(running, &[done], &sink, true, None, 0, false);
        assert!(!status.finished);
        assert_eq!(status.tokens_in_flight, 1);
    }

    #[test]
    fn a_run_whose_clock_carries_output_ends_once_the_clock_stored_the_end_of_time() {
        let control = ControlState {
            injected: 1,
            parked: 1,
            ..ControlState::default()
        };
        let done = [SplitProgress {
            position: 5,
            start: 0,
            exhausted: true,
        }];
        let gather = |watermark, pending, carries| {
            Status::gather(
                control.clone(),
                &done,
                &[],
                true,
                watermark,
                pending,
                carries,
            )
            .finished
        };
        // No timer left anywhere, but the clock's last wake-up may still
        // carry what the first stage fired to the second.
        assert!(!gather(Some(1_000), 0, true));
        assert!(gather(Some(Millis::MAX), 0, true));
        assert!(!gather(Some(Millis::MAX), 1, true));
        // Without carrying, no timer left is the end.
        assert!(gather(Some(1_000), 0, false));
        // A stopped pipeline is finished whatever its clock says.
        let stopped = ControlState {
            stopped: true,
            ..control.clone()
        };
        assert!(Status::gather(stopped, &done, &[], true, Some(1_000), 0, true).finished);
    }

    #[test]
    fn a_branch_is_part_of_the_layout_and_an_older_layout_has_none() {
        let older: Layout =
            serde_json::from_str(r#"{"key_groups":4,"splits":2,"sink_partitions":2}"#).unwrap();
        assert_eq!(older.branch_partitions, 0);
        // Partitions moved from the main sink to a branch's, the same in all.
        let moved = Layout {
            sink_partitions: 1,
            branch_partitions: 1,
            ..older
        };
        let conflict = moved.conflict("P", &older).expect("a conflict");
        assert!(
            conflict.contains("1 branch sink partitions where its state has 0"),
            "{conflict}"
        );
    }

    #[test]
    fn a_layout_conflict_names_every_difference() {
        let stored = Layout {
            key_groups: 16,
            splits: 2,
            sink_partitions: 1,
            branch_partitions: 0,
        };
        assert_eq!(stored.conflict("P", &stored), None);
        let ours = Layout {
            key_groups: 8,
            splits: 4,
            ..stored
        };
        let conflict = ours.conflict("P", &stored).expect("a conflict");
        assert!(
            conflict.starts_with(
                "pipeline `P` is served with 8 key groups where its state has 16 \
                 and 4 source splits where its state has 2."
            ),
            "{conflict}"
        );
        assert!(!conflict.contains("sink partitions where"), "{conflict}");
    }

    #[test]
    fn tokens_without_a_layout_still_decode() {
        let token: Token = serde_json::from_str(r#"{"id":3}"#).expect("a token");
        assert_eq!(token, Token::new(3, None));
    }
}
