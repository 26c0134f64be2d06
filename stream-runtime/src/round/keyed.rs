//! Calling the key groups a range touches, and retrying failed records.

use std::collections::BTreeMap;

use restate_sdk::errors::TerminalError;

use super::before_key::GroupBatch;
use super::fit::{cut, encoded_len, too_large_reason};
use super::Round;
use crate::protocol::handlers::keyed;
use crate::protocol::{Answer, BatchAnswer, BatchFailed, Calls, FailedStage, KeyedBatch};
use crate::stages::Dataflow;
use crate::time::Millis;

/// A key group's batch as sent, with each record's source position.
struct Sent<M> {
    batch: KeyedBatch<M>,
    positions: Vec<u64>,
}

impl<D: Dataflow, C: Calls> Round<'_, D, C> {
    /// Issues a key group's call with a batch; the answer is awaited by the
    /// returned future. A batch that cannot be encoded is an error the
    /// caller dead-letters, not a retry loop.
    fn call_group(
        &self,
        group: u32,
        batch: &KeyedBatch<D::Mid>,
    ) -> impl std::future::Future<Output = Result<Answer<D::Out>, BatchFailed>> + '_ {
        let call = self.calls.call::<keyed::Process<D::First>>(group, batch);
        async move {
            match call {
                Ok(call) => open(BatchAnswer::settle(call.await)?),
                Err(error) => Err(BatchFailed::Call(TerminalError::new(format!(
                    "cannot serialize the batch for its key group: {error}"
                )))),
            }
        }
    }

    /// Calls every key group the range touches, each with its records in
    /// as many calls as [`max_call_bytes`](crate::PipelineConfig::max_call_bytes)
    /// needs. A record too large for a call alone goes to the dead-letter
    /// output. The calls go in waves: the first call of every group, then
    /// the second, so that a group applies its records in order.
    pub(super) async fn keyed(
        &self,
        groups: BTreeMap<u32, GroupBatch<D::Mid>>,
        watermark: Option<Millis>,
    ) -> Answer<D::Out> {
        let budget = self.flow.config().max_call_bytes;
        let mut waves: Vec<BTreeMap<u32, Sent<D::Mid>>> = Vec::new();
        for (group, batch) in groups {
            let records = batch.records.records.into_iter().zip(batch.positions);
            let records = records.collect();
            let cut = cut(records, budget, |(mid, _)| encoded_len(mid));
            for ((_, position), bytes) in cut.too_large {
                let reason = too_large_reason(bytes, budget);
                self.dead_letter(position, 1, FailedStage::Keyed, reason, None);
            }
            for (wave, call) in cut.calls.into_iter().enumerate() {
                let (records, positions) = call.into_iter().unzip();
                let sent = Sent {
                    batch: KeyedBatch { watermark, records },
                    positions,
                };
                match waves.get_mut(wave) {
                    Some(calls) => {
                        calls.insert(group, sent);
                    }
                    None => waves.push(BTreeMap::from([(group, sent)])),
                }
            }
        }
        let mut output = Answer::default();
        for wave in waves {
            gather(&mut output, self.call_groups(wave).await);
        }
        output
    }

    /// Calls each group with its batch. All calls are issued before any is
    /// awaited, so the groups work in parallel. (The SDK's futures must not
    /// be polled concurrently, as `join_all` would.) A group that reports a
    /// failing record is called again; after the attempt limit the record
    /// is dead-lettered and the group is called with the rest.
    async fn call_groups(&self, groups: BTreeMap<u32, Sent<D::Mid>>) -> Answer<D::Out> {
        let calls: Vec<_> = groups
            .iter()
            .map(|(group, sent)| self.call_group(*group, &sent.batch))
            .collect();
        let mut output = Answer::default();
        let mut failed = Vec::new();
        for ((group, batch), call) in groups.into_iter().zip(calls) {
            match call.await {
                Ok(answer) => gather(&mut output, answer),
                Err(error) => failed.push((group, batch, error)),
            }
        }
        for (group, sent, error) in failed {
            self.retry_group(group, sent, error, &mut output).await;
        }
        output
    }

    /// Calls a group again after `error`, dropping a record that failed
    /// `max_attempts` times into the dead-letter output. An error that
    /// names no record dead-letters the whole batch.
    async fn retry_group(
        &self,
        group: u32,
        mut sent: Sent<D::Mid>,
        mut error: BatchFailed,
        output: &mut Answer<D::Out>,
    ) {
        let attempts = self.flow.config().max_attempts;
        let mut attempt = 1;
        loop {
            let Some(failure) = error.record(sent.batch.records.len()).cloned() else {
                let from = sent
                    .positions
                    .iter()
                    .copied()
                    .min()
                    .unwrap_or(self.lease.from);
                let message = error.message().to_owned();
                self.dead_letter(from, self.lease.count, FailedStage::Keyed, message, None);
                return;
            };
            if attempt >= attempts {
                let record = sent.batch.records.remove(failure.index);
                let position = sent.positions.remove(failure.index);
                let error = format!("{} (after {attempt} attempts)", failure.error);
                let record = serde_json::to_value(&record).ok();
                self.dead_letter(position, 1, FailedStage::Keyed, error, record);
                attempt = 0;
                if sent.batch.records.is_empty() {
                    return;
                }
            }
            attempt += 1;
            match self.call_group(group, &sent.batch).await {
                Ok(answer) => {
                    gather(output, answer);
                    return;
                }
                Err(next) => error = next,
            }
        }
    }
}

/// Adds a group's answer to the round's.
fn gather<T>(into: &mut Answer<T>, answer: Answer<T>) {
    into.out.extend(answer.out);
    into.needs.extend(answer.needs);
}

/// A key group's output, decoded.
fn open<T: crate::protocol::Message>(
    answer: crate::protocol::Encoded<T>,
) -> Result<T, BatchFailed> {
    answer.open().map_err(|e| {
        let error = format!("cannot decode the key group's output: {e}");
        BatchFailed::Call(TerminalError::new(error))
    })
}
