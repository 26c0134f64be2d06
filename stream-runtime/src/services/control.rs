//! `{name}Control`: token accounting and the dead-letter output.

use restate_sdk::context::RequestTarget;
use restate_sdk::discovery::ServiceType;
use restate_sdk::endpoint::ContextInternal;
use restate_sdk::errors::HandlerResult;
use restate_sdk::prelude::*;
use restate_sdk::service::macro_support::ServiceBoxFuture;
use restate_sdk::service::Service;

use super::dispatch::{self, HandlerSpec, Payload};
use super::Stage;
use crate::names::{handler, ServiceNames};
use crate::protocol::{ControlState, DeadLetter, Token, TokensAdded};
use crate::stages::Dataflow;

const COUNTERS: &str = "counters";

pub(crate) struct ControlService<D>(pub(crate) Stage<D>);

pub(crate) fn manifest(names: &ServiceNames) -> Result<restate_sdk::discovery::Service, String> {
    dispatch::manifest(
        &names.control,
        ServiceType::VirtualObject,
        &[
            HandlerSpec::exclusive(handler::ADD),
            HandlerSpec::exclusive(handler::STOP).input(Payload::Empty),
            HandlerSpec::exclusive(handler::PARK),
            HandlerSpec::exclusive(handler::HALT),
            HandlerSpec::exclusive(handler::DEAD_LETTER),
            HandlerSpec::shared(handler::GET),
        ],
    )
}

impl<D: Dataflow> Service for ControlService<D> {
    type Future = ServiceBoxFuture;

    fn handle(&self, ctx: ContextInternal) -> Self::Future {
        let stage = self.0.clone();
        Box::pin(async move {
            match ctx.handler_name() {
                handler::ADD => dispatch::run(&ctx, |c, n| add(&stage, c, n)).await,
                handler::STOP => dispatch::run(&ctx, |c, ()| stop(&stage, c)).await,
                handler::PARK => dispatch::run(&ctx, park).await,
                handler::HALT => dispatch::run(&ctx, halt).await,
                handler::DEAD_LETTER => dispatch::run(&ctx, dead_letter).await,
                handler::GET => dispatch::run(&ctx, get).await,
                _ => dispatch::unknown(&ctx),
            }
        })
    }
}

async fn counters(ctx: &ObjectContext<'_>) -> Result<ControlState, TerminalError> {
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
async fn add<D: Dataflow>(
    stage: &Stage<D>,
    ctx: ObjectContext<'_>,
    Json(n): Json<u64>,
) -> HandlerResult<Json<TokensAdded>> {
    let mut state = counters(&ctx).await?;
    let layout = super::layout(&*stage.flow);
    let stored = *state.layout.get_or_insert(layout);
    if let Some(conflict) = layout.conflict(&stage.names.pipeline, &stored) {
        return Err(TerminalError::new_with_code(409, format!("addTokens: {conflict}")).into());
    }
    if state.stopped {
        tell_splits(stage, &ctx, handler::RESUME).await?;
        state.stopped = false;
    }
    let first = state.injected;
    state.injected += n;
    state.conflict = None;
    let injected = state.injected;
    ctx.set(COUNTERS, Json(state));
    for id in first..injected {
        ctx.request::<_, ()>(
            RequestTarget::service(&stage.names.source, handler::INGEST),
            Json(Token {
                id,
                layout: Some(layout),
            }),
        )
        .send();
    }
    Ok(Json(TokensAdded { added: n, injected }))
}

/// Stops the pipeline, like Flink's `stop --drain`: no split leases any more,
/// so each token finishes the range it holds, writes it, and parks.
/// `addTokens` resumes.
async fn stop<D: Dataflow>(stage: &Stage<D>, ctx: ObjectContext<'_>) -> HandlerResult<()> {
    let mut state = counters(&ctx).await?;
    state.stopped = true;
    ctx.set(COUNTERS, Json(state));
    tell_splits(stage, &ctx, handler::STOP).await
}

/// Calls `handler` (`stop` or `resume`) on every split, all at once.
async fn tell_splits<D: Dataflow>(
    stage: &Stage<D>,
    ctx: &ObjectContext<'_>,
    handler: &str,
) -> HandlerResult<()> {
    let calls: Vec<_> = (0..stage.flow.splits())
        .map(|split| {
            ctx.request::<_, ()>(
                RequestTarget::object(&stage.names.split, split.to_string(), handler),
                (),
            )
            .call()
        })
        .collect();
    for call in calls {
        call.await?;
    }
    Ok(())
}

/// A token found every split exhausted (a bounded source ran out, or the
/// pipeline was stopped), and parks.
async fn park(ctx: ObjectContext<'_>, Json(_token): Json<Token>) -> HandlerResult<()> {
    let mut state = counters(&ctx).await?;
    state.parked += 1;
    ctx.set(COUNTERS, Json(state));
    Ok(())
}

/// A token stops before touching any state: it met an endpoint whose layout
/// differs from the pipeline's, or could not lease. The reason shows in
/// `status`.
async fn halt(ctx: ObjectContext<'_>, Json(reason): Json<String>) -> HandlerResult<()> {
    let mut state = counters(&ctx).await?;
    tracing::error!(%reason, "a token stopped");
    state.halted += 1;
    state.conflict = Some(reason);
    ctx.set(COUNTERS, Json(state));
    Ok(())
}

/// Keeps a batch that could not be processed, numbered, for inspection.
async fn dead_letter(ctx: ObjectContext<'_>, Json(letter): Json<DeadLetter>) -> HandlerResult<()> {
    let mut state = counters(&ctx).await?;
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
    ctx.set(COUNTERS, Json(state));
    Ok(())
}

async fn get(ctx: SharedObjectContext<'_>, _: ()) -> HandlerResult<Json<ControlState>> {
    Ok(Json(
        ctx.get::<Json<ControlState>>(COUNTERS)
            .await?
            .map(|Json(c)| c)
            .unwrap_or_default(),
    ))
}
