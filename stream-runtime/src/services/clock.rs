//! `{name}Clock`: the pipeline's watermark (see [`crate::time::watermark`]
//! for the logic). Tokens report finished ranges; key groups ask to be
//! woken; the clock wakes each with one `keyed::Advance` (or
//! `keyed::Fire`, when it carries what the group's stage fires to the next
//! one).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use restate_sdk::errors::{HandlerError, HandlerResult};
use restate_sdk::prelude::*;

use super::calls::RestateCalls;
use super::serve::Serves;
use super::{PipelineService, ServiceHandlers};
use crate::protocol::handlers::{clock, control, keyed, ClockService, ControlKey};
use crate::protocol::{Advanced, Calls, DeadLetter, FailedStage, Passed};
use crate::round::{carry, chained_letter, Exchange};
use crate::source::{EndsBefore, Source};
use crate::stages::Dataflow;
use crate::time::watermark::{Clock, Need, Report};
use crate::time::{wall_clock, Millis, WATERMARK_TARGET};

const CLOCK: &str = "clock";

/// A woken group's answer, from `keyed::Advance` or `keyed::Fire`.
type WokenAnswer<'a> = Pin<Box<dyn Future<Output = Result<Advanced, TerminalError>> + Send + 'a>>;

impl<D: Dataflow> ServiceHandlers<D> for ClockService {
    type Handlers = (clock::ReportSplit, clock::WakeMe, clock::Get);
}

