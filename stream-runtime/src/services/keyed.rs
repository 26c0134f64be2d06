//! `{name}Keyed` (and `{name}Keyed2`, … for each keyed stage after the
//! first): key groups, each holding the state of its keys, its windows
//! and its timers, and passing its output on to the sink or to the next
//! stage's groups.

use std::time::Duration;

use restate_sdk::errors::HandlerResult;
use restate_sdk::prelude::*;

use super::calls::RestateCalls;
use super::group_store::{GroupStore, Reads};
use super::lookups;
use super::serve::{index_key, Serves};
use super::{PipelineService, ServiceHandlers};
use crate::group_call::{GroupCall, Output, Woken};
use crate::keyed::{GroupState, TimeDomain, Timers, TIMERS};
use crate::protocol::codec::Encoding;
use crate::protocol::handlers::{clock, control, keyed, ControlKey, KeyedService};
use crate::protocol::{Advanced, Answer, BatchAnswer, Calls, Encoded, KeyedBatch};
use crate::stages::{Downstream, GroupOutput, Level};
use crate::time::watermark::Need;
use crate::time::{wall_clock, Millis};

impl<L: Level> ServiceHandlers<L> for KeyedService {
    type Handlers = (
        keyed::Process<L>,
        keyed::Advance,
        keyed::Fire,
        keyed::Wake,
        keyed::Pending,
    );
}

/// Applies the keyed stage to a batch of this group's records, in order,
/// after firing the timers the batch's watermark makes due. Each entry is
/// read once, changed in memory, and written back once, all inside this
/// exclusive invocation. A record that fails ends the call with its index
/// ([`BatchAnswer::RecordFailed`]) and nothing written; the caller decides
/// whether to try again or drop it.
impl<'a, L: Level> Serves<'a, keyed::Process<L>> for PipelineService<KeyedService, L> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        calls: RestateCalls<'a>,
        batch: KeyedBatch<L::Mid>,
    ) -> HandlerResult<BatchAnswer<Encoded<Answer<L::Final>>>> {
        let KeyedBatch {
            watermark,
            records,
            relay,
            encoding,
        } = batch;
        let woken = match (self.level, relay) {
            (_, true) => Woken::Relay,
            (0, false) => Woken::Batch,
            _ => Woken::Upstream,
        };
        self.call(&ctx, &calls, records, watermark, woken, encoding)
            .await
    }
}

/// The watermark reached this group's earliest event-time timer: fires what
/// is due and passes it on; answers the wake-ups the clock is to take.
impl<'a, L: Level> Serves<'a, keyed::Advance> for PipelineService<KeyedService, L> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        calls: RestateCalls<'a>,
        watermark: Millis,
    ) -> HandlerResult<Vec<Need>> {
        let answer = self.woken(&ctx, &calls, watermark, Woken::Clock).await?;
        Ok(answer.needs)
    }
}

/// As `Advance`, at a stage that fires each window once on event time:
/// answers what it fired for the next keyed stage, for the clock to carry.
impl<'a, L: Level> Serves<'a, keyed::Fire> for PipelineService<KeyedService, L> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        calls: RestateCalls<'a>,
        watermark: Millis,
    ) -> HandlerResult<Advanced> {
        let answer = self.woken(&ctx, &calls, watermark, Woken::Fire).await?;
        Ok(Advanced {
            needs: answer.needs,
            passed: answer.passed,
        })
    }
}

/// The group's delayed call for processing time: fires what is due.
impl<'a, L: Level> Serves<'a, keyed::Wake> for PipelineService<KeyedService, L> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        calls: RestateCalls<'a>,
        at: Millis,
    ) -> HandlerResult<()> {
        let woken = Woken::Delay(at);
        let answer = self.call(&ctx, &calls, Vec::new(), None, woken, Encoding::Json);
        fired(answer.await?)?;
        Ok(())
    }
}

/// A timer's call has no records, so none can fail; were one to, the call
/// fails.
fn fired<T>(answer: BatchAnswer<T>) -> Result<T, TerminalError> {
    match answer {
        BatchAnswer::Done(output) => Ok(output),
        BatchAnswer::RecordFailed(failed) | BatchAnswer::WroteBefore(failed) => {
            Err(TerminalError::new(failed.error))
        }
    }
}

