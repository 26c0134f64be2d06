//! Writing a round's output to the token's sink partition.

use super::fit::{cut_records, too_large_reason};
use super::Round;
use crate::protocol::codec::Encoding;
use crate::protocol::handlers::{sink, SinkService};
use crate::protocol::BatchAnswer;
use crate::protocol::Handler;
use crate::protocol::{Calls, FailedStage, SinkBatch, Token};
use crate::stages::Dataflow;

impl<D: Dataflow, C: Calls> Round<'_, D, C> {
    /// Writes the range's output to the sink partitions it routes to (the
    /// token's own, its id modulo the partitions, unless the sink routes
    /// records itself, as a side output does), partition after partition,
    /// each in as many calls, in order, as
    /// [`max_call_bytes`](crate::PipelineConfig::max_call_bytes) needs; a
    /// record too large for a call alone goes to the dead-letter output.
    pub(super) async fn write(&self, token: Token, output: Vec<D::Out>) {
        let budget = self.flow.config().max_call_bytes;
        let setting = self.encoding();
        for (partition, output) in self.flow.by_sink_partition(token.id, output) {
            let (encoding, cut) = cut_records(output, budget, setting, |r| r);
            for (_, bytes) in cut.too_large {
                let reason = too_large_reason(bytes, budget);
                self.dead_letter(self.lease.from, 1, FailedStage::Sink, reason, None);
            }
            for call in cut.calls {
                let call = SinkBatch {
                    records: call,
                    encoding,
                };
                self.write_call::<sink::Write<D::Out>, _>(partition, call, FailedStage::Sink)
                    .await;
            }
        }
    }

    /// Writes a branch's records of the range to its sink's partitions,
    /// as [`write`](Self::write) writes the main sink's: the branch's
    /// partitions are numbered after the main sink's.
    pub(super) async fn write_side(&self, token: Token, side: Vec<D::Side>) {
        let budget = self.flow.config().max_call_bytes;
        let after = self.flow.sink_partitions();
        let setting = self.encoding();
        for (partition, side) in self.flow.by_side_partition(token.id, side) {
            let (encoding, cut) = cut_records(side, budget, setting, |r| r);
            for (_, bytes) in cut.too_large {
                let reason = too_large_reason(bytes, budget);
                self.dead_letter(self.lease.from, 1, FailedStage::BranchSink, reason, None);
            }
            for call in cut.calls {
                let call = SinkBatch {
                    records: call,
                    encoding,
                };
                self.write_call::<sink::WriteSide<D::Side>, _>(
                    after + partition,
                    call,
                    FailedStage::BranchSink,
                )
                .await;
            }
        }
    }

    /// Writes one call's records (see [`write_once`]); what is not
    /// written goes to the dead-letter output with the range it came from,
    /// as the `stage` (the sink, or a branch's) failed.
    async fn write_call<H, T>(&self, partition: u32, output: SinkBatch<T>, stage: FailedStage)
    where
        H: Handler<Service = SinkService, Input = SinkBatch<T>, Output = BatchAnswer<()>>,
        T: crate::record::Record,
    {
        let (from, count) = (self.lease.from, self.lease.count);
        write_once_to::<C, H, T>(self.calls, partition, output, |unwritten| match unwritten {
            Unwritten::Batch(error) => self.dead_letter(from, count, stage.clone(), error, None),
            Unwritten::Record(error, record) => {
                self.dead_letter(from, 1, stage.clone(), error, record)
            }
        })
        .await;
    }

    /// How records go to the sink ([`crate::PipelineConfig::binary_records`]).
    fn encoding(&self) -> Encoding {
        self.flow.config().record_encoding()
    }
}

/// What a write left out.
pub(crate) enum Unwritten {
    /// The whole batch, and why.
    Batch(String),
    /// One record the sink rejected, and why.
    Record(String, Option<serde_json::Value>),
}

/// Writes `records` to sink partition `partition`, once. A record the sink
/// rejects (see [`Rejected`](crate::sink::Rejected)) goes to `unwritten`:
/// the sink wrote the records before it, and those after it are written
/// again; a batch that cannot be encoded, or whose write fails after its
/// attempts, goes there whole.
pub(crate) async fn write_once<C: Calls, T: crate::record::Record>(
    calls: &C,
    partition: u32,
    records: SinkBatch<T>,
    unwritten: impl FnMut(Unwritten),
) {
    write_once_to::<C, sink::Write<T>, T>(calls, partition, records, unwritten).await
}

/// [`write_once`] through the sink's handler `H` (`write`, or a branch's
/// `writeSide`).
pub(crate) async fn write_once_to<C, H, T>(
    calls: &C,
    partition: u32,
    mut batch: SinkBatch<T>,
    mut unwritten: impl FnMut(Unwritten),
) where
    C: Calls,
    H: Handler<Service = SinkService, Input = SinkBatch<T>, Output = BatchAnswer<()>>,
    T: crate::record::Record,
{
    loop {
        let error = match calls.call::<H>(partition, &batch) {
            Ok(call) => match BatchAnswer::settle(call.await) {
                Ok(()) => return,
                Err(error) => error,
            },
            Err(error) => {
                let error = format!("cannot serialize the batch for the sink: {error}");
                unwritten(Unwritten::Batch(error));
                return;
            }
        };
        let records = &mut batch.records;
        let Some(failure) = error.record(records.len()) else {
            unwritten(Unwritten::Batch(error.message().to_owned()));
            return;
        };
        // What is left to write: the records after it if the sink wrote
        // those before it, else all but it (a sink of an earlier version).
        let record = match error.wrote_before() {
            true => {
                let mut rest = records.split_off(failure.index);
                *records = rest.split_off(1);
                rest.pop()
            }
            false => Some(records.remove(failure.index)),
        };
        let record = record.and_then(|r| serde_json::to_value(r).ok());
        unwritten(Unwritten::Record(failure.error.clone(), record));
        if records.is_empty() {
            return;
        }
    }
}
