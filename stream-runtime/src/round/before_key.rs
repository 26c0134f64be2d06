//! Reading a leased range and running the operators before `key_by`.

use std::collections::BTreeMap;

use super::Round;
use crate::guard::{guarded, StageError};
use crate::keyed::Folded;
use crate::protocol::{Calls, FailedStage};
use crate::source::{Gone, Source};
use crate::stages::{Dataflow, Level, Route};
use crate::time::Millis;

/// The records of a key group, with the source position of each: with a
/// combiner, one partial per key, at its first record's position.
pub(super) struct GroupBatch<M> {
    pub records: Folded<M>,
    pub positions: Vec<u64>,
}

/// A range after the operators before `key_by`: batches per key group, or,
/// with no keyed stage, the output itself; and the largest event time
/// `event_time` stamped (none when it stamped no record).
pub(super) struct Routed<M, O, X> {
    pub groups: BTreeMap<u32, GroupBatch<M>>,
    pub output: Vec<O>,
    /// A branch's records, for its own sink.
    pub side: Vec<X>,
    pub max_time: Option<Millis>,
    /// How many records the source gave.
    pub read: usize,
}

impl<D: Dataflow, C: Calls> Round<'_, D, C> {
    /// Reads the range and runs each record through the operators before
    /// `key_by` (and, without one, the rest), routing the results. A record
    /// whose operators fail is read again and retried, up to the attempt
    /// limit, then dead-lettered. A source that cannot be read fails the
    /// round, which Restate retries.
    pub(super) async fn before_key(&self) -> std::io::Result<Routed<D::Mid, D::Out, D::Side>> {
        let flow = self.flow;
        let mut routed = Routed {
            groups: BTreeMap::new(),
            output: Vec::new(),
            side: Vec::new(),
            max_time: None,
            read: 0,
        };
        let combiner = flow.first().combiner();
        let (from, records) = self.read_existing().await?;
        routed.read = records.len();
        let source = flow.source();
        let mut next = from;
        for (known, record) in records {
            // A position with no record (a Kafka marker) is skipped: the
            // record says where it was read, when the source can tell.
            let position = known.unwrap_or_else(|| source.position_of(&record).unwrap_or(next));
            next = position + 1;
            match self.one_record(position, record).await? {
                Ok(route) => {
                    routed.output.extend(route.output);
                    routed.side.extend(route.side);
                    routed.max_time = routed.max_time.max(route.stamped);
                    for (group, key, mid) in route.keyed {
                        let batch = routed.groups.entry(group).or_insert_with(|| GroupBatch {
                            records: Folded::default(),
                            positions: Vec::new(),
                        });
                        let key_of =
                            |m: &D::Mid| guarded(|| Ok::<_, StageError>(flow.encode_key(m)?)).ok();
                        if batch.records.push(key, mid, combiner.as_ref(), key_of) {
                            batch.positions.push(position);
                        }
                    }
                }
                Err(error) => {
                    let error = error.to_string();
                    // A pushed record is kept in its letter, to replay:
                    // its split's log no longer has it.
                    let record = self.pushed(position).cloned();
                    self.dead_letter(position, 1, FailedStage::BeforeKey, error, record)
                }
            }
        }
        Ok(routed)
    }

    /// Reads the leased range. If the source says its start is gone (Kafka
    /// deleted the offsets before they were read), that part goes to the
    /// dead-letter output with the reason, and the rest is read. Answers
    /// the first position read, and the records, each with its position
    /// when the round knows it (a pushed record's).
    async fn read_existing(&self) -> std::io::Result<(u64, Vec<(Option<u64>, D::Input)>)> {
        let (from, count) = (self.lease.from, self.lease.count);
        if let Some(pushed) = &self.lease.records {
            return Ok((from, self.decode_pushed(from, pushed)));
        }
        let end = from + u64::from(count);
        let source = self.flow.source();
        let unknown = |records: Vec<D::Input>| records.into_iter().map(|r| (None, r)).collect();
        let error = match source.read(self.split, from, count as usize).await {
            Ok(records) => return Ok((from, unknown(records))),
            Err(error) => error,
        };
        let Some(gone) = Gone::find(&error).filter(|g| g.until > from) else {
            return Err(error);
        };
        let until = gone.until.min(end);
        let lost = u32::try_from(until - from).unwrap_or(count);
        let reason = format!(
            "positions {from}..{until} of split {} were gone before they were read: {}",
            self.split, gone.reason
        );
        self.dead_letter(from, lost, FailedStage::Source, reason, None);
        if until == end {
            return Ok((end, Vec::new()));
        }
        let rest = (end - until) as usize;
        Ok((until, unknown(source.read(self.split, until, rest).await?)))
    }

    /// One record through the operators before `key_by` (see
    /// [`Dataflow::route`]), tried up to the attempt limit, reading the
    /// record again each time.
    async fn one_record(
        &self,
        position: u64,
        record: D::Input,
    ) -> std::io::Result<Result<Route<D::Mid, D::Out, D::Side>, NotKeyed>> {
        let flow = self.flow;
        let attempts = flow.config().max_attempts;
        let mut record = Some(record);
        let mut attempt = 1;
        loop {
            let input = match record.take() {
                Some(input) => input,
                None => match self.read_one(position).await? {
                    Some(input) => input,
                    None => return Ok(Err(NotKeyed::Unreadable { position })),
                },
            };
            match flow.route(input) {
                Err(_) if attempt < attempts => attempt += 1,
                Err(error) => return Ok(Err(NotKeyed::Failed { error, attempt })),
                Ok(route) => return Ok(Ok(route)),
            }
        }
    }
}