impl<D: Dataflow> PipelineService<ClockService, D> {
    async fn load(&self, ctx: &ObjectContext<'_>) -> HandlerResult<Clock> {
        Ok(ctx
            .get::<Json<Clock>>(CLOCK)
            .await?
            .map(|Json(clock)| clock)
            .unwrap_or_default()
            .untimed(self.flow.config().untimed_splits))
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
                asks.spawn(async move {
                    let available = flow.source().available(split, position, 1).await;
                    (split, available)
                });
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
        let Json(returned) = if flow.source().is_remote() {
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

    /// Moves a chain of keyed stages to the watermark, stage after stage:
    /// the woken groups of each stage but the last are called, and awaited,
    /// so everything they fire has reached the next stage's groups, and
    /// the wake-ups those ask for are known, before the next stage's
    /// groups are woken. A stage that fires each window once on event
    /// time answers what it fired instead of passing it on, and the clock
    /// carries it there, each group of the next stage called once with
    /// what every woken group fired for it ([`carry`]). The last stage's
    /// groups are only sent the watermark, as in a line. `due` holds the
    /// groups to wake, by stage.
    async fn cascade(
        &self,
        calls: &RestateCalls<'_>,
        clock: &mut Clock,
        mut due: BTreeMap<u32, BTreeSet<u32>>,
    ) -> HandlerResult<()> {
        let levels = self.flow.levels();
        let watermark = clock.current();
        let base = calls;
        for level in 0..levels {
            let names = self.names.at_level(level);
            let calls = calls.with_names(&names);
            loop {
                let mut groups = due.remove(&level).unwrap_or_default();
                groups.extend(clock.due_later(level));
                if groups.is_empty() {
                    break;
                }
                if level + 1 == levels {
                    for group in groups {
                        calls.send::<keyed::Advance>(group, &watermark)?;
                    }
                    break;
                }
                // Not at the end of time: `status` takes the clock's
                // storing it for the end of every carry.
                let fire = self.flow.carried_from(level) && watermark < Millis::MAX;
                let mut advances: Vec<(u32, WokenAnswer<'_>)> = Vec::with_capacity(groups.len());
                for group in groups {
                    let answer: WokenAnswer<'_> = match fire {
                        true => Box::pin(calls.call::<keyed::Fire>(group, &watermark)?),
                        false => {
                            let advance = calls.call::<keyed::Advance>(group, &watermark)?;
                            Box::pin(async move {
                                let needs = advance.await?;
                                Ok(Advanced {
                                    needs,
                                    passed: Vec::new(),
                                })
                            })
                        }
                    };
                    advances.push((group, answer));
                }
                let mut needs = Vec::new();
                let mut passed = Vec::new();
                for (group, advance) in advances {
                    match advance.await {
                        Ok(advanced) => {
                            needs.extend(advanced.needs);
                            passed.extend(advanced.passed);
                        }
                        // Firing failed for good: the dead-letter output
                        // says so, and the rest of the chain goes on.
                        Err(error) => {
                            let letter = DeadLetter {
                                split: 0,
                                position: 0,
                                count: 0,
                                stage: FailedStage::Timers {
                                    stage: level + 1,
                                    group,
                                },
                                error: error.message().to_owned(),
                                record: None,
                            };
                            calls.send::<control::KeepDeadLetter>(ControlKey, &letter)?;
                        }
                    }
                }
                if !passed.is_empty() {
                    needs.extend(self.carry(base, level + 1, passed).await?);
                }
                for need in needs {
                    if clock.need(need).is_some() {
                        due.entry(need.level).or_default().insert(need.group);
                    }
                }
            }
        }
        Ok(())
    }

    /// Carries what a stage's woken groups fired to keyed stage `level`'s
    /// groups ([`carry`]), judged there by each group's own watermark, as
    /// what a firing group passes on itself; dead-letters what does not
    /// reach them, and answers the wake-ups they ask for.
    async fn carry(
        &self,
        calls: &RestateCalls<'_>,
        level: u32,
        passed: Vec<Passed>,
    ) -> HandlerResult<Vec<Need>> {
        let config = self.flow.config();
        let exchange = Exchange {
            calls,
            budget: config.max_call_bytes,
            attempts: config.max_attempts,
            watermark: None,
            relay: false,
            encoding: config.record_encoding(),
        };
        let delivered = carry::<_, D::Out>(&exchange, level, passed).await;
        for unsent in delivered.unsent {
            let letter = chained_letter(level, unsent);
            calls.send::<control::KeepDeadLetter>(ControlKey, &letter)?;
        }
        Ok(delivered.answer.needs)
    }
}

/// Takes in a split's report, moves the watermark, and wakes the groups it
/// reached; answers the watermark.
impl<'a, D: Dataflow> Serves<'a, clock::ReportSplit> for PipelineService<ClockService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        calls: RestateCalls<'a>,
        mut report: Report,
    ) -> HandlerResult<Millis> {
        let mut clock = self.load(&ctx).await?;
        let watermarks = self.flow.config().watermarks;
        let delay = watermarks.map_or(0, |w| w.delay_millis());
        let before = clock.clone();
        let splits = self.flow.splits();
        // Wake-ups the range's groups asked for, taken before the
        // watermark moves; those it already passed are due now.
        let mut due = BTreeMap::<u32, BTreeSet<u32>>::new();
        for need in std::mem::take(&mut report.needs) {
            if clock.need(need).is_some() {
                due.entry(need.level).or_default().insert(need.group);
            }
        }
        let quiet = clock.quiet_split(&report);
        clock.take(report);
        // A range without an event: its split may have gone idle.
        if let (Some(split), Some(watermarks)) = (quiet, watermarks) {
            let now = ctx.run(|| async { Ok(wall_clock()) }).name("now").await?;
            clock.quiet(split, now, watermarks.idle_millis());
        }
        // An idle split with data again holds the watermark back before
        // another split's records can make its own late.
        let idle = clock.to_check(splits, delay);
        if !idle.is_empty() {
            for split in self.with_data(&ctx, idle).await? {
                clock.returned(split);
            }
        }
        let woken = clock.settle(splits, delay);
        if self.flow.levels() > 1 {
            let first = due.entry(0).or_default();
            first.extend(woken.into_iter().map(|(group, _)| group));
            self.cascade(&calls, &mut clock, due).await?;
        } else {
            self.wake(&calls, woken)?;
        }
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
impl<'a, D: Dataflow> Serves<'a, clock::WakeMe> for PipelineService<ClockService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        calls: RestateCalls<'a>,
        need: Need,
    ) -> HandlerResult<()> {
        let mut clock = self.load(&ctx).await?;
        let before = clock.clone();
        match clock.need(need) {
            // A stage with a later one is woken as part of a cascade, so
            // that what it fires reaches the next stage before that one's
            // watermark moves, and the wake-ups it answers are taken.
            Some(_) if need.level + 1 < self.flow.levels() => {
                let due = BTreeMap::from([(need.level, BTreeSet::from([need.group]))]);
                self.cascade(&calls, &mut clock, due).await?;
            }
            Some(watermark) => {
                let names = self.names.at_level(need.level);
                self.wake(&calls.with_names(&names), vec![(need.group, watermark)])?
            }
            None => {}
        }
        if clock != before {
            ctx.set(CLOCK, Json(clock));
        }
        Ok(())
    }
}

impl<'a, D: Dataflow> Serves<'a, clock::Get> for PipelineService<ClockService, D> {
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
