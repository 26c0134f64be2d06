//! `{name}Control`: token accounting, the layout and the dead-letter output.

use restate_sdk::errors::HandlerResult;
use restate_sdk::prelude::*;

use super::calls::RestateCalls;
use super::serve::Serves;
use super::{PipelineService, ServiceHandlers};
use std::future::Future;

use crate::protocol::handlers::{control, source, split, ControlService, SplitService};
use crate::protocol::overview::{ListedDeadLetter, LISTED_DEAD_LETTERS};
use crate::protocol::{
    Calls, ControlState, DeadLetter, EncodeError, Handler, Take, Taken, Token, TokensAdded,
};
use crate::round::layout;
use crate::stages::Dataflow;

const COUNTERS: &str = "counters";

impl<D: Dataflow> ServiceHandlers<D> for ControlService {
    type Handlers = (
        control::Add,
        control::Stop,
        control::Park,
        control::Halt,
        control::KeepDeadLetter,
        control::KeepLate,
        control::Get,
        control::ListDeadLetters,
        control::TakeDeadLetters,
    );
}

async fn counters(ctx: &SharedObjectContext<'_>) -> Result<ControlState, TerminalError> {
    Ok(ctx
        .get::<Json<ControlState>>(COUNTERS)
        .await?
        .map(|Json(c)| c)
        .unwrap_or_default())
}

async fn counters_mut(ctx: &ObjectContext<'_>) -> Result<ControlState, TerminalError> {
    Ok(ctx
        .get::<Json<ControlState>>(COUNTERS)
        .await?
        .map(|Json(c)| c)
        .unwrap_or_default())
}

/// Records `n` new tokens and starts one `ingest` invocation for each.
/// The first call fixes the pipeline's layout; a call from an endpoint with
/// another layout is refused (409) and changes nothing. A stopped pipeline
/// resumes: its splits lease again from where they stopped.
impl<'a, D: Dataflow> Serves<'a, control::Add> for PipelineService<ControlService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        calls: RestateCalls<'a>,
        n: u64,
    ) -> HandlerResult<TokensAdded> {
        let mut state = counters_mut(&ctx).await?;
        let layout = layout(&*self.flow);
        let stored = *state.layout.get_or_insert(layout);
        if let Some(conflict) = layout.conflict(&self.names.pipeline, &stored) {
            return Err(TerminalError::new_with_code(409, format!("addTokens: {conflict}")).into());
        }
        if state.stopped {
            for call in self.tell_splits::<split::Resume, _>(&calls)? {
                call.await?;
            }
            state.stopped = false;
        }
        let first = state.injected;
        state.injected += n;
        state.conflict = None;
        let injected = state.injected;
        ctx.set(COUNTERS, Json(state));
        for id in first..injected {
            let token = Token {
                peers: Some(injected),
                ..Token::new(id, Some(layout))
            };
            calls.send::<source::Ingest>((), &token)?;
        }
        Ok(TokensAdded { added: n, injected })
    }
}

/// Stops the pipeline, like Flink's `stop --drain`: no split leases any more,
/// so each token finishes the range it holds, writes it, and parks.
/// `addTokens` resumes.
impl<'a, D: Dataflow> Serves<'a, control::Stop> for PipelineService<ControlService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        calls: RestateCalls<'a>,
        (): (),
    ) -> HandlerResult<()> {
        let mut state = counters_mut(&ctx).await?;
        state.stopped = true;
        ctx.set(COUNTERS, Json(state));
        for call in self.tell_splits::<split::Stop, _>(&calls)? {
            call.await?;
        }
        Ok(())
    }
}

impl<D: Dataflow> PipelineService<ControlService, D> {
    /// Calls `H` (stop or resume) on every split, all at once; the caller
    /// awaits the answers.
    #[allow(clippy::type_complexity)]
    fn tell_splits<'s, H, C>(
        &self,
        calls: &'s C,
    ) -> Result<Vec<impl Future<Output = Result<(), TerminalError>> + use<'s, H, C, D>>, EncodeError>
    where
        H: Handler<Input = (), Output = (), Service = SplitService>,
        C: Calls,
    {
        (0..self.flow.splits())
            .map(|split| calls.call::<H>(split, &()))
            .collect()
    }
}