impl<D: Dataflow, C: Calls> Round<'_, D, C> {
    /// The record at `position` read again, to try it again.
    async fn read_one(&self, position: u64) -> std::io::Result<Option<D::Input>> {
        if self.lease.records.is_none() {
            return Ok(self
                .flow
                .source()
                .read(self.split, position, 1)
                .await?
                .pop());
        }
        let record = self.pushed(position);
        let source = self.flow.source();
        Ok(record.and_then(|record| source.decode_pushed(self.split, record).ok()))
    }

    /// The pushed record at `position`, as the lease brought it.
    fn pushed(&self, position: u64) -> Option<&serde_json::Value> {
        let index = usize::try_from(position.checked_sub(self.lease.from)?).ok()?;
        self.lease.records.as_ref()?.get(index)
    }

    /// The records a lease of a pushed split brought, from position `from`,
    /// decoded. One that does not decode (the record type changed since it
    /// was pushed) goes to the dead-letter output with its JSON, to replay
    /// once the type takes it again; the records after it keep their own
    /// positions.
    fn decode_pushed(
        &self,
        from: u64,
        records: &[serde_json::Value],
    ) -> Vec<(Option<u64>, D::Input)> {
        let source = self.flow.source();
        let mut decoded = Vec::with_capacity(records.len());
        for (position, record) in (from..).zip(records) {
            match source.decode_pushed(self.split, record) {
                Ok(item) => decoded.push((Some(position), item)),
                Err(why) => {
                    let error = format!("the pushed record does not decode: {why}");
                    let stage = FailedStage::BeforeKey;
                    self.dead_letter(position, 1, stage, error, Some(record.clone()));
                }
            }
        }
        decoded
    }
}

/// Why a record went no further than the stages before `key_by`.
#[derive(Debug, thiserror::Error)]
enum NotKeyed {
    /// Read once, it could not be read again to try it again.
    #[error("position {position} could not be read again")]
    Unreadable { position: u64 },
    /// Its functions, or its key's encoding, failed on every attempt.
    #[error("{error} (after {attempt} attempts)")]
    Failed { error: StageError, attempt: u32 },
}
