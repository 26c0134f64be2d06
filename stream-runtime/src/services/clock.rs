//! `{name}Clock`: the pipeline's watermark (see [`crate::time::watermark`]
//! for the logic). Tokens report finished ranges; key groups ask to be
//! woken; the clock wakes each with one `keyed::Advance`.

use std::sync::Arc;

use restate_sdk::errors::{HandlerError, HandlerResult};
use restate_sdk::prelude::*;

use super::calls::RestateCalls;
use super::serve::Serves;
use super::{ServiceHandlers, Stage};
use crate::protocol::handlers::{clock, keyed, ClockService};
use crate::protocol::Calls;
use crate::source::EndsBefore;
use crate::stages::Dataflow;
use crate::time::watermark::{Clock, Need, Report};
use crate::time::Millis;

const CLOCK: &str = "clock";

/// The `tracing` target of the event the clock emits each time the
/// watermark advances, with the fields `pipeline` and `watermark`.
pub const WATERMARK_TARGET: &str = "stream_runtime::watermark";

impl<D: Dataflow> ServiceHandlers<D> for ClockService {
    type Handlers = (clock::ReportSplit, clock::WakeMe, clock::Get);
}

impl<D: Dataflow> Stage<ClockService, D> {
    async fn load(&self, ctx: &ObjectContext<'_>) -> HandlerResult<Clock> {
        Ok(ctx
            .get::<Json<Clock>>(CLOCK)
            .await?
            .map(|Json(clock)| clock)
            .unwrap_or_default())
    }

    /// Which of the idle `(split, position)`s have data again, asked of
    /// the source all at once (journaled as one step for a remote source,
    /// so a replay decides the same). A split whose source ends before its
    /// position has none: its own lease stops the tokens and says why.
    async fn with_data(
        &self,
        ctx: &ObjectContext<'_>,
        idle: Vec<(u32, u64)>,
    ) -> HandlerResult<Vec<u32>> {
        let flow = &self.flow;
        let ask = || async move {
            let mut asks = tokio::task::JoinSet::new();
            for (split, position) in idle {
                let flow = Arc::clone(flow);
                asks.spawn(async move { (split, flow.available(split, position, 1).await) });
            }
            let mut returned = Vec::new();
            while let Some(answer) = asks.join_next().await {
                let (split, count) =
                    answer.map_err(|e| HandlerError::from(std::io::Error::other(e)))?;
                match count {
                    Ok(count) if count > 0 => returned.push(split),
                    Ok(_) => {}
                    Err(error) if EndsBefore::find(&error).is_some() => {}
                    Err(error) => return Err(HandlerError::from(error)),
                }
            }
            returned.sort_unstable();
            Ok(Json(returned))
        };
        let Json(returned) = if flow.is_remote() {
            ctx.run(ask).name("idle splits with data").await?
        } else {
            ask().await?
        };
        Ok(returned)
    }

    /// Sends each woken group the watermark.
    fn wake(&self, calls: &RestateCalls<'_>, woken: Vec<(u32, Millis)>) -> HandlerResult<()> {
        for (group, watermark) in woken {
            calls.send::<keyed::Advance>(group, &watermark)?;
        }
        Ok(())
    }
}

/// Takes in a split's report, moves the watermark, and wakes the groups it
/// reached; answers the watermark.
impl<'a, D: Dataflow> Serves<'a, clock::ReportSplit> for Stage<ClockService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        calls: RestateCalls<'a>,
        report: Report,
    ) -> HandlerResult<Millis> {
        let mut clock = self.load(&ctx).await?;
        let delay = (self.flow.config().watermarks).map_or(0, |w| w.delay_millis());
        let before = clock.clone();
        let splits = self.flow.splits();
        clock.take(report);
        // An idle split with data again holds the watermark back before
        // another split's records can make its own late.
        let idle = clock.to_check(splits, delay);
        if !idle.is_empty() {
            for split in self.with_data(&ctx, idle).await? {
                clock.returned(split);
            }
        }
        let woken = clock.settle(splits, delay);
        self.wake(&calls, woken)?;
        if clock.watermark != before.watermark {
            // For observers such as the bench, which times how long results
            // take to reach the sink once the watermark passes their window.
            tracing::debug!(
                target: WATERMARK_TARGET,
                pipeline = %self.names.pipeline,
                watermark = clock.current(),
                "the watermark advanced"
            );
        }
        if clock != before {
            ctx.set(CLOCK, Json(clock.clone()));
        }
        Ok(clock.current())
    }
}

/// Records a group's wish, or wakes it at once when the watermark is there.
impl<'a, D: Dataflow> Serves<'a, clock::WakeMe> for Stage<ClockService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        calls: RestateCalls<'a>,
        need: Need,
    ) -> HandlerResult<()> {
        let mut clock = self.load(&ctx).await?;
        match clock.need(need) {
            Some(watermark) => self.wake(&calls, vec![(need.group, watermark)])?,
            None => ctx.set(CLOCK, Json(clock)),
        }
        Ok(())
    }
}

impl<'a, D: Dataflow> Serves<'a, clock::Get> for Stage<ClockService, D> {
    async fn serve(
        &'a self,
        ctx: SharedObjectContext<'a>,
        _calls: RestateCalls<'a>,
        (): (),
    ) -> HandlerResult<Clock> {
        Ok(ctx
            .get::<Json<Clock>>(CLOCK)
            .await?
            .map(|Json(clock)| clock)
            .unwrap_or_default())
    }
}
