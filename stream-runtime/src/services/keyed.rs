//! `{name}Keyed`: key groups, each holding the state of its keys, its
//! windows and its timers.

use std::time::Duration;

use bytes::Bytes;
use restate_sdk::errors::HandlerResult;
use restate_sdk::prelude::*;

use super::calls::RestateCalls;
use super::serve::{index_key, Serves};
use super::{ServiceHandlers, Stage};
use crate::keyed::{GroupCall, GroupFailed, GroupState, TimeDomain, Timers, TIMERS};
use crate::protocol::handlers::{clock, control, keyed, sink, ControlKey, KeyedService};
use crate::protocol::{Calls, DeadLetter, Encoded, KeyedBatch};
use crate::stages::{Dataflow, KeyedOutput};
use crate::time::watermark::Need;
use crate::time::{wall_clock, Millis};

impl<D: Dataflow> ServiceHandlers<D> for KeyedService {
    type Handlers = (
        keyed::Process<D>,
        keyed::Advance,
        keyed::Wake,
        keyed::Pending,
    );
}

/// What started a call of the group.
#[derive(Clone, Copy)]
enum Woken {
    /// A token's batch.
    Batch,
    /// The clock: the watermark reached the group's wish.
    Clock,
    /// The group's own delayed call, set for this time.
    Delay(Millis),
}

/// Applies the keyed stage to a batch of this group's records, in order,
/// after firing the timers the batch's watermark makes due. Each entry is
/// read once, changed in memory, and written back once, all inside this
/// exclusive invocation. A record that fails ends the call with its index
/// and nothing written; the token decides whether to try again or drop it.
impl<'a, D: Dataflow> Serves<'a, keyed::Process<D>> for Stage<KeyedService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        calls: RestateCalls<'a>,
        batch: KeyedBatch<D::Mid>,
    ) -> HandlerResult<Encoded<Vec<D::Out>>> {
        let KeyedBatch { watermark, records } = batch;
        let output = self
            .call(&ctx, &calls, records, watermark, Woken::Batch)
            .await?;
        Ok(output)
    }
}

/// The watermark reached this group's earliest event-time timer: fires what
/// is due and writes it to the sink partition of the group.
impl<'a, D: Dataflow> Serves<'a, keyed::Advance> for Stage<KeyedService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        calls: RestateCalls<'a>,
        watermark: Millis,
    ) -> HandlerResult<()> {
        self.call(&ctx, &calls, Vec::new(), Some(watermark), Woken::Clock)
            .await?;
        Ok(())
    }
}

/// The group's delayed call for processing time: fires what is due.
impl<'a, D: Dataflow> Serves<'a, keyed::Wake> for Stage<KeyedService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        calls: RestateCalls<'a>,
        at: Millis,
    ) -> HandlerResult<()> {
        self.call(&ctx, &calls, Vec::new(), None, Woken::Delay(at))
            .await?;
        Ok(())
    }
}

/// Reads the state entries `names`, all issued before any is awaited, so
/// they travel together.
async fn load(
    ctx: &ObjectContext<'_>,
    names: &[String],
) -> HandlerResult<Vec<(String, Option<Vec<u8>>)>> {
    let loads: Vec<_> = names.iter().map(|name| ctx.get::<Bytes>(name)).collect();
    let mut loaded = Vec::with_capacity(names.len());
    for (name, load) in names.iter().zip(loads) {
        loaded.push((name.clone(), load.await?.map(|bytes| bytes.to_vec())));
    }
    Ok(loaded)
}

