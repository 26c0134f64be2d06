//! `{name}Sink`: sink partitions, each writing one batch at a time, once.

use std::time::Duration;

use restate_sdk::errors::{HandlerError, HandlerResult, TerminalError};
use restate_sdk::prelude::*;
use serde::{Deserialize, Serialize};

use super::calls::RestateCalls;
use super::serve::{index_key, Serves};
use super::{PipelineService, ServiceHandlers};
use crate::guard::{guarded_future, RecordFailed};
use crate::protocol::handlers::{sink, SinkService};
use crate::protocol::{BatchAnswer, SinkBatch, SinkProgress};
use crate::sink::{Rejected, SinkCall};
use crate::stages::Dataflow;

const PROGRESS: &str = "progress";

/// What the journaled `write` step records: the new committed offset, a
/// bare number as journals from before rejected records were answers hold
/// it, or the record the sink rejected.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Written {
    Committed(u64),
    Rejected { record_failed: RecordFailed },
}

impl<D: Dataflow> ServiceHandlers<D> for SinkService {
    type Handlers = (
        sink::Write<D::Out>,
        sink::WriteSide<D::Side>,
        sink::Progress,
    );
}

/// Writes a batch after the committed offset, journals the new offset and
/// stores it: a write cut short by a crash is redone from the same offset.
/// A record the sink rejects is answered ([`BatchAnswer::WroteBefore`]),
/// after the records before it are written and committed.
impl<'a, D: Dataflow> Serves<'a, sink::Write<D::Out>> for PipelineService<SinkService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        _calls: RestateCalls<'a>,
        batch: SinkBatch<D::Out>,
    ) -> HandlerResult<BatchAnswer<()>> {
        let flow = &*self.flow;
        let partition = index_key(ctx.key(), "sink partition", flow.sink_partitions())?;
        let write = move |committed, call| flow.write(partition, committed, call);
        write_once(&ctx, flow, &batch.records, false, write).await
    }
}

/// [`sink::Write`] for the sink of a branch before `key_by`, at its
/// partitions (numbered after the main sink's).
impl<'a, D: Dataflow> Serves<'a, sink::WriteSide<D::Side>> for PipelineService<SinkService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        _calls: RestateCalls<'a>,
        batch: SinkBatch<D::Side>,
    ) -> HandlerResult<BatchAnswer<()>> {
        let flow = &*self.flow;
        let after = flow.sink_partitions();
        let all = after + flow.side_partitions();
        let partition = index_key(ctx.key(), "sink partition", all)?;
        let Some(partition) = partition.checked_sub(after) else {
            let error = format!("sink partition {partition} is the main sink's, not the branch's");
            return Err(TerminalError::new(error).into());
        };
        let write = move |committed, call| flow.write_side(partition, committed, call);
        write_once(&ctx, flow, &batch.records, true, write).await
    }
}

/// The retries of a journaled write: bounded, so that after the last
/// attempt the write fails terminally, nothing is committed, and the
/// token sends the batch to the dead-letter output.
fn write_retries(max_attempts: u32) -> RunRetryPolicy {
    RunRetryPolicy::new()
        .initial_delay(Duration::from_millis(100))
        .exponentiation_factor(2.0)
        .max_delay(Duration::from_secs(5))
        .max_attempts(max_attempts)
}

