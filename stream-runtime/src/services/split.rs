//! `{name}Split`: each source split's durable position.

use restate_sdk::errors::{HandlerError, HandlerResult};
use restate_sdk::prelude::*;

use super::calls::RestateCalls;
use super::serve::{index_key, Serves};
use super::{PipelineService, ServiceHandlers};
use crate::protocol::handlers::{log, split, SplitService};
use crate::protocol::{Calls, Dry, Exclusive, Handler, Lease, LogTake, SplitProgress};
use crate::source::{EndsBefore, Source};
use crate::stages::Dataflow;
use crate::time::{wall_clock, Millis};

const POSITION: &str = "position";
/// Where the split started, when not at 0 (a Kafka partition's offset).
const START: &str = "start";
/// Present (true) while the pipeline is stopped: nothing more is leased.
const STOPPED: &str = "stopped";
/// For a remote source: a position up to which the source is known to have
/// data (its end, as last asked, at most [`LOOKAHEAD`] leases ahead), so
/// the leases below it need not ask again.
const HEAD: &str = "head";
/// How many leases' worth a split asks a remote source about at once.
const LOOKAHEAD: u32 = 16;
/// Since when an endless split has had no data, and whether it was
/// reported idle: present only while it has none.
const DRY: &str = "dry";

impl<D: Dataflow> ServiceHandlers<D> for SplitService {
    type Handlers = (split::Next, split::Stop, split::Resume, split::Progress);
}

impl<D: Dataflow> PipelineService<SplitService, D> {
    fn split(&self, key: &str) -> Result<u32, TerminalError> {
        index_key(key, "split", self.flow.splits())
    }

    /// Where the split starts, asked on its first lease; journaled for a
    /// remote source.
    async fn start(&self, ctx: &ObjectContext<'_>, split: u32) -> HandlerResult<u64> {
        let flow = &*self.flow;
        let ask = || async move { flow.source().start(split).await.map_err(retry) };
        if flow.source().is_remote() {
            Ok(ctx.run(ask).name("start").await?)
        } else {
            ask().await
        }
    }

    /// How many of `max` positions from `from` to lease, and for a remote
    /// source the end it is known to reach (for the lag metric). A remote source
    /// is asked (journaled, so a replay leases the same range) only when
    /// the split's durable head does not already cover them, and then
    /// about [`LOOKAHEAD`] leases at once. A failure is retried (a broker
    /// that is down holds the split until it is back).
    async fn leasable(
        &self,
        ctx: &ObjectContext<'_>,
        split: u32,
        from: u64,
        max: u32,
    ) -> HandlerResult<(u32, Option<u64>)> {
        let source = self.flow.source();
        if !source.is_remote() {
            let count = source
                .available(split, from, max as usize)
                .await
                .map_err(source_error)?;
            return Ok((clamp(count, max), None));
        }
        let head = ctx.get::<u64>(HEAD).await?;
        if let Some(count) = covered(head, from, max) {
            return Ok((count, head));
        }
        let ask = max.saturating_mul(LOOKAHEAD);
        let count = ctx
            .run(|| async move {
                let count = source
                    .available(split, from, ask as usize)
                    .await
                    .map_err(source_error)?;
                Ok(clamp(count, ask))
            })
            .name("available")
            .await?;
        let head = from + u64::from(count);
        if count > max {
            ctx.set(HEAD, head);
        }
        Ok((count.min(max), Some(head)))
    }
}

impl<D: Dataflow> PipelineService<SplitService, D> {
    /// For a split records are pushed to: up to `max` records from `from`,
    /// taken from its log (a journaled call, so a replay leases the same
    /// records), at most half a call's bytes, as the lease carries them on.
    async fn take(
        &self,
        calls: RestateCalls<'_>,
        split: u32,
        from: u64,
        max: u32,
    ) -> HandlerResult<Vec<serde_json::Value>> {
        let take = LogTake {
            from,
            max,
            bytes: (self.flow.config().max_call_bytes / 2) as u64,
        };
        let taken = calls
            .call::<log::Take>(split, &take)
            .map_err(|error| TerminalError::new(error.to_string()))?
            .await?;
        Ok(taken.records)
    }
}

/// `max`, if a split's durable `head` shows the source has all of
/// `from..from + max`.
fn covered(head: Option<u64>, from: u64, max: u32) -> Option<u32> {
    let end = from.checked_add(u64::from(max))?;
    (max > 0 && end <= head?).then_some(max)
}

/// A source's count, at most `max`.
fn clamp(count: usize, max: u32) -> u32 {
    u32::try_from(count).unwrap_or(max).min(max)
}

/// A source's I/O error, which Restate retries.
fn retry(error: std::io::Error) -> HandlerError {
    HandlerError::from(error)
}

/// A source's answer while leasing: retried, unless the source ends before
/// the split's position, which no retry mends (the tokens stop and say so).
fn source_error(error: std::io::Error) -> HandlerError {
    match EndsBefore::find(&error) {
        Some(ends) => TerminalError::new_with_code(409, ends.to_string()).into(),
        None => retry(error),
    }
}