/// A token found every split exhausted (a bounded source ran out, or the
/// pipeline was stopped), and parks.
impl<'a, D: Dataflow> Serves<'a, control::Park> for PipelineService<ControlService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        _calls: RestateCalls<'a>,
        _token: Token,
    ) -> HandlerResult<()> {
        let mut state = counters_mut(&ctx).await?;
        state.parked += 1;
        ctx.set(COUNTERS, Json(state));
        Ok(())
    }
}

/// A token stops before touching any state: it met an endpoint whose layout
/// differs from the pipeline's, or could not lease. The reason shows in
/// `status`.
impl<'a, D: Dataflow> Serves<'a, control::Halt> for PipelineService<ControlService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        _calls: RestateCalls<'a>,
        reason: String,
    ) -> HandlerResult<()> {
        let mut state = counters_mut(&ctx).await?;
        tracing::error!(%reason, "a token stopped");
        state.halted += 1;
        state.conflict = Some(reason);
        ctx.set(COUNTERS, Json(state));
        Ok(())
    }
}

/// Keeps a batch that could not be processed, numbered, for inspection.
impl<'a, D: Dataflow> Serves<'a, control::KeepDeadLetter> for PipelineService<ControlService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        _calls: RestateCalls<'a>,
        letter: DeadLetter,
    ) -> HandlerResult<()> {
        let mut state = counters_mut(&ctx).await?;
        tracing::error!(
            split = letter.split,
            position = letter.position,
            count = letter.count,
            stage = %letter.stage,
            error = %letter.error,
            "batch sent to the dead-letter output"
        );
        ctx.set(&format!("dead:{}", state.dead_letters), Json(letter));
        state.dead_letters += 1;
        crate::metrics::dead_letter(self.flow.name());
        ctx.set(COUNTERS, Json(state));
        Ok(())
    }
}

/// Keeps records that came too late for their windows, numbered, like
/// dead letters: the late-data output (Flink's `sideOutputLateData`).
impl<'a, D: Dataflow> Serves<'a, control::KeepLate> for PipelineService<ControlService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        _calls: RestateCalls<'a>,
        records: Vec<serde_json::Value>,
    ) -> HandlerResult<()> {
        let mut state = counters_mut(&ctx).await?;
        for record in records {
            ctx.set(&format!("late:{}", state.late_records), Json(record));
            state.late_records += 1;
            crate::metrics::late_record(self.flow.name());
        }
        ctx.set(COUNTERS, Json(state));
        Ok(())
    }
}

impl<'a, D: Dataflow> Serves<'a, control::Get> for PipelineService<ControlService, D> {
    async fn serve(
        &'a self,
        ctx: SharedObjectContext<'a>,
        _calls: RestateCalls<'a>,
        (): (),
    ) -> HandlerResult<ControlState> {
        Ok(counters(&ctx).await?)
    }
}

/// The state key of dead letter `id`.
fn dead_key(id: u64) -> String {
    format!("dead:{id}")
}

/// The most ids one `takeDeadLetters` looks at, and the most letters it
/// takes: a replay of many letters goes in pages, so that no answer grows
/// past what a call carries and the control object is held briefly.
const TAKE_SCAN: u64 = 1_000;
const TAKE_MAX: usize = 100;

/// The longest record, encoded, that the list shows whole.
const LISTED_RECORD_BYTES: usize = 2_048;