impl<'a, D: Dataflow> Serves<'a, keyed::Pending> for Stage<KeyedService, D> {
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

impl<D: Dataflow> Stage<KeyedService, D> {
    /// One call: load the timers and the entries the call needs, fire and
    /// apply (`GroupCall`), then store what changed and ask for the next
    /// wake-ups. The output is encoded before anything is written, so
    /// output that cannot be encoded changes nothing. A call a timer made
    /// (not a token's batch) writes what it fired to the sink itself, before
    /// its timers are stored as fired: once `status` sees no timer left,
    /// every result is in the sink.
    async fn call(
        &self,
        ctx: &ObjectContext<'_>,
        calls: &RestateCalls<'_>,
        records: Vec<D::Mid>,
        watermark: Option<Millis>,
        woken: Woken,
    ) -> HandlerResult<Encoded<Vec<D::Out>>> {
        // Any group number is accepted, not only those below this endpoint's
        // count: a round that began under another layout may still address
        // groups of that layout, and must finish there (its token stops at
        // its next round).
        let group = index_key(ctx.key(), "key group", u32::MAX)?;
        let flow = &*self.flow;
        let domain = flow.time_domain();
        let now = match domain {
            Some(TimeDomain::Processing) => {
                ctx.run(|| async { Ok(wall_clock()) }).name("now").await?
            }
            _ => 0,
        };
        let (mut call, names) =
            GroupCall::new(flow, records, now).map_err(|failed| failed.into_terminal())?;
        // The timers and the batch's entries are read together; then the
        // entries of due timers the batch did not already need.
        let timers = domain.map(|_| ctx.get::<Json<Timers>>(TIMERS));
        let mut loaded = load(ctx, &names).await?;
        let stored = match timers {
            Some(timers) => timers.await?.map(|Json(t)| t),
            None => None,
        };
        let due: Vec<String> = call
            .due(stored.clone().unwrap_or_default(), watermark)
            .into_iter()
            .filter(|name| names.binary_search(name).is_err())
            .collect();
        loaded.extend(load(ctx, &due).await?);
        let mut state = GroupState::loaded(loaded);
        let (KeyedOutput { out, late }, mut timers) =
            call.run(flow, &mut state).map_err(|failed| match failed {
                GroupFailed::Record(failed) => failed.into_terminal(),
                GroupFailed::Fire(error) => {
                    TerminalError::new(format!("firing the group's timers failed: {error}"))
                }
            })?;
        // A token's batch answers its output; a timer's call writes it.
        let out = if matches!(woken, Woken::Batch) {
            out
        } else {
            self.write_fired(group, calls, out).await?;
            Vec::new()
        };
        let out = Encoded::new(&out)
            .map_err(|e| TerminalError::new(format!("cannot serialize the keyed output: {e}")))?;
        for (name, bytes) in state.changes() {
            match bytes {
                Some(bytes) => ctx.set(&name, Bytes::from(bytes)),
                None => ctx.clear(&name),
            }
        }
        if domain.is_some() {
            self.ask_wake_ups(group, calls, &mut timers, woken, now)
                .await?;
            if stored.as_ref() != Some(&timers) {
                ctx.set(TIMERS, Json(timers));
            }
        }
        if !late.is_empty() {
            calls.send::<control::KeepLate>(ControlKey, &late)?;
        }
        Ok(out)
    }

    /// Asks the clock for the earliest event-time timer, and schedules one
    /// delayed call for the earliest processing-time timer (cancelling a
    /// later one still out): at most one wish per clock per group.
    async fn ask_wake_ups(
        &self,
        group: u32,
        calls: &RestateCalls<'_>,
        timers: &mut Timers,
        woken: Woken,
        now: Millis,
    ) -> HandlerResult<()> {
        let woken_at = match woken {
            Woken::Delay(at) => Some(at),
            _ => None,
        };
        let asks = timers.wake_ups(matches!(woken, Woken::Clock), woken_at);
        if let Some(at) = asks.need {
            calls.send::<clock::WakeMe>(ControlKey, &Need { group, at })?;
        }
        if let Some((at, cancel)) = asks.wake {
            if let Some(id) = cancel {
                calls.cancel(&id);
            }
            // Due once the wall clock is past `at` (see `completed`).
            let delay = Duration::from_millis(u64::try_from(at + 1 - now).unwrap_or(0));
            let id = calls.schedule::<keyed::Wake>(group, &at, delay)?.await?;
            timers.wake = Some((at, id));
        }
        Ok(())
    }

    /// Writes what a timer fired to the sink partitions it routes to (the
    /// group's own, its number modulo the partitions, unless the sink
    /// routes records itself); a write that fails after its attempts goes
    /// to the dead-letter output.
    async fn write_fired(
        &self,
        group: u32,
        calls: &RestateCalls<'_>,
        out: Vec<D::Out>,
    ) -> HandlerResult<()> {
        for (partition, out) in self.flow.by_sink_partition(u64::from(group), out) {
            self.write_fired_partition(group, partition, calls, &out)
                .await?;
        }
        Ok(())
    }

    async fn write_fired_partition(
        &self,
        group: u32,
        partition: u32,
        calls: &RestateCalls<'_>,
        out: &Vec<D::Out>,
    ) -> HandlerResult<()> {
        let written = match calls.call::<sink::Write<D>>(partition, out) {
            Ok(call) => call.await.map_err(|e| e.message().to_owned()),
            Err(error) => Err(error.to_string()),
        };
        if let Err(error) = written {
            let letter = DeadLetter {
                split: 0,
                position: 0,
                count: u32::try_from(out.len()).unwrap_or(u32::MAX),
                stage: format!("timers of key group {group}"),
                error,
                record: None,
            };
            calls.send::<control::KeepDeadLetter>(ControlKey, &letter)?;
        }
        Ok(())
    }
}
