//! The Kafka sink (`KafkaSink`): sink partition `p` writes topic partition
//! `p` exactly once without transactions; the last record of each produce
//! request carries its sequence number in a header, and a write first
//! reads the partition's last record to skip what an earlier attempt
//! landed.

use std::collections::BTreeMap;
use std::io;

use rskafka::client::partition::{Compression, OffsetAt, PartitionClient};
use rskafka::record::Record;
use serde::Serialize;

use super::fetch_size::wire_bytes;
use super::last_produced::LastProduced;
use super::requests::{halves, requests, DEFAULT_MAX_REQUEST_BYTES};
use super::topic::Topic;
use super::{io_error, patiently, KafkaError};
use crate::sink::{Rejected, Sink};
use crate::time::Millis;

/// The header holding a record's sequence number in its sink partition,
/// on the last record of each produce request.
const SEQUENCE: &str = "stream-runtime.seq";

/// The most bytes the header adds to its record: the name, 20 digits and
/// the lengths' varints.
const SEQUENCE_BYTES: usize = SEQUENCE.len() + 20 + 4;

/// How a record becomes a Kafka key and value. A record the encoder fails
/// on is rejected (see [`Rejected`]): it goes to the dead-letter output,
/// and the rest of its write is written.
type Encode<T> = fn(&T) -> Result<(Option<Vec<u8>>, Vec<u8>), EncodeFailed>;

/// Why a record could not be encoded for Kafka: any error, as an encoder
/// given to [`KafkaSink::with_encoder`] returns it with `?`.
pub type EncodeFailed = Box<dyn std::error::Error + Send + Sync>;

/// A Kafka topic as an exactly-once sink: sink partition `p` writes the
/// topic's partition `p`.
///
/// **How it is exactly-once, without transactions.** A write goes in
/// requests of at most [`max_request_bytes`](Self::max_request_bytes), one
/// after another, each landing whole or not at all, so what landed is a
/// prefix of the write, and the partition's last record is always the
/// last of a request. That record carries its sequence number in its sink
/// partition (header `stream-runtime.seq`; the others carry no header);
/// the committed offset is the count written so far. A write first reads
/// the partition's last record: if an earlier attempt of this same write
/// got requests in before the process died, the sequence number is
/// there, and the write produces only what is missing. A request that
/// fails, the broker gone or its answer lost, is never sent again as it
/// was: the write starts over from the partition's last record, so a
/// request that landed without an answer is not written twice. A topic
/// cannot take records back, so after a write that failed for good (its
/// batch went to the dead-letter output, and may have landed in part or
/// whole) [`after_failed_write`](Sink::after_failed_write) answers where
/// the partition's records end, and the next write goes on after them.
/// So a reader sees every record once with the default `isolation.level`
/// (`read_uncommitted`); nothing needs `read_committed`. (While the partition's end is where
/// this process's last produce left it, that record's sequence is known
/// without reading it back.)
///
/// The sink must own the topic's partitions: another producer's record
/// last in a partition would hide the sequence. One sink partition per
/// Kafka partition, so the topic's partition count is part of the
/// pipeline's durable layout.
///
/// ```no_run
/// # async fn example() -> Result<(), stream_runtime::kafka::KafkaError> {
/// use stream_runtime::kafka::KafkaSink;
///
/// // Each record as JSON, keyed by nothing:
/// let counts = KafkaSink::<(String, u64)>::json("127.0.0.1:9092", "counts").await?;
/// # let _ = counts;
/// # Ok(())
/// # }
/// ```
pub struct KafkaSink<T> {
    topic: Topic,
    encode: Encode<T>,
    timestamp: Option<fn(&T) -> Millis>,
    last: LastProduced,
    max_request_bytes: usize,
}

impl<T: Serialize> KafkaSink<T> {
    /// Writes each record as its JSON, with no key.
    pub async fn json(
        bootstrap: impl Into<String>,
        topic: impl Into<String>,
    ) -> Result<Self, KafkaError> {
        Self::with_encoder(bootstrap, topic, |record| {
            let value = serde_json::to_vec(record)?;
            Ok((None, value))
        })
        .await
    }
}

impl<T> KafkaSink<T> {
    /// Writes each record as `encode` makes it: a key (or none) and a value.
    pub async fn with_encoder(
        bootstrap: impl Into<String>,
        topic: impl Into<String>,
        encode: Encode<T>,
    ) -> Result<Self, KafkaError> {
        let topic = Topic::connect_tried_once(bootstrap, topic).await?;
        Ok(Self {
            last: LastProduced::new(topic.count() as usize),
            topic,
            encode,
            timestamp: None,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
        })
    }

