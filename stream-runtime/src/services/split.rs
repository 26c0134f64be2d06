//! `{name}Split`: each source split's durable position.

use restate_sdk::discovery::ServiceType;
use restate_sdk::endpoint::ContextInternal;
use restate_sdk::errors::HandlerResult;
use restate_sdk::prelude::*;
use restate_sdk::service::macro_support::ServiceBoxFuture;
use restate_sdk::service::Service;

use super::dispatch::{self, HandlerSpec, Payload};
use super::Stage;
use crate::names::{handler, ServiceNames};
use crate::protocol::{Lease, SplitProgress};
use crate::stages::Dataflow;

const POSITION: &str = "position";
/// Present (true) while the pipeline is stopped: nothing more is leased.
const STOPPED: &str = "stopped";

pub(crate) struct SplitService<D>(pub(crate) Stage<D>);

pub(crate) fn manifest(names: &ServiceNames) -> Result<restate_sdk::discovery::Service, String> {
    dispatch::manifest(
        &names.split,
        ServiceType::VirtualObject,
        &[
            HandlerSpec::exclusive(handler::NEXT),
            HandlerSpec::exclusive(handler::STOP).input(Payload::Empty),
            HandlerSpec::exclusive(handler::RESUME).input(Payload::Empty),
            HandlerSpec::shared(handler::PROGRESS),
        ],
    )
}

impl<D: Dataflow> Service for SplitService<D> {
    type Future = ServiceBoxFuture;

    fn handle(&self, ctx: ContextInternal) -> Self::Future {
        let stage = self.0.clone();
        Box::pin(async move {
            match ctx.handler_name() {
                handler::NEXT => dispatch::run(&ctx, |c, max| next(&*stage.flow, c, max)).await,
                handler::STOP => dispatch::run(&ctx, |c, ()| stop(&*stage.flow, c)).await,
                handler::RESUME => dispatch::run(&ctx, |c, ()| resume(&*stage.flow, c)).await,
                handler::PROGRESS => dispatch::run(&ctx, |c, ()| progress(&*stage.flow, c)).await,
                _ => dispatch::unknown(&ctx),
            }
        })
    }
}

/// Leases the next `max` positions of this split and moves its position past
/// them. The lease is the call's journaled result, so a replayed `ingest`
/// reads the very same range.
async fn next<D: Dataflow>(
    flow: &D,
    ctx: ObjectContext<'_>,
    Json(max): Json<u32>,
) -> HandlerResult<Json<Lease>> {
    let split = dispatch::index_key(ctx.key(), "split", flow.splits())?;
    let from = ctx.get::<u64>(POSITION).await?.unwrap_or(0);
    let count = if ctx.get::<bool>(STOPPED).await?.unwrap_or(false) {
        0
    } else if flow.is_bounded() {
        // Bounded sources may end inside the range: lease only what exists.
        flow.available(split, from, max as usize) as u32
    } else {
        max
    };
    if count > 0 {
        ctx.set(POSITION, from + u64::from(count));
    }
    Ok(Json(Lease { from, count }))
}

/// Stops leasing: every later `next` answers an empty lease, so the tokens
/// finish the ranges they hold and park.
async fn stop<D: Dataflow>(flow: &D, ctx: ObjectContext<'_>) -> HandlerResult<()> {
    dispatch::index_key(ctx.key(), "split", flow.splits())?;
    ctx.set(STOPPED, true);
    Ok(())
}

/// Leases again after a stop, from where the split stopped.
async fn resume<D: Dataflow>(flow: &D, ctx: ObjectContext<'_>) -> HandlerResult<()> {
    dispatch::index_key(ctx.key(), "split", flow.splits())?;
    ctx.clear(STOPPED);
    Ok(())
}

async fn progress<D: Dataflow>(
    flow: &D,
    ctx: SharedObjectContext<'_>,
) -> HandlerResult<Json<SplitProgress>> {
    let split = dispatch::index_key(ctx.key(), "split", flow.splits())?;
    let position = ctx.get::<u64>(POSITION).await?.unwrap_or(0);
    let stopped = ctx.get::<bool>(STOPPED).await?.unwrap_or(false);
    let exhausted = stopped || (flow.is_bounded() && flow.available(split, position, 1) == 0);
    Ok(Json(SplitProgress {
        position,
        exhausted,
    }))
}