/// Leases the next `max` positions of this split (or as many as there are)
/// and moves its position past them. The lease is the call's journaled
/// result, so a replayed `ingest` reads the very same range. An empty
/// lease says why: ended, stopped, or no data right now (and, once per
/// quiet spell longer than the idle timeout, that the split went idle).
impl<'a, D: Dataflow> Serves<'a, split::Next> for PipelineService<SplitService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        calls: RestateCalls<'a>,
        max: u32,
    ) -> HandlerResult<Lease> {
        let split = self.split(ctx.key())?;
        let from = match ctx.get::<u64>(POSITION).await? {
            Some(position) => position,
            None => {
                let start = self.start(&ctx, split).await?;
                ctx.set(POSITION, start);
                if start > 0 {
                    ctx.set(START, start);
                }
                start
            }
        };
        let lease = |count, dry| Lease {
            from,
            count,
            dry,
            records: None,
        };
        if ctx.get::<bool>(STOPPED).await?.unwrap_or(false) {
            return Ok(lease(0, Some(Dry::Stopped)));
        }
        let (count, head, records) = match self.flow.source().pushed(split) {
            Some(_) => {
                let records = self.take(calls, split, from, max).await?;
                (clamp(records.len(), max), None, Some(records))
            }
            None => {
                let (count, head) = self.leasable(&ctx, split, from, max).await?;
                (count, head, None)
            }
        };
        let dry = ctx.get::<Json<(Millis, bool)>>(DRY).await?.map(|Json(d)| d);
        if count > 0 {
            let next = from + u64::from(count);
            crate::metrics::leased(self.flow.name(), split, count, next, head);
            ctx.set(POSITION, next);
            if dry.is_some() {
                ctx.clear(DRY);
            }
            return Ok(Lease {
                records,
                ..lease(count, None)
            });
        }
        if self.flow.source().split_is_bounded(split) {
            return Ok(lease(0, Some(Dry::Ended)));
        }
        let now = ctx.run(|| async { Ok(wall_clock()) }).name("now").await?;
        let (since, reported) = dry.unwrap_or((now, false));
        let idle_after = self.flow.config().watermarks.map(|w| w.idle_millis());
        let idle = !reported && idle_after.is_some_and(|after| now - since >= after);
        if dry.is_none() || idle {
            ctx.set(DRY, Json((since, reported || idle)));
        }
        Ok(lease(0, Some(Dry::Waiting { idle })))
    }
}

/// `stop` and `resume`, the two handlers that switch a split's leasing.
trait SwitchesLeasing {
    /// Whether the split is stopped afterwards.
    const STOPPED: bool;
}

/// Stops leasing: every later `next` answers an empty lease, so the tokens
/// finish the ranges they hold and park.
impl SwitchesLeasing for split::Stop {
    const STOPPED: bool = true;
}

/// Leases again after a stop, from where the split stopped.
impl SwitchesLeasing for split::Resume {
    const STOPPED: bool = false;
}

impl<'a, D: Dataflow, H> Serves<'a, H> for PipelineService<SplitService, D>
where
    H: Handler<Access = Exclusive, Input = (), Output = ()> + SwitchesLeasing,
{
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        _calls: RestateCalls<'a>,
        (): (),
    ) -> HandlerResult<()> {
        self.split(ctx.key())?;
        if H::STOPPED {
            ctx.set(STOPPED, true);
        } else {
            ctx.clear(STOPPED);
        }
        Ok(())
    }
}

impl<'a, D: Dataflow> Serves<'a, split::Progress> for PipelineService<SplitService, D> {
    async fn serve(
        &'a self,
        ctx: SharedObjectContext<'a>,
        _calls: RestateCalls<'a>,
        (): (),
    ) -> HandlerResult<SplitProgress> {
        let split = self.split(ctx.key())?;
        let position = ctx.get::<u64>(POSITION).await?.unwrap_or(0);
        let start = ctx.get::<u64>(START).await?.unwrap_or(0);
        let stopped = ctx.get::<bool>(STOPPED).await?.unwrap_or(false);
        let source = self.flow.source();
        let exhausted = stopped
            || (source.split_is_bounded(split)
                && source.available(split, position, 1).await.map_err(retry)? == 0);
        Ok(SplitProgress {
            position,
            start,
            exhausted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::covered;

    #[test]
    fn a_lease_below_the_known_head_asks_nothing() {
        assert_eq!(covered(None, 0, 10), None, "nothing known yet");
        assert_eq!(covered(Some(100), 90, 10), Some(10));
        assert_eq!(covered(Some(100), 91, 10), None, "past the head");
        assert_eq!(covered(Some(100), 0, 0), None, "nothing asked");
        assert_eq!(covered(Some(u64::MAX), u64::MAX - 1, 10), None);
    }
}