    /// Stamps each record with `timestamp(record)` (milliseconds) instead of
    /// the time of the write, as Kafka Streams carries an input record's
    /// timestamp to what it produces (for example a `KafkaRecord`'s
    /// `timestamp`, kept in the output record).
    pub fn timestamp(mut self, timestamp: fn(&T) -> Millis) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// The most bytes of records one produce request carries (900 KiB by
    /// default, under the broker's default `message.max.bytes` of 1 MiB):
    /// a larger write goes in several requests, in order. A request the
    /// broker still refuses as too large is cut in two; a record it refuses
    /// alone is rejected (see [`Rejected`]) and goes to the dead-letter
    /// output, and the rest of its write is written.
    pub fn max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = bytes.max(1);
        self
    }

    /// `record` as Kafka takes it, with no header yet ([`stamped`] adds the
    /// sequence number to the last record of a request).
    fn record(
        &self,
        record: &T,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Record, EncodeFailed> {
        let (key, value) = (self.encode)(record)?;
        let timestamp = match self.timestamp {
            Some(stamp) => chrono::DateTime::from_timestamp_millis(stamp(record)).unwrap_or(now),
            None => now,
        };
        Ok(Record {
            key,
            value: Some(value),
            headers: BTreeMap::new(),
            timestamp,
        })
    }

    /// The partition's end, and the last sequence number in it if its last
    /// record is ours.
    async fn last_sequence(
        &self,
        index: u32,
        partition: &PartitionClient,
    ) -> io::Result<(i64, Option<u64>)> {
        let end = partition
            .get_offset(OffsetAt::Latest)
            .await
            .map_err(|e| io_error("offsets", e))?;
        if let Some(known) = self.last.sequence_at(index, end) {
            return Ok((end, Some(known)));
        }
        if end <= 0 {
            return Ok((end, None));
        }
        let (records, _) = partition
            .fetch_records(end - 1, 1..(4 << 20), 0)
            .await
            .map_err(|e| io_error("fetch", e))?;
        let last = records.iter().rev().find(|r| r.offset == end - 1);
        let sequence = last
            .and_then(|r| r.record.headers.get(SEQUENCE))
            .and_then(|seq| std::str::from_utf8(seq).ok()?.parse().ok());
        Ok((end, sequence))
    }
}

impl<T: Send + Sync + 'static> Sink<T> for KafkaSink<T> {
    fn partitions(&self) -> u32 {
        self.topic.count()
    }

    /// Writes what of `records` has not landed yet. A request that fails
    /// is not sent again as it was: the write starts over, from the
    /// partition's last sequence number, until it lands or 30 s have
    /// passed. (Sending the same produce request again, as a client's
    /// own retry would, could write its records twice when only its answer
    /// was lost.)
    async fn write(&self, partition: u32, committed: u64, records: &[T]) -> io::Result<u64> {
        let again = |error: &io::Error| {
            let again = Rejected::find(error).is_none();
            if again {
                tracing::debug!("Kafka write to partition {partition}: {error}");
            }
            again
        };
        patiently(|| self.write_unlanded(partition, committed, records), again).await
    }

    /// Where the partition's records end: past `committed` when the
    /// failed write landed some of its requests.
    async fn after_failed_write(&self, partition: u32, committed: u64) -> io::Result<u64> {
        self.write(partition, committed, &[]).await
    }
}

impl<T> KafkaSink<T> {
    /// One attempt of [`write`](Sink::write): reads where the partition's
    /// last record of this sink is, and produces the records after it.
    async fn write_unlanded(
        &self,
        partition: u32,
        committed: u64,
        records: &[T],
    ) -> io::Result<u64> {
        let client = self.topic.partition(partition)?;
        // An earlier attempt of this write may have landed: skip what did.
        let (end, last) = self.last_sequence(partition, client).await?;
        let (first, written) = resume(committed, records.len() as u64, last);
        if first == written {
            if let Some(last) = last {
                self.last.produced(partition, end, last);
            }
            return Ok(written);
        }
        let now =
            chrono::DateTime::from_timestamp_millis(crate::time::wall_clock()).unwrap_or_default();
        let skipped = (first - committed) as usize;
        // A record that does not encode is rejected: it would not the next
        // time either.
        let encode = |index: usize| -> io::Result<Record> {
            let record = &records[skipped + index];
            let encoded = self.record(record, now);
            encoded.map_err(|e| {
                Rejected::new(skipped + index, format!("cannot encode it: {e}")).into()
            })
        };
        let mut batch = (0..records.len() - skipped)
            .map(|index| encode(index).map(Some))
            .collect::<io::Result<Vec<Option<Record>>>>()?;
        let sizes: Vec<usize> = batch.iter().flatten().map(wire_bytes).collect();
        let limit = self.max_request_bytes.saturating_sub(SEQUENCE_BYTES);
        let mut pending = requests(&sizes, limit);
        pending.reverse();
        while let Some(range) = pending.pop() {
            let request: Vec<Record> = batch[range.clone()]
                .iter_mut()
                .flat_map(Option::take)
                .collect();
            // Every record of the range is there (a refused range is
            // encoded again), so the last is the range's last.
            debug_assert_eq!(request.len(), range.len());
            let sequence = first + range.end as u64 - 1;
            let produced = client
                .produce(stamped(request, sequence), Compression::NoCompression)
                .await;
            let offsets = match produced {
                Ok(offsets) => offsets,
                Err(error) if too_large(&error) => match halves(range.clone()) {
                    Some([front, back]) => {
                        // The refused request took its records: encode
                        // them again for the halves.
                        for index in range {
                            batch[index] = Some(encode(index)?);
                        }
                        pending.extend([back, front]);
                        continue;
                    }
                    None => {
                        let reason = format!("the broker refused it as too large: {error}");
                        return Err(Rejected::new(skipped + range.start, reason).into());
                    }
                },
                Err(error) => return Err(io_error("produce", error)),
            };
            if let Some(end) = offsets.iter().max() {
                self.last.produced(partition, end + 1, sequence);
            }
        }
        Ok(written)
    }
}

