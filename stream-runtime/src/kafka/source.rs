//! The Kafka source (`KafkaSource`): a topic's partitions are the splits
//! and their offsets the positions, read with no consumer group; `StartAt`
//! says where a partition is first read from.

use std::io;

use rskafka::client::partition::{OffsetAt, PartitionClient};

use super::fetch_size::FetchSize;
use super::topic::Topic;
use super::{io_error, KafkaError, KafkaRecord};
use crate::source::{EndsBefore, Gone, Source};
use crate::time::Millis;

/// The least a fetch asks for.
const FETCH_BYTES_LEAST: i32 = 64 << 10;
/// The most a fetch asks for.
const FETCH_BYTES_MOST: i32 = 4 << 20;

/// Where a partition is read from when the pipeline first leases it.
///
/// ```no_run
/// # async fn example() -> Result<(), stream_runtime::kafka::KafkaError> {
/// use stream_runtime::kafka::{KafkaSource, StartAt};
///
/// // Only what was written from an hour ago on.
/// let an_hour_ago = 1_764_000_000_000 - 3_600_000;
/// let clicks = KafkaSource::connect("127.0.0.1:9092", "clicks")
///     .await?
///     .start_at(StartAt::Timestamp(an_hour_ago));
/// # let _ = clicks;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartAt {
    /// The oldest record still kept (Kafka's `auto.offset.reset=earliest`).
    #[default]
    Earliest,
    /// The partition's end when the pipeline first reads it: only newer
    /// records.
    Latest,
    /// The first record at or after this time (milliseconds).
    Timestamp(Millis),
}

/// A Kafka topic as a source: its partitions are the splits and their
/// offsets the positions, kept in the pipeline's split objects like every
/// other source's.
///
/// - It reads by offset, with no consumer group and no commits: a replayed
///   round reads the same offsets, so the same records.
/// - Offsets with no record (transaction markers, compacted records) are
///   skipped: a range may hold fewer records than offsets.
/// - Where a partition starts ([`StartAt`]) is resolved once, on its first
///   lease, and kept durably: a restart does not move it.
/// - At a partition's end, its tokens wait with the idle backoff.
/// - Offsets deleted (by retention) before the pipeline read them go to the
///   dead-letter output, one letter per gap, with the reason; never a
///   silent skip.
/// - The partition count is part of the pipeline's durable layout.
///
/// ```no_run
/// # async fn example() -> Result<(), stream_runtime::kafka::KafkaError> {
/// use stream_runtime::kafka::{KafkaSource, StartAt};
///
/// let clicks = KafkaSource::connect("127.0.0.1:9092", "clicks")
///     .await?
///     .start_at(StartAt::Earliest);
/// # let _ = clicks;
/// # Ok(())
/// # }
/// ```
pub struct KafkaSource {
    topic: Topic,
    start: StartAt,
    fetch_size: FetchSize,
}

impl KafkaSource {
    /// Connects to the broker at `bootstrap` (`host:port`) and finds the
    /// topic's partitions. A topic that does not exist is an error that
    /// names the topics there are.
    pub async fn connect(
        bootstrap: impl Into<String>,
        topic: impl Into<String>,
    ) -> Result<Self, KafkaError> {
        let topic = Topic::connect(bootstrap, topic).await?;
        Ok(Self {
            fetch_size: FetchSize::new(topic.count(), FETCH_BYTES_LEAST, FETCH_BYTES_MOST),
            topic,
            start: StartAt::default(),
        })
    }

    /// Where each partition starts (the default: the earliest record kept).
    pub fn start_at(mut self, start: StartAt) -> Self {
        self.start = start;
        self
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        self.topic.name()
    }

    /// After the broker said `position` is out of range: if retention (or
    /// compaction) deleted it, the offsets up to the partition's earliest
    /// are gone; otherwise the fetch error, retried.
    async fn gone(
        &self,
        split: u32,
        partition: &PartitionClient,
        position: u64,
        error: rskafka::client::error::Error,
    ) -> io::Error {
        match partition.get_offset(OffsetAt::Earliest).await {
            Ok(earliest) if u64::try_from(earliest).is_ok_and(|e| e > position) => {
                let reason = format!(
                    "Kafka no longer has offsets {position}..{earliest} of {} partition {split} \
                     (deleted by retention or compaction)",
                    self.topic.name()
                );
                Gone::new(earliest as u64, reason).into()
            }
            _ => io_error("fetch", error),
        }
    }
}

impl Source for KafkaSource {
    type Item = KafkaRecord;

    /// The record's offset: offsets of markers and of records compaction
    /// removed hold nothing, and are skipped.
    fn position_of(&self, record: &KafkaRecord) -> Option<u64> {
        Some(record.offset)
    }

    fn splits(&self) -> u32 {
        self.topic.count()
    }

    async fn start(&self, split: u32) -> io::Result<u64> {
        let at = match self.start {
            StartAt::Earliest => OffsetAt::Earliest,
            StartAt::Latest => OffsetAt::Latest,
            StartAt::Timestamp(millis) => {
                let time = chrono::DateTime::from_timestamp_millis(millis)
                    .ok_or_else(|| io_error("start", format!("{millis} ms is not a time")))?;
                OffsetAt::Timestamp(time)
            }
        };
        let offset = self
            .topic
            .partition(split)?
            .get_offset(at)
            .await
            .map_err(|e| io_error("offsets", e))?;
        Ok(u64::try_from(offset).unwrap_or(0))
    }