/// One write of `records` by `write` (a call of the sink partition, from
/// the committed offset), journaled with the new offset, which is then
/// stored; `branch` for a branch's sink.
///
/// A write that fails after its attempts leaves the partition marked: its
/// batch goes to the dead-letter output, but a sink that cannot take back
/// what an attempt left past the committed offset (a Kafka topic) may
/// hold part of it. The next write starts from where the sink answers
/// that the failed one's records end
/// ([`after_failed_write`](crate::Sink::after_failed_write)), so it does
/// not take those records for its own.
async fn write_once<'r, D, T, W, F>(
    ctx: &ObjectContext<'_>,
    flow: &'r D,
    records: &'r [T],
    branch: bool,
    write: W,
) -> HandlerResult<BatchAnswer<()>>
where
    D: Dataflow,
    T: Sync,
    W: Fn(u64, SinkCall<'r, T>) -> F + Send + Sync + 'r,
    F: std::future::Future<Output = std::io::Result<u64>> + Send + 'r,
{
    let mut progress = ctx
        .get::<Json<SinkProgress>>(PROGRESS)
        .await?
        .map(|Json(p)| p)
        .unwrap_or_default();
    let write = &write;
    if progress.failed {
        let from = progress.committed;
        let Json(end) = ctx
            .run(|| async move {
                let call = write(from, SinkCall::AfterFailedWrite);
                match guarded_future::<_, std::io::Error>(call).await {
                    Ok(end) => Ok(Json(end)),
                    Err(error) => Err(HandlerError::from(error)),
                }
            })
            .retry_policy(write_retries(flow.config().max_attempts))
            .name("after a failed write")
            .await?;
        progress.committed = end;
        progress.failed = false;
    }
    // A rejected record is not retried: the records before it are written
    // and committed on their own, in this call (a sink may already hold
    // some of them, as a Kafka write lands request by request, and no
    // other write of the partition may come between), and the answer
    // names it: the token dead-letters it and writes the records after it.
    let mut end = records.len();
    let mut rejected = None;
    while end > 0 {
        let step = journaled_write(
            ctx,
            flow,
            write,
            progress.committed,
            &records[..end],
            branch,
        );
        let written = match step.await {
            Ok(Json(written)) => written,
            Err(error) => {
                progress.failed = true;
                ctx.set(PROGRESS, Json(progress));
                return Err(error.into());
            }
        };
        match written {
            Written::Committed(offset) => {
                progress.committed = offset;
                progress.records += end as u64;
                break;
            }
            Written::Rejected { record_failed } if record_failed.index < end => {
                end = record_failed.index;
                rejected = Some(record_failed);
            }
            // Not a record of this write: the batch fails, perhaps after
            // landing in part.
            Written::Rejected { record_failed } => {
                progress.failed = true;
                ctx.set(PROGRESS, Json(progress));
                let index = record_failed.index;
                let error = format!("the sink rejected record {index} of a write of {end}");
                return Err(TerminalError::new(error).into());
            }
        }
    }
    ctx.set(PROGRESS, Json(progress));
    Ok(match rejected {
        Some(record_failed) => BatchAnswer::WroteBefore(record_failed),
        None => BatchAnswer::Done(()),
    })
}

/// One journaled attempt series of `write` of `records` from `committed`:
/// the new offset, or the record the sink rejected.
async fn journaled_write<'r, D, T, W, F>(
    ctx: &ObjectContext<'_>,
    flow: &'r D,
    write: &W,
    committed: u64,
    records: &'r [T],
    branch: bool,
) -> Result<Json<Written>, TerminalError>
where
    D: Dataflow,
    T: Sync,
    W: Fn(u64, SinkCall<'r, T>) -> F + Send + Sync + 'r,
    F: std::future::Future<Output = std::io::Result<u64>> + Send + 'r,
{
    let count = records.len();
    ctx.run(|| async move {
        let write = async move {
            match write(committed, SinkCall::Write(records)).await {
                Ok(written) => {
                    crate::metrics::written(flow.name(), count);
                    crate::counts::sink(flow.name(), branch, count);
                    Ok(Ok(written))
                }
                Err(error) => match Rejected::find(&error) {
                    Some(rejected) => Ok(Err(RecordFailed::new(rejected.index, &rejected.reason))),
                    None => Err(error),
                },
            }
        };
        match guarded_future::<_, std::io::Error>(write).await {
            Ok(Ok(offset)) => Ok(Json(Written::Committed(offset))),
            Ok(Err(record_failed)) => Ok(Json(Written::Rejected { record_failed })),
            Err(error) => Err(HandlerError::from(error)),
        }
    })
    .retry_policy(write_retries(flow.config().max_attempts))
    .name("write")
    .await
}

impl<'a, D: Dataflow> Serves<'a, sink::Progress> for PipelineService<SinkService, D> {
    async fn serve(
        &'a self,
        ctx: SharedObjectContext<'a>,
        _calls: RestateCalls<'a>,
        (): (),
    ) -> HandlerResult<SinkProgress> {
        let all = self.flow.sink_partitions() + self.flow.side_partitions();
        index_key(ctx.key(), "sink partition", all)?;
        Ok(ctx
            .get::<Json<SinkProgress>>(PROGRESS)
            .await?
            .map(|Json(p)| p)
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_step_journaled_as_a_bare_offset_still_reads_as_committed() {
        let earlier: Written = serde_json::from_str("42").unwrap();
        assert!(matches!(earlier, Written::Committed(42)));
        let rejected = r#"{"record_failed":{"index":1,"error":"violates check constraint"}}"#;
        let rejected: Written = serde_json::from_str(rejected).unwrap();
        assert!(
            matches!(rejected, Written::Rejected { record_failed } if record_failed.index == 1)
        );
    }
}