/// How a write of `count` records from `committed` goes on from what the
/// partition holds, `last` being the sequence number of its last record
/// if that record is ours: the sequence number of the first record to
/// produce, and the offset the write answers. What lies past `committed`
/// is taken for this write's own records, landed by an earlier attempt.
/// A write of no records answers where the partition's records end: past
/// `committed` when a write that failed after its attempts had landed in
/// part ([`Sink::after_failed_write`]).
fn resume(committed: u64, count: u64, last: Option<u64>) -> (u64, u64) {
    let landed = last
        .filter(|last| *last >= committed)
        .map_or(committed, |last| last + 1);
    match count {
        0 => (landed, landed),
        _ => {
            let written = committed + count;
            (landed.min(written), written)
        }
    }
}

/// A request's `records` with the last one's sequence number, `last`, in
/// its header: the only record of the request that can end the partition
/// when a write is retried. (One header a request, not one a record: the
/// header took as many bytes as a small record, for the broker to store
/// and every reader to decode.)
fn stamped(mut records: Vec<Record>, last: u64) -> Vec<Record> {
    if let Some(record) = records.last_mut() {
        let sequence = last.to_string().into_bytes();
        record.headers.insert(SEQUENCE.to_owned(), sequence);
    }
    records
}

/// Whether the broker refused a produce request as larger than it takes.
fn too_large(error: &rskafka::client::error::Error) -> bool {
    matches!(
        error,
        rskafka::client::error::Error::ServerError {
            protocol_error: rskafka::client::error::ProtocolError::MessageTooLarge,
            ..
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(value: &str) -> Record {
        Record {
            key: None,
            value: Some(value.as_bytes().to_vec()),
            headers: BTreeMap::new(),
            timestamp: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_write_skips_what_an_earlier_attempt_landed() {
        // Nothing of ours, or only what came before: all 5 from 10.
        assert_eq!(resume(10, 5, None), (10, 15));
        assert_eq!(resume(10, 5, Some(9)), (10, 15));
        // An earlier attempt landed 2 of them, or all.
        assert_eq!(resume(10, 5, Some(11)), (12, 15));
        assert_eq!(resume(10, 5, Some(14)), (15, 15));
    }

    #[test]
    fn a_write_of_nothing_answers_where_the_records_end() {
        // After a failed write that landed 3 records past 10.
        assert_eq!(resume(10, 0, Some(12)), (13, 13));
        assert_eq!(resume(10, 0, Some(9)), (10, 10));
        assert_eq!(resume(0, 0, None), (0, 0));
    }

    #[test]
    fn only_the_last_record_of_a_request_carries_its_sequence() {
        let request = stamped(vec![record("a"), record("b"), record("c")], 41);
        let headers: Vec<_> = request.iter().map(|r| r.headers.get(SEQUENCE)).collect();
        assert_eq!(headers, [None, None, Some(&b"41".to_vec())]);
        assert!(stamped(Vec::new(), 7).is_empty());
    }

    #[test]
    fn the_header_fits_in_what_a_request_leaves_for_it() {
        let mut one = stamped(vec![record("x")], u64::MAX);
        let stamped_size = wire_bytes(&one[0]);
        one[0].headers.clear();
        assert!(stamped_size - wire_bytes(&one[0]) <= SEQUENCE_BYTES);
    }
}