    async fn available(&self, split: u32, position: u64, max: usize) -> io::Result<usize> {
        let end = self
            .topic
            .partition(split)?
            .get_offset(OffsetAt::Latest)
            .await
            .map_err(|e| io_error("offsets", e))?;
        let end = u64::try_from(end).map_err(|_| {
            io_error(
                "offsets",
                format!("partition {split} answered end offset {end}"),
            )
        })?;
        if end < position {
            let topic = self.topic.name();
            let reason = format!(
                "topic `{topic}` partition {split} ends at offset {end}, but this pipeline has \
                 read it up to offset {position}: the topic was deleted and created again, or \
                 this is another broker. Its state belongs to the old topic: start over (a \
                 new pipeline name, or the runner's --fresh), or point it back at that topic"
            );
            return Err(EndsBefore::new(end, reason).into());
        }
        Ok(usize::try_from(end.saturating_sub(position))
            .unwrap_or(max)
            .min(max))
    }

    /// The records at offsets `position..position + max`.
    async fn read(&self, split: u32, position: u64, max: usize) -> io::Result<Vec<KafkaRecord>> {
        let partition = self.topic.partition(split)?;
        let end = position.saturating_add(max as u64);
        let mut records = Vec::new();
        let mut next = position;
        while next < end {
            // About what the rest of the range takes, not a whole 4 MiB:
            // every record the broker sends is decoded.
            let rest = usize::try_from(end - next).unwrap_or(usize::MAX);
            let wanted = self.fetch_size.wanted(split, rest);
            let offset = i64::try_from(next).map_err(|e| io_error("offset", e))?;
            let (fetched, high_watermark) =
                match partition.fetch_records(offset, 1..wanted, 0).await {
                    Ok(fetched) => fetched,
                    Err(error) if out_of_range(&error) && next == position => {
                        return Err(self.gone(split, partition, position, error).await)
                    }
                    Err(error) => return Err(io_error("fetch", error)),
                };
            let last = fetched.last().and_then(|f| u64::try_from(f.offset).ok());
            let high_watermark = u64::try_from(high_watermark).unwrap_or(0);
            self.fetch_size.saw(
                split,
                wanted,
                fetched.iter().map(|f| &f.record),
                last.is_some_and(|last| last.saturating_add(1) >= high_watermark),
            );
            for fetched in fetched {
                let Ok(offset) = u64::try_from(fetched.offset) else {
                    continue;
                };
                if offset < next || offset >= end {
                    continue;
                }
                next = offset + 1;
                records.push(KafkaRecord {
                    partition: split,
                    offset,
                    timestamp: fetched.record.timestamp.timestamp_millis(),
                    key: fetched.record.key,
                    value: fetched.record.value,
                });
            }
            match after_fetch(next, end, last, high_watermark) {
                Some(after) => next = after,
                None => break,
            }
        }
        Ok(records)
    }

    fn is_remote(&self) -> bool {
        true
    }

    fn is_bounded(&self) -> bool {
        false
    }
}

/// Where a read goes on after a fetch from `next` (records taken up to
/// there) whose last record was at `last` (none: it brought no record),
/// with the partition's high watermark; `None` when the partition ends
/// there.
///
/// An answer holds whole record batches from the fetch offset on (the
/// first one whole even when larger than the bytes asked), so the offsets
/// up to its last record that hold no record are markers or compacted
/// away, and are passed. An answer with no record says only that the
/// offset asked for holds none (a transaction marker, say, perhaps the
/// last of a log segment, where an answer stops): the read goes on from
/// the next offset, so that no record past it is skipped.
fn after_fetch(next: u64, end: u64, last: Option<u64>, high_watermark: u64) -> Option<u64> {
    match last {
        Some(last) => Some(next.max(last.saturating_add(1).min(end))),
        None if high_watermark > next => Some(next + 1),
        None => None,
    }
}

/// Whether the broker refused a fetch because the offset is outside the
/// partition's range.
fn out_of_range(error: &rskafka::client::error::Error) -> bool {
    matches!(
        error,
        rskafka::client::error::Error::ServerError {
            protocol_error: rskafka::client::error::ProtocolError::OffsetOutOfRange,
            ..
        }
    )
}

#[cfg(test)]
mod tests {
    use super::after_fetch;

    #[test]
    fn an_answer_passes_the_offsets_up_to_its_last_record() {
        // Records up to 14 taken; 15 to 17 hold none (markers, compacted)
        // and the answer's next record, 20, is past the range.
        assert_eq!(after_fetch(15, 18, Some(20), 100), Some(18));
        // Every record of the answer taken: on from the next offset.
        assert_eq!(after_fetch(15, 30, Some(14), 100), Some(15));
    }

    #[test]
    fn an_empty_answer_passes_one_offset_only_and_ends_at_the_partitions_end() {
        // A marker at 15, the last offset of its log segment: the records
        // of the next segment, from 16, are read, not skipped.
        assert_eq!(after_fetch(15, 30, None, 100), Some(16));
        // Nothing more in the partition.
        assert_eq!(after_fetch(15, 30, None, 15), None);
    }
}