/// Lists the newest dead letters not yet replayed, oldest first; a large
/// record is shown cut, with its length.
impl<'a, D: Dataflow> Serves<'a, control::ListDeadLetters> for PipelineService<ControlService, D> {
    async fn serve(
        &'a self,
        ctx: SharedObjectContext<'a>,
        _calls: RestateCalls<'a>,
        (): (),
    ) -> HandlerResult<Vec<ListedDeadLetter>> {
        let state = counters(&ctx).await?;
        let from = (state.dead_letters.saturating_sub(LISTED_DEAD_LETTERS)).max(state.dead_from);
        let keys: Vec<(u64, String)> = (from..state.dead_letters)
            .map(|id| (id, dead_key(id)))
            .collect();
        let reads: Vec<_> = (keys.iter())
            .map(|(id, key)| (*id, ctx.get::<Json<DeadLetter>>(key)))
            .collect();
        let mut listed = Vec::new();
        for (id, read) in reads {
            if let Some(Json(letter)) = read.await? {
                listed.push(ListedDeadLetter::new(id, letter).cut(LISTED_RECORD_BYTES));
            }
        }
        Ok(listed)
    }
}

/// Takes out of the list the letters a replay sends in again: letter `id`
/// (an error if it is not in the list, cannot be replayed, or the endpoint
/// is laid out otherwise than the pipeline's state), or a page of those
/// that can be, from id `from` on, answering where the next page starts.
/// Taking them and the replay's calls are journaled in the one `replay`
/// invocation, so each is sent in once.
impl<'a, D: Dataflow> Serves<'a, control::TakeDeadLetters> for PipelineService<ControlService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        _calls: RestateCalls<'a>,
        take: Take,
    ) -> HandlerResult<Taken> {
        let mut state = counters_mut(&ctx).await?;
        let ours = layout(&*self.flow);
        if let Some(conflict) = state
            .layout
            .and_then(|s| ours.conflict(&self.names.pipeline, &s))
        {
            let why = format!("replay: {conflict}");
            return Err(TerminalError::new_with_code(409, why).into());
        }
        if let Some(id) = take.id {
            let Some(Json(letter)) = ctx.get::<Json<DeadLetter>>(&dead_key(id)).await? else {
                let why = format!("replay: dead letter {id} is not in the list");
                return Err(TerminalError::new_with_code(404, why).into());
            };
            if let Err(why) = letter.replayable() {
                let why = format!("replay: dead letter {id} cannot be replayed: {why}");
                return Err(TerminalError::new_with_code(409, why).into());
            }
            ctx.clear(&dead_key(id));
            state.replayed += 1;
            ctx.set(COUNTERS, Json(state));
            return Ok(Taken {
                letters: vec![(id, letter)],
                next: None,
                until: id + 1,
            });
        }
        let until = take.until.unwrap_or(state.dead_letters);
        let start = take.from.max(state.dead_from);
        let end = until.min(start.saturating_add(TAKE_SCAN));
        let budget = self.flow.config().max_call_bytes / 2;
        let mut taken = Taken::default();
        let (mut bytes, mut first_kept) = (0, None);
        for id in start..end {
            let Some(Json(letter)) = ctx.get::<Json<DeadLetter>>(&dead_key(id)).await? else {
                continue;
            };
            let size = serde_json::to_vec(&letter).map_or(0, |b| b.len());
            let full = taken.letters.len() >= TAKE_MAX || (bytes + size > budget && bytes > 0);
            if full {
                taken.next = Some(id);
                break;
            }
            match letter.replayable() {
                Ok(()) => {
                    ctx.clear(&dead_key(id));
                    bytes += size;
                    taken.letters.push((id, letter));
                }
                Err(_) => {
                    first_kept.get_or_insert(id);
                }
            }
        }
        let scanned_to = taken.next.unwrap_or(end);
        if taken.next.is_none() && end < until {
            taken.next = Some(end);
        }
        taken.until = until;
        // Every id below the first letter still kept is cleared: later
        // scans start there.
        if start == state.dead_from {
            state.dead_from = first_kept.unwrap_or(scanned_to);
        }
        state.replayed += taken.letters.len() as u64;
        ctx.set(COUNTERS, Json(state));
        Ok(taken)
    }
}