impl<'a, L: Level> Serves<'a, keyed::Pending> for PipelineService<KeyedService, L> {
    async fn serve(
        &'a self,
        ctx: SharedObjectContext<'a>,
        _calls: RestateCalls<'a>,
        (): (),
    ) -> HandlerResult<u64> {
        let timers = ctx.get::<Json<Timers>>(TIMERS).await?;
        Ok(timers.map_or(0, |Json(t)| t.event_len() as u64))
    }
}

impl<L: Level> PipelineService<KeyedService, L> {
    /// How a call that needs `names` reads them.
    fn reads(&self, names: &[String]) -> Reads<'_> {
        let cache = self.flow.config().state_read_cache.then_some(&*self.cache);
        Reads::of(cache, names, self.flow.time_domain().is_some())
    }

    /// Whether a later keyed stage waits on this one's watermark: its
    /// calls then answer their wake-ups to their caller, who hands them to
    /// the clock before the watermark can pass them, instead of sending
    /// them on their own.
    fn answers_needs(&self) -> bool {
        self.flow.down().next().is_some()
    }

    /// A call of the clock's at `watermark`: fires what is due and
    /// answers what the clock is to take (nothing to write: no records).
    async fn woken(
        &self,
        ctx: &ObjectContext<'_>,
        calls: &RestateCalls<'_>,
        watermark: Millis,
        woken: Woken,
    ) -> HandlerResult<Answer<L::Final>> {
        let answer = self.call(
            ctx,
            calls,
            Vec::new(),
            Some(watermark),
            woken,
            Encoding::Json,
        );
        Ok(fired(answer.await?)?.open().map_err(undecodable)?)
    }

    /// One call: load the timers and the entries the call needs, fire and
    /// apply (`GroupCall`), pass the output on, then store what changed and
    /// ask for the next wake-ups. A token's batch, at the first stage of a
    /// line, answers its output for the token to write, and one in a chain
    /// (`relay`) what it made for the next stage, for the token to carry,
    /// and so does the clock's wake-up of a stage that fires each window
    /// once on event time, for the clock to carry ([`Woken::answers_passed`]);
    /// any other call writes it to the sink itself, or passes it to the
    /// next stage's groups, before its state and timers are stored: once
    /// `status` sees no timer left, every result is in the sink (a token
    /// carrying relayed records has not parked yet, and a clock carrying
    /// fired ones has not stored the end of time).
    async fn call(
        &self,
        ctx: &ObjectContext<'_>,
        calls: &RestateCalls<'_>,
        records: Vec<L::Mid>,
        watermark: Option<Millis>,
        woken: Woken,
        encoding: Encoding,
    ) -> HandlerResult<BatchAnswer<Encoded<Answer<L::Final>>>> {
        // Any group number is accepted, not only those below this endpoint's
        // count: a round that began under another layout may still address
        // groups of that layout, and must finish there (its token stops at
        // its next round).
        let group = index_key(ctx.key(), "key group", u32::MAX)?;
        let flow = &*self.flow;
        let domain = flow.time_domain();
        let now = match (domain, flow.looks_up()) {
            (Some(TimeDomain::Processing), _) | (_, true) => {
                ctx.run(|| async { Ok(wall_clock()) }).name("now").await?
            }
            _ => 0,
        };
        let records_in = records.len();
        let (mut call, names) = match GroupCall::new(flow, records, now) {
            Ok(planned) => planned,
            Err(failed) => return Ok(BatchAnswer::RecordFailed(failed)),
        };
        // The timers and the batch's entries are read together; then the
        // entries of due timers the batch did not already need.
        let timers = domain.map(|_| ctx.get::<Json<Timers>>(TIMERS));
        let reads = self.reads(&names);
        let budget = flow.config().max_call_bytes;
        let deltas = flow.config().state_deltas;
        let (mut store, mut loaded) =
            GroupStore::open(ctx, group, reads, budget, deltas, &names).await?;
        let stored = match timers {
            Some(timers) => timers.await?.map(|Json(t)| t),
            None => None,
        };
        let due: Vec<String> = call
            .due(stored.clone().unwrap_or_default(), watermark)
            .into_iter()
            .filter(|name| names.binary_search(name).is_err())
            .collect();
        loaded.extend(store.due(ctx, names.len(), &due).await?);
        let mut state = GroupState::loaded(loaded);
        // An enrichment stage's calls, journaled (and with idempotency
        // keys), before the batch is applied with their answers.
        let looked = match call.lookups(flow, &state) {
            Ok(planned) if planned.is_empty() => Vec::new(),
            Ok(planned) => {
                let options = flow.lookup_options();
                lookups::look_up(ctx, &self.names.keyed, planned, &options).await?
            }
            Err(failed) => return Ok(BatchAnswer::RecordFailed(failed)),
        };
        // Nothing is written before this point, so a failed record leaves
        // the group as it was.
        let (output, mut timers) = match call.run(flow, &mut state, looked) {
            Ok(ran) => ran,
            Err(failed) => return Ok(BatchAnswer::RecordFailed(failed)),
        };
        let GroupOutput {
            out,
            late,
            failed,
            dropped,
        } = output;
        crate::counts::keyed(&self.names.pipeline, self.level, records_in, out.len());
        let output = Output {
            calls,
            config: flow.config(),
            level: self.level,
            group,
        };
        // A record whose lookup failed after its attempts, and a timer
        // that failed, are dead-lettered; the rest of the call goes on.
        output.drop_failed(dropped, failed)?;
        let mut answer = Answer::default();
        match (flow.down().next(), flow.down().to_sink(out)) {
            (_, Ok(out)) if woken == Woken::Batch => {
                answer.encoding = encoding.for_records(out.first());
                answer.out = out;
            }
            (_, Ok(out)) => output.write_fired(flow.down(), out).await?,
            (Some(next), Err(out)) => {
                let groups = output.route(&**next, out)?;
                let relayed = match woken.answers_passed(flow.fires_once_on_event_time()) {
                    true => output.relay(groups, woken.relay_budget(flow.config())),
                    false => Err(groups),
                };
                match relayed {
                    Ok(passed) => answer.passed = passed,
                    Err(groups) => {
                        let names = self.names.at_level(self.level + 1);
                        let next_calls = calls.with_names(&names);
                        let forward = woken.forwards(watermark);
                        let given = output.pass_on(&next_calls, &**next, groups, forward);
                        answer.needs = given.await?;
                    }
                }
            }
            (None, Err(_)) => {} // not reached: the output goes to the sink
        }
        if domain.is_some() {
            let need = self
                .ask_wake_ups(group, calls, &mut timers, woken, now)
                .await?;
            answer.needs.extend(need);
        }
        if woken.sends_needs(self.answers_needs()) {
            for need in answer.needs.drain(..) {
                calls.send::<clock::WakeMe>(ControlKey, &need)?;
            }
        }
        // Encoded before anything is written, so output that cannot be
        // encoded changes nothing.
        let answer = Encoded::new(&answer)
            .map_err(|e| TerminalError::new(format!("cannot serialize the keyed output: {e}")))?;
        store.store(ctx, state).await?;
        if domain.is_some() && stored.as_ref() != Some(&timers) {
            ctx.set(TIMERS, Json(timers));
        }
        if !late.is_empty() {
            calls.send::<control::KeepLate>(ControlKey, &late)?;
        }
        Ok(BatchAnswer::Done(answer))
    }

    /// Asks for the earliest event-time timer (answered, for the caller to
    /// hand to the clock or send), and schedules one delayed call for the
    /// earliest processing-time timer (cancelling a later one still out):
    /// at most one wish per clock per group.
    async fn ask_wake_ups(
        &self,
        group: u32,
        calls: &RestateCalls<'_>,
        timers: &mut Timers,
        woken: Woken,
        now: Millis,
    ) -> HandlerResult<Option<Need>> {
        let woken_at = match woken {
            Woken::Delay(at) => Some(at),
            _ => None,
        };
        let asks = timers.wake_ups(matches!(woken, Woken::Clock | Woken::Fire), woken_at);
        // A stage with a later one answers its earliest timer every time,
        // not only when it is new: an answer that never reached the clock
        // (a failed report) is then made good by the group's next call.
        let at = match self.answers_needs() {
            true => timers.next_event(),
            false => asks.need,
        };
        let need = at.map(|at| Need {
            group,
            at,
            level: self.level,
        });
        if let Some((at, cancel)) = asks.wake {
            if let Some(id) = cancel {
                calls.cancel(&id);
            }
            // Due once the wall clock is past `at` (see `completed`).
            let delay = Duration::from_millis(u64::try_from(at + 1 - now).unwrap_or(0));
            let id = calls.schedule::<keyed::Wake>(group, &at, delay)?.await?;
            timers.wake = Some((at, id));
        }
        Ok(need)
    }
}

/// A key group's own output that does not decode.
fn undecodable(error: crate::protocol::CodecError) -> TerminalError {
    TerminalError::new(format!("cannot decode a key group's output: {error}"))
}
